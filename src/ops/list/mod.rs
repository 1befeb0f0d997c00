//! `girofle-list`: the inventory joined with the engine's live view, asked
//! for ONCE whatever the number of instances.

mod render;

use std::collections::HashMap;

use serde::Serialize;

pub use render::{Format, render};

use crate::docker::{ContainerSummary, Docker, Health, Status};
use crate::error::Result;
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, RowState};
use crate::{lock, recovery};

/// List GitLab instances with their live status and health
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Include decommissioned instances
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
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
}

/// The listing, and the engine's error when it did not answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The instances, by number.
    pub entries: Vec<Entry>,
    /// Why the live state is `unknown`, when the engine did not answer.
    pub engine_error: Option<String>,
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
            Entry {
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
                last_backup: InstanceDir::new(dir.clone())
                    .latest_backup()
                    .map(|id| id.to_string()),
                last_drill: crate::drill::last(&InstanceDir::new(dir.clone()))
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
