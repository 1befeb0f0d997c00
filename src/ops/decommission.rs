//! `girofle-decommission INSTANCE`: a final backup, the container stopped and
//! removed, its cron entry removed, its row marked. Volumes and backups stay.

use crate::cli::LockArgs;
use crate::conf::Conf;
use crate::docker::{DEFAULT_STOP_TIMEOUT, Docker};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::inventory::{self, RowState};
use crate::ops::backup;
use crate::{cron, lock, recovery, timefmt};

/// Decommission a GitLab instance; its volumes and backups stay on disk
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The instance: number, name or container name (without it, asked on a terminal)
    pub instance: Option<String>,
    /// Do not take a final backup first
    #[arg(long)]
    pub no_backup: bool,
    /// How long to wait for another operation on the same instance.
    #[command(flatten)]
    pub lock: LockArgs,
}

/// What was done.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The instance number.
    pub number: u32,
    /// The final backup's ID, unless skipped.
    pub final_backup: Option<String>,
    /// Where its data stays.
    pub dir: std::path::PathBuf,
}

/// Decommissions an instance without losing its data.
pub fn run(home: &Home, args: &Args) -> Result<Outcome> {
    let rows = inventory::read(home)?;
    let spec = args
        .instance
        .clone()
        .ok_or_else(|| Error::usage("name the instance to decommission"))?;
    let row = backup::select(&rows, &[spec], false)?.remove(0);
    let docker = Docker::new()?;
    docker.server_version()?;
    let conf = Conf::load(home)?;
    let instance = home.instance_of(&row);

    let final_backup = if args.no_backup {
        None
    } else {
        let options = backup::Options {
            lock: args.lock,
            // Retention must not remove older backups of an instance taken out of service.
            keep_last: Some(u32::MAX),
            ..backup::Options::default()
        };
        let made =
            backup::backup_instance(home, &docker, &conf, &row, &options).map_err(|error| {
                Error::failed(format!(
                    "the final backup of instance {} failed, so it was not decommissioned: {error}",
                    row.number
                ))
            })?;
        Some(made.id.to_string())
    };

    let _lock = lock::lock_instance(&instance, "girofle-decommission", args.lock.timeout())?;
    recovery::recover(home, &docker, &instance)?;
    if docker.inspect_state(&row.container)?.is_some() {
        docker.stop(&row.container, DEFAULT_STOP_TIMEOUT)?;
        docker.remove(&row.container)?;
    }
    cron::remove_entry(home, row.number)?;
    cron::remove_drill_entry(home, row.number)?;
    let mut locked = inventory::lock(home)?;
    if let Some(stored) = locked.row_mut(row.number) {
        stored.state = RowState::Decommissioned;
        stored.note = format!(
            "decommissioned {}; data and backups kept in {}",
            timefmt::now_rfc3339(),
            instance.root().display()
        );
    }
    locked.commit()?;
    home.log(
        "decommission",
        &format!(
            "instance {} ({}) decommissioned; final backup {}; data kept in {}",
            row.number,
            row.container,
            final_backup.as_deref().unwrap_or("skipped"),
            instance.root().display()
        ),
    );
    Ok(Outcome {
        number: row.number,
        final_backup,
        dir: instance.root().to_path_buf(),
    })
}
