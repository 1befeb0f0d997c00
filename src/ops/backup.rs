//! `girofle-backup`: consistent, incremental, verified backups of instances.
//!
//! A backup is built in `bckups/.partial-<ID>/`: a first pass copies while
//! GitLab runs; then (in `stop` mode) the container is stopped, a second pass
//! copies only what changed since, and the container is started again; the
//! MANIFEST is written and fsynced, and `.partial-<ID>` is renamed `<ID>` as
//! the very last step. A backup is whole or invisible.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::conf::Conf;
use crate::docker::{Docker, Status};
use crate::error::{Error, Result};
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory::{self, Row, RowState};
use crate::recovery::{self, PARTIAL_PREFIX, REMOVING_PREFIX};
use crate::remote::Remote;
use crate::snapshot::{self, Manifest, SyncStats};
use crate::{lock, timefmt};

/// How long `docker stop` lets GitLab shut down before it kills it.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait for another operation on the same instance by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(3600);
/// The three volumes, in the order they are copied.
pub const VOLUMES: [&str; 3] = ["config", "data", "log"];

/// How the copy is made consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// GitLab's rule: the second pass runs with the container stopped.
    #[default]
    Stop,
    /// The container is frozen for the second pass: crash-consistent.
    Pause,
    /// No second pass: not consistent, and the MANIFEST says so.
    Live,
}

impl Consistency {
    /// The word used on the command line and in the MANIFEST.
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Stop => "stop",
            Consistency::Pause => "pause",
            Consistency::Live => "live",
        }
    }
}

/// Options of one backup.
#[derive(Debug, Clone)]
pub struct Options {
    /// How the copy is made consistent.
    pub consistency: Consistency,
    /// Complete backups kept after this one; `None` takes `girofle.conf`'s.
    pub keep_last: Option<u32>,
    /// How long to wait for the instance lock.
    pub lock_timeout: Duration,
    /// How long `docker stop` waits.
    pub stop_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            consistency: Consistency::Stop,
            keep_last: None,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
        }
    }
}

/// What to back up.
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// Instances by number, name or container.
    pub instances: Vec<String>,
    /// Every commissioned instance.
    pub all: bool,
    /// Girofle's own state too (`sauvegardes/<ID>/`).
    pub state: bool,
    /// The target to ship complete backups to. With `state` and no target,
    /// `same-site` when it is configured.
    pub to: Option<String>,
    /// How.
    pub options: Options,
}

/// One backup made.
#[derive(Debug, Clone)]
pub struct Made {
    /// The instance number.
    pub number: u32,
    /// Its container.
    pub container: String,
    /// The backup's ID.
    pub id: BackupId,
    /// Where it is.
    pub path: PathBuf,
    /// How long GitLab was stopped or frozen.
    pub stop_window: Option<Duration>,
    /// What the two passes did.
    pub stats: SyncStats,
    /// Backups removed by retention.
    pub removed: Vec<String>,
}

/// Every backup made, and every item that failed.
#[derive(Debug)]
pub struct Outcome {
    /// The backups made.
    pub made: Vec<Made>,
    /// The state backup made, with `state`.
    pub state: Option<BackupId>,
    /// What was shipped to the target: `<folder>/<ID>`.
    pub shipped: Vec<String>,
    /// Items that failed, with why.
    pub failures: Vec<(String, Error)>,
}

/// The target that `girofle-backup --state` ships to when it is configured.
pub const SAME_SITE: &str = "same-site";

/// Backs up the instances `args` names (and the state), then ships them; one
/// item failing does not stop the others.
pub fn run(home: &Home, args: &Args) -> Result<Outcome> {
    let rows = inventory::read(home)?;
    let targets = if args.state && args.instances.is_empty() && !args.all {
        Vec::new()
    } else {
        select(&rows, &args.instances, args.all)?
    };
    let conf = Conf::load(home)?;
    let target_name = match (&args.to, args.state) {
        (Some(name), _) => Some(name.clone()),
        (None, true) if conf.targets.contains_key(SAME_SITE) => Some(SAME_SITE.to_string()),
        _ => None,
    };
    let remote = target_name
        .as_deref()
        .map(|name| Remote::from_conf(&conf, name))
        .transpose()?;
    // An unreachable target, or one with the wrong host key, fails before anything is made here.
    if let Some(remote) = &remote {
        remote.prepare(&remote.host)?;
    }
    let docker = Docker::new()?;
    let mut outcome = Outcome {
        made: Vec::new(),
        state: None,
        shipped: Vec::new(),
        failures: Vec::new(),
    };
    for row in &targets {
        match backup_instance(home, &docker, &conf, row, &args.options) {
            Ok(made) => outcome.made.push(made),
            Err(error) => {
                home.log(
                    "backup",
                    &format!("instance {} FAILED: {error}", row.number),
                );
                outcome.failures.push((
                    format!("instance {} ({})", row.number, row.container),
                    error,
                ));
            }
        }
    }
    if args.state {
        match backup_state(home, &docker, &conf, &rows) {
            Ok(id) => outcome.state = Some(id),
            Err(error) => {
                home.log("backup", &format!("state FAILED: {error}"));
                outcome
                    .failures
                    .push(("Girofle's state".to_string(), error));
            }
        }
    }
    if let Some(remote) = &remote {
        // With --state alone, every instance's new backups travel with the state.
        let shipping: Vec<&Row> = if targets.is_empty() {
            rows.iter()
                .filter(|r| r.state == RowState::Commissioned)
                .collect()
        } else {
            targets.iter().collect()
        };
        for row in shipping {
            let instance = instance_of(home, row);
            let folder = format!("{}/{}/bckups", remote.host, dir_name(&instance));
            match ship(
                home,
                remote,
                &conf,
                &instance.backups(),
                &folder,
                &instance.complete_backups(),
            ) {
                Ok(sent) => outcome.shipped.extend(sent),
                Err(error) => outcome.failures.push((
                    format!("shipping instance {} to `{}`", row.number, remote.name),
                    error,
                )),
            }
        }
        if args.state {
            let folder = format!("{}/sauvegardes", remote.host);
            let ids = crate::home::backup_ids_in(&home.state_backups());
            match ship(home, remote, &conf, &home.state_backups(), &folder, &ids) {
                Ok(sent) => outcome.shipped.extend(sent),
                Err(error) => outcome
                    .failures
                    .push((format!("shipping the state to `{}`", remote.name), error)),
            }
        }
    }
    Ok(outcome)
}

/// `noeud-gitlab-<N>`: the name an instance's folder has on targets.
pub fn dir_name(instance: &InstanceDir) -> String {
    instance
        .root()
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Sends the local complete backups newer than the newest one on the target
/// (only the newest when the target has none yet; a partial left there by
/// an interrupted run is completed), then applies the target's retention.
fn ship(
    home: &Home,
    remote: &Remote,
    conf: &Conf,
    local: &Path,
    folder: &str,
    ids: &[BackupId],
) -> Result<Vec<String>> {
    remote.prepare(folder)?;
    let there = remote.list(folder)?;
    let to_send: Vec<&BackupId> = match there.last() {
        Some(newest) => ids.iter().filter(|id| *id > newest).collect(),
        None => ids.last().into_iter().collect(),
    };
    let mut sent = Vec::new();
    for id in to_send {
        remote.send(&local.join(id.as_str()), folder, id.as_str())?;
        home.log(
            "backup",
            &format!("{folder}/{id} shipped to target `{}`", remote.name),
        );
        sent.push(format!("{folder}/{id}"));
    }
    let keep = remote.keep_last.unwrap_or_else(|| conf.keep_last());
    let removed = remote.apply_retention(folder, keep)?;
    if !removed.is_empty() {
        home.log(
            "backup",
            &format!(
                "target `{}` retention removed {folder}/{}",
                remote.name,
                removed.join(", ")
            ),
        );
    }
    Ok(sent)
}

/// Backs up Girofle's own state into `sauvegardes/<ID>/`: the inventory and
/// counter (read together under the inventory lock), `girofle.conf`, the
/// cron entries, `docker inspect` of every instance, the end of the log.
pub fn backup_state(home: &Home, docker: &Docker, conf: &Conf, rows: &[Row]) -> Result<BackupId> {
    let root = home.state_backups();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&root)?;
    let id = new_id_in(&root);
    let partial = root.join(format!("{PARTIAL_PREFIX}{id}"));
    let result = (|| -> Result<()> {
        fs::DirBuilder::new().mode(0o700).create(&partial)?;
        {
            let _locked = inventory::lock(home)?;
            for path in [home.inventory(), home.counter(), home.conf()] {
                if path.exists() {
                    copy_file(&path, &partial.join(path.file_name().unwrap_or_default()))?;
                }
            }
        }
        let cron = partial.join("cron.d");
        fs::create_dir(&cron)?;
        if let Ok(entries) = fs::read_dir(home.cron_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("girofle-") {
                    copy_file(&entry.path(), &cron.join(&name))?;
                }
            }
        }
        let existing: std::collections::HashSet<String> = docker
            .list_containers()
            .map(|list| list.into_iter().map(|c| c.name).collect())
            .unwrap_or_default();
        let names: Vec<&str> = rows
            .iter()
            .map(|r| r.container.as_str())
            .filter(|n| existing.contains(*n))
            .collect();
        let inspect = if names.is_empty() {
            "[]\n".to_string()
        } else {
            docker.inspect_json(&names)?
        };
        fs::write(partial.join("docker-inspect.json"), inspect)?;
        let log = fs::read_to_string(home.log_file()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(1000)..].join("\n");
        fs::write(partial.join("girofle.log.tail"), tail + "\n")?;
        let manifest = Manifest {
            header: vec![
                ("id".to_string(), id.to_string()),
                ("kind".to_string(), "girofle-state".to_string()),
                ("home".to_string(), home.root().display().to_string()),
                ("host".to_string(), crate::remote::host_name(conf)),
                ("finished".to_string(), timefmt::now_rfc3339()),
                (
                    "girofle_version".to_string(),
                    env!("CARGO_PKG_VERSION").to_string(),
                ),
            ],
            entries: snapshot::describe(&partial)?,
        };
        snapshot::write_manifest(&partial, &manifest)?;
        fs::rename(&partial, root.join(id.as_str()))?;
        crate::atomic::sync_directory(&root)?;
        Ok(())
    })();
    if let Err(error) = result {
        let _ = fs::remove_dir_all(&partial);
        return Err(error);
    }
    let keep = conf.keep_last() as usize;
    let ids = crate::home::backup_ids_in(&root);
    if ids.len() > keep {
        for old in &ids[..ids.len() - keep] {
            let hidden = root.join(format!("{REMOVING_PREFIX}{old}"));
            fs::rename(root.join(old.as_str()), &hidden)?;
            fs::remove_dir_all(&hidden)?;
        }
    }
    home.log(
        "backup",
        &format!("Girofle's state backed up as sauvegardes/{id}"),
    );
    Ok(id)
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    let metadata = fs::metadata(from)?;
    fs::set_permissions(to, metadata.permissions())?;
    Ok(())
}

/// The rows `specs` name (or every commissioned one with `all`), checked
/// before anything is done: an unknown or decommissioned instance is exit 2.
pub fn select(rows: &[Row], specs: &[String], all: bool) -> Result<Vec<Row>> {
    if all {
        if !specs.is_empty() {
            return Err(Error::usage("give instances or --all, not both"));
        }
        return Ok(rows
            .iter()
            .filter(|r| r.state == RowState::Commissioned)
            .cloned()
            .collect());
    }
    if specs.is_empty() {
        return Err(Error::usage(
            "name an instance (number, name or container), or --all",
        ));
    }
    specs
        .iter()
        .map(|spec| {
            let row = inventory::find(rows, spec)
                .ok_or_else(|| Error::usage(format!("no instance `{spec}` in the inventory")))?;
            if row.state == RowState::Decommissioned {
                return Err(Error::usage(format!("instance `{spec}` is decommissioned")));
            }
            Ok(row.clone())
        })
        .collect()
}

/// The instance directory of a row (legacy rows may not record one).
pub fn instance_of(home: &Home, row: &Row) -> InstanceDir {
    if row.dir.as_os_str().is_empty() {
        home.instance_dir(row.number)
    } else {
        InstanceDir::new(row.dir.clone())
    }
}

/// A new backup ID: the UTC time now; never one that exists already.
fn new_id(instance: &InstanceDir) -> BackupId {
    new_id_in(&instance.backups())
}

fn new_id_in(directory: &Path) -> BackupId {
    loop {
        let now = time::OffsetDateTime::now_utc();
        let name = now
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]-[minute]-[second]Z"
            ))
            .expect("a UTC date always formats");
        let taken = directory.join(&name).exists()
            || directory.join(format!("{PARTIAL_PREFIX}{name}")).exists();
        if !taken {
            return BackupId::parse(&name).expect("a generated ID parses");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Backs up one instance (used by `girofle-decommission` too).
pub fn backup_instance(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    row: &Row,
    options: &Options,
) -> Result<Made> {
    let instance = instance_of(home, row);
    if !instance.volumes().is_dir() {
        return Err(Error::failed(format!(
            "{} does not exist",
            instance.volumes().display()
        )));
    }
    let _lock = lock::lock_instance(&instance, "girofle-backup", options.lock_timeout)?;
    recovery::recover(home, docker, &instance)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(instance.backups())?;

    let previous = instance
        .latest_backup()
        .map(|id| instance.backups().join(id.as_str()));
    let id = new_id(&instance);
    let partial = instance.backups().join(format!("{PARTIAL_PREFIX}{id}"));

    fs::DirBuilder::new().mode(0o700).create(&partial)?;
    let result = make_backup(
        docker,
        row,
        options,
        &instance,
        &partial,
        previous.as_deref(),
        &id,
    );
    match result {
        Ok(mut made) => {
            made.removed = apply_retention(
                &instance,
                options.keep_last.unwrap_or_else(|| conf.keep_last()),
            )?;
            home.log(
                "backup",
                &format!(
                    "instance {} backed up as {} ({}, {} files copied ({} bytes), {} hard-linked, stop window {}){}",
                    row.number,
                    made.id,
                    options.consistency.as_str(),
                    made.stats.copied_files,
                    made.stats.copied_bytes,
                    made.stats.linked_files,
                    made.stop_window.map(|w| format!("{} ms", w.as_millis())).unwrap_or_else(|| "none".into()),
                    if made.removed.is_empty() { String::new() } else { format!("; retention removed {}", made.removed.join(", ")) }
                ),
            );
            Ok(made)
        }
        Err(error) => {
            let _ = fs::remove_dir_all(&partial);
            Err(match error {
                // The first pass, live, checks the space before each batch:
                // nothing was stopped yet.
                Error::Failed(ref inner) if let Some(short) = inner.downcast_ref::<snapshot::NotEnoughSpace>() => Error::failed(format!(
                    "not enough space for a backup of instance {}: {} MiB more needed, {} MiB free in {}; nothing was stopped",
                    row.number,
                    short.needed >> 20,
                    short.free >> 20,
                    instance.backups().display()
                )),
                Error::Failed(inner) if snapshot::is_out_of_space(&inner) => Error::Failed(inner.context(format!(
                    "out of space while backing up instance {}; the partial backup was removed, earlier backups are intact",
                    row.number
                ))),
                other => other,
            })
        }
    }
}

fn milliseconds(duration: Option<Duration>) -> String {
    duration
        .map(|d| d.as_millis().to_string())
        .unwrap_or_else(|| "0".into())
}

fn make_backup(
    docker: &Docker,
    row: &Row,
    options: &Options,
    instance: &InstanceDir,
    partial: &Path,
    previous: Option<&Path>,
    id: &BackupId,
) -> Result<Made> {
    let started = Instant::now();
    let state = docker.inspect_state(&row.container)?;
    let prior = state
        .as_ref()
        .map(|s| s.status())
        .unwrap_or(Status::Missing);
    let (image, image_id) = if state.is_some() {
        docker.container_image(&row.container)?
    } else {
        (row.image.clone(), String::new())
    };

    // One walk per volume and pass; the entries of the MANIFEST are written
    // as the copy goes. Directories and metadata take room too: the first
    // pass keeps a margin free, before anything is stopped.
    let tops = VOLUMES
        .iter()
        .map(|volume| (PathBuf::from(volume), instance.volumes().join(volume)))
        .collect();
    let mut copier = snapshot::Copier::new(partial, tops, previous).keep_free(16 << 20);
    let mut sync_all = || -> Result<SyncStats> { Ok(copier.pass()?) };

    let first = sync_all()?;
    // `window`: from the container stopped (or frozen) to running again, the
    // second pass and the start; `shutdown`: GitLab's own time to stop.
    let mut stop_window = None;
    let mut shutdown = None;
    let mut second_pass = None;
    let (second, consistent) = match (options.consistency, prior) {
        (Consistency::Live, _) => (None, prior == Status::Stopped || prior == Status::Missing),
        (Consistency::Stop | Consistency::Pause, Status::Running | Status::Restarting) => {
            let stop = options.consistency == Consistency::Stop;
            lock::write_record(instance, "girofle-backup", &row.container, "running")?;
            let asked = Instant::now();
            let halted = if stop {
                docker.stop(&row.container, options.stop_timeout)
            } else {
                docker.pause(&row.container)
            };
            shutdown = Some(asked.elapsed());
            if let Err(error) = halted {
                let _ = if stop {
                    docker.start(&row.container)
                } else {
                    docker.unpause(&row.container)
                };
                lock::clear_record(instance)?;
                return Err(Error::Failed(error.context(format!(
                    "cannot halt {} for the second pass",
                    row.container
                ))));
            }
            let window = Instant::now();
            let pass = sync_all();
            second_pass = Some(window.elapsed());
            let resumed = if stop {
                docker.start(&row.container)
            } else {
                docker.unpause(&row.container)
            };
            stop_window = Some(window.elapsed());
            resumed.with_context(|| {
                format!(
                    "{} could not be started again after the backup",
                    row.container
                )
            })?;
            lock::clear_record(instance)?;
            (Some(pass?), true)
        }
        // Stopped, missing or already frozen: nothing writes, a second pass
        // catches what changed during the first.
        _ => (Some(sync_all()?), true),
    };
    let mut stats = first;
    if let Some(second) = second {
        stats.copied_files += second.copied_files;
        stats.copied_bytes += second.copied_bytes;
        stats.linked_files += second.linked_files;
        stats.skipped_sockets = second.skipped_sockets;
    }

    let gitlab_version = fs::read_to_string(partial.join("data/gitlab-rails/VERSION"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mut header = vec![
        ("id".to_string(), id.to_string()),
        ("instance".to_string(), row.number.to_string()),
        ("container".to_string(), row.container.clone()),
        (
            "consistency".to_string(),
            options.consistency.as_str().to_string(),
        ),
        (
            "consistent".to_string(),
            if consistent {
                "yes"
            } else {
                "no: copied while GitLab ran"
            }
            .to_string(),
        ),
        ("prior_state".to_string(), prior.as_str().to_string()),
        ("image".to_string(), image),
        ("image_id".to_string(), image_id),
        ("gitlab_version".to_string(), gitlab_version),
        ("stop_window_ms".to_string(), milliseconds(stop_window)),
        ("second_pass_ms".to_string(), milliseconds(second_pass)),
        ("shutdown_ms".to_string(), milliseconds(shutdown)),
        (
            "previous".to_string(),
            previous
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "none".into()),
        ),
        ("finished".to_string(), timefmt::now_rfc3339()),
        (
            "duration_ms".to_string(),
            started.elapsed().as_millis().to_string(),
        ),
        (
            "girofle_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ];
    for socket in &stats.skipped_sockets {
        header.push(("skipped_socket".to_string(), socket.display().to_string()));
    }
    copier.write_manifest(&header)?;
    let complete = instance.backups().join(id.as_str());
    fs::rename(partial, &complete).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            complete.display()
        )
    })?;
    crate::atomic::sync_directory(&instance.backups())?;
    Ok(Made {
        number: row.number,
        container: row.container.clone(),
        id: id.clone(),
        path: complete,
        stop_window,
        stats,
        removed: Vec::new(),
    })
}

/// Removes the oldest complete backups beyond `keep` (at least 1, so the
/// newest is never removed). A backup is hidden by rename before it is
/// deleted, so a crash never leaves a half-deleted one that looks complete.
fn apply_retention(instance: &InstanceDir, keep: u32) -> Result<Vec<String>> {
    let keep = keep.max(1) as usize;
    let backups = instance.complete_backups();
    let mut removed = Vec::new();
    if backups.len() > keep {
        for id in &backups[..backups.len() - keep] {
            let path = instance.backups().join(id.as_str());
            let hidden = instance.backups().join(format!("{REMOVING_PREFIX}{id}"));
            fs::rename(&path, &hidden)?;
            fs::remove_dir_all(&hidden)?;
            removed.push(id.to_string());
        }
        crate::atomic::sync_directory(&instance.backups())?;
    }
    Ok(removed)
}

/// The result of re-reading a backup.
#[derive(Debug)]
pub struct Verified {
    /// The backup's path.
    pub path: PathBuf,
    /// Entries in its MANIFEST.
    pub entries: usize,
    /// What differs.
    pub problems: Vec<snapshot::Problem>,
}

/// Re-reads a backup (the newest complete one unless `backup` names one) and
/// compares it with its MANIFEST.
pub fn verify(home: &Home, spec: &str, backup: Option<&str>) -> Result<Verified> {
    let rows = inventory::read(home)?;
    let row = inventory::find(&rows, spec)
        .ok_or_else(|| Error::usage(format!("no instance `{spec}` in the inventory")))?;
    let instance = instance_of(home, row);
    let path = find_backup(&instance, backup)?;
    let verification = snapshot::verify(&path).map_err(|error| {
        Error::Failed(error.context(format!("{} cannot be verified", path.display())))
    })?;
    Ok(Verified {
        path,
        entries: verification.entries,
        problems: verification.problems,
    })
}

/// The path of backup `id` of an instance, or of its newest complete backup.
pub fn find_backup(instance: &InstanceDir, id: Option<&str>) -> Result<PathBuf> {
    match id {
        Some(id) => {
            if BackupId::parse(id).is_none() {
                return Err(Error::usage(format!(
                    "`{id}` is not a backup ID (YYYY-MM-DDTHH-MM-SSZ)"
                )));
            }
            let path = instance.backups().join(id);
            if !path.is_dir() {
                return Err(Error::usage(format!(
                    "no complete backup {id} in {}",
                    instance.backups().display()
                )));
            }
            Ok(path)
        }
        None => instance
            .latest_backup()
            .map(|id| instance.backups().join(id.as_str()))
            .ok_or_else(|| {
                Error::usage(format!(
                    "no complete backup in {}",
                    instance.backups().display()
                ))
            }),
    }
}
