//! Where each backup was shipped: `<ID>.SHIPPED`, beside the backup (in
//! `bckups/` or `sauvegardes/`), one line per target that holds a copy.
//!
//! Beside the backup, not inside it nor in its MANIFEST: a backup's folder
//! is sealed by its MANIFEST, written last and checked by every
//! verification, and a backup is shipped after it is sealed (and may be
//! shipped again, to another target, days later). A record written into it
//! would make a complete backup fail its own verification. The record is
//! replaced atomically, so a crash leaves the old one or the new one.
//!
//! A line reads `target: vault; kind: restic; shipped: <RFC 3339>; snapshot:
//! <full restic ID>` (an rsync target has `at: <folder>/<ID>` instead of a
//! snapshot): what an operator names to `restic restore` or finds by path.

use std::path::{Path, PathBuf};

use fs_err as fs;
use serde::Serialize;

use crate::error::Result;

/// The suffix of a shipping record, beside its backup.
pub const RECORD_SUFFIX: &str = ".SHIPPED";

/// One target's copy of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shipment {
    /// The target's name in `girofle.conf`.
    pub target: String,
    /// `restic` or `rsync`.
    pub kind: String,
    /// When it was shipped (RFC 3339, UTC).
    pub shipped: String,
    /// The restic snapshot holding it (its full ID); None on an rsync target.
    pub snapshot: Option<String>,
    /// Where it is on the target (`<host>/noeud-gitlab-<N>/bckups/<ID>`).
    pub at: String,
}

impl Shipment {
    fn render(&self) -> String {
        let mut line = format!(
            "target: {}; kind: {}; shipped: {}; at: {}",
            self.target, self.kind, self.shipped, self.at
        );
        if let Some(snapshot) = &self.snapshot {
            line.push_str(&format!("; snapshot: {snapshot}"));
        }
        line
    }

    fn parse(line: &str) -> Option<Shipment> {
        let field = |key: &str| {
            line.split("; ")
                .find_map(|part| part.strip_prefix(&format!("{key}: ")))
                .map(str::to_string)
        };
        Some(Shipment {
            target: field("target")?,
            kind: field("kind")?,
            shipped: field("shipped")?,
            at: field("at").unwrap_or_default(),
            snapshot: field("snapshot"),
        })
    }
}

/// The record of backup `id` in `backups` (a `bckups/` or `sauvegardes/` directory).
pub fn record_path(backups: &Path, id: &str) -> PathBuf {
    backups.join(format!("{id}{RECORD_SUFFIX}"))
}

/// Where backup `id` of `backups` was shipped, oldest shipping first; none
/// when it never was (or its record cannot be read).
pub fn read(backups: &Path, id: &str) -> Vec<Shipment> {
    std::fs::read_to_string(record_path(backups, id))
        .map(|text| {
            text.lines()
                .filter(|line| !line.starts_with('#'))
                .filter_map(Shipment::parse)
                .collect()
        })
        .unwrap_or_default()
}

/// Records that backup `id` of `backups` is on `shipment.target` (replacing
/// that target's earlier line, if any), atomically; then removes the records
/// of backups that retention has removed since. The caller holds the lock
/// that keeps the backup from being removed meanwhile.
pub fn record(backups: &Path, id: &str, shipment: Shipment) -> Result<PathBuf> {
    // Read, changed, written again: two shippings of the same backup to two
    // targets at once (state backups are not under an instance's lock)
    // would each drop the other's line without this lock.
    // Beside the backups' directory, not in it: that one holds backups and
    // their records only.
    let lock_path = backups.parent().unwrap_or(backups).join(format!(
        ".shipped-{}.lock",
        backups.file_name().unwrap_or_default().to_string_lossy()
    ));
    let lock = crate::atomic::open_lock_file(&lock_path)?;
    lock.lock()?;
    let mut shipments = read(backups, id);
    shipments.retain(|s| s.target != shipment.target);
    shipments.push(shipment);
    let mut text = format!(
        "# Girofle: where backup {id} was shipped, one line per target (the backup itself is sealed by its MANIFEST)\n"
    );
    for shipment in &shipments {
        text.push_str(&shipment.render());
        text.push('\n');
    }
    let path = record_path(backups, id);
    crate::atomic::write(&path, text.as_bytes(), 0o600)?;
    remove_orphans(backups);
    Ok(path)
}

/// Removes the records whose backup is gone (best effort: a record left
/// over misleads no one, the listing reads only the records of backups there).
fn remove_orphans(backups: &Path) {
    let Ok(entries) = fs::read_dir(backups) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(RECORD_SUFFIX)
            && !backups.join(id).is_dir()
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipment(target: &str, snapshot: Option<&str>) -> Shipment {
        Shipment {
            target: target.into(),
            kind: if snapshot.is_some() {
                "restic"
            } else {
                "rsync"
            }
            .into(),
            shipped: "2026-12-04T00:31:00Z".into(),
            snapshot: snapshot.map(str::to_string),
            at: "host-a/noeud-gitlab-1/bckups/2026-12-04T00-30-00Z".into(),
        }
    }

    #[test]
    fn a_record_keeps_one_line_per_target_and_goes_with_its_backup() {
        let temp = tempfile::tempdir().unwrap();
        let id = "2026-12-04T00-30-00Z";
        fs::create_dir(temp.path().join(id)).unwrap();
        assert!(read(temp.path(), id).is_empty());
        record(temp.path(), id, shipment("vault", Some("4f9c2b1e00"))).unwrap();
        record(temp.path(), id, shipment("off-site", None)).unwrap();
        // Shipped again to the vault: its line is replaced, not doubled.
        record(temp.path(), id, shipment("vault", Some("77aa"))).unwrap();
        let back = read(temp.path(), id);
        assert_eq!(
            back,
            [shipment("off-site", None), shipment("vault", Some("77aa"))]
        );
        let text = fs::read_to_string(record_path(temp.path(), id)).unwrap();
        assert!(
            text.contains("target: vault; kind: restic; shipped: 2026-12-04T00:31:00Z; at: host-a/noeud-gitlab-1/bckups/2026-12-04T00-30-00Z; snapshot: 77aa\n"),
            "{text}"
        );
        // Its backup gone, the next record removes it.
        fs::remove_dir(temp.path().join(id)).unwrap();
        let other = "2026-12-05T00-30-00Z";
        fs::create_dir(temp.path().join(other)).unwrap();
        record(temp.path(), other, shipment("vault", Some("88bb"))).unwrap();
        assert!(!record_path(temp.path(), id).exists());
        assert!(record_path(temp.path(), other).exists());
    }
}
