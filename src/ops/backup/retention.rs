//! Retention: the oldest complete backups beyond the number kept go.

use fs_err as fs;
use std::path::Path;

use crate::error::Result;
use crate::home::BackupId;
use crate::home::REMOVING_PREFIX;

/// Removes the oldest complete backups in `directory` beyond `keep` (at
/// least 1, so the newest is never removed). A backup is hidden by rename
/// before it is deleted, so a crash never leaves a half-deleted one that
/// looks complete.
pub(super) fn apply(directory: &Path, keep: u32) -> Result<Vec<String>> {
    let keep = keep.max(1) as usize;
    let backups = crate::home::backup_ids_in(directory);
    let mut removed = Vec::new();
    if backups.len() > keep {
        for id in &backups[..backups.len() - keep] {
            remove(directory, id)?;
            removed.push(id.to_string());
        }
        crate::atomic::sync_directory(directory)?;
    }
    Ok(removed)
}

fn remove(directory: &Path, id: &BackupId) -> Result<()> {
    let hidden = directory.join(format!("{REMOVING_PREFIX}{id}"));
    fs::rename(directory.join(id.as_str()), &hidden)?;
    fs::remove_dir_all(&hidden)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_go_and_the_newest_always_stays() {
        let temp = tempfile::tempdir().unwrap();
        let names = [
            "24-12-2025-time-09h-05m-00s",
            "2026-01-01T00-00-00Z",
            "2026-01-02T00-00-00Z",
            "2026-01-03T00-00-00Z",
        ];
        for name in names {
            fs::create_dir(temp.path().join(name)).unwrap();
        }
        fs::create_dir(temp.path().join(".partial-2026-01-04T00-00-00Z")).unwrap();
        assert_eq!(apply(temp.path(), 2).unwrap(), &names[..2]);
        assert!(apply(temp.path(), 2).unwrap().is_empty());
        assert_eq!(apply(temp.path(), 0).unwrap(), [names[2]]);
        let left: Vec<String> = crate::home::backup_ids_in(temp.path())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(left, [names[3]]);
        assert!(temp.path().join(".partial-2026-01-04T00-00-00Z").exists());
    }
}
