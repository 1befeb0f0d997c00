//! The plan of `girofle-restore --all`, as a value: whether the state is
//! put back (and from which backup), which instances are brought back and in
//! which order, which are left alone, the cron entries written. Made by pure
//! functions from what was observed (the inventory, the engine's containers,
//! the state backup read), so that `--dry-run` and the run follow one plan,
//! and the rules are tested without an engine. Clashes with what is here
//! are [`super::conflicts::check_conflicts`], pure as well.

use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::state::relocate;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::inventory::{Row, RowState};

/// Whether `--all` puts back a state backup: with `--from`, with
/// `--backup-state`, or when the inventory is empty. A state is never put
/// over an inventory that has rows (exit 2).
pub fn puts_back_state(
    present_rows: usize,
    from: bool,
    backup_state: bool,
    inventory: &Path,
) -> Result<bool> {
    let put_back = from || backup_state || present_rows == 0;
    if put_back && present_rows > 0 {
        return Err(Error::usage(format!(
            "{} already holds {present_rows} row(s): --all {} puts back a whole inventory and never overwrites one; nothing was changed",
            inventory.display(),
            if from { "--from" } else { "--backup-state" }
        )));
    }
    Ok(put_back)
}

/// What `--ip` and `--image` change in every instance brought back.
#[derive(Debug, Clone, Default)]
pub struct Remap {
    /// `--ip`.
    pub ip: Option<IpAddr>,
    /// `--image`.
    pub image: Option<String>,
}

impl Remap {
    fn apply(&self, row: &mut Row) {
        if let Some(ip) = self.ip {
            row.ip = ip.to_string();
        }
        if let Some(image) = &self.image {
            row.image = image.clone();
        }
    }
}

/// The rows of a state backup as the inventory here will hold them: in
/// this home's directories, `--ip` and `--image` applied to the instances
/// in service, except (`local`, no `--from`) those whose container is here,
/// which stay as they are.
pub fn rows_of_state(
    home: &Home,
    state_rows: &[Row],
    local: bool,
    containers: &HashSet<String>,
    remap: &Remap,
) -> Vec<Row> {
    state_rows
        .iter()
        .map(|row| {
            let mut row = relocate(home, row);
            let left_alone = local && containers.contains(&row.container);
            if row.state == RowState::Commissioned && !left_alone {
                remap.apply(&mut row);
            }
            row
        })
        .collect()
}

/// The instances in service, split: those to bring back (by number), and
/// (`local`) those whose container is here, left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Brought back, by number.
    pub to_restore: Vec<Row>,
    /// Left alone: their container exists.
    pub left_alone: Vec<Row>,
}

/// See [`Selection`]. With `--from` (not `local`), every instance is
/// brought back: a container of the same name is a clash, found later.
pub fn select(rows: &[Row], local: bool, containers: &HashSet<String>, remap: &Remap) -> Selection {
    let mut selection = Selection::default();
    for row in rows.iter().filter(|r| r.state == RowState::Commissioned) {
        let mut row = row.clone();
        remap.apply(&mut row);
        if local && containers.contains(&row.container) {
            selection.left_alone.push(row);
        } else {
            selection.to_restore.push(row);
        }
    }
    // One after the other, in the order of their numbers.
    selection.to_restore.sort_by_key(|row| row.number);
    selection
}

/// The state put back, as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateStep {
    /// The state backup's ID.
    pub id: String,
    /// The target it is fetched from; `None` for this host's own.
    pub fetched_from: Option<String>,
    /// The home it was made in.
    pub made_in: PathBuf,
    /// The rows of the inventory written.
    pub rows: usize,
    /// The instance counter written (at least the highest number).
    pub counter: u32,
    /// Whether `girofle.conf` is written.
    pub conf: bool,
    /// Its settings that run or send something, left out without `--yes`
    /// (the whole file set aside beside it).
    pub conf_held_back: Vec<String>,
    /// Whether the key of `--state-key` becomes this home's.
    pub installs_key: bool,
}

/// What happens to one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Its container is made again and a backup restored into it.
    Restore {
        /// The backup, when known before the run (local: the newest
        /// usable; `--from`: the target's newest).
        backup: Option<String>,
    },
    /// Its container exists: left alone.
    LeftAlone,
}

/// One instance of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStep {
    /// Its number.
    pub number: u32,
    /// Its container.
    pub container: String,
    /// Its `external_url`.
    pub url: String,
    /// Its image.
    pub image: String,
    /// Its directory.
    pub dir: PathBuf,
    /// What happens to it.
    #[serde(flatten)]
    pub action: Action,
}

/// What `--all` will do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllPlan {
    /// The state put back first, if any.
    pub state: Option<StateStep>,
    /// Whether inventory rows are changed in place (no state put back,
    /// `--ip` or `--image` given).
    pub rows_updated: bool,
    /// Every instance in service, by number: those restored are, in this
    /// order, one after the other; one failing does not stop the others.
    pub instances: Vec<InstanceStep>,
    /// The cron entries written.
    pub cron_entries: Vec<PathBuf>,
}

/// The plan, from the selection and what the state backup brings: the
/// state's cron entries (`cron_entries`), the backups already known.
pub fn plan(
    state: Option<StateStep>,
    selection: &Selection,
    remap: &Remap,
    cron_entries: Vec<PathBuf>,
    backups: &BTreeMap<u32, String>,
) -> AllPlan {
    let step = |row: &Row, action| InstanceStep {
        number: row.number,
        container: row.container.clone(),
        url: row.url(),
        image: row.image.clone(),
        dir: row.dir.clone(),
        action,
    };
    let mut instances: Vec<InstanceStep> = selection
        .to_restore
        .iter()
        .map(|row| {
            let backup = backups.get(&row.number).cloned();
            step(row, Action::Restore { backup })
        })
        .chain(
            selection
                .left_alone
                .iter()
                .map(|row| step(row, Action::LeftAlone)),
        )
        .collect();
    instances.sort_by_key(|instance| instance.number);
    // Without a state, each instance brought back gets its backup entry if
    // it has none; that is decided as it is written, and not listed here.
    AllPlan {
        rows_updated: state.is_none() && (remap.ip.is_some() || remap.image.is_some()),
        state,
        instances,
        cron_entries,
    }
}

impl AllPlan {
    /// The steps, in order, one sentence each.
    pub fn steps(&self) -> Vec<String> {
        let mut steps = Vec::new();
        if let Some(state) = &self.state {
            steps.push(match &state.fetched_from {
                Some(target) => format!(
                    "fetch state backup {} from target `{target}`, check it against its MANIFEST and its MAC",
                    state.id
                ),
                None => format!(
                    "check state backup {} against its MANIFEST and its MAC",
                    state.id
                ),
            });
            steps.push(format!(
                "write the inventory ({} row(s), from {}) and the instance counter ({})",
                state.rows,
                state.made_in.display(),
                state.counter
            ));
            if state.conf {
                steps.push(if state.conf_held_back.is_empty() {
                    "write girofle.conf (the one here, if any, kept beside it)".to_string()
                } else {
                    format!(
                        "write girofle.conf without {} (the whole file set aside for review; --yes applies them)",
                        state.conf_held_back.join("; ")
                    )
                });
            }
            if state.installs_key {
                steps.push("make the key of --state-key this home's state key".to_string());
            }
        }
        if self.rows_updated {
            steps.push(
                "record --ip/--image in the inventory rows of the instances brought back".into(),
            );
        }
        for instance in &self.instances {
            steps.push(match &instance.action {
                Action::LeftAlone => format!(
                    "instance {} (`{}`): left alone, its container exists",
                    instance.number, instance.container
                ),
                Action::Restore { backup } => format!(
                    "instance {} (`{}`, {}): create its container from {}, restore {} into {}, wait until it is healthy",
                    instance.number,
                    instance.container,
                    instance.url,
                    instance.image,
                    backup
                        .as_ref()
                        .map_or_else(|| "its newest backup".to_string(), |id| format!("backup {id}")),
                    instance.dir.display()
                ),
            });
        }
        for entry in &self.cron_entries {
            steps.push(format!("write cron entry {}", entry.display()));
        }
        steps
    }

    /// The numbered steps, for `--dry-run`.
    pub fn text(&self) -> String {
        self.steps()
            .iter()
            .enumerate()
            .map(|(index, step)| format!("{:>2}. {step}\n", index + 1))
            .collect()
    }
}

#[cfg(test)]
mod tests;
