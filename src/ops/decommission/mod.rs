//! `girofle-decommission INSTANCE`: under one instance lock, the container
//! stopped, a final backup of the stopped instance, the container removed,
//! its cron entry removed, its row marked. Volumes and backups stay.
//!
//! Observed, planned (a value, [`plan::Plan`]), then carried out: the plan
//! is what `--dry-run` prints and what the terminal shows.

pub mod plan;

use crate::conf::Conf;
use crate::docker::{DEFAULT_STOP_TIMEOUT, Docker, Status};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::home::InstanceDir;
use crate::inventory::{self, Row, RowState};
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
    /// Print what would be done (stop, final backup, removal, cron entries, inventory) and
    /// change nothing
    #[arg(long)]
    pub dry_run: bool,
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

/// `girofle-decommission --dry-run`: observes and plans, as a run would,
/// refusing what it would refuse; locks, writes and stops nothing.
pub fn dry_run(settings: &Settings, args: &Args) -> Result<plan::Plan> {
    let home = settings.home();
    let rows = inventory::read(home)?;
    let row = plan::selection(&rows, args)?;
    let docker = Docker::new()?;
    docker.server_version()?;
    settings.conf()?;
    let observed = observe(home, &docker, rows, &row)?;
    plan::plan(&observed, args)
}

/// What the plan is computed from: the row's container and directory.
fn observe(home: &Home, docker: &Docker, rows: Vec<Row>, row: &Row) -> Result<plan::Observed> {
    let instance = home.instance_of(row);
    let status = docker
        .inspect_state(&row.container)?
        .map(|state| state.status())
        .unwrap_or(Status::Missing);
    let backups = instance.complete_backups();
    let previous = instance
        .default_backup(&backups)
        .map(|id| id.as_str().to_string());
    let cron_entries = [
        cron::entry_path(home, row.number),
        cron::drill_entry_path(home, row.number),
    ]
    .into_iter()
    .filter(|path| path.exists())
    .collect();
    Ok(plan::Observed {
        rows,
        status,
        dir: instance.root().to_path_buf(),
        volumes: instance.volumes(),
        volumes_present: instance.volumes().is_dir(),
        backups_dir: instance.backups(),
        backups: backups.iter().map(|id| id.as_str().to_string()).collect(),
        previous,
        cron_entries,
    })
}

/// Decommissions an instance without losing its data.
pub fn run(settings: &Settings, args: &Args) -> Result<Outcome> {
    let home = settings.home();
    let rows = inventory::read(home)?;
    let row = plan::selection(&rows, args)?;
    let docker = Docker::new()?;
    docker.server_version()?;
    let conf = settings.conf()?;
    let instance = home.instance_of(&row);

    // One lock from start to end: no backup, restore or cron run slips in
    // between the stop, the final backup and the removal.
    let lock = lock::lock_instance(&instance, "girofle-decommission", args.lock.timeout())?;
    let _watch = crate::guardian::watch(home, &instance, "girofle-decommission");
    recovery::recover(home, &docker, &instance)?;
    // Observed once recovered and locked: the plan is of the instance as
    // it stands, and nothing changes it before it is carried out.
    let observed = observe(home, &docker, rows, &row)?;
    let plan = plan::plan(&observed, args)?;
    act(home, &docker, conf, &row, &instance, &plan, args, &lock)
}

/// Carries `plan` out, under the instance's lock (`lock`).
#[allow(clippy::too_many_arguments)]
fn act(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    row: &Row,
    instance: &InstanceDir,
    plan: &plan::Plan,
    args: &Args,
    lock: &lock::InstanceLock,
) -> Result<Outcome> {
    // Stopped first (recorded, so that a signal or a death puts it back):
    // the final backup is of the stopped instance, and GitLab is never
    // started again for nothing.
    let out_of_service = if plan.stop {
        Some(OutOfService::take(
            docker,
            instance,
            "girofle-decommission",
            &row.container,
            Halt::Stop(DEFAULT_STOP_TIMEOUT),
        )?)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let made = if plan.final_backup.is_none() {
        None
    } else {
        // On failure, dropping `out_of_service` starts GitLab again.
        let made =
            backup::final_backup(home, docker, conf, row, args.lock, lock).map_err(|error| {
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
    if plan.remove_container {
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
