//! What a decommission will do, decided before anything is touched: a
//! value computed by a pure function from what was observed (inventory,
//! engine, disk, cron) and the arguments. `--dry-run` prints it, the
//! terminal shows it, and a run carries out the very same steps.

use std::path::PathBuf;

use serde::Serialize;

use super::Args;
use crate::docker::Status;
use crate::error::{Error, Result};
use crate::inventory::{Row, RowState, select};
use crate::ops::backup::Consistency;

/// Everything a decommission plan is computed from, as plain values.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The inventory's rows.
    pub rows: Vec<Row>,
    /// The run state of the named instance's container.
    pub status: Status,
    /// The instance directory (`noeud-gitlab-<N>`), which stays.
    pub dir: PathBuf,
    /// `mapping-volumes/`, what the final backup copies.
    pub volumes: PathBuf,
    /// Whether `mapping-volumes/` exists (without it the final backup fails).
    pub volumes_present: bool,
    /// `bckups/`, where the final backup is made.
    pub backups_dir: PathBuf,
    /// The complete backups, oldest first; all of them stay.
    pub backups: Vec<String>,
    /// The backup the final one hard-links into.
    pub previous: Option<String>,
    /// The instance's cron entries that exist (backup, drill).
    pub cron_entries: Vec<PathBuf>,
}

/// The final backup taken before the container goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinalBackup {
    /// Always `stop`: GitLab is stopped for good, so the copy is a clean
    /// shutdown's.
    pub consistency: Consistency,
    /// The folders copied.
    pub copies: Vec<PathBuf>,
    /// Where it is made.
    pub into: PathBuf,
    /// The backup unchanged files are hard-linked into, if any.
    pub linked_to: Option<String>,
    /// Retention is off: an instance out of service keeps every backup.
    pub retention: bool,
}

/// The inventory row's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowChange {
    /// The instance number.
    pub number: u32,
    /// Its state before.
    pub from: RowState,
    /// Its state after.
    pub to: RowState,
}

/// A whole decommission, in the order it is carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The instance number.
    pub number: u32,
    /// Its name (may be empty).
    pub name: String,
    /// Its container.
    pub container: String,
    /// The container's run state when observed.
    pub status: &'static str,
    /// Whether the container is stopped first (and kept out, even on a signal).
    pub stop: bool,
    /// The final backup, unless `--no-backup`.
    pub final_backup: Option<FinalBackup>,
    /// Whether the container is removed (not when the engine has none).
    pub remove_container: bool,
    /// The cron entries removed.
    pub cron_entries_removed: Vec<PathBuf>,
    /// The inventory row's change.
    pub inventory: RowChange,
    /// What stays on disk: the instance's data and its backups.
    pub kept: Vec<PathBuf>,
    /// What may make it fail, said before it does.
    pub warnings: Vec<String>,
}

/// The row `args` names, checked: no name, an unknown or a decommissioned
/// instance is refused (exit 2), before anything is touched.
pub fn selection(rows: &[Row], args: &Args) -> Result<Row> {
    let spec = args
        .instance
        .clone()
        .ok_or_else(|| Error::usage("name the instance to decommission"))?;
    Ok(select(rows, &[spec], false)?.remove(0))
}

/// The plan of a decommission: pure, from `observed` and `args`.
pub fn plan(observed: &Observed, args: &Args) -> Result<Plan> {
    let row = selection(&observed.rows, args)?;
    let status = observed.status;
    let stop = matches!(
        status,
        Status::Running | Status::Restarting | Status::Paused
    );
    let final_backup = (!args.no_backup).then(|| FinalBackup {
        consistency: Consistency::Stop,
        copies: crate::container::VOLUMES
            .iter()
            .map(|volume| observed.volumes.join(volume))
            .collect(),
        into: observed.backups_dir.clone(),
        linked_to: observed.previous.clone(),
        retention: false,
    });
    let mut warnings = Vec::new();
    if final_backup.is_some() && !observed.volumes_present {
        warnings.push(format!(
            "{} does not exist: the final backup will fail and nothing will be decommissioned (--no-backup skips it)",
            observed.volumes.display()
        ));
    }
    if args.no_backup && observed.backups.is_empty() {
        warnings.push(format!(
            "instance {} has no backup and --no-backup takes none: only its volumes stay",
            row.number
        ));
    }
    Ok(Plan {
        number: row.number,
        name: row.name.clone(),
        container: row.container.clone(),
        status: status.as_str(),
        stop,
        final_backup,
        remove_container: status != Status::Missing,
        cron_entries_removed: observed.cron_entries.clone(),
        inventory: RowChange {
            number: row.number,
            from: row.state,
            to: RowState::Decommissioned,
        },
        kept: vec![observed.volumes.clone(), observed.backups_dir.clone()],
        warnings,
    })
}

#[cfg(test)]
mod tests;
