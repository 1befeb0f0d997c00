//! What a backup run will do, decided before anything is touched: a value
//! computed by a pure function from what was observed (inventory, engine,
//! disk, `girofle.conf`) and the arguments, so that `--dry-run` prints the
//! very plan a real run carries out, and unit tests check every choice
//! without an engine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::{Args, Consistency, SAME_SITE};
use crate::container::VOLUMES;
use crate::docker::Status;
use crate::error::{Error, Result};
use crate::inventory::{Row, commissioned, select};

/// One instance's directory as observed: its volumes and its backups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disk {
    /// `mapping-volumes/`, what is copied.
    pub volumes: PathBuf,
    /// Whether `mapping-volumes/` exists (without it the backup fails).
    pub volumes_present: bool,
    /// `bckups/`, where the backup is made.
    pub backups_dir: PathBuf,
    /// The complete backups, oldest first.
    pub backups: Vec<String>,
    /// The backup a new one hard-links into: the newest one a backup made,
    /// not one keeping the data a restore replaced.
    pub previous: Option<String>,
}

/// Everything a backup plan is computed from, as plain values.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The inventory's rows.
    pub rows: Vec<Row>,
    /// Each container's run state by name; `None` when the engine did not
    /// answer (each instance's mode is then decided once it is locked).
    pub statuses: Option<BTreeMap<String, Status>>,
    /// The directories of the instances named, by number.
    pub disks: BTreeMap<u32, Disk>,
    /// `[retention] keep_last` of `girofle.conf`, or its default.
    pub keep_last: u32,
    /// `[girofle] max_freeze_secs`: how long a freeze may last.
    pub max_freeze_secs: Option<u64>,
    /// The targets of `girofle.conf`, with their own `keep_last`.
    pub targets: BTreeMap<String, Option<u32>>,
    /// This host's folder name on targets.
    pub host: String,
    /// `sauvegardes/`, where Girofle's state is backed up.
    pub state_backups: PathBuf,
}

/// How GitLab is held still for the second pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hold {
    /// `docker pause` for the second pass, `docker unpause` after it.
    Freeze,
    /// `docker stop` for the second pass, `docker start` after it.
    Stop,
    /// Nothing: GitLab is not running, or `live` was asked.
    None,
    /// The engine did not answer: decided once the instance is locked.
    Undecided,
}

/// One instance's backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstancePlan {
    /// The instance number.
    pub number: u32,
    /// Its name (may be empty).
    pub name: String,
    /// Its container.
    pub container: String,
    /// The container's run state when observed.
    pub status: &'static str,
    /// The consistency asked.
    pub consistency: Consistency,
    /// How GitLab is held still for the second pass.
    pub hold: Hold,
    /// Why, in an operator's words.
    pub why: String,
    /// When a freeze may turn into a stop, and why.
    pub fallback: Option<String>,
    /// Whether the copy will be consistent (false: copied while GitLab runs).
    pub consistent: bool,
    /// The folders copied.
    pub copies: Vec<PathBuf>,
    /// Where the backup is made (as `.partial-<ID>`, renamed `<ID>` last).
    pub into: PathBuf,
    /// The backup unchanged files are hard-linked into, if any.
    pub linked_to: Option<String>,
    /// Complete backups kept after this one.
    pub keep_last: u32,
    /// The backups retention removes once this one is made.
    pub removed_by_retention: Vec<String>,
    /// What will make this instance's backup fail, if something will.
    pub problem: Option<String>,
}

/// Girofle's own state backup (`--state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatePlan {
    /// Where it is made.
    pub into: PathBuf,
    /// State backups kept after it.
    pub keep_last: u32,
}

/// What is shipped to a target once the backups are made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shipping {
    /// The target's name in `girofle.conf`.
    pub target: String,
    /// This host's folder there.
    pub host: String,
    /// The instances whose complete backups travel, in order.
    pub instances: Vec<u32>,
    /// Whether the state backups travel too.
    pub state: bool,
    /// Complete backups kept per instance on the target.
    pub keep_last: u32,
}

/// A whole backup run, in order: the instances, the state, the shipping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The instances backed up, in this order.
    pub instances: Vec<InstancePlan>,
    /// Girofle's state backup, with `--state`.
    pub state: Option<StatePlan>,
    /// The shipping, with `--to` (or `--state` and a `same-site` target).
    pub shipping: Option<Shipping>,
}

/// The rows `args` names, checked: unknown or decommissioned instances are
/// refused (exit 2); `--state` alone names none.
pub fn selection(rows: &[Row], args: &Args) -> Result<Vec<Row>> {
    if args.state && args.instances.is_empty() && !args.all {
        Ok(Vec::new())
    } else {
        select(rows, &args.instances, args.all)
    }
}

/// The target `args` ship to: `--to`, else `same-site` for `--state` when
/// `girofle.conf` has it; an unknown name is refused (exit 2).
pub fn target_name(targets: &BTreeMap<String, Option<u32>>, args: &Args) -> Result<Option<String>> {
    let name = match (&args.to, args.state) {
        (Some(name), _) => name.clone(),
        (None, true) if targets.contains_key(SAME_SITE) => SAME_SITE.to_string(),
        _ => return Ok(None),
    };
    if targets.contains_key(&name) {
        return Ok(Some(name));
    }
    let known: Vec<&str> = targets.keys().map(String::as_str).collect();
    Err(Error::usage(format!(
        "no target `{name}` in girofle.conf (known: {})",
        if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        }
    )))
}

/// The plan of a backup run: pure, from `observed` and `args`.
pub fn plan(observed: &Observed, args: &Args) -> Result<Plan> {
    let selected = selection(&observed.rows, args)?;
    let target = target_name(&observed.targets, args)?;
    let keep_last = args.options.keep_last.unwrap_or(observed.keep_last);
    let instances = selected
        .iter()
        .map(|row| instance_plan(observed, row, args.options.consistency, keep_last))
        .collect();
    let state = args.state.then(|| StatePlan {
        into: observed.state_backups.clone(),
        keep_last: observed.keep_last.max(1),
    });
    let shipping = target.map(|name| {
        // With --state alone, every instance's backups travel with the state.
        let shipped: Vec<u32> = if selected.is_empty() {
            commissioned(&observed.rows).map(|row| row.number).collect()
        } else {
            selected.iter().map(|row| row.number).collect()
        };
        Shipping {
            keep_last: observed.targets[&name].unwrap_or(observed.keep_last),
            target: name,
            host: observed.host.clone(),
            instances: shipped,
            state: args.state,
        }
    });
    Ok(Plan {
        instances,
        state,
        shipping,
    })
}

/// One instance's part of the plan.
fn instance_plan(
    observed: &Observed,
    row: &Row,
    consistency: Consistency,
    keep_last: u32,
) -> InstancePlan {
    let disk = observed.disks.get(&row.number).cloned().unwrap_or_default();
    let status = match &observed.statuses {
        Some(statuses) => statuses
            .get(&row.container)
            .copied()
            .unwrap_or(Status::Missing),
        None => Status::Unknown,
    };
    let (hold, why, consistent) = hold(consistency, status);
    let fallback = (hold == Hold::Freeze).then(|| match observed.max_freeze_secs {
        Some(secs) => format!(
            "stop, if GitLab cannot be frozen or stays frozen longer than {secs} s (max_freeze_secs)"
        ),
        None => "stop, if GitLab cannot be frozen".to_string(),
    });
    let problem =
        (!disk.volumes_present).then(|| format!("{} does not exist", disk.volumes.display()));
    InstancePlan {
        number: row.number,
        name: row.name.clone(),
        container: row.container.clone(),
        status: status.as_str(),
        consistency,
        hold,
        why,
        fallback,
        consistent,
        copies: VOLUMES
            .iter()
            .map(|volume| disk.volumes.join(volume))
            .collect(),
        into: disk.backups_dir.clone(),
        linked_to: disk.previous.clone(),
        keep_last: keep_last.max(1),
        removed_by_retention: retention(&disk.backups, keep_last),
        problem,
    }
}

/// How GitLab is held for the second pass, why, and whether the copy is
/// consistent: the choice `copy_in_two_passes` makes under the lock.
pub fn hold(consistency: Consistency, status: Status) -> (Hold, String, bool) {
    match (consistency, status) {
        (_, Status::Unknown) => (
            Hold::Undecided,
            "the engine did not answer: decided once the instance is locked".into(),
            true,
        ),
        (Consistency::Live, Status::Stopped | Status::Missing) => (
            Hold::None,
            format!("{}: nothing writes, copied as it is", status.as_str()),
            true,
        ),
        (Consistency::Live, _) => (
            Hold::None,
            "copied while GitLab runs (not consistent)".into(),
            false,
        ),
        (Consistency::Pause, Status::Running | Status::Restarting) => (
            Hold::Freeze,
            "frozen for the second pass, never restarted".into(),
            true,
        ),
        (Consistency::Stop, Status::Running | Status::Restarting) => (
            Hold::Stop,
            "stopped for the second pass, then started again".into(),
            true,
        ),
        (_, status) => (
            Hold::None,
            format!(
                "{}: nothing writes, two passes with GitLab left as it is",
                status.as_str()
            ),
            true,
        ),
    }
}

/// The complete backups (oldest first) retention removes once a new one is
/// made and `keep` are kept: the oldest beyond `keep`, never the new one.
pub fn retention(backups: &[String], keep: u32) -> Vec<String> {
    let keep = keep.max(1) as usize;
    let after = backups.len() + 1;
    let gone = after.saturating_sub(keep).min(backups.len());
    backups[..gone].to_vec()
}

#[cfg(test)]
mod tests;
