//! Retention: the oldest complete backups beyond the number kept go.

use fs_err as fs;
use std::path::Path;

use crate::error::Result;
use crate::home::BackupId;
use crate::recovery::REMOVING_PREFIX;

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
