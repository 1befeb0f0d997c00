//! The data a restore replaces is never deleted by it: once the restored
//! GitLab is healthy, the previous `mapping-volumes` becomes a backup of its
//! own in `bckups/<ID>` (a rename, no copy), described by a MANIFEST whose
//! header says it was taken before the restore. Restoring that backup undoes
//! the restore; retention counts it like any other.

use fs_err as fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::home::{BackupId, InstanceDir};
use crate::snapshot;
use crate::timefmt;

/// The hidden name under `bckups/` of previous volumes set aside but not yet
/// described: never listed, never restored, never removed by recovery, which
/// completes it instead.
pub const SET_ASIDE_PREFIX: &str = ".before-restore-";

/// The MANIFEST header key naming the backup whose restore replaced this data.
pub use crate::home::TAKEN_BEFORE_RESTORE;

/// Where the previous volumes went.
pub(super) enum SetAside {
    /// Under `bckups/`, hidden until described.
    Backups(BackupId),
    /// `bckups/` is on another file system (a rename cannot reach it): kept
    /// beside the volumes instead, under this name.
    Beside(PathBuf),
}

/// A new backup ID (the time now) that no backup of `instance` uses yet.
pub(super) fn new_id(instance: &InstanceDir) -> BackupId {
    let mut at = time::OffsetDateTime::now_utc();
    loop {
        let name = at
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]-[minute]-[second]Z"
            ))
            .expect("a UTC date always formats");
        let backups = instance.backups();
        let taken = backups.join(&name).exists()
            || backups.join(format!("{SET_ASIDE_PREFIX}{name}")).exists()
            || backups
                .join(format!("{}{name}", crate::home::PARTIAL_PREFIX))
                .exists();
        if !taken {
            return BackupId::parse(&name).expect("a generated ID parses");
        }
        at += time::Duration::seconds(1);
    }
}

/// Renames the previous volumes (`tree`, no longer used by any container)
/// to `bckups/.before-restore-<id>`, durably.
pub(super) fn set_aside(instance: &InstanceDir, tree: &Path, id: BackupId) -> Result<SetAside> {
    let hidden = instance
        .backups()
        .join(format!("{SET_ASIDE_PREFIX}{}", id.as_str()));
    match fs::rename(tree, &hidden) {
        Ok(()) => {
            crate::atomic::sync_directory(&instance.backups())?;
            crate::atomic::sync_directory(instance.root())?;
            Ok(SetAside::Backups(id))
        }
        Err(error) if error.raw_os_error() == Some(nix::libc::EXDEV) => {
            let beside = instance
                .root()
                .join(format!("mapping-volumes.before-restore-{}", id.as_str()));
            fs::rename(tree, &beside)?;
            crate::atomic::sync_directory(instance.root())?;
            Ok(SetAside::Beside(beside))
        }
        Err(error) => Err(error.into()),
    }
}

/// Describes every set-aside tree of `instance` in a MANIFEST, then gives it
/// its backup name. `details` are header fields (from the restore, or from
/// its journal after a crash). Returns the IDs completed.
pub fn complete_set_aside(
    instance: &InstanceDir,
    details: &[(String, String)],
) -> Result<Vec<String>> {
    let Ok(entries) = fs::read_dir(instance.backups()) else {
        return Ok(Vec::new());
    };
    let mut done = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_prefix(SET_ASIDE_PREFIX)
            .and_then(BackupId::parse)
        else {
            continue;
        };
        complete(instance, &entry.path(), &id, details).map_err(|error| {
            Error::Failed(error.context(format!(
                "the previous data is kept in {}, but cannot be described as backup {id}",
                entry.path().display()
            )))
        })?;
        done.push(id.to_string());
    }
    Ok(done)
}

fn complete(
    instance: &InstanceDir,
    tree: &Path,
    id: &BackupId,
    details: &[(String, String)],
) -> anyhow::Result<()> {
    // A backup is root's alone (CONTRACT: backups are 0700).
    fs::set_permissions(tree, std::fs::Permissions::from_mode(0o700))?;
    // A restore's mark left behind by a crash is not part of the data.
    let mark = tree.join(crate::recovery::RESTORED_MARK);
    if mark.exists() {
        fs::remove_file(&mark)?;
    }
    // The replaced data is an instance's whole tree: its entries go to a
    // file beside it, never all into memory. It most often grew from the
    // newest backup a backup made: what did not change since takes that
    // backup's checksums instead of being read again.
    let backups = instance.complete_backups();
    let reference = instance
        .default_backup(&backups)
        .map(|id| instance.backups().join(id.as_str()));
    let (entries, count) =
        snapshot::describe_to_file(tree, &instance.backups(), reference.as_deref())?;
    let gitlab_version = fs::read_to_string(tree.join("data/gitlab-rails/VERSION"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let mut header: Vec<(String, String)> = vec![("id".into(), id.to_string())];
    header.extend(details.iter().cloned());
    header.extend([
        ("consistency".to_string(), "stop".to_string()),
        ("consistent".to_string(), "true".to_string()),
        ("gitlab_version".to_string(), gitlab_version),
        ("finished".to_string(), timefmt::now_rfc3339()),
        (
            "girofle_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    snapshot::write_manifest_streamed(tree, &header, entries, count)?;
    fs::rename(tree, instance.backups().join(id.as_str()))?;
    crate::atomic::sync_directory(&instance.backups())?;
    Ok(())
}

/// The header fields a restore records in its journal for the data it sets
/// aside: `key=value` lines of the journal whose key starts with `header.`.
pub fn details_from_journal(journal: &str) -> Vec<(String, String)> {
    journal
        .lines()
        .filter_map(|line| line.strip_prefix("header."))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// Restore's recovery hook (registered with [`crate::recovery::register`]):
/// after a killed restore, the data it had set aside is described and kept
/// as a backup, with the header fields its journal recorded. Returns what
/// was done, for recovery's log.
pub fn finish_interrupted(instance: &InstanceDir, journal: &str) -> Result<Vec<String>> {
    let details = details_from_journal(journal);
    Ok(complete_set_aside(instance, &details)?
        .into_iter()
        .map(|id| format!("kept the data an interrupted restore had replaced as backup {id}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_carries_the_header_of_the_data_set_aside() {
        let journal = "pid=12\ncontainer=girofle-gitlab-1\nheader.instance=1\n\
                       header.taken_before_restore=2026-01-01T00-00-00Z\nheader.image=a=b\n";
        assert_eq!(
            details_from_journal(journal),
            [
                ("instance".to_string(), "1".to_string()),
                (
                    TAKEN_BEFORE_RESTORE.to_string(),
                    "2026-01-01T00-00-00Z".to_string()
                ),
                ("image".to_string(), "a=b".to_string()),
            ]
        );
    }

    #[test]
    fn a_set_aside_tree_becomes_a_backup_that_verifies() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        fs::create_dir_all(instance.backups()).unwrap();
        let tree = temp.path().join("previous");
        for volume in crate::container::VOLUMES {
            fs::create_dir_all(tree.join(volume)).unwrap();
        }
        fs::write(tree.join("data/file"), "kept\n").unwrap();
        let id = new_id(&instance);
        assert!(matches!(
            set_aside(&instance, &tree, id.clone()).unwrap(),
            SetAside::Backups(_)
        ));
        assert!(
            instance.complete_backups().is_empty(),
            "listed before its MANIFEST"
        );
        let details = vec![(TAKEN_BEFORE_RESTORE.to_string(), "B".to_string())];
        assert_eq!(
            complete_set_aside(&instance, &details).unwrap(),
            [id.to_string()]
        );
        assert_eq!(instance.complete_backups(), std::slice::from_ref(&id));
        let backup = instance.backups().join(id.as_str());
        let verification = snapshot::verify(&backup).unwrap();
        assert!(verification.problems.is_empty());
        assert_eq!(verification.manifest.get(TAKEN_BEFORE_RESTORE), Some("B"));
        assert!(new_id(&instance).as_str() > id.as_str());
    }
}
