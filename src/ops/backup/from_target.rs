//! `--verify --from T` and `--drill --from T`: the proof that an off-site
//! copy restores. The backup is fetched from the target into a scratch
//! directory, as a restore fetches it, then re-read against the MANIFEST it
//! carries (and, for a drill, booted). On a restic target the repository is
//! checked first (`restic check --read-data-subset`).
//!
//! The scratch directory sits in the instance's directory, on the disk the
//! backups are written to (never /tmp, which may be a small tmpfs), named
//! `.from-target-*`, root's alone; it goes when the verification or drill ends.

use std::path::PathBuf;

use super::drill::{DrillOptions, Drilled, drill_at};
use super::verify::Verified;
use crate::drill_traces;
use crate::error::{Error, Result};
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::remote::Remote;
use crate::settings::Settings;
use crate::snapshot;

/// A backup fetched from a target into scratch; removed on drop.
struct Fetched {
    // Dropped in this order: the directory, then the lock that tells the
    // clean-up of killed runs that it is alive.
    _scratch: tempfile::TempDir,
    _lock: drill_traces::FromTargetLock,
    path: PathBuf,
    /// `<folder>/<ID>` on the target, for messages.
    name: String,
}

/// The row of the instance `spec` names.
fn row_of(settings: &Settings, spec: &str) -> Result<Row> {
    let rows = inventory::read(settings.home())?;
    inventory::find(&rows, spec)
        .cloned()
        .ok_or_else(|| Error::usage(format!("no instance `{spec}` in the inventory")))
}

/// Fetches backup `backup` (the newest there by default) of `instance` from
/// `remote` into a fresh scratch directory. A backup ID that is malformed or
/// that the target lacks is exit 2.
fn fetch(
    home: &Home,
    remote: &Remote,
    instance: &InstanceDir,
    backup: Option<&str>,
) -> Result<Fetched> {
    let log = |line: &str| home.log("recovery", line);
    if let Some(id) = backup
        && BackupId::parse(id).is_none()
    {
        return Err(Error::usage(format!(
            "`{id}` is not a backup ID (YYYY-MM-DDTHH-MM-SSZ)"
        )));
    }
    let folder = remote.instance_backups(&remote.host, &instance.dir_name());
    let there: Vec<String> = remote
        .list(&folder)?
        .iter()
        .map(ToString::to_string)
        .collect();
    let id = match backup {
        Some(id) if there.iter().any(|b| b == id) => id.to_string(),
        Some(id) => {
            return Err(Error::usage(format!(
                "target `{}` has no complete backup `{id}` in {folder}",
                remote.name
            )));
        }
        None => there.last().cloned().ok_or_else(|| {
            Error::usage(format!(
                "target `{}` has no complete backup in {folder}",
                remote.name
            ))
        })?,
    };
    // A killed run's scratch directory goes first (the disk may not hold two).
    for line in drill_traces::clean_up_from_target(instance)? {
        log(&format!("{}: {line}", instance.root().display()));
    }
    let lock = drill_traces::lock_from_target(instance)?;
    let scratch = tempfile::Builder::new()
        .prefix(drill_traces::FROM_TARGET_PREFIX)
        .tempdir_in(instance.root())
        .map_err(|error| {
            anyhow::anyhow!(
                "cannot make a scratch directory in {}: {error}",
                instance.root().display()
            )
        })?;
    let path = scratch.path().join(&id);
    crate::progress::phase(format!("fetching {folder}/{id} from `{}`", remote.name));
    remote.fetch(&folder, &id, &path, None)?;
    Ok(Fetched {
        _scratch: scratch,
        _lock: lock,
        path,
        name: format!("{folder}/{id}"),
    })
}

/// `--verify INSTANCE --from TARGET`: the target's own check (restic), then
/// the backup fetched and compared with its MANIFEST. Each failure names
/// the target.
pub fn verify_from(
    settings: &Settings,
    spec: &str,
    target: &str,
    backup: Option<&str>,
) -> Result<Verified> {
    let home = settings.home();
    let row = row_of(settings, spec)?;
    let remote = Remote::from_conf(settings.conf()?, target)?;
    let instance = home.instance_of(&row);
    remote.check()?;
    crate::progress::phase(format!("checking target `{target}`"));
    let checked = remote.verify_data()?;
    if let Some(checked) = &checked {
        super::target_check::record_passed(home, target, checked)?;
    }
    let fetched = fetch(home, &remote, &instance, backup)?;
    crate::progress::phase(format!("verifying {} from `{target}`", fetched.name));
    let verification = snapshot::verify(&fetched.path).map_err(|error| {
        Error::Failed(error.context(format!(
            "{} fetched from target `{target}` cannot be verified",
            fetched.name
        )))
    })?;
    let what = format!("{} on target `{target}`", fetched.name);
    home.log(
        "backup",
        &format!(
            "verified {what}: {} entries, {} differing from its MANIFEST{}",
            verification.entries,
            verification.problem_count,
            checked.map(|c| format!("; {c}")).unwrap_or_default()
        ),
    );
    Ok(Verified {
        path: fetched.path.clone(),
        what,
        entries: verification.entries,
        problems: verification.problems,
        problem_count: verification.problem_count,
    })
}

/// `--drill INSTANCE --from TARGET`: the backup fetched into scratch, then
/// the drill of a local backup on that copy (verified, booted, fsck'd).
pub fn drill_from(
    settings: &Settings,
    spec: &str,
    target: &str,
    backup: Option<&str>,
    options: &DrillOptions,
) -> Result<Drilled> {
    let row = row_of(settings, spec)?;
    let remote = Remote::from_conf(settings.conf()?, target)?;
    let home = settings.home();
    let instance = home.instance_of(&row);
    remote.check()?;
    let fetched = fetch(home, &remote, &instance, backup)?;
    settings.home().log(
        "drill",
        &format!(
            "instance {}: {} fetched from target `{target}` for a drill",
            row.number, fetched.name
        ),
    );
    drill_at(settings, &row, &fetched.path, options).map_err(|error| {
        error.context(format!(
            "the drill of {} from target `{target}` failed",
            fetched.name
        ))
    })
}
