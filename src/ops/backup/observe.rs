//! What a backup run looks at before it decides anything: the inventory,
//! the engine, the instances' directories and `girofle.conf`, read into
//! the plain values its plan is computed from. Reads only: a dry run stops
//! here, with nothing written, locked or touched.

use std::collections::BTreeMap;

use super::plan::{self, Disk, Observed, Plan};
use super::{Args, target};
use crate::conf::Conf;
use crate::docker::Docker;
use crate::error::Result;
use crate::home::Home;
use crate::inventory::{self, Row};
use crate::settings::Settings;

/// `girofle-backup --dry-run`: observes and plans, as a run would, refusing
/// what it would refuse; locks, writes and stops nothing.
pub fn dry_run(settings: &Settings, args: &Args) -> Result<Plan> {
    let home = settings.home();
    let rows = inventory::read(home)?;
    let selected = plan::selection(&rows, args)?;
    let conf = settings.conf()?;
    target(conf, args)?;
    let docker = Docker::new()?;
    let observed = observe(home, &docker, conf, rows, &selected);
    plan::plan(&observed, args)
}

/// The values the plan needs, the disks of the `selected` instances only.
/// An engine that does not answer is observed as such, not an error: the
/// instances' own backups report it once they are locked.
pub(super) fn observe(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    rows: Vec<Row>,
    selected: &[Row],
) -> Observed {
    let statuses = docker.list_containers().ok().map(|containers| {
        containers
            .into_iter()
            .map(|container| (container.name, container.status))
            .collect()
    });
    let disks = selected
        .iter()
        .map(|row| (row.number, disk(home, row)))
        .collect();
    Observed {
        rows,
        statuses,
        disks,
        keep_last: conf.keep_last(),
        max_freeze_secs: conf.girofle.max_freeze_secs,
        targets: targets(conf),
        host: crate::remote::host_name(conf),
        state_backups: home.state_backups(),
    }
}

/// The targets of `girofle.conf`, with their own retention.
pub(super) fn targets(conf: &Conf) -> BTreeMap<String, Option<u32>> {
    conf.targets
        .iter()
        .map(|(name, target)| (name.clone(), target.keep_last.map(|n| n.get())))
        .collect()
}

/// One instance's directory: its volumes and complete backups.
fn disk(home: &Home, row: &Row) -> Disk {
    let instance = home.instance_of(row);
    let backups = instance.complete_backups();
    let previous = instance
        .default_backup(&backups)
        .map(|id| id.as_str().to_string());
    Disk {
        volumes: instance.volumes(),
        volumes_present: instance.volumes().is_dir(),
        backups_dir: instance.backups(),
        backups: backups.iter().map(|id| id.as_str().to_string()).collect(),
        previous,
    }
}
