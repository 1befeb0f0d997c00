//! What drills leave on disk and in the engine, below the operation that runs
//! them (`girofle-backup --drill`): the drill lock, the scratch copy and its
//! record, the drill container's name and labels, the result beside the
//! backup, and the clean-up of what a killed drill left.
//!
//! A drill holds its own lock (`.girofle-drill.lock`) for its whole run and
//! the instance lock only while it verifies and copies the backup: backups,
//! restores and decommissions of the instance wait for the copy, never for
//! GitLab's boot. Whether a drill is alive is whether its lock is held, which
//! a dead process cannot do (no PID to be reused).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs_err as fs;

use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::Row;

/// Hidden prefix of a drill's scratch copy in the instance directory.
pub const SCRATCH_PREFIX: &str = ".drill-";
/// The file in a scratch copy that names its container.
const SCRATCH_RECORD: &str = ".girofle-drill";
/// The label that marks a drill's container; its value is the instance number.
pub const DRILL_LABEL: &str = "girofle.drill";
/// The suffix of a drill's result file, beside its backup in `bckups/`.
pub const RECORD_SUFFIX: &str = ".DRILL";

/// The container name of the drill of `row`'s instance: `<prefix>-drill-<N>`,
/// with the prefix its own container was named with (cron runs drills
/// without `GIROFLE_PREFIX`), else the home's.
pub fn container_name(home: &Home, row: &Row) -> String {
    let marker = format!("-gitlab-{}", row.number);
    let prefix = row
        .container
        .find(&marker)
        .map(|at| &row.container[..at])
        .filter(|prefix| !prefix.is_empty())
        .unwrap_or(home.prefix());
    format!("{prefix}-drill-{}", row.number)
}

/// The labels of a drill's container: the home, and the instance it drills.
pub fn labels(home: &Home, number: u32) -> Vec<(String, String)> {
    vec![
        ("girofle.home".into(), home.root().display().to_string()),
        (DRILL_LABEL.into(), number.to_string()),
    ]
}

/// The scratch copy of backup `id`, inside the instance directory (on the
/// same disk as the backups, readable by root only).
pub fn scratch_path(instance: &InstanceDir, id: &str) -> PathBuf {
    instance.root().join(format!("{SCRATCH_PREFIX}{id}"))
}

/// Where the result of a drill of backup `id` is kept: `bckups/<ID>.DRILL`.
///
/// Beside the backup, not inside it: a backup's folder is sealed by its
/// MANIFEST, and every verification (`--verify`, restore, fetch) reports any
/// file the MANIFEST does not list.
pub fn record_path(instance: &InstanceDir, id: &str) -> PathBuf {
    instance.backups().join(format!("{id}{RECORD_SUFFIX}"))
}

/// Held while a drill runs; released on drop or death.
pub struct DrillLock {
    _file: File,
}

fn lock_path(instance: &InstanceDir) -> PathBuf {
    instance.root().join(".girofle-drill.lock")
}

/// Takes the instance's drill lock now, or says which drill holds it: one
/// drill at a time per instance (they would share a container name).
pub fn lock(instance: &InstanceDir) -> Result<DrillLock> {
    match try_lock(instance)? {
        Some(lock) => Ok(lock),
        None => {
            let mut holder = String::new();
            let _ = File::open(lock_path(instance)).and_then(|mut f| f.read_to_string(&mut holder));
            Err(Error::failed(format!(
                "a drill of {} is already under way ({})",
                instance.root().display(),
                holder.trim()
            )))
        }
    }
}

fn try_lock(instance: &InstanceDir) -> anyhow::Result<Option<DrillLock>> {
    let path = lock_path(instance);
    let mut file = crate::atomic::open_lock_file(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(
                anyhow::Error::new(error).context(format!("cannot lock {}", path.display()))
            );
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(
        file,
        "girofle-backup --drill (pid {}) since {}",
        std::process::id(),
        crate::timefmt::now_rfc3339()
    )?;
    Ok(Some(DrillLock { _file: file }))
}

/// Records, in a new scratch copy, the container the drill is about to run,
/// so that whoever cleans up after a killed drill knows what to remove.
pub fn write_scratch_record(scratch: &Path, container: &str) -> Result<()> {
    let text = format!("pid={}\ncontainer={container}\n", std::process::id());
    crate::atomic::write(&scratch.join(SCRATCH_RECORD), text.as_bytes(), 0o600)?;
    Ok(())
}

/// Whether a drill's scratch copy is in the instance directory (cheap: no
/// lock, no engine): a drill runs, or a killed one left it.
pub fn leftovers(instance: &InstanceDir) -> bool {
    scratch_dirs(instance).next().is_some()
}

fn scratch_dirs(instance: &InstanceDir) -> impl Iterator<Item = PathBuf> {
    std::fs::read_dir(instance.root())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(SCRATCH_PREFIX)
        })
        .map(|entry| entry.path())
}

/// Removes what killed drills left in `instance` (their container, then
/// their scratch copy), unless a drill is running there now. Returns what
/// was done.
pub fn clean_up(home: &Home, docker: &Docker, instance: &InstanceDir) -> Result<Vec<String>> {
    if !leftovers(instance) {
        return Ok(Vec::new());
    }
    let Some(_lock) = try_lock(instance)? else {
        return Ok(Vec::new());
    };
    clean_up_locked(home, docker, instance)
}

/// [`clean_up`], for a caller that holds the drill lock.
pub fn clean_up_locked(
    home: &Home,
    docker: &Docker,
    instance: &InstanceDir,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for scratch in scratch_dirs(instance).collect::<Vec<_>>() {
        let container = fs::read_to_string(scratch.join(SCRATCH_RECORD))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("container="))
                    .map(str::to_string)
            });
        if let Some(container) = container {
            // The killed drill's `docker run` may still be on its way: the
            // container must not appear after it was looked for.
            wait_for_docker_commands(&container, Duration::from_secs(120));
            if remove_container(home, docker, &container)? {
                done.push(format!(
                    "removed the container {container} of a killed drill"
                ));
            }
        }
        fs::remove_dir_all(&scratch)?;
        done.push(format!(
            "removed the scratch copy {} of a killed drill",
            scratch.display()
        ));
    }
    Ok(done)
}

/// Removes `container` if it is a drill container of this home (a container
/// of that name that is not is left alone). Whether one was removed.
pub fn remove_container(home: &Home, docker: &Docker, container: &str) -> Result<bool> {
    let Some(labels) = docker.labels(container)? else {
        return Ok(false);
    };
    let ours = labels.get("girofle.home").map(String::as_str)
        == Some(home.root().display().to_string().as_str())
        && labels.contains_key(DRILL_LABEL);
    if ours {
        docker.remove(container)?;
    }
    Ok(ours)
}

/// Waits (bounded) until no `docker` command naming `container` is left on this host.
fn wait_for_docker_commands(container: &str, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit && docker_command_running(container) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn docker_command_running(container: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            return false;
        };
        let mut args = cmdline.split(|&b| b == 0).filter(|a| !a.is_empty());
        args.next()
            .is_some_and(|program| program.ends_with(b"docker"))
            && args.any(|arg| arg == container.as_bytes())
    })
}

/// Hidden prefix of the scratch directory of `--verify --from` and `--drill
/// --from`, in the instance directory: the backup fetched from a target.
pub const FROM_TARGET_PREFIX: &str = ".from-target-";

/// Held (shared) by each run that fetches from a target into a scratch
/// directory, for as long as that directory lives; released on drop or
/// death. The clean-up takes it exclusively: it gets it only once no such
/// run is alive, and a run starting meanwhile waits for the clean-up.
pub struct FromTargetLock {
    _file: File,
}

fn from_target_lock_path(instance: &InstanceDir) -> PathBuf {
    instance.root().join(".girofle-from-target.lock")
}

/// Takes the shared lock of fetches from targets in `instance`; to be held
/// before its scratch directory is made and until it is removed.
///
/// The lock is inherited by the programs the run starts (restic, rsync,
/// docker): a lock is held until every holder of the open file is gone, so
/// a restic still writing into the scratch directory for a moment after
/// its killed parent keeps the clean-up away until it has exited too.
pub fn lock_from_target(instance: &InstanceDir) -> Result<FromTargetLock> {
    let path = from_target_lock_path(instance);
    let file = crate::atomic::open_lock_file(&path)?;
    file.lock_shared()
        .map_err(|error| anyhow::anyhow!("cannot lock {}: {error}", path.display()))?;
    use std::os::fd::AsRawFd;
    nix::fcntl::fcntl(
        file.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .map_err(|error| anyhow::anyhow!("cannot share the lock {}: {error}", path.display()))?;
    Ok(FromTargetLock { _file: file })
}

fn from_target_dirs(instance: &InstanceDir) -> Vec<PathBuf> {
    std::fs::read_dir(instance.root())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(FROM_TARGET_PREFIX)
        })
        .map(|entry| entry.path())
        .collect()
}

/// Whether a scratch directory of a fetch from a target is in the instance
/// directory (cheap: no lock): such a run is under way, or a killed one left it.
pub fn from_target_leftovers(instance: &InstanceDir) -> bool {
    !from_target_dirs(instance).is_empty()
}

/// Removes the scratch directories that killed `--verify --from` and
/// `--drill --from` runs left in `instance`, unless such a run is alive.
/// Returns what was done.
pub fn clean_up_from_target(instance: &InstanceDir) -> Result<Vec<String>> {
    if !from_target_leftovers(instance) {
        return Ok(Vec::new());
    }
    let path = from_target_lock_path(instance);
    let file = crate::atomic::open_lock_file(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(Vec::new()),
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(anyhow::anyhow!("cannot lock {}: {error}", path.display()).into());
        }
    }
    let mut done = Vec::new();
    for scratch in from_target_dirs(instance) {
        fs::remove_dir_all(&scratch)?;
        done.push(format!(
            "removed the scratch directory {} of a killed verification or drill from a target",
            scratch.display()
        ));
    }
    Ok(done)
}

/// Where the last weekly check of restic target `name` (run by a drill) is
/// kept: `$GIROFLE_HOME/.target-check-<NAME>`; its time is the file's.
pub fn target_check_path(home: &Home, name: &str) -> PathBuf {
    home.root().join(format!(".target-check-{name}"))
}

/// When the last weekly check of target `name` was, if it failed; None
/// when it passed or never ran.
pub fn failed_target_check(home: &Home, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(target_check_path(home, name)).ok()?;
    text.lines().any(|line| line == "result: failed").then(|| {
        text.lines()
            .find_map(|line| line.strip_prefix("checked: "))
            .unwrap_or("at a time unknown")
            .to_string()
    })
}

/// How a drill ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Whether the backup booted healthy and every repository checked out.
    pub ok: bool,
    /// The backup drilled.
    pub backup: String,
    /// When the drill started (RFC 3339, UTC).
    pub started: String,
    /// When it ended.
    pub finished: String,
    /// How long it took.
    pub duration_ms: u128,
    /// The image booted, when one was.
    pub image: String,
    /// How many repositories were checked.
    pub repositories: usize,
    /// Why it failed; empty when it did not.
    pub reason: String,
}

impl Record {
    /// `ok` or `failed`, as `girofle-list` shows it.
    pub fn result(&self) -> &'static str {
        if self.ok { "ok" } else { "failed" }
    }

    /// The file's text: `key: value` lines.
    pub fn render(&self) -> String {
        format!(
            "# Girofle drill of backup {backup}\nresult: {result}\nbackup: {backup}\nstarted: {started}\n\
             finished: {finished}\nduration_ms: {duration}\nimage: {image}\nrepositories: {repositories}\n\
             reason: {reason}\n",
            backup = self.backup,
            result = self.result(),
            started = self.started,
            finished = self.finished,
            duration = self.duration_ms,
            image = self.image,
            repositories = self.repositories,
            // The reason quotes the container's logs: kept on disk redacted.
            reason = crate::redact::secrets(&self.reason).replace('\n', " | "),
        )
    }

    /// Reads a record's text; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Record> {
        let field = |key: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(&format!("{key}: ")))
                .map(str::to_string)
        };
        let ok = match field("result")?.as_str() {
            "ok" => true,
            "failed" => false,
            _ => return None,
        };
        Some(Record {
            ok,
            backup: field("backup")?,
            started: field("started").unwrap_or_default(),
            finished: field("finished")?,
            duration_ms: field("duration_ms")?.parse().ok()?,
            image: field("image").unwrap_or_default(),
            repositories: field("repositories")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            reason: field("reason").unwrap_or_default(),
        })
    }

    /// Writes the record beside its backup (atomically), then removes the
    /// records of backups that retention has removed since: the newest
    /// record always stays, so that the last drill is known after its backup went.
    pub fn save(&self, instance: &InstanceDir) -> Result<PathBuf> {
        let path = record_path(instance, &self.backup);
        crate::atomic::write(&path, self.render().as_bytes(), 0o600)?;
        for (other, _) in records(instance) {
            let backup = other
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let backup = backup.trim_end_matches(RECORD_SUFFIX);
            if other != path && !instance.backups().join(backup).is_dir() {
                let _ = fs::remove_file(&other);
            }
        }
        Ok(path)
    }
}

/// Every drill record of an instance, with its path.
fn records(instance: &InstanceDir) -> Vec<(PathBuf, Record)> {
    std::fs::read_dir(instance.backups())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(RECORD_SUFFIX))
        .filter_map(|entry| {
            let text = std::fs::read_to_string(entry.path()).ok()?;
            Some((entry.path(), Record::parse(&text)?))
        })
        .collect()
}

/// The instance's last drill: the record that finished last.
pub fn last(instance: &InstanceDir) -> Option<Record> {
    records(instance)
        .into_iter()
        .map(|(_, record)| record)
        .max_by(|a, b| a.finished.cmp(&b.finished))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(backup: &str, finished: &str, ok: bool) -> Record {
        Record {
            ok,
            backup: backup.into(),
            started: "2026-11-25T03:17:00Z".into(),
            finished: finished.into(),
            duration_ms: 4200,
            image: "gitlab/gitlab-ce:17.5.1-ce.0".into(),
            repositories: 3,
            reason: if ok {
                String::new()
            } else {
                "not healthy\nafter 1800s".into()
            },
        }
    }

    #[test]
    fn a_scratch_directory_from_a_target_goes_only_once_its_run_is_gone() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        assert!(clean_up_from_target(&instance).unwrap().is_empty());
        let lock = lock_from_target(&instance).unwrap();
        let scratch = temp.path().join(format!("{FROM_TARGET_PREFIX}abc"));
        fs::create_dir(&scratch).unwrap();
        fs::write(scratch.join("file"), "fetched").unwrap();
        assert!(from_target_leftovers(&instance));
        // Its run is alive (it holds the lock): left alone.
        assert!(clean_up_from_target(&instance).unwrap().is_empty());
        assert!(scratch.is_dir());
        drop(lock);
        let done = clean_up_from_target(&instance).unwrap();
        assert_eq!(done.len(), 1, "{done:?}");
        assert!(!scratch.exists());
        assert!(!from_target_leftovers(&instance));
    }

    #[test]
    fn a_record_reads_back_and_its_reason_stays_on_one_line() {
        let failed = record("2026-11-25T00-00-00Z", "2026-11-25T03:20:00Z", false);
        let text = failed.render();
        assert!(text.contains("result: failed\n"), "{text}");
        assert!(
            text.contains("reason: not healthy | after 1800s\n"),
            "{text}"
        );
        let back = Record::parse(&text).unwrap();
        assert_eq!(back.reason, "not healthy | after 1800s");
        assert_eq!(back.result(), "failed");
        assert_eq!(Record::parse("result: maybe\n"), None);
        assert_eq!(Record::parse(""), None);
    }

    #[test]
    fn the_last_drill_survives_its_backup_and_older_orphans_go() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        fs::create_dir_all(instance.backups().join("2026-11-25T00-00-00Z")).unwrap();
        assert_eq!(last(&instance), None);
        let first = record("2026-11-18T00-00-00Z", "2026-11-18T03:20:00Z", true);
        first.save(&instance).unwrap();
        // Its backup is gone, yet it is the last drill until another one.
        assert_eq!(last(&instance), Some(first.clone()));
        let second = record("2026-11-25T00-00-00Z", "2026-11-25T03:20:00Z", false);
        second.save(&instance).unwrap();
        assert_eq!(last(&instance).unwrap().result(), "failed");
        assert!(!record_path(&instance, &first.backup).exists());
        assert!(record_path(&instance, &second.backup).exists());
        // A record is beside its backup, never inside (the MANIFEST seals it).
        assert!(
            !instance
                .backups()
                .join("2026-11-25T00-00-00Z")
                .join("DRILL")
                .exists()
        );
    }

    #[test]
    fn a_drill_container_takes_the_prefix_of_its_instance() {
        use crate::inventory::RowState;
        let home = Home::resolve(Some(Path::new("/girofle")));
        let mut row = Row::example(3, "docs", RowState::Commissioned);
        row.container = "site2-gitlab-3-docs".into();
        assert_eq!(container_name(&home, &row), "site2-drill-3");
        row.container = "legacy-name".into();
        assert_eq!(
            container_name(&home, &row),
            format!("{}-drill-3", home.prefix())
        );
    }

    #[test]
    fn a_held_drill_lock_is_refused_and_leftovers_are_seen() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        assert!(!leftovers(&instance));
        let held = lock(&instance).unwrap();
        let message = lock(&instance).err().unwrap().to_string();
        assert!(message.contains("already under way"), "{message}");
        drop(held);
        assert!(lock(&instance).is_ok());
        fs::create_dir(scratch_path(&instance, "2026-11-25T00-00-00Z")).unwrap();
        assert!(leftovers(&instance));
    }
}
