//! Shipping: complete backups sent to a target, then the target's retention.

use std::path::Path;

use super::{Options, Outcome};
use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::home::{BackupId, Home};
use crate::inventory::Row;
use crate::lock;
use crate::remote::Remote;

/// Ships the instances' complete backups (and, with `state`, the state
/// backups) to the target; a failure is recorded, logged, and the others go
/// on. Each instance's shipping holds its lock, so that its retention (or
/// a restore) cannot remove a backup while it travels.
pub(super) fn ship_all(
    home: &Home,
    remote: &Remote,
    conf: &Conf,
    rows: &[&Row],
    state: bool,
    options: &Options,
    outcome: &mut Outcome,
) {
    let started = std::time::Instant::now();
    let mut errors = Vec::new();
    let mut fail = |what: String, error: Error| {
        home.log("backup", &format!("{what} FAILED: {error:#}"));
        errors.push(format!("{what}: {error:#}"));
        outcome.failures.push((what, error));
    };
    let mut shipped = Vec::new();
    let mut snapshots = std::collections::BTreeMap::new();
    let mut keep = |sent: Vec<(String, Option<String>)>, shipped: &mut Vec<String>| {
        for (what, snapshot) in sent {
            if let Some(snapshot) = snapshot {
                snapshots.insert(what.clone(), snapshot);
            }
            shipped.push(what);
        }
    };
    for row in rows {
        let instance = home.instance_of(row);
        let what = format!("shipping instance {} to `{}`", row.number, remote.name);
        crate::progress::phase(what.clone());
        let result = lock::lock_instance(
            &instance,
            "girofle-backup (shipping)",
            options.lock.timeout(),
        )
        .and_then(|_lock| {
            let folder = remote.instance_backups(&remote.host, &instance.dir_name());
            // The data a restore replaced stays on this host: on a target,
            // its newer ID would make it what a restore fetches by default.
            let made: Vec<BackupId> = instance
                .complete_backups()
                .into_iter()
                .filter(|id| !instance.taken_before_restore(id))
                .collect();
            ship(home, remote, conf, &instance.backups(), &folder, &made)
        });
        match result {
            Ok(sent) => keep(sent, &mut shipped),
            Err(error) => fail(what, error),
        }
    }
    if state {
        crate::progress::phase(format!("shipping the state to `{}`", remote.name));
        let folder = format!("{}/sauvegardes", remote.host);
        let ids = crate::home::backup_ids_in(&home.state_backups());
        match ship(home, remote, conf, &home.state_backups(), &folder, &ids) {
            Ok(sent) => keep(sent, &mut shipped),
            Err(error) => fail(format!("shipping the state to `{}`", remote.name), error),
        }
    }
    let duration = started.elapsed();
    let error = (!errors.is_empty()).then(|| errors.join("\n"));
    outcome.warnings.extend(crate::events::shipping(
        home,
        conf,
        &remote.name,
        &shipped,
        error.as_deref(),
        duration,
    ));
    outcome.targets.push(super::TargetReport {
        name: remote.name.clone(),
        shipped: shipped.clone(),
        snapshots,
        errors,
        duration,
    });
    outcome.shipped.extend(shipped);
}

/// Sends the local complete backups newer than the newest one on the target
/// (only the newest when the target has none yet; a partial left there by
/// an interrupted run is completed), then applies the target's retention.
/// Returns each `<folder>/<ID>` sent with its restic snapshot, if any.
fn ship(
    home: &Home,
    remote: &Remote,
    conf: &Conf,
    local: &Path,
    folder: &str,
    ids: &[BackupId],
) -> Result<Vec<(String, Option<String>)>> {
    remote.prepare(folder)?;
    let there = remote.list(folder)?;
    let mut sent = Vec::new();
    for id in to_send(ids, there.last()) {
        let record = remote.send(&local.join(id.as_str()), folder, id.as_str())?;
        let note = record.note.map(|r| format!(": {r}")).unwrap_or_default();
        // The full ID, so that the log alone lets an operator find the copy.
        let snapshot = record
            .snapshot
            .as_ref()
            .map(|s| format!(" [snapshot {s}]"))
            .unwrap_or_default();
        home.log(
            "backup",
            &format!(
                "{folder}/{id} shipped to target `{}`{note}{snapshot}",
                remote.name
            ),
        );
        // Beside the backup, not in its sealed MANIFEST: see `crate::shipped`.
        let shipment = crate::shipped::Shipment {
            target: remote.name.clone(),
            kind: if remote.is_restic() {
                "restic"
            } else {
                "rsync"
            }
            .to_string(),
            shipped: crate::timefmt::now_rfc3339(),
            snapshot: record.snapshot.clone(),
            at: format!("{folder}/{id}"),
        };
        crate::shipped::record(local, id.as_str(), shipment).map_err(|error| {
            error.context(format!(
                "{folder}/{id} reached target `{}`, but its shipping record beside the backup could not be written",
                remote.name
            ))
        })?;
        sent.push((format!("{folder}/{id}"), record.snapshot));
    }
    if remote.append_only() {
        home.log(
            "backup",
            &format!(
                "target `{}` is append-only: Girofle never prunes it, {folder} keeps every backup",
                remote.name
            ),
        );
        return Ok(sent);
    }
    let keep = remote.keep_last.unwrap_or_else(|| conf.keep_last());
    let removed = remote.apply_retention(folder, keep)?;
    if !removed.is_empty() {
        home.log(
            "backup",
            &format!(
                "target `{}` retention removed {folder}/{}",
                remote.name,
                removed.join(", ")
            ),
        );
    }
    Ok(sent)
}

/// The local backups a target lacks: those newer than its newest, or only
/// the newest when it has none.
fn to_send<'a>(local: &'a [BackupId], newest_there: Option<&BackupId>) -> Vec<&'a BackupId> {
    match newest_there {
        Some(newest) => local.iter().filter(|id| *id > newest).collect(),
        None => local.last().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<BackupId> {
        names.iter().map(|n| BackupId::parse(n).unwrap()).collect()
    }

    #[test]
    fn a_target_gets_what_it_lacks() {
        let local = ids(&[
            "2026-01-01T00-00-00Z",
            "2026-01-02T00-00-00Z",
            "2026-01-03T00-00-00Z",
        ]);
        let names = |sent: Vec<&BackupId>| -> Vec<String> {
            sent.iter().map(|id| id.to_string()).collect()
        };
        assert_eq!(names(to_send(&local, None)), ["2026-01-03T00-00-00Z"]);
        let there = BackupId::parse("2026-01-01T00-00-00Z").unwrap();
        assert_eq!(
            names(to_send(&local, Some(&there))),
            ["2026-01-02T00-00-00Z", "2026-01-03T00-00-00Z"]
        );
        let newest = BackupId::parse("2026-01-03T00-00-00Z").unwrap();
        assert!(to_send(&local, Some(&newest)).is_empty());
        assert!(to_send(&[], None).is_empty());
    }
}
