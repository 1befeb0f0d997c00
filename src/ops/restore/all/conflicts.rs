//! What `--all` checks before it changes anything: the addresses and host
//! given, and every clash with what is already here (exit 2).

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use super::state::CronEntry;
use crate::error::{Error, Result};
use crate::inventory::Row;
use crate::net;

pub(super) fn parse_ip(text: &str) -> Result<IpAddr> {
    let ip: IpAddr = text
        .parse()
        .map_err(|_| Error::usage(format!("--ip {text}: not an IP address")))?;
    if !net::is_local_address(ip) {
        return Err(Error::usage(format!(
            "--ip {ip}: this address is not assigned to any interface of this host"
        )));
    }
    Ok(ip)
}

/// `--source HOST` with `--all`: one plain path component.
pub(super) fn plain_host(host: &str) -> Result<String> {
    if host.is_empty() || host.contains('/') || host == "." || host == ".." {
        return Err(Error::usage(format!(
            "--source `{host}`: with --all, give the host's folder on the target (HOST)"
        )));
    }
    Ok(host.to_string())
}

/// What is asked of this host while checking for clashes: the containers
/// the engine has, and whether a path exists, an address is one of this
/// host's, a port is free.
pub(super) struct Here<'a> {
    /// The names of the engine's containers.
    pub(super) containers: &'a HashSet<String>,
    /// Whether a path exists.
    pub(super) exists: &'a dyn Fn(&Path) -> bool,
    /// Whether an address is assigned to an interface here.
    pub(super) is_local: &'a dyn Fn(IpAddr) -> bool,
    /// Whether nothing listens on a port of an address.
    pub(super) port_free: &'a dyn Fn(IpAddr, u16) -> bool,
}

/// What is here must not be overwritten: every clash is a usage error (exit
/// 2) naming it, found before anything is changed. `new_host` (with
/// `--from`): instance directories and cron entries must not exist yet.
pub(super) fn check_conflicts(
    rows: &[Row],
    here: &Here,
    new_host: bool,
    cron_plan: &[CronEntry],
) -> Result<()> {
    let containers = here.containers;
    let mut problems = Vec::new();
    let mut publishing: Vec<(String, u16, u32)> = Vec::new();
    for row in rows {
        if containers.contains(&row.container) {
            problems.push(format!(
                "a container named `{}` (instance {}) already exists on this engine",
                row.container, row.number
            ));
        }
        if new_host && (here.exists)(&row.dir) {
            problems.push(format!(
                "{} (instance {}) already exists",
                row.dir.display(),
                row.number
            ));
        }
        let Ok(ip) = row.ip.parse::<IpAddr>() else {
            problems.push(format!(
                "instance {} is published on `{}`, which is not an address",
                row.number, row.ip
            ));
            continue;
        };
        if !(here.is_local)(ip) {
            problems.push(format!(
                "instance {} is published on {ip}, which is no address of this host: give --ip ADDR",
                row.number
            ));
            continue;
        }
        for (label, port) in [
            ("HTTP", row.http_port),
            ("HTTPS", row.https_port),
            ("SSH", row.ssh_port),
        ] {
            let Some(port) = port else { continue };
            if let Some((_, _, other)) = publishing
                .iter()
                .find(|(other_ip, p, _)| *p == port && net::addresses_overlap(other_ip, &row.ip))
            {
                problems.push(format!(
                    "instances {other} and {} would both publish port {port} on {}",
                    row.number, row.ip
                ));
            } else if !(here.port_free)(ip, port) {
                problems.push(format!(
                    "{label} port {port} on {} (instance {}) is already in use on this host",
                    row.ip, row.number
                ));
            }
            publishing.push((row.ip.clone(), port, row.number));
        }
    }
    if new_host {
        for entry in cron_plan {
            if (here.exists)(&entry.path) {
                problems.push(format!(
                    "cron entry {} already exists",
                    entry.path.display()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{}; nothing was changed",
            problems.join("; ")
        )))
    }
}
