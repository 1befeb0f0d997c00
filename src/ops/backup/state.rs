//! Girofle's own state backed up into `sauvegardes/<ID>/`.

use fs_err as fs;
use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;

use super::{new_id_in, retention};
use crate::conf::Conf;
use crate::docker::Docker;
use crate::error::Result;
use crate::home::PARTIAL_PREFIX;
use crate::home::{BackupId, Home};
use crate::inventory::{self, Row};
use crate::snapshot::{self, Manifest};
use crate::timefmt;

/// How many lines of `girofle.log` a state backup keeps.
const LOG_TAIL_LINES: usize = 1000;

/// Backs up Girofle's own state into `sauvegardes/<ID>/`: the inventory and
/// counter (read together under the inventory lock), `girofle.conf`, the
/// cron entries, `docker inspect` of every instance, the end of the log;
/// its MANIFEST authenticated by `MANIFEST.mac` (the home's state key).
/// Returns its ID, and why retention failed after it was made, if it did.
pub fn backup_state(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    rows: &[Row],
) -> Result<(BackupId, Option<String>)> {
    let root = home.state_backups();
    crate::atomic::create_dir(&root, 0o700, true)?;
    let id = new_id_in(&root);
    let partial = root.join(format!("{PARTIAL_PREFIX}{id}"));
    let result = (|| -> Result<()> {
        crate::atomic::create_dir(&partial, 0o700, false)?;
        copy_settings(home, &partial)?;
        copy_cron_entries(home, &partial.join("cron.d"))?;
        // The containers' environments (omnibus config, passwords): root's only.
        crate::atomic::write(
            &partial.join("docker-inspect.json"),
            inspect_instances(docker, rows)?.as_bytes(),
            0o600,
        )?;
        fs::write(partial.join("girofle.log.tail"), log_tail(home))?;
        let manifest = Manifest {
            header: header(home, conf, &id),
            entries: snapshot::describe(&partial)?,
        };
        snapshot::write_manifest(&partial, &manifest)?;
        // The MANIFEST hashes every file: its MAC authenticates the whole
        // state backup, so that a copy changed on a target is refused.
        let key = home.state_key_or_create()?;
        let written = fs::read(partial.join(snapshot::MANIFEST))?;
        crate::atomic::write(
            &partial.join(crate::home::STATE_MAC_FILE),
            key.mac_line(&written).as_bytes(),
            0o600,
        )?;
        fs::rename(&partial, root.join(id.as_str()))?;
        crate::atomic::sync_directory(&root)?;
        Ok(())
    })();
    if let Err(error) = result {
        let _ = fs::remove_dir_all(&partial);
        return Err(error);
    }
    home.log(
        "backup",
        &format!("Girofle's state backed up as sauvegardes/{id}"),
    );
    // The state backup is made: retention failing is a partial success.
    let retention_failure = retention::apply(&root, conf.keep_last())
        .err()
        .map(|error| {
            let why = format!("{error:#}");
            home.log(
                "backup",
                &format!("state: retention FAILED after sauvegardes/{id}: {why}"),
            );
            why
        });
    Ok((id, retention_failure))
}

/// The inventory, the counter and `girofle.conf`, read together under the
/// inventory lock so that they agree.
fn copy_settings(home: &Home, partial: &Path) -> Result<()> {
    let _locked = inventory::lock(home)?;
    for path in [home.inventory(), home.counter(), home.conf()] {
        if path.exists() {
            copy_file(&path, &partial.join(path.file_name().unwrap_or_default()))?;
        }
    }
    Ok(())
}

/// This home's cron entries (another home's, sharing the directory, are not its state).
fn copy_cron_entries(home: &Home, cron: &Path) -> Result<()> {
    fs::create_dir(cron)?;
    if let Ok(entries) = fs::read_dir(home.cron_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if crate::cron::is_own_name(home, &name) {
                copy_file(&entry.path(), &cron.join(&name))?;
            }
        }
    }
    Ok(())
}

/// `docker inspect` of the instances' containers that exist.
fn inspect_instances(docker: &Docker, rows: &[Row]) -> Result<String> {
    let existing: HashSet<String> = docker
        .list_containers()
        .map(|list| list.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r.container.as_str())
        .filter(|n| existing.contains(*n))
        .collect();
    if names.is_empty() {
        Ok("[]\n".to_string())
    } else {
        Ok(docker.inspect_json(&names)?)
    }
}

/// The last lines of `girofle.log`.
fn log_tail(home: &Home) -> String {
    let log = fs::read_to_string(home.log_file()).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n") + "\n"
}

fn header(home: &Home, conf: &Conf, id: &BackupId) -> Vec<(String, String)> {
    [
        ("id", id.to_string()),
        ("kind", "girofle-state".to_string()),
        ("home", home.root().display().to_string()),
        ("host", crate::remote::host_name(conf)),
        ("finished", timefmt::now_rfc3339()),
        ("girofle_version", env!("CARGO_PKG_VERSION").to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    let metadata = fs::metadata(from)?;
    fs::set_permissions(to, metadata.permissions())?;
    Ok(())
}
