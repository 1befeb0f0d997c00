//! What is checked before GitLab is touched: that the container really runs
//! on the directory's volumes, that the staged copy fits, and what the user
//! is told before being asked.

use anyhow::Context;
use fs_err as fs;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::container::VOLUMES;
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::home::InstanceDir;

/// Free space kept beyond the staged copy, so that the running GitLab (on
/// the same file system) can still write while the copy is made.
pub(super) const SPACE_MARGIN: u64 = 16 << 20;

/// `container` must have `mapping-volumes/{config,data,log}` of `instance`
/// as bind mounts (compared as canonical paths): a restore must never swap
/// the volumes of a directory that another container (or none) runs on.
pub(super) fn check_mounts(docker: &Docker, container: &str, instance: &InstanceDir) -> Result<()> {
    let inspected: serde_json::Value = serde_json::from_str(&docker.inspect_json(&[container])?)
        .with_context(|| format!("unexpected `docker inspect {container}`"))?;
    let mounts: Vec<PathBuf> = inspected[0]["Mounts"]
        .as_array()
        .map(|mounts| {
            mounts
                .iter()
                .filter(|mount| mount["Type"] == "bind")
                .filter_map(|mount| mount["Source"].as_str().map(PathBuf::from))
                .collect()
        })
        .unwrap_or_default();
    let canonical = |path: &Path| fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounted: HashSet<PathBuf> = mounts.iter().map(|p| canonical(p)).collect();
    let missing: Vec<String> = VOLUMES
        .iter()
        .map(|volume| instance.volumes().join(volume))
        .filter(|expected| !mounted.contains(&canonical(expected)))
        .map(|expected| expected.display().to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = mounts.iter().map(|p| p.display().to_string()).collect();
    Err(Error::usage(format!(
        "`{container}` does not mount {} (its bind mounts: {}); it does not run on {}: \
         nothing was changed",
        missing.join(", "),
        if shown.is_empty() {
            "none".to_string()
        } else {
            shown.join(", ")
        },
        instance.root().display()
    )))
}

/// What the staged copy of `backup` will write beside the volumes: its
/// bytes rounded up to whole blocks (a file with several names once, as
/// the copy keeps hard links), a block per directory, and its entries.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Needed {
    /// Bytes, in whole blocks.
    pub(super) bytes: u64,
    /// Inodes.
    pub(super) entries: u64,
}

const BLOCK: u64 = 4096;

/// Adds up what the copy of the three volumes of `backup` takes, from its
/// MANIFEST read as a stream (no walk of the backup, no set of its inodes:
/// a file with several names in the copy counts once per name, which errs
/// on the side of room). A legacy backup without MANIFEST is walked.
pub(super) fn needed_for(backup: &Path) -> Result<Needed> {
    let manifest = backup.join(crate::snapshot::MANIFEST);
    if !manifest.exists() {
        return needed_by_walking(backup);
    }
    let mut reader = crate::snapshot::ManifestReader::open(&manifest).map_err(|error| {
        Error::usage(format!("{} cannot be read: {error:#}", manifest.display()))
    })?;
    let mut needed = Needed::default();
    let in_volumes = |path: &Path| VOLUMES.iter().any(|volume| path.starts_with(volume));
    while let Some(entry) = reader.next_entry().map_err(|error| {
        Error::usage(format!("{} cannot be read: {error:#}", manifest.display()))
    })? {
        if !in_volumes(&entry.path) {
            continue;
        }
        needed.entries += 1;
        match entry.kind {
            crate::snapshot::Kind::Dir => needed.bytes += BLOCK,
            crate::snapshot::Kind::File | crate::snapshot::Kind::Symlink => {
                needed.bytes += entry.size.div_ceil(BLOCK) * BLOCK
            }
            _ => {}
        }
    }
    needed.bytes += needed.entries * 256;
    Ok(needed)
}

/// Walks the three volumes of `backup` (lstat only) and adds up what their copy takes.
fn needed_by_walking(backup: &Path) -> Result<Needed> {
    let mut needed = Needed::default();
    let mut seen = HashSet::new();
    let mut stack: Vec<PathBuf> = VOLUMES.iter().map(|v| backup.join(v)).collect();
    while let Some(path) = stack.pop() {
        let metadata = fs::symlink_metadata(&path)?;
        let file_type = metadata.file_type();
        if metadata.nlink() > 1 && !file_type.is_dir() && !seen.insert(metadata.ino()) {
            continue;
        }
        needed.entries += 1;
        if file_type.is_dir() {
            needed.bytes += BLOCK;
            for entry in fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        } else if file_type.is_file() || file_type.is_symlink() {
            needed.bytes += metadata.len().div_ceil(BLOCK) * BLOCK;
        }
    }
    // The MANIFEST of the data set aside afterwards, a line per entry.
    needed.bytes += needed.entries * 256;
    Ok(needed)
}

/// Exit 1 when the file system of the instance's directory cannot take
/// `needed` and still keep [`SPACE_MARGIN`] free (or has too few inodes).
pub(super) fn check_space(instance: &InstanceDir, needed: Needed) -> Result<()> {
    let stat = nix::sys::statvfs::statvfs(instance.root())
        .with_context(|| format!("cannot statvfs {}", instance.root().display()))?;
    let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
    let bytes = needed.bytes + SPACE_MARGIN;
    if bytes > free {
        return Err(Error::failed(format!(
            "not enough space in {} for the staged copy of the backup: {} MiB needed \
             ({} MiB kept free for GitLab), {} MiB free; nothing was changed",
            instance.root().display(),
            bytes.div_ceil(1 << 20),
            SPACE_MARGIN >> 20,
            free >> 20
        )));
    }
    // A file system without inode limits reports none at all.
    let inodes = stat.files_available() as u64;
    if stat.files() > 0 && needed.entries + 64 > inodes {
        return Err(Error::failed(format!(
            "not enough space in {} for the staged copy of the backup: {} inodes needed, \
             {inodes} free; nothing was changed",
            instance.root().display(),
            needed.entries + 64
        )));
    }
    Ok(())
}

/// When a backup was taken, from its ID (either form).
pub(super) fn backup_time(id: &str) -> Option<OffsetDateTime> {
    let current =
        time::macros::format_description!("[year]-[month]-[day]T[hour]-[minute]-[second]Z");
    let legacy =
        time::macros::format_description!("[day]-[month]-[year]-time-[hour]h-[minute]m-[second]s");
    time::PrimitiveDateTime::parse(id, current)
        .or_else(|_| time::PrimitiveDateTime::parse(id, legacy))
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The newest modification time in the three volumes (a walk, lstat only).
pub(super) fn last_change(instance: &InstanceDir) -> Option<OffsetDateTime> {
    let mut newest: Option<i64> = None;
    let mut stack: Vec<PathBuf> = VOLUMES.iter().map(|v| instance.volumes().join(v)).collect();
    while let Some(path) = stack.pop() {
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            continue;
        };
        newest = Some(newest.map_or(metadata.mtime(), |n| n.max(metadata.mtime())));
        if metadata.is_dir()
            && let Ok(entries) = fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|entry| entry.path()));
        }
    }
    newest.and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_id_forms_give_their_time() {
        let current = backup_time("2026-11-25T14-30-00Z").unwrap();
        assert_eq!(crate::timefmt::rfc3339(current), "2026-11-25T14:30:00Z");
        let legacy = backup_time("25-11-2026-time-14h-30m-00s").unwrap();
        assert_eq!(legacy, current);
        assert!(backup_time("yesterday").is_none());
    }

    #[test]
    fn the_needed_space_counts_blocks_and_hard_links_once() {
        let temp = tempfile::tempdir().unwrap();
        for volume in VOLUMES {
            fs::create_dir(temp.path().join(volume)).unwrap();
        }
        fs::write(temp.path().join("data/a"), vec![0u8; 5000]).unwrap();
        fs::hard_link(temp.path().join("data/a"), temp.path().join("log/b")).unwrap();
        fs::write(temp.path().join("config/c"), "x").unwrap();
        let needed = needed_for(temp.path()).unwrap();
        // 3 directories, a (2 blocks, once), c (1 block).
        assert_eq!(needed.entries, 5);
        assert_eq!(needed.bytes, 3 * BLOCK + 2 * BLOCK + BLOCK + 5 * 256);
    }
}
