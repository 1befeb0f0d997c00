//! The tree sync: a copy with owners, modes, times, links and special files,
//! hard-linking what a previous copy already holds.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fs_err as fs;
use fs_err::OpenOptions;
use fs_err::os::unix::fs::{OpenOptionsExt, symlink};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use rayon::prelude::*;

use super::{Kind, lstat, same_metadata};

/// What a sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncStats {
    /// Regular files whose content was copied.
    pub copied_files: u64,
    /// Bytes of content copied.
    pub copied_bytes: u64,
    /// Files hard-linked into the previous copy instead of copied.
    pub linked_files: u64,
    /// Entries already identical in the destination, left alone.
    pub unchanged: u64,
    /// Entries of the destination that the source no longer has.
    pub removed: u64,
    /// Sockets, which cannot be copied (relative paths).
    pub skipped_sockets: Vec<PathBuf>,
}

fn remove_any(path: &Path, metadata: &Metadata) -> io::Result<()> {
    if metadata.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// Applies owner, mode and times of `source` to `path` (never following a link).
/// Owner first: chown clears setuid/setgid bits, so the mode comes after.
fn apply_metadata(path: &Path, source: &Metadata) -> anyhow::Result<()> {
    std::os::unix::fs::lchown(path, Some(source.uid()), Some(source.gid()))
        .with_context(|| format!("cannot chown {}", path.display()))?;
    if !source.file_type().is_symlink() {
        fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(source.mode() & 0o7777),
        )
        .with_context(|| format!("cannot chmod {}", path.display()))?;
    }
    let atime = TimeSpec::new(source.atime(), source.atime_nsec());
    let mtime = TimeSpec::new(source.mtime(), source.mtime_nsec());
    utimensat(None, path, &atime, &mtime, UtimensatFlags::NoFollowSymlink)
        .with_context(|| format!("cannot set the times of {}", path.display()))?;
    Ok(())
}

fn temp_beside(path: &Path) -> PathBuf {
    let mut name = OsString::from(".girofle-tmp-");
    name.push(path.file_name().unwrap_or_default());
    path.with_file_name(name)
}

/// Makes `destination` an exact copy of `source`, like `rsync -aH --numeric-ids
/// --delete --link-dest=<previous>`: entries already identical are left alone,
/// unchanged files are hard links into `previous`, anything else is written
/// beside its place and renamed over it, so that a file shared with an earlier
/// backup is never modified in place.
pub fn sync_tree(
    source: &Path,
    destination: &Path,
    previous: Option<&Path>,
) -> anyhow::Result<SyncStats> {
    let mut syncer = Syncer {
        roots: Roots {
            source: source.to_path_buf(),
            destination: destination.to_path_buf(),
            previous: previous.map(Path::to_path_buf),
        },
        inodes: HashMap::new(),
        stats: SyncStats::default(),
        jobs: Vec::new(),
        directories: Vec::new(),
    };
    let metadata = fs::symlink_metadata(source)?;
    if !metadata.is_dir() {
        bail!("{} is not a directory", source.display());
    }
    syncer.sync_dir(Path::new(""), &metadata)?;
    // Creating files costs the kernel more than copying their bytes: every
    // core takes a share of the plain files.
    for outcome in syncer.roots.sync_files_in_parallel(&syncer.jobs)? {
        syncer.stats.count(outcome);
    }
    // Last, children before parents: writing entries changes a directory's mtime.
    // A directory whose entries did not change keeps what the earlier pass
    // set: in a second pass, most of them (three syscalls saved on each).
    for (directory, metadata) in &syncer.directories {
        let current = fs::symlink_metadata(directory)?;
        // A directory's size depends on its history, not on its entries: not compared.
        let same = current.mode() == metadata.mode()
            && (current.uid(), current.gid()) == (metadata.uid(), metadata.gid())
            && (current.mtime(), current.mtime_nsec()) == (metadata.mtime(), metadata.mtime_nsec());
        if !same {
            apply_metadata(directory, metadata)?;
        }
    }
    Ok(syncer.stats)
}

/// What happened to one regular file.
#[derive(Debug, Clone, Copy)]
enum FileOutcome {
    Unchanged,
    Linked,
    Copied(u64),
    Vanished,
}

impl SyncStats {
    fn count(&mut self, outcome: FileOutcome) {
        match outcome {
            FileOutcome::Unchanged => self.unchanged += 1,
            FileOutcome::Linked => self.linked_files += 1,
            FileOutcome::Copied(bytes) => {
                self.copied_files += 1;
                self.copied_bytes += bytes;
            }
            FileOutcome::Vanished => {}
        }
    }
}

/// The trees a sync works on; shared by the threads that copy files.
struct Roots {
    source: PathBuf,
    destination: PathBuf,
    previous: Option<PathBuf>,
}

struct Syncer {
    roots: Roots,
    /// Source (device, inode) of multiply-linked files -> their first copy.
    inodes: HashMap<(u64, u64), PathBuf>,
    stats: SyncStats,
    /// Files with one link: synced after the walk, on every core.
    jobs: Vec<(PathBuf, Metadata)>,
    /// Directories and their source metadata, in post-order.
    directories: Vec<(PathBuf, Metadata)>,
}

impl Roots {
    /// Syncs the plain files on every core; the first error stops the work.
    fn sync_files_in_parallel(
        &self,
        jobs: &[(PathBuf, Metadata)],
    ) -> anyhow::Result<Vec<FileOutcome>> {
        // Runs of neighbours (mostly one directory) per task, so that two
        // threads seldom contend for the same directory.
        jobs.par_iter()
            .with_min_len(32)
            .map(|(relative, metadata)| self.sync_plain_file(relative, metadata))
            .collect()
    }

    /// Syncs one regular file: left alone if identical, else a hard link
    /// into the previous copy if unchanged since, else a copy.
    fn sync_plain_file(&self, relative: &Path, metadata: &Metadata) -> anyhow::Result<FileOutcome> {
        let destination = self.destination.join(relative);
        let existing = lstat(&destination)?;
        if let Some(existing) = &existing
            && existing.is_file()
            && same_metadata(existing, metadata)
        {
            return Ok(FileOutcome::Unchanged);
        }
        if let Some(previous) = self.previous_twin(relative, metadata)? {
            match place_link(&previous, &destination, existing.is_some()) {
                Ok(()) => return Ok(FileOutcome::Linked),
                // Too many links to that inode: a copy does as well.
                Err(error) if is_too_many_links(&error) => {}
                Err(error) => return Err(error),
            }
        }
        self.copy_file(relative, metadata, existing.is_some())
    }

    /// The file of the previous copy with this path and the same metadata.
    fn previous_twin(
        &self,
        relative: &Path,
        metadata: &Metadata,
    ) -> anyhow::Result<Option<PathBuf>> {
        let Some(previous) = &self.previous else {
            return Ok(None);
        };
        let candidate = previous.join(relative);
        Ok(match lstat(&candidate)? {
            Some(found) if found.is_file() && same_metadata(&found, metadata) => Some(candidate),
            _ => None,
        })
    }

    /// Copies the content and metadata. Over an existing entry the copy is
    /// written beside it and renamed, never written into it (it may be a hard
    /// link shared with an earlier backup); into an empty place, directly.
    fn copy_file(
        &self,
        relative: &Path,
        metadata: &Metadata,
        exists: bool,
    ) -> anyhow::Result<FileOutcome> {
        let source = self.source.join(relative);
        let destination = self.destination.join(relative);
        let target = if exists {
            temp_beside(&destination)
        } else {
            destination.clone()
        };
        if exists {
            let _ = fs::remove_file(&target);
        }
        let input = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&source)
        {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(FileOutcome::Vanished);
            }
            Err(error) => return Err(error.into()),
        };
        let output = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&target)?;
        // std::io::copy uses copy_file_range on Linux between std files (hence
        // `.file()`): no round trip through user space.
        let bytes = io::copy(&mut input.file(), &mut output.file())
            .with_context(|| format!("cannot copy {}", source.display()))?;
        drop(output);
        // The metadata is the one read BEFORE the content: if the file changed
        // while it was read, its mtime now differs, and the next pass copies it again.
        apply_metadata(&target, metadata)?;
        if exists {
            replace(&target, &destination)?;
        }
        Ok(FileOutcome::Copied(bytes))
    }
}

/// Makes `destination` a hard link to `target` (beside and renamed over an
/// existing entry, directly into an empty place).
fn place_link(target: &Path, destination: &Path, exists: bool) -> anyhow::Result<()> {
    let link = if exists {
        temp_beside(destination)
    } else {
        destination.to_path_buf()
    };
    if exists {
        let _ = fs::remove_file(&link);
    }
    fs::hard_link(target, &link)
        .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))?;
    if exists {
        replace(&link, destination)?;
    }
    Ok(())
}

impl Syncer {
    fn sync_dir(&mut self, relative: &Path, metadata: &Metadata) -> anyhow::Result<()> {
        let source_dir = self.roots.source.join(relative);
        let destination_dir = self.roots.destination.join(relative);
        match lstat(&destination_dir)? {
            Some(existing) if existing.is_dir() => {}
            Some(existing) => {
                remove_any(&destination_dir, &existing)?;
                fs::create_dir(&destination_dir)?;
            }
            None => fs::create_dir_all(&destination_dir)?,
        }
        let mut names: Vec<OsString> = fs::read_dir(&source_dir)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        let wanted: std::collections::HashSet<&OsString> = names.iter().collect();
        for entry in fs::read_dir(&destination_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if !wanted.contains(&name) {
                let path = entry.path();
                if let Some(existing) = lstat(&path)? {
                    remove_any(&path, &existing)?;
                    self.stats.removed += 1;
                }
            }
        }
        for name in &names {
            let child = relative.join(name);
            let source_path = self.roots.source.join(&child);
            // A file that vanished between the listing and now is not an error:
            // a live instance deletes files while the first pass runs.
            let Some(child_metadata) = lstat(&source_path)? else {
                continue;
            };
            match Kind::of(&child_metadata) {
                Kind::Dir => self.sync_dir(&child, &child_metadata)?,
                Kind::File if child_metadata.nlink() == 1 => {
                    self.jobs.push((child, child_metadata));
                }
                Kind::File => self.sync_linked_file(&child, &child_metadata)?,
                Kind::Symlink => self.sync_symlink(&child, &child_metadata)?,
                Kind::Socket => {
                    let destination = self.roots.destination.join(&child);
                    if let Some(existing) = lstat(&destination)? {
                        remove_any(&destination, &existing)?;
                    }
                    self.stats.skipped_sockets.push(child);
                }
                kind => self.sync_special(&child, &child_metadata, kind)?,
            }
        }
        self.directories.push((destination_dir, metadata.clone()));
        Ok(())
    }

    /// A file with several names: the first name is synced like any file,
    /// the others become hard links to it, as in the source.
    fn sync_linked_file(&mut self, relative: &Path, metadata: &Metadata) -> anyhow::Result<()> {
        let destination = self.roots.destination.join(relative);
        let key = (metadata.dev(), metadata.ino());
        if let Some(first) = self.inodes.get(&key).cloned() {
            let existing = lstat(&destination)?;
            let first_metadata = fs::symlink_metadata(&first)?;
            if existing.as_ref().map(|m| (m.dev(), m.ino()))
                == Some((first_metadata.dev(), first_metadata.ino()))
            {
                self.stats.unchanged += 1;
            } else {
                place_link(&first, &destination, existing.is_some())?;
            }
            return Ok(());
        }
        let outcome = self.roots.sync_plain_file(relative, metadata)?;
        self.stats.count(outcome);
        self.inodes.insert(key, destination);
        Ok(())
    }

    fn sync_symlink(&mut self, relative: &Path, metadata: &Metadata) -> anyhow::Result<()> {
        let source = self.roots.source.join(relative);
        let destination = self.roots.destination.join(relative);
        let target = match fs::read_link(&source) {
            Ok(target) => target,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        if let Some(existing) = lstat(&destination)?
            && existing.file_type().is_symlink()
            && existing.uid() == metadata.uid()
            && existing.gid() == metadata.gid()
            && existing.mtime() == metadata.mtime()
            && existing.mtime_nsec() == metadata.mtime_nsec()
            && fs::read_link(&destination)? == target
        {
            self.stats.unchanged += 1;
            return Ok(());
        }
        let temp = temp_beside(&destination);
        let _ = fs::remove_file(&temp);
        symlink(&target, &temp)
            .with_context(|| format!("cannot create link {}", temp.display()))?;
        apply_metadata(&temp, metadata)?;
        replace(&temp, &destination)
    }

    fn sync_special(
        &mut self,
        relative: &Path,
        metadata: &Metadata,
        kind: Kind,
    ) -> anyhow::Result<()> {
        let destination = self.roots.destination.join(relative);
        if let Some(existing) = lstat(&destination)?
            && same_metadata(&existing, metadata)
            && existing.rdev() == metadata.rdev()
        {
            self.stats.unchanged += 1;
            return Ok(());
        }
        let temp = temp_beside(&destination);
        let _ = fs::remove_file(&temp);
        let file_type = match kind {
            Kind::Fifo => SFlag::S_IFIFO,
            Kind::CharDevice => SFlag::S_IFCHR,
            _ => SFlag::S_IFBLK,
        };
        nix::sys::stat::mknod(
            &temp,
            file_type,
            Mode::from_bits_truncate(0o600),
            metadata.rdev(),
        )
        .with_context(|| format!("cannot create {} {}", kind.as_str(), temp.display()))?;
        apply_metadata(&temp, metadata)?;
        replace(&temp, &destination)
    }
}

fn replace(temp: &Path, destination: &Path) -> anyhow::Result<()> {
    if let Some(existing) = lstat(destination)?
        && existing.is_dir()
    {
        fs::remove_dir_all(destination)?;
    }
    fs::rename(temp, destination).with_context(|| {
        format!(
            "cannot rename {} to {}",
            temp.display(),
            destination.display()
        )
    })
}

/// Whether an error chain holds "too many links" (by kind: fs-err keeps the
/// kind of the error it wraps, not its OS number).
fn is_too_many_links(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_error| {
            io_error.raw_os_error() == Some(nix::libc::EMLINK)
                || io_error.kind() == io::ErrorKind::TooManyLinks
        })
}

/// Whether an error chain holds "no space left on device".
pub fn is_out_of_space(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_error| {
            io_error.raw_os_error() == Some(nix::libc::ENOSPC)
                || io_error.kind() == io::ErrorKind::StorageFull
        })
}

/// The bytes a sync of `source` would copy (files neither identical in
/// `destination` nor linkable from `previous`), found by metadata alone.
pub fn bytes_to_copy(
    source: &Path,
    destination: &Path,
    previous: Option<&Path>,
) -> anyhow::Result<u64> {
    fn walk(
        source: &Path,
        destination: &Path,
        previous: Option<&Path>,
        total: &mut u64,
    ) -> anyhow::Result<()> {
        let entries = match fs::read_dir(source) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(metadata) = lstat(&entry.path())? else {
                continue;
            };
            if metadata.is_dir() {
                walk(
                    &entry.path(),
                    &destination.join(&name),
                    previous.map(|p| p.join(&name)).as_deref(),
                    total,
                )?;
            } else if metadata.is_file() {
                let identical = |path: PathBuf| -> io::Result<bool> {
                    Ok(lstat(&path)?
                        .is_some_and(|found| found.is_file() && same_metadata(&found, &metadata)))
                };
                if !identical(destination.join(&name))?
                    && !previous
                        .map(|p| identical(p.join(&name)))
                        .transpose()?
                        .unwrap_or(false)
                {
                    *total += metadata.size();
                }
            }
        }
        Ok(())
    }
    let mut total = 0;
    walk(source, destination, previous, &mut total)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Manifest, describe};
    use std::os::unix::fs::FileTypeExt;

    #[test]
    fn a_second_sync_hard_links_unchanged_files_and_copies_changed_ones() {
        let work = tempfile::tempdir().unwrap();
        let source = work.path().join("source");
        fs::create_dir_all(source.join("sub/empty")).unwrap();
        fs::write(source.join("sub/same"), "same").unwrap();
        fs::write(source.join("changes"), "one").unwrap();
        symlink("sub/same", source.join("link")).unwrap();
        fs::hard_link(source.join("sub/same"), source.join("alias")).unwrap();
        nix::unistd::mkfifo(&source.join("pipe"), Mode::from_bits_truncate(0o640)).unwrap();
        fs::set_permissions(source.join("sub"), std::fs::Permissions::from_mode(0o2770)).unwrap();

        let first = work.path().join("first");
        sync_tree(&source, &first, None).unwrap();
        let manifest = Manifest {
            header: vec![],
            entries: describe(&first, None).unwrap(),
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(source.join("changes"), "two").unwrap();
        let second = work.path().join("second");
        let stats = sync_tree(&source, &second, Some(&first)).unwrap();
        assert_eq!(stats.copied_files, 1);
        let inode = |p: &Path| fs::symlink_metadata(p).unwrap().ino();
        assert_eq!(
            inode(&first.join("sub/same")),
            inode(&second.join("sub/same"))
        );
        assert_eq!(
            inode(&second.join("alias")),
            inode(&second.join("sub/same"))
        );
        assert_ne!(
            inode(&first.join("changes")),
            inode(&second.join("changes"))
        );
        assert_eq!(fs::read_to_string(first.join("changes")).unwrap(), "one");
        assert_eq!(
            fs::read_link(second.join("link")).unwrap(),
            Path::new("sub/same")
        );
        assert!(
            fs::symlink_metadata(second.join("pipe"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(
            fs::metadata(second.join("sub")).unwrap().mode() & 0o7777,
            0o2770
        );
        assert!(second.join("sub/empty").is_dir());

        let entries = describe(&second, Some((&first, &manifest))).unwrap();
        assert_eq!(entries, describe(&second, None).unwrap());
        let source_entries = describe(&source, None).unwrap();
        assert_eq!(entries, source_entries, "the copy differs from its source");
    }
}
