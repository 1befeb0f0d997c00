//! `girofle-list`: the inventory joined with the engine's live view, asked
//! for ONCE whatever the number of instances.

mod check;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

pub use check::{age_text, check};

use crate::docker::{ContainerSummary, Docker, Health, Status};
use crate::error::Result;
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory::{self, RowState};
use crate::{lock, recovery};

/// How the listing is printed: aligned columns for people, CSV with a
/// header row, or a JSON array of objects with the contract's keys.
// No doc comments on the variants: clap would show them as `--help` text.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Csv,
    Json,
}

/// List GitLab instances with their live status and health
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Include decommissioned instances
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Print only what is wrong (stale backups, failed drills, missing containers, unreachable
    /// targets), one line each; exit 0 when nothing is, 1 otherwise
    #[arg(long, conflicts_with = "format")]
    pub check: bool,
}

/// One instance as listed: the contract's JSON keys, plus `note`.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Instance number.
    pub number: u32,
    /// Instance name (empty when none).
    pub name: String,
    /// Container name.
    pub container: String,
    /// `commissioned` or `decommissioned`.
    pub state: &'static str,
    /// `running`, `stopped`, `paused`, `restarting`, `missing` or `unknown`.
    pub status: &'static str,
    /// `healthy`, `unhealthy`, `starting` or `none`.
    pub health: &'static str,
    /// The instance's `external_url`.
    pub url: String,
    /// The address its ports are published on.
    pub ip: String,
    /// HTTP port.
    pub http_port: Option<u16>,
    /// HTTPS port.
    pub https_port: Option<u16>,
    /// SSH port.
    pub ssh_port: Option<u16>,
    /// Instance directory.
    pub dir: String,
    /// Image reference.
    pub image: String,
    /// The newest complete backup's ID.
    pub last_backup: Option<String>,
    /// `ok` or `failed`: how the last drill ended; `None` when none ran.
    pub last_drill: Option<&'static str>,
    /// What went wrong last (a failed commission, say); empty when all is well.
    pub note: String,
    // New keys go last: the CSV's columns keep their places.
    /// How old the newest complete backup is, in seconds (from its ID, the
    /// UTC time it started).
    pub last_backup_age_seconds: Option<u64>,
    /// The longest gap between two runs of the instance's backup schedule.
    pub backup_interval_seconds: Option<u64>,
    /// The last backup is older than twice the schedule's interval (or
    /// there is none, and the instance is older than that).
    pub stale: bool,
    /// How it serves HTTPS (`girofle-ca`, `own`; empty: plain HTTP). Not
    /// in the listing, whose URL says it: for `--check`.
    #[serde(skip)]
    pub tls: String,
    /// With TLS, its certificate, `config/ssl/<host>.crt`: for `--check`.
    #[serde(skip)]
    pub certificate: Option<std::path::PathBuf>,
    /// The targets the newest complete backup was shipped to, from its
    /// `<ID>.SHIPPED` record. In the JSON only (`last_backup_shipped`): a
    /// list has no place in a CSV row.
    #[serde(skip)]
    pub last_backup_shipped: Vec<crate::shipped::Shipment>,
}

/// The listing, and the engine's error when it did not answer.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The instances, by number.
    pub entries: Vec<Entry>,
    /// Why the live state is `unknown`, when the engine did not answer.
    pub engine_error: Option<String>,
}

/// How fresh an instance's backups are.
struct Freshness {
    age: Option<Duration>,
    interval: Option<Duration>,
    stale: bool,
}

/// The age of the last backup, the schedule's interval (from its cron entry,
/// else its row), and whether the backup is older than twice that. Without
/// any backup, the instance is stale once it is itself that old.
fn freshness(home: &Home, row: &inventory::Row, last: Option<&BackupId>) -> Freshness {
    let now = SystemTime::now();
    let schedule = crate::cron::read_schedule(&crate::cron::entry_path(home, row.number))
        .unwrap_or_else(|| row.backup_schedule.clone());
    let interval = crate::cron::interval(&schedule, now);
    let since = |at: SystemTime| now.duration_since(at).unwrap_or_default();
    let age = last.and_then(BackupId::started).map(since);
    let reference = age.or_else(|| {
        time::OffsetDateTime::parse(&row.created, &time::format_description::well_known::Rfc3339)
            .ok()
            .and_then(|created| u64::try_from(created.unix_timestamp()).ok())
            .map(|seconds| since(UNIX_EPOCH + Duration::from_secs(seconds)))
    });
    let stale = match (reference, interval) {
        (Some(reference), Some(interval)) => reference > interval * 2,
        _ => false,
    };
    Freshness {
        age,
        interval,
        stale,
    }
}

/// Lists the instances of `home`.
pub fn run(home: &Home, args: &Args) -> Result<Outcome> {
    let rows = inventory::read(home)?;
    let docker = Docker::new();
    // A killed backup or restore may have left a container stopped or frozen:
    // put it back before showing it (only when nobody holds the instance).
    if let Ok(docker) = &docker {
        for row in rows
            .iter()
            .filter(|row| row.state == RowState::Commissioned)
        {
            let instance = home.instance_of(row);
            // Only root recovers: a member of the group only reads.
            if nix::unistd::geteuid().is_root()
                && recovery::needs_recovery(&instance)
                && let Some(_lock) = lock::try_lock_instance(&instance, "girofle-list")
            {
                let _ = recovery::recover(home, docker, &instance);
            }
        }
    }
    let live = docker.and_then(|docker| docker.list_containers());
    let (containers, engine_error): (HashMap<String, ContainerSummary>, _) = match live {
        Ok(list) => (
            list.into_iter().map(|c| (c.name.clone(), c)).collect(),
            None,
        ),
        Err(error) => (HashMap::new(), Some(format!("{error:#}"))),
    };
    let entries = rows
        .into_iter()
        .filter(|row| args.all || row.state == RowState::Commissioned)
        .map(|row| {
            let (status, health) = match (&engine_error, containers.get(&row.container)) {
                (Some(_), _) => (Status::Unknown, Health::None),
                (None, None) => (Status::Missing, Health::None),
                (None, Some(container)) => (container.status, container.health),
            };
            let dir = if row.dir.as_os_str().is_empty() {
                home.instance_dir(row.number).root().to_path_buf()
            } else {
                row.dir.clone()
            };
            let instance = InstanceDir::new(dir.clone());
            // The data a restore replaced is kept as a backup, newer than the
            // backups made: it says nothing of how fresh the backups are.
            let last = instance
                .default_backup(&instance.complete_backups())
                .cloned();
            let freshness = freshness(home, &row, last.as_ref());
            let certificate = (!row.tls.is_empty()).then(|| {
                crate::tls::instance_files(&instance.config(), crate::container::tls_host(&row)).0
            });
            Entry {
                tls: row.tls.clone(),
                certificate,
                number: row.number,
                url: row.url(),
                name: row.name,
                container: row.container,
                state: row.state.as_str(),
                status: status.as_str(),
                health: health.as_str(),
                ip: row.ip,
                http_port: row.http_port,
                https_port: row.https_port,
                ssh_port: row.ssh_port,
                last_backup_shipped: last
                    .as_ref()
                    .map(|id| crate::shipped::read(&instance.backups(), id.as_str()))
                    .unwrap_or_default(),
                last_backup: last.map(|id| id.to_string()),
                last_backup_age_seconds: freshness.age.map(|age| age.as_secs()),
                backup_interval_seconds: freshness.interval.map(|i| i.as_secs()),
                stale: freshness.stale && row.state == RowState::Commissioned,
                last_drill: crate::drill_traces::last(&InstanceDir::new(dir.clone()))
                    .map(|record| record.result()),
                dir: dir.display().to_string(),
                image: row.image,
                note: row.note,
            }
        })
        .collect();
    Ok(Outcome {
        entries,
        engine_error,
    })
}
