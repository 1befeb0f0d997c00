//! Checking: a tree described entry by entry with content checksums, and a
//! backup compared with its MANIFEST.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use fs_err as fs;
use fs_err::OpenOptions;
use fs_err::os::unix::fs::OpenOptionsExt;
use rayon::prelude::*;

use super::{Entry, Kind, MANIFEST, Manifest};

fn hash_file(path: &Path) -> anyhow::Result<String> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Describes the tree at `root`, entry by entry, with content checksums.
/// Files that are the very inode of a file in `previous` (hard links made by
/// the sync) take their checksum from the previous MANIFEST instead of being
/// read again; the others are read on every core at once. The MANIFEST file
/// itself is left out.
pub fn describe(root: &Path, previous: Option<(&Path, &Manifest)>) -> anyhow::Result<Vec<Entry>> {
    let known: HashMap<&Path, &Entry> = previous
        .map(|(_, manifest)| {
            manifest
                .entries
                .iter()
                .map(|e| (e.path.as_path(), e))
                .collect()
        })
        .unwrap_or_default();
    // Entry index -> index in `to_hash` of the file whose checksum it takes.
    let mut pending: Vec<(usize, usize)> = Vec::new();
    let mut to_hash: Vec<PathBuf> = Vec::new();
    let mut first_of_inode: HashMap<(u64, u64), usize> = HashMap::new();
    let mut entries = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let directory = root.join(&relative);
        let mut names: Vec<OsString> = fs::read_dir(&directory)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let child = relative.join(&name);
            if child.as_os_str() == MANIFEST {
                continue;
            }
            let path = root.join(&child);
            let metadata = fs::symlink_metadata(&path)?;
            let kind = Kind::of(&metadata);
            let checksum = match kind {
                Kind::File => {
                    let inode = (metadata.dev(), metadata.ino());
                    let reused = previous.and_then(|(previous_root, _)| {
                        let entry = known.get(child.as_path())?;
                        let twin = fs::symlink_metadata(previous_root.join(&child)).ok()?;
                        ((twin.dev(), twin.ino()) == inode && entry.kind == Kind::File)
                            .then(|| entry.checksum.clone())
                    });
                    match reused {
                        Some(sum) => sum,
                        None => {
                            let slot = *first_of_inode.entry(inode).or_insert_with(|| {
                                to_hash.push(path.clone());
                                to_hash.len() - 1
                            });
                            pending.push((entries.len(), slot));
                            String::new()
                        }
                    }
                }
                Kind::Symlink => blake3::hash(fs::read_link(&path)?.as_os_str().as_bytes())
                    .to_hex()
                    .to_string(),
                _ => "-".to_string(),
            };
            if kind == Kind::Dir {
                stack.push(child.clone());
            }
            entries.push(Entry {
                path: child,
                kind,
                size: if kind == Kind::Dir {
                    0
                } else {
                    metadata.size()
                },
                mode: metadata.mode() & 0o7777,
                uid: metadata.uid(),
                gid: metadata.gid(),
                mtime: (metadata.mtime(), metadata.mtime_nsec()),
                checksum,
            });
        }
    }
    let sums = hash_files(&to_hash)?;
    for (entry, slot) in pending {
        entries[entry].checksum = sums[slot].clone();
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// BLAKE3 of each file, read on every core; the first error stops the work.
fn hash_files(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    paths.par_iter().map(|path| hash_file(path)).collect()
}

/// A difference between a backup and its MANIFEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Listed, not on disk.
    Missing(PathBuf),
    /// On disk, not listed.
    Extra(PathBuf),
    /// On disk and listed, but different; says how.
    Changed(PathBuf, String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing(path) => write!(f, "missing: {}", path.display()),
            Problem::Extra(path) => write!(f, "extra: {}", path.display()),
            Problem::Changed(path, how) => write!(f, "changed: {} ({how})", path.display()),
        }
    }
}

/// Re-reads the tree at `root` and compares it with its MANIFEST.
pub fn verify(root: &Path) -> anyhow::Result<(Manifest, Vec<Problem>)> {
    let manifest = Manifest::read(&root.join(MANIFEST))?;
    let actual = describe(root, None)?;
    let mut problems = Vec::new();
    let expected: HashMap<&Path, &Entry> = manifest
        .entries
        .iter()
        .map(|e| (e.path.as_path(), e))
        .collect();
    let found: HashMap<&Path, &Entry> = actual.iter().map(|e| (e.path.as_path(), e)).collect();
    for entry in &manifest.entries {
        // Sockets were listed, not copied.
        if entry.kind == Kind::Socket {
            continue;
        }
        match found.get(entry.path.as_path()) {
            None => problems.push(Problem::Missing(entry.path.clone())),
            Some(actual) => {
                let mut how = Vec::new();
                if actual.kind != entry.kind {
                    how.push(format!(
                        "type {} instead of {}",
                        actual.kind.as_str(),
                        entry.kind.as_str()
                    ));
                }
                if actual.size != entry.size && entry.kind != Kind::Dir {
                    how.push(format!("size {} instead of {}", actual.size, entry.size));
                }
                if actual.mode != entry.mode {
                    how.push(format!(
                        "mode {:o} instead of {:o}",
                        actual.mode, entry.mode
                    ));
                }
                if (actual.uid, actual.gid) != (entry.uid, entry.gid) {
                    how.push(format!(
                        "owner {}:{} instead of {}:{}",
                        actual.uid, actual.gid, entry.uid, entry.gid
                    ));
                }
                if actual.mtime != entry.mtime && entry.kind != Kind::Dir {
                    how.push("mtime".to_string());
                }
                if actual.checksum != entry.checksum {
                    how.push("content".to_string());
                }
                if !how.is_empty() {
                    problems.push(Problem::Changed(entry.path.clone(), how.join(", ")));
                }
            }
        }
    }
    for entry in &actual {
        if !expected.contains_key(entry.path.as_path()) {
            problems.push(Problem::Extra(entry.path.clone()));
        }
    }
    Ok((manifest, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::write_manifest;
    use std::fs::File;

    #[test]
    fn verify_reports_missing_extra_and_changed_entries() {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("backup");
        fs::create_dir_all(root.join("d")).unwrap();
        fs::write(root.join("d/a"), "aaaa").unwrap();
        fs::write(root.join("d/b"), "bbbb").unwrap();
        let manifest = Manifest {
            header: vec![("id".into(), "x".into())],
            entries: describe(&root, None).unwrap(),
        };
        write_manifest(&root, &manifest).unwrap();
        assert!(verify(&root).unwrap().1.is_empty());
        let mtime = fs::metadata(root.join("d/a")).unwrap().modified().unwrap();
        fs::write(root.join("d/a"), "aaab").unwrap();
        File::options()
            .write(true)
            .open(root.join("d/a"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        fs::remove_file(root.join("d/b")).unwrap();
        fs::write(root.join("d/c"), "new").unwrap();
        let problems: Vec<String> = verify(&root)
            .unwrap()
            .1
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert!(
            problems.contains(&"changed: d/a (content)".to_string()),
            "{problems:?}"
        );
        assert!(
            problems.contains(&"missing: d/b".to_string()),
            "{problems:?}"
        );
        assert!(problems.contains(&"extra: d/c".to_string()), "{problems:?}");
    }
}
