//! `girofle-decommission INSTANCE`: under one instance lock, the container
//! stopped, a final backup of the stopped instance, the container removed,
//! its cron entry removed, its row marked. Volumes and backups stay.

use crate::docker::{DEFAULT_STOP_TIMEOUT, Docker, Status};
use crate::error::{Error, Result};
use crate::inventory::{self, RowState};
use crate::lock::{Halt, OutOfService};
use crate::ops::args::LockArgs;
use crate::ops::backup;
use crate::settings::Settings;
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
    /// How the result is printed.
    #[command(flatten)]
    pub output: crate::ops::args::FormatArgs,
}

/// What was done.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The instance number.
    pub number: u32,
    /// The final backup's ID, unless skipped.
    pub final_backup: Option<String>,
    /// Where its data stays.
    pub dir: std::path::PathBuf,
    /// Its container.
    pub container: String,
    /// The final backup, with its figures, unless skipped.
    pub made: Option<backup::Made>,
    /// How long the final backup took.
    #[serde(
        rename = "backup_duration_ms",
        serialize_with = "crate::json_fields::millis_or_null"
    )]
    pub backup_duration: Option<std::time::Duration>,
    /// Metrics that could not be updated (never fatal).
    pub warnings: Vec<String>,
}

/// Decommissions an instance without losing its data.
pub fn run(settings: &Settings, args: &Args) -> Result<Outcome> {
    let home = settings.home();
    let rows = inventory::read(home)?;
    let spec = args
        .instance
        .clone()
        .ok_or_else(|| Error::usage("name the instance to decommission"))?;
    let row = inventory::select(&rows, &[spec], false)?.remove(0);
    let docker = Docker::new()?;
    docker.server_version()?;
    let conf = settings.conf()?;
    let instance = home.instance_of(&row);

    // One lock from start to end: no backup, restore or cron run slips in
    // between the stop, the final backup and the removal.
    let lock = lock::lock_instance(&instance, "girofle-decommission", args.lock.timeout())?;
    let _watch = crate::guardian::watch(home, &instance, "girofle-decommission");
    recovery::recover(home, &docker, &instance)?;
    let status = docker
        .inspect_state(&row.container)?
        .map(|state| state.status())
        .unwrap_or(Status::Missing);
    // Stopped first (recorded, so that a signal or a death puts it back):
    // the final backup is of the stopped instance, and GitLab is never
    // started again for nothing.
    let out_of_service = match status {
        Status::Running | Status::Restarting | Status::Paused => Some(OutOfService::take(
            &docker,
            &instance,
            "girofle-decommission",
            &row.container,
            Halt::Stop(DEFAULT_STOP_TIMEOUT),
        )?),
        _ => None,
    };
    let started = std::time::Instant::now();
    let made = if args.no_backup {
        None
    } else {
        // On failure, dropping `out_of_service` starts GitLab again.
        let made =
            backup::final_backup(home, &docker, conf, &row, args.lock, &lock).map_err(|error| {
                Error::failed(format!(
                    "the final backup of instance {} failed, so it was not decommissioned: {error}",
                    row.number
                ))
            })?;
        Some(made)
    };
    let backup_duration = made.as_ref().map(|_| started.elapsed());
    let final_backup = made.as_ref().map(|made| made.id.to_string());

    // From the removal on, a signal waits for the end: a removed container
    // cannot be put back, so the decommission completes.
    let held = crate::lock::transition();
    if status != Status::Missing {
        docker.remove(&row.container)?;
    }
    if let Some(out_of_service) = out_of_service {
        out_of_service.keep_out(&held)?;
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
    // Its series would otherwise say forever that its last backup grows old.
    let warnings = crate::events::forget(home, conf, row.number);
    Ok(Outcome {
        number: row.number,
        final_backup,
        dir: instance.root().to_path_buf(),
        container: row.container.clone(),
        made,
        backup_duration,
        warnings,
    })
}
