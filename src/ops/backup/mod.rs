//! `girofle-backup`: consistent, incremental, verified backups of instances.
//!
//! A backup is built in `bckups/.partial-<ID>/`: a first pass copies while
//! GitLab runs; then the container is frozen (`pause`, the default: every
//! file at one instant, as a crash would leave them, which GitLab's
//! databases recover from) or stopped (`stop`), a second pass copies only
//! what changed since, and the container is thawed (or started) again; the
//! MANIFEST is written and fsynced, and `.partial-<ID>` is renamed `<ID>` as
//! the very last step. A backup is whole or invisible.

mod drill;
mod from_target;
mod instance;
mod observe;
pub mod plan;
mod retention;
mod second_pass;
mod ship;
mod state;
mod target_check;
mod verify;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::conf::Conf;
use crate::docker::{DEFAULT_HEALTHY_TIMEOUT, DEFAULT_STOP_TIMEOUT, Docker};
use crate::error::{Error, Exit, Result};
use crate::events;
use crate::home::{BackupId, Home, PARTIAL_PREFIX};
use crate::inventory::{self, Row};
use crate::ops::args::{LockArgs, Seconds};
use crate::remote::Remote;
use crate::settings::Settings;
use crate::snapshot::SyncStats;

pub use drill::{DrillOptions, Drilled, drill};
pub use from_target::{drill_from, verify_from};
pub use instance::backup_instance;
pub use observe::dry_run;
pub use plan::Plan;
pub use state::backup_state;
pub use target_check::{CHECK_INTERVAL, TargetCheck};
pub use verify::{Verified, find_backup, verify};

/// How the copy is made consistent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Stop GitLab for the second pass and start it again (a clean shutdown; GitLab is down
    /// for its restart)
    Stop,
    /// Freeze the container for the second pass, then thaw it: every file from one instant,
    /// GitLab never restarted (requests wait instead of failing)
    #[default]
    Pause,
    /// Copy while GitLab runs (not consistent)
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
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// How the copy is made consistent: `pause` freezes GitLab for the second pass only, never
    /// restarting it; `stop` stops and starts it again; `live` copies while it runs
    #[arg(long, value_enum, default_value = "pause")]
    pub consistency: Consistency,
    /// Keep the N newest complete backups [default: girofle.conf's retention, else 12]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_last: Option<u32>,
    /// How long to wait for the instance lock.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Seconds `docker stop` gives GitLab to shut down
    #[arg(long, value_name = "SECS", default_value_t = Seconds(DEFAULT_STOP_TIMEOUT))]
    pub stop_timeout: Seconds,
    /// Seconds GitLab has to be healthy: again, once stopped or frozen by the backup; or, with
    /// --drill, the throwaway container
    #[arg(long, value_name = "SECS", default_value_t = Seconds(DEFAULT_HEALTHY_TIMEOUT))]
    pub wait_timeout: Seconds,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            consistency: Consistency::Pause,
            keep_last: None,
            lock: LockArgs::default(),
            stop_timeout: Seconds(DEFAULT_STOP_TIMEOUT),
            wait_timeout: Seconds(DEFAULT_HEALTHY_TIMEOUT),
        }
    }
}

/// Back up GitLab instances: consistent, incremental, verified
#[derive(Debug, Clone, Default, clap::Args)]
#[command(group(clap::ArgGroup::new("reread").args(["verify", "drill"])))]
pub struct Args {
    /// Instances: number, name or container name
    pub instances: Vec<String>,
    /// Every commissioned instance
    #[arg(long)]
    pub all: bool,
    /// How.
    #[command(flatten)]
    pub options: Options,
    /// Back up Girofle's own state (inventory, counter, girofle.conf, cron entries, docker inspect, log)
    /// into sauvegardes/; ships it and every instance's new backups to `same-site` when configured
    #[arg(long)]
    pub state: bool,
    /// Ship complete backups to this target of girofle.conf
    #[arg(long, value_name = "TARGET")]
    pub to: Option<String>,
    /// Re-read a backup of INSTANCE and compare it with its MANIFEST
    #[arg(long, value_name = "INSTANCE", conflicts_with_all = ["all", "instances", "state", "to"])]
    pub verify: Option<String>,
    /// Boot a backup of INSTANCE in a throwaway container and check its repositories
    #[arg(long, value_name = "INSTANCE", conflicts_with_all = ["all", "instances", "state", "to", "verify"])]
    pub drill: Option<String>,
    /// With --verify or --drill: the backup [default: the newest]
    #[arg(long, value_name = "ID", requires = "reread")]
    pub backup: Option<String>,
    /// With --verify or --drill: fetch the backup from this target of girofle.conf into a scratch
    /// directory first (a restic target is also checked: `restic check --read-data-subset`)
    #[arg(long, value_name = "TARGET", requires = "reread")]
    pub from: Option<String>,
    /// Mark this target of girofle.conf as Girofle's (once, before it is used): a target without
    /// its mark is refused
    #[arg(long, value_name = "TARGET", conflicts_with_all = ["all", "instances", "state", "to", "verify", "drill"])]
    pub init_target: Option<String>,
    /// Print what would be done (instances, order, how GitLab is held, what retention removes,
    /// where it ships) and change nothing
    #[arg(long, conflicts_with_all = ["verify", "drill", "init_target"])]
    pub dry_run: bool,
    /// How the result is printed.
    #[command(flatten)]
    pub output: crate::ops::args::FormatArgs,
}

impl Args {
    /// How a `--drill` waits.
    pub fn drill_options(&self) -> DrillOptions {
        DrillOptions {
            lock_timeout: self.options.lock.timeout(),
            wait_timeout: self.options.wait_timeout.0,
        }
    }
}

/// One backup made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Made {
    /// The instance number.
    #[serde(skip)] // the instance's report says which: a made backup is its figures
    pub number: u32,
    /// Its container.
    #[serde(skip)]
    pub container: String,
    /// The backup's ID.
    #[serde(rename = "backup")]
    pub id: BackupId,
    /// Where it is.
    pub path: PathBuf,
    /// How long GitLab was stopped or frozen, until it was healthy again.
    #[serde(
        rename = "stop_window_ms",
        serialize_with = "crate::json_fields::millis_or_null"
    )]
    pub stop_window: Option<Duration>,
    /// The consistency the backup was made with (`stop` when a `pause`
    /// fell back to it).
    pub consistency: Consistency,
    /// How long the container was frozen (`pause`), from `docker pause` to
    /// `docker unpause`.
    #[serde(
        rename = "frozen_ms",
        serialize_with = "crate::json_fields::millis_or_null"
    )]
    pub frozen: Option<Duration>,
    /// Why a `pause` backup fell back to `stop`, when it did.
    pub fallback: Option<String>,
    /// What the second pass walked (`changes only (N paths)` or `every
    /// entry (why)`), when GitLab was taken out of service for it.
    #[serde(rename = "second_pass_walked")]
    pub walked: Option<String>,
    /// What the two passes did.
    #[serde(flatten, serialize_with = "crate::json_fields::copied")]
    pub stats: SyncStats,
    /// Backups removed by retention.
    #[serde(rename = "removed_by_retention")]
    pub removed: Vec<String>,
    /// Why retention failed after the backup was made, if it did.
    #[serde(rename = "retention_error")]
    pub retention_failure: Option<String>,
}

/// How the backup of one instance went (made or not), with the figures
/// that [`Made`] does not hold.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceReport {
    /// The instance number.
    pub number: u32,
    /// Its name (may be empty).
    pub name: String,
    /// Its container.
    pub container: String,
    /// How long the attempt took.
    #[serde(rename = "duration_ms", serialize_with = "crate::json_fields::millis")]
    pub duration: Duration,
    /// Complete backups kept after retention (when made).
    pub backups_kept: Option<u64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// How the shipping to the target went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetReport {
    /// The target's name in `girofle.conf`.
    pub name: String,
    /// What was sent: `<folder>/<ID>`.
    pub shipped: Vec<String>,
    /// The restic snapshot holding each backup sent, by `<folder>/<ID>`
    /// (empty on an rsync target, whose copies are found by path).
    pub snapshots: std::collections::BTreeMap<String, String>,
    /// What failed, one item each.
    pub errors: Vec<String>,
    /// How long the shipping took.
    #[serde(rename = "duration_ms", serialize_with = "crate::json_fields::millis")]
    pub duration: Duration,
}

/// Every backup made, and every item that failed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Outcome {
    /// The backups made.
    pub made: Vec<Made>,
    /// The state backup made, with `state`.
    pub state: Option<BackupId>,
    /// What was shipped to the target: `<folder>/<ID>`.
    pub shipped: Vec<String>,
    /// Items that failed, with why.
    #[serde(rename = "errors", serialize_with = "crate::json_fields::failures")]
    pub failures: Vec<(String, Error)>,
    /// Every instance attempted, in order.
    pub instances: Vec<InstanceReport>,
    /// The target shipped to, if any.
    pub targets: Vec<TargetReport>,
    /// Notifications or metrics that could not be sent (never fatal).
    pub warnings: Vec<String>,
}

impl Outcome {
    /// The contract's exit code: done, failed (nothing made), or partly done.
    pub fn exit(&self) -> Exit {
        let made_any = !self.made.is_empty() || self.state.is_some() || !self.shipped.is_empty();
        match (made_any, self.failures.is_empty()) {
            (_, true) => Exit::Done,
            (false, false) => Exit::Failed,
            (true, false) => Exit::Partial,
        }
    }
}

/// The target that `girofle-backup --state` ships to when it is configured.
pub const SAME_SITE: &str = "same-site";

/// Backs up the instances `args` names (and the state), then ships them; one
/// item failing does not stop the others. Observes, plans, then carries the
/// plan out.
pub fn run(settings: &Settings, args: &Args) -> Result<Outcome> {
    let home = settings.home();
    let rows = inventory::read(home)?;
    let selected = plan::selection(&rows, args)?;
    let conf = settings.conf()?;
    // An unknown target or a bad URL is refused before anything is made; an
    // unreachable or unmarked target fails the shipping only: the local
    // backups are made all the same (exit 3).
    let remote = target(conf, args)?;
    let docker = Docker::new()?;
    let observed = observe::observe(home, &docker, conf, rows, &selected);
    let plan = plan::plan(&observed, args)?;
    act(home, &docker, conf, &observed.rows, remote, &plan, args)
}

/// Carries `plan` out: each instance in its order, the state, the shipping.
fn act(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    rows: &[Row],
    remote: Option<Remote>,
    plan: &Plan,
    args: &Args,
) -> Result<Outcome> {
    let row_of = |number: u32| {
        rows.iter()
            .find(|row| row.number == number)
            .cloned()
            .ok_or_else(|| Error::failed(format!("instance {number} left the inventory")))
    };
    let targets = plan
        .instances
        .iter()
        .map(|planned| row_of(planned.number))
        .collect::<Result<Vec<Row>>>()?;
    let mut outcome = Outcome::default();
    for row in &targets {
        let started = Instant::now();
        crate::progress::phase(format!("instance {}: backing up", row.number));
        let result = backup_instance(home, docker, conf, row, &args.options);
        let mut report = InstanceReport {
            number: row.number,
            name: row.name.clone(),
            container: row.container.clone(),
            duration: started.elapsed(),
            backups_kept: None,
            error: None,
        };
        match &result {
            Ok(made) => {
                let kept = home.instance_of(row).complete_backups().len() as u64;
                report.backups_kept = Some(kept);
                let attempt = events::Attempt::Made {
                    id: made.id.as_str(),
                    stats: &made.stats,
                    stop_window: made.stop_window,
                    kept,
                };
                outcome
                    .warnings
                    .extend(events::backup(home, conf, row, attempt, report.duration));
            }
            Err(error) => {
                report.error = Some(format!("{error:#}"));
                outcome.warnings.extend(events::backup(
                    home,
                    conf,
                    row,
                    events::Attempt::Failed(error),
                    report.duration,
                ));
            }
        }
        outcome.instances.push(report);
        match result {
            Ok(made) => {
                if let Some(why) = &made.retention_failure {
                    outcome.failures.push((
                        format!(
                            "retention of instance {} (backup {} was made)",
                            row.number, made.id
                        ),
                        Error::failed(why.clone()),
                    ));
                }
                outcome.made.push(made);
            }
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
        let started = Instant::now();
        crate::progress::phase("backing up Girofle's state");
        match backup_state(home, docker, conf, rows) {
            Ok((id, retention_failure)) => {
                if let Some(why) = retention_failure {
                    outcome.failures.push((
                        format!("retention of Girofle's state (backup {id} was made)"),
                        Error::failed(why),
                    ));
                }
                outcome.state = Some(id);
            }
            Err(error) => {
                home.log("backup", &format!("state FAILED: {error}"));
                outcome.warnings.extend(events::state_backup_failed(
                    home,
                    conf,
                    &error,
                    started.elapsed(),
                ));
                outcome
                    .failures
                    .push(("Girofle's state".to_string(), error));
            }
        }
    }
    if let (Some(remote), Some(shipping)) = (&remote, &plan.shipping) {
        let shipped = shipping
            .instances
            .iter()
            .map(|number| row_of(*number))
            .collect::<Result<Vec<Row>>>()?;
        let shipped: Vec<&Row> = shipped.iter().collect();
        ship::ship_all(
            home,
            remote,
            conf,
            &shipped,
            shipping.state,
            &args.options,
            &mut outcome,
        );
    }
    Ok(outcome)
}

/// The final backup of an instance about to be decommissioned: backup's one
/// entry for another operation, so that the decommission never assembles a
/// backup from backup's own pieces. The caller holds the instance's lock
/// (`held`), has recovered the instance and taken GitLab out of service, so
/// that nothing slips in between the stop, this backup and the removal.
/// GitLab is stopped for good, so the copy is a clean shutdown's; retention
/// is off, since older backups of an instance taken out of service must stay.
pub fn final_backup(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    row: &Row,
    lock: LockArgs,
    held: &crate::lock::InstanceLock,
) -> Result<Made> {
    let options = Options {
        lock,
        keep_last: Some(u32::MAX),
        consistency: Consistency::Stop,
        ..Options::default()
    };
    instance::backup_locked(home, docker, conf, row, &options, held)
}

/// `--init-target NAME`: marks the target as Girofle's, so that it is used;
/// returns what was done (restic: the repository made or found, its format).
pub fn init_target(settings: &Settings, name: &str) -> Result<String> {
    let home = settings.home();
    let remote = Remote::from_conf(settings.conf()?, name)?;
    let done = remote.init()?;
    home.log("backup", &format!("target `{name}` initialised {done}"));
    Ok(done)
}

/// The target named by `--to`, or `same-site` for `--state` when it is
/// configured: the plan's choice, its URL checked.
fn target(conf: &Conf, args: &Args) -> Result<Option<Remote>> {
    plan::target_name(&observe::targets(conf), args)?
        .map(|name| Remote::from_conf(conf, &name))
        .transpose()
}

/// A new backup ID in `directory`: the UTC time now; never one that exists already.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> std::result::Result<Args, clap::Error> {
        crate::ops::args::parse("girofle-backup", words)
    }

    #[test]
    fn the_command_line_keeps_its_defaults_and_refusals() {
        let plain = args(&["1", "docs"]).unwrap();
        assert_eq!(plain.instances, ["1", "docs"]);
        assert_eq!(plain.options.consistency, Consistency::Pause);
        assert_eq!(
            plain.options.lock.timeout(),
            crate::lock::DEFAULT_LOCK_TIMEOUT
        );
        assert_eq!(plain.options.stop_timeout.0, DEFAULT_STOP_TIMEOUT);
        assert_eq!(plain.options.keep_last, None);
        let tuned = args(&[
            "--all",
            "--consistency",
            "stop",
            "--keep-last",
            "3",
            "--lock-timeout",
            "5",
        ])
        .unwrap();
        assert_eq!(tuned.options.consistency, Consistency::Stop);
        assert_eq!(tuned.options.keep_last, Some(3));
        assert_eq!(tuned.options.lock.timeout(), Duration::from_secs(5));
        for refused in [
            &["--keep-last", "0"][..],
            &["--consistency", "snapshot"][..],
            &["--lock-timeout", "soon"][..],
            &["--verify", "1", "--all"][..],
            &["--verify", "1", "2"][..],
            &["--backup", "2026-01-01T00-00-00Z"][..],
            &["--drill", "1", "--verify", "1"][..],
            &["--drill", "1", "--all"][..],
            &["--init-target", "off-site", "--to", "off-site"][..],
            &["--init-target", "off-site", "1"][..],
            &["--from", "vault"][..],
            &["1", "--from", "vault"][..],
        ] {
            assert!(args(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn a_drill_takes_a_backup_and_a_wait() {
        let drill = args(&[
            "--drill",
            "docs",
            "--backup",
            "2026-01-01T00-00-00Z",
            "--wait-timeout",
            "60",
        ])
        .unwrap();
        assert_eq!(drill.drill.as_deref(), Some("docs"));
        assert_eq!(drill.backup.as_deref(), Some("2026-01-01T00-00-00Z"));
        assert_eq!(drill.drill_options().wait_timeout, Duration::from_secs(60));
        let plain = args(&["--drill", "1"]).unwrap();
        assert_eq!(plain.drill_options().wait_timeout, DEFAULT_HEALTHY_TIMEOUT);
        for reread in ["--drill", "--verify"] {
            let from = args(&[reread, "1", "--from", "vault"]).unwrap();
            assert_eq!(from.from.as_deref(), Some("vault"));
        }
    }

    #[test]
    fn the_exit_code_says_whether_anything_was_made() {
        let mut outcome = Outcome::default();
        assert_eq!(outcome.exit(), Exit::Done);
        outcome
            .failures
            .push(("instance 1".into(), Error::failed("broken")));
        assert_eq!(outcome.exit(), Exit::Failed);
        outcome.state = BackupId::parse("2026-01-01T00-00-00Z");
        assert_eq!(outcome.exit(), Exit::Partial);
    }
}
