//! restic targets: a repository (a path, `sftp:…`, `rest:http://…`) that
//! encrypts on this host, deduplicates, and may be served append-only, so
//! that whoever takes this host cannot destroy the history kept there.
//!
//! Each backup is one snapshot of its directory, taken from inside it (so
//! that the snapshot holds the backup's tree at its root, as an rsync
//! target does), tagged `girofle`, `host=<host>` and `instance=<dir>` (or
//! `state`), and `backup=<ID>`. Girofle's marker is a tiny snapshot tagged
//! `girofle-marker`: a repository without it is refused.
//!
//! The `restic` program runs with its arguments as a list; the repository
//! and its password file are given through the environment, so that neither
//! the address (which may hold credentials) nor the password is ever on a
//! command line, and the password is removed from anything restic prints.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use anyhow::Context;
use serde::Deserialize;

mod parse;

use parse::{check_password_file, folder_tags, parse_version, short};

use super::{Sent, dying_with_parent};
use crate::conf::Target;
use crate::error::{Error, Result};
use crate::home::BackupId;

/// The tag of Girofle's marker snapshot.
const MARKER_TAG: &str = "girofle-marker";

/// How much of the data `restic check` re-reads unless the target says.
pub const DEFAULT_CHECK_SUBSET: &str = "5%";

/// The oldest restic whose flags and JSON Girofle relies on (Debian 12's).
const OLDEST_VERSION: (u32, u32) = (0, 14);

/// A restic target, resolved for this host.
#[derive(Debug, Clone)]
pub struct Restic {
    name: String,
    host: String,
    url: String,
    password_file: PathBuf,
    /// The repository refuses deletion: never forget nor prune there.
    pub append_only: bool,
    keep_daily: Option<u32>,
    keep_weekly: Option<u32>,
    keep_monthly: Option<u32>,
    /// How much data `verify_data` re-reads (`--read-data-subset`).
    check_subset: String,
    /// `restic version`, asked once, before the first command.
    version: OnceLock<(u32, u32, u32)>,
}

/// A snapshot as `restic snapshots --json` describes it (only what Girofle reads).
#[derive(Debug, Deserialize)]
struct Snapshot {
    id: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Snapshot {
    /// The Girofle backup ID this snapshot holds (its `backup=` tag).
    fn backup(&self) -> Option<BackupId> {
        self.tags
            .iter()
            .flatten()
            .find_map(|tag| tag.strip_prefix("backup="))
            .and_then(BackupId::parse)
    }
}

/// The final line of `restic backup --json`.
#[derive(Debug, Deserialize)]
struct Summary {
    snapshot_id: String,
    #[serde(default)]
    data_added: u64,
    #[serde(default)]
    files_new: u64,
    #[serde(default)]
    files_changed: u64,
}

/// One group of `restic forget --json`.
#[derive(Debug, Deserialize)]
struct ForgetGroup {
    #[serde(default)]
    remove: Option<Vec<Snapshot>>,
}

impl Restic {
    /// The restic target `name`, described by `target`, for this host
    /// `host`. Its password file must be root's and readable by nobody else:
    /// a file others can read (or replace) is exit 2, named, never read here.
    pub fn new(name: &str, target: &Target, host: String) -> Result<Restic> {
        let password_file = target.password_file.clone().ok_or_else(|| {
            Error::usage(format!(
                "target `{name}`: a restic target needs `password_file`"
            ))
        })?;
        check_password_file(name, &password_file)?;
        if host.contains(',') {
            return Err(Error::usage(format!(
                "target `{name}`: this host's name `{host}` holds a comma, which restic's tags cannot"
            )));
        }
        Ok(Restic {
            name: name.to_string(),
            host,
            url: target.url.clone(),
            password_file,
            append_only: target.append_only,
            keep_daily: target.keep_daily.map(|n| n.get()),
            keep_weekly: target.keep_weekly.map(|n| n.get()),
            keep_monthly: target.keep_monthly.map(|n| n.get()),
            check_subset: target
                .check_read_data_subset
                .clone()
                .unwrap_or_else(|| DEFAULT_CHECK_SUBSET.to_string()),
            version: OnceLock::new(),
        })
    }

    /// The installed restic's version; one older than [`OLDEST_VERSION`] is refused.
    fn version(&self) -> Result<(u32, u32, u32)> {
        if let Some(version) = self.version.get() {
            return Ok(*version);
        }
        let output = dying_with_parent("restic")
            .arg("version")
            .stdin(Stdio::null())
            .output()
            .context("cannot run restic (is it installed? Debian's package is `restic`)")?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = parse_version(&text).ok_or_else(|| {
            Error::failed(format!(
                "`restic version` said {:?}, not a version",
                text.trim()
            ))
        })?;
        if (version.0, version.1) < OLDEST_VERSION {
            return Err(Error::failed(format!(
                "target `{}`: restic {}.{}.{} is too old; Girofle needs {}.{} or newer",
                self.name, version.0, version.1, version.2, OLDEST_VERSION.0, OLDEST_VERSION.1
            )));
        }
        Ok(*self.version.get_or_init(|| version))
    }

    /// Runs `restic ARGS` (in `cwd`, `stdin` fed to it) and returns its
    /// stdout; a failure names the target and says what restic said, the
    /// password removed.
    fn run(&self, args: &[&str], cwd: Option<&Path>, stdin: Option<&[u8]>) -> Result<String> {
        let (failure, stdout) = self.run_output(args, cwd, stdin)?;
        match failure {
            Some(error) => Err(error),
            None => Ok(stdout),
        }
    }

    /// As [`Restic::run`], but a failure comes with what restic printed on
    /// stdout all the same (a backup that could not read every file still
    /// writes its snapshot and says so there).
    fn run_output(
        &self,
        args: &[&str],
        cwd: Option<&Path>,
        stdin: Option<&[u8]>,
    ) -> Result<(Option<Error>, String)> {
        self.version()?;
        let mut output = self.spawn(args, cwd, stdin)?;
        let locked = |output: &std::process::Output| {
            String::from_utf8_lossy(&output.stderr).contains("already locked")
        };
        if !output.status.success() && locked(&output) {
            // restic's own judgement: `unlock` (without --remove-all) removes
            // only the locks of processes that are dead or long silent.
            let unlock = self.spawn(&["unlock"], None, None)?;
            if unlock.status.success() {
                output = self.spawn(args, cwd, stdin)?;
            }
        }
        let stdout = self.redact(&String::from_utf8_lossy(&output.stdout));
        if !output.status.success() {
            let stderr = self.redact(&String::from_utf8_lossy(&output.stderr));
            let said: Vec<&str> = stderr
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect();
            let still = if locked(&output) { super::BUSY } else { "" };
            let error = Error::failed(format!(
                "target `{}`: restic {} failed ({}): {}{still}",
                self.name,
                args.first().unwrap_or(&""),
                output.status,
                said.join(" ")
            ));
            return Ok((Some(error), stdout));
        }
        Ok((None, stdout))
    }

    /// One run of `restic ARGS` with this target's repository and password file.
    fn spawn(
        &self,
        args: &[&str],
        cwd: Option<&Path>,
        stdin: Option<&[u8]>,
    ) -> Result<std::process::Output> {
        let mut command = dying_with_parent("restic");
        command
            .args(args)
            // Only this target's settings: none of the caller's restic environment.
            .env_remove("RESTIC_PASSWORD")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .env_remove("RESTIC_REPOSITORY_FILE")
            .env_remove("RESTIC_KEY_HINT")
            .env("RESTIC_REPOSITORY", &self.url)
            .env("RESTIC_PASSWORD_FILE", &self.password_file)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .spawn()
            .context("cannot run restic (is it installed? Debian's package is `restic`)")?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(bytes).context("cannot write to restic")?;
        }
        Ok(child.wait_with_output().context("restic vanished")?)
    }

    /// `text` without the password: restic never prints it, but a
    /// message of Girofle's must not depend on that.
    fn redact(&self, text: &str) -> String {
        match std::fs::read_to_string(&self.password_file) {
            Ok(password) => {
                let password = password.lines().next().unwrap_or_default();
                if password.len() < 4 {
                    // Too short to redact without mangling the message; restic
                    // prints no password anyway.
                    text.to_string()
                } else {
                    text.replace(password, "[password]")
                }
            }
            Err(_) => text.to_string(),
        }
    }

    /// The snapshots carrying all of `tags`.
    fn snapshots(&self, tags: &[String]) -> Result<Vec<Snapshot>> {
        let tags = tags.join(",");
        let out = self.run(&["snapshots", "--json", "--tag", &tags], None, None)?;
        let snapshots: Option<Vec<Snapshot>> = serde_json::from_str(out.trim())
            .with_context(|| format!("target `{}`: restic snapshots said {out:?}", self.name))?;
        Ok(snapshots.unwrap_or_default())
    }

    /// The refusal of a repository without Girofle's marker.
    fn not_initialised(&self) -> Error {
        Error::failed(format!(
            "target `{}`: the restic repository has no snapshot tagged `{MARKER_TAG}`, so it is not \
             (or not yet) Girofle's target: nothing was written there. If it is the right \
             repository, run `girofle-backup --init-target {}` once",
            self.name, self.name
        ))
    }

    /// Creates the repository (or accepts an existing one that opens with
    /// the password), then writes the marker snapshot unless it is there.
    pub fn init(&self) -> Result<String> {
        let (major, minor, patch) = self.version()?;
        // Format 2 (compressed) said outright, whatever restic's default:
        // directory listings, rewritten by every increment, shrink about
        // sixfold (BENCHMARKS.md). restic 0.14, the oldest accepted, has it.
        let created = match self.run(&["init", "--repository-version", "2"], None, None) {
            Ok(_) => true,
            Err(error) if error.to_string().contains("already exists") => false,
            Err(error) => return Err(error),
        };
        // An existing repository: the password must open it.
        let marked = !self.snapshots(&[MARKER_TAG.to_string()])?.is_empty();
        if !marked {
            let marker = format!(
                "Girofle's backup target `{}`: do not forget this snapshot (without it, Girofle \
                 refuses to write here)\ninitialised_by = {}\ninitialised = {}\n",
                self.name,
                self.host,
                crate::timefmt::now_rfc3339()
            );
            self.run(
                &[
                    "backup",
                    "--stdin",
                    "--stdin-filename",
                    ".girofle-target",
                    "--host",
                    &self.host,
                    "--tag",
                    MARKER_TAG,
                ],
                None,
                Some(marker.as_bytes()),
            )?;
        }
        Ok(format!(
            "(restic {major}.{minor}.{patch}: repository {}{}, marker {})",
            if created { "created" } else { "already there" },
            self.format_note()?,
            if marked { "already there" } else { "written" }
        ))
    }

    /// The repository's format, said when it is the old uncompressed one:
    /// it keeps working, but each shipping costs several times more there.
    fn format_note(&self) -> Result<String> {
        #[derive(Deserialize)]
        struct Config {
            version: u32,
        }
        let out = self.run(&["cat", "config"], None, None)?;
        let config: Config = serde_json::from_str(out.trim())
            .with_context(|| format!("target `{}`: restic cat config said {out:?}", self.name))?;
        Ok(match config.version {
            1 => " in format 1 (uncompressed: each shipping writes about 4 times more there than \
                   in format 2; `restic migrate upgrade_repo_v2` upgrades it)"
                .to_string(),
            version => format!(" in format {version}"),
        })
    }

    /// The repository opens with the password and holds the marker.
    pub fn check(&self) -> Result<()> {
        if self.snapshots(&[MARKER_TAG.to_string()])?.is_empty() {
            return Err(self.not_initialised());
        }
        Ok(())
    }

    /// `restic check --read-data-subset`: the repository's structure, and
    /// that part of its data re-read and compared with its hashes. Returns
    /// what was checked, for the log.
    pub fn verify_data(&self) -> Result<String> {
        self.check()?;
        self.run(
            &["check", "--read-data-subset", &self.check_subset],
            None,
            None,
        )
        .map_err(|error| {
            error.context(format!(
                "target `{}`: the repository does not pass restic check",
                self.name
            ))
        })?;
        Ok(format!(
            "restic check passed, {} of the data re-read",
            self.check_subset
        ))
    }

    /// The complete backup IDs of `folder`, oldest first.
    pub fn list(&self, folder: &str) -> Result<Vec<BackupId>> {
        let mut ids: Vec<BackupId> = self
            .snapshots(&folder_tags(folder)?)?
            .iter()
            .filter_map(Snapshot::backup)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// The newest backup ID of each instance directory (`noeud-gitlab-<N>`)
    /// of `host`, from one listing of the repository: a check of many
    /// instances opens it once, not once per instance.
    pub fn newest_by_instance(&self, host: &str) -> Result<BTreeMap<String, BackupId>> {
        let mut newest: BTreeMap<String, BackupId> = BTreeMap::new();
        let tags = ["girofle".to_string(), format!("host={host}")];
        for snapshot in self.snapshots(&tags)? {
            let dir = snapshot
                .tags
                .iter()
                .flatten()
                .find_map(|tag| tag.strip_prefix("instance="));
            if let (Some(dir), Some(id)) = (dir, snapshot.backup()) {
                let slot = newest.entry(dir.to_string()).or_insert_with(|| id.clone());
                if id > *slot {
                    *slot = id;
                }
            }
        }
        Ok(newest)
    }

    /// The snapshot holding backup `id` of `folder`, if any.
    fn snapshot_of(&self, folder: &str, id: &str) -> Result<Option<Snapshot>> {
        let mut tags = folder_tags(folder)?;
        tags.push(format!("backup={id}"));
        Ok(self.snapshots(&tags)?.pop())
    }

    /// One `restic backup` of `source`, from inside it, tagged; the newest
    /// earlier snapshot of `folder` is its parent, so that files unchanged
    /// (the same inode: Girofle's increments are hard links) are not re-read.
    /// Returns the snapshot's ID and what it added.
    pub fn send(&self, source: &Path, folder: &str, id: &str) -> Result<Sent> {
        self.check()?;
        if let Some(there) = self.snapshot_of(folder, id)? {
            return Ok(Sent {
                note: Some(format!(
                    "restic snapshot {} (already there)",
                    short(&there.id)
                )),
                snapshot: Some(there.id),
            });
        }
        let tags = folder_tags(folder)?;
        let mut parent = None;
        let mut snapshots = self.snapshots(&tags)?;
        let this = BackupId::parse(id);
        snapshots.retain(|s| s.backup().is_some_and(|b| Some(&b) < this.as_ref()));
        snapshots.sort_by_key(Snapshot::backup);
        if let Some(newest) = snapshots.last() {
            parent = Some(newest.id.clone());
        }
        let tags = format!("{},backup={id}", tags.join(","));
        let mut args = vec![
            "backup",
            "--json",
            "--host",
            &self.host,
            "--tag",
            &tags,
            // Linking a file into a new backup changes its ctime, not its content.
            "--ignore-ctime",
        ];
        if let Some(parent) = &parent {
            args.extend(["--parent", parent]);
        }
        args.push(".");
        let (failure, out) = self.run_output(&args, Some(source), None)?;
        let summary: Option<Summary> = out
            .lines()
            .rev()
            .find(|line| line.contains("\"message_type\":\"summary\""))
            .and_then(|line| serde_json::from_str(line).ok());
        if let Some(error) = failure {
            // restic writes a snapshot even when it could not read every
            // file: left there, it would pass for the complete backup.
            let mut error =
                error.context(format!("shipping {id} to target `{}` failed", self.name));
            if let Some(incomplete) = &summary {
                error = if self.append_only {
                    error.context(format!(
                        "the incomplete snapshot {} stays (the target is append-only); a \
                         restore from it would be refused by its MANIFEST",
                        short(&incomplete.snapshot_id)
                    ))
                } else {
                    match self.run(&["forget", &incomplete.snapshot_id], None, None) {
                        Ok(_) => error.context(format!(
                            "the incomplete snapshot {} was forgotten",
                            short(&incomplete.snapshot_id)
                        )),
                        Err(also) => error.context(format!(
                            "the incomplete snapshot {} could not be forgotten: {also}",
                            short(&incomplete.snapshot_id)
                        )),
                    }
                };
            }
            return Err(error);
        }
        let summary = summary.ok_or_else(|| {
            Error::failed(format!(
                "target `{}`: restic backup of {id} gave no summary",
                self.name
            ))
        })?;
        // restic 0.14's summary gives the short ID: the full one is what
        // stays unambiguous in a repository that grows for years.
        let snapshot = match self.snapshot_of(folder, id) {
            Ok(Some(there)) if there.id.starts_with(&summary.snapshot_id) => there.id,
            _ => summary.snapshot_id.clone(),
        };
        Ok(Sent {
            note: Some(format!(
                "restic snapshot {} ({} new, {} changed files; {} bytes added)",
                short(&summary.snapshot_id),
                summary.files_new,
                summary.files_changed,
                summary.data_added
            )),
            snapshot: Some(snapshot),
        })
    }

    /// Restores backup `id` of `folder` into `destination` (made afresh:
    /// what an interrupted fetch left there is removed first).
    pub fn fetch(&self, folder: &str, id: &str, destination: &Path) -> Result<()> {
        let snapshot = self.snapshot_of(folder, id)?.ok_or_else(|| {
            Error::usage(format!(
                "target `{}` has no snapshot of {folder}/{id}",
                self.name
            ))
        })?;
        if destination.exists() {
            fs_err::remove_dir_all(destination)?;
        }
        let target = destination.display().to_string();
        self.run(&["restore", &snapshot.id, "--target", &target], None, None)
            .map_err(|error| {
                error.context(format!("fetching {id} from target `{}` failed", self.name))
            })?;
        // restic makes the root of what it restores 0700: a backup's own mode.
        Ok(())
    }

    /// `restic forget` of `folder`'s snapshots beyond `keep_last` (and the
    /// target's `keep_daily`…), then `restic prune`; nothing at all on an
    /// append-only target. Returns the backup IDs forgotten.
    pub fn apply_retention(&self, folder: &str, keep_last: u32) -> Result<Vec<String>> {
        if self.append_only {
            return Ok(Vec::new());
        }
        let tags = folder_tags(folder)?.join(",");
        let keep_last = keep_last.max(1).to_string();
        let (daily, weekly, monthly) = (
            self.keep_daily.map(|n| n.to_string()),
            self.keep_weekly.map(|n| n.to_string()),
            self.keep_monthly.map(|n| n.to_string()),
        );
        // One group for the folder: by default restic groups by paths too,
        // and each backup's directory is another path.
        let mut args = vec![
            "forget",
            "--json",
            "--tag",
            &tags,
            "--host",
            &self.host,
            "--group-by",
            "host",
            "--keep-last",
            &keep_last,
        ];
        for (flag, value) in [
            ("--keep-daily", &daily),
            ("--keep-weekly", &weekly),
            ("--keep-monthly", &monthly),
        ] {
            if let Some(value) = value {
                args.extend([flag, value.as_str()]);
            }
        }
        let out = self.run(&args, None, None)?;
        let groups: Option<Vec<ForgetGroup>> = serde_json::from_str(out.trim())
            .with_context(|| format!("target `{}`: restic forget said {out:?}", self.name))?;
        let mut removed: Vec<String> = groups
            .unwrap_or_default()
            .iter()
            .flat_map(|group| group.remove.iter().flatten())
            .filter_map(|snapshot| snapshot.backup().map(|id| id.to_string()))
            .collect();
        removed.sort();
        if !removed.is_empty() {
            self.run(&["prune"], None, None)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
