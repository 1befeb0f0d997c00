//! What a pass does with each kind of entry: directories, files (copied,
//! hard-linked into the previous copy or to another name), links, specials.

use std::fs::Metadata;
use std::io::{self};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use fs_err as fs;
use fs_err::os::unix::fs::symlink;
use nix::sys::stat::{Mode, SFlag};

use crate::listing::Listing;
use crate::sync::Visit;
use crate::sync::batch::{Item, Job};
use crate::sync::files::{
    Outcome, apply_metadata, is_not_found, is_too_many_links, place_link, replace, temp_beside,
};
use crate::{Entry, Kind, entry_matches, entry_of, lstat};

use super::Pass;

impl Pass<'_> {
    /// Syncs a directory and what it holds (all of it when `whole`, else
    /// what [`Pass::visit`] picks); true when the parent directory changed
    /// (an entry made or replaced in it).
    pub(in crate::sync) fn directory(
        &mut self,
        relative: &Path,
        source: &Path,
        metadata: &Metadata,
        existing: Option<Entry>,
        whole: bool,
    ) -> anyhow::Result<bool> {
        let destination = self.root.join(relative);
        let mut made = false;
        match &existing {
            Some(entry) if entry.kind == Kind::Dir => {}
            Some(entry) => {
                self.remove_existing(relative, entry)?;
                fs::create_dir(&destination)?;
                made = true;
            }
            None => {
                if relative.as_os_str().is_empty() {
                    fs::create_dir_all(&destination)?;
                } else {
                    fs::create_dir(&destination)?;
                }
                made = true;
            }
        }
        if !relative.as_os_str().is_empty() {
            self.emit(Item::Entry(entry_of(
                relative.to_path_buf(),
                Kind::Dir,
                metadata,
                "-".to_string(),
            )))?;
        }
        // A directory gone between its parent's listing and now: it stays
        // empty in the copy, as a file that vanished is left out.
        let children = match Listing::read(source) {
            Ok(children) => Some(children),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error.into()),
        };
        let mut changed = false;
        for name in children.iter().flat_map(Listing::names) {
            let child_relative = relative.join(name);
            changed |= self.drop_existing_until(Some(&child_relative))?;
            let visit = if whole {
                Visit::Whole
            } else {
                self.visit(&child_relative)
            };
            // Not named by a change and written by the pass before: not
            // even `stat`ed.
            if visit == Visit::Skip && self.pass_through(&child_relative)? {
                continue;
            }
            // A file that vanished between the listing and now is not an
            // error: a live instance deletes files while the first pass runs.
            let child_source = source.join(name);
            let child_metadata = match fs::symlink_metadata(&child_source) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            };
            let child_existing = self.take_existing(&child_relative)?;
            if child_metadata.is_dir()
                && child_metadata.dev() != metadata.dev()
                && self.mounts_inside.is_none()
            {
                self.mounts_inside = Some(child_source.clone());
            }
            changed |= match Kind::of(&child_metadata) {
                Kind::Dir => self.directory(
                    &child_relative,
                    &child_source,
                    &child_metadata,
                    child_existing,
                    visit != Visit::Descend,
                )?,
                Kind::File => {
                    self.file(child_relative, child_source, child_metadata, child_existing)?
                }
                Kind::Symlink => self.symlink(
                    &child_relative,
                    &child_source,
                    &child_metadata,
                    child_existing,
                )?,
                Kind::Socket => {
                    if let Some(entry) = &child_existing {
                        self.remove_existing(&child_relative, entry)?;
                    }
                    self.stats.skipped_sockets.push(child_relative);
                    child_existing.is_some()
                }
                kind => self.special(&child_relative, &child_metadata, kind, child_existing)?,
            };
        }
        // What is left of this directory in the pass before is gone.
        changed |= self.drop_existing_while(|path| path.starts_with(relative))?;
        let same = existing
            .as_ref()
            .is_some_and(|e| entry_matches(e, Kind::Dir, metadata));
        // Last, children before parents: writing entries changes a
        // directory's mtime. One whose entries did not change keeps what
        // the pass before set.
        if made || changed || !same {
            self.emit(Item::DirectoryDone(destination, metadata.clone()))?;
        }
        Ok(made)
    }

    pub(in crate::sync) fn file(
        &mut self,
        relative: PathBuf,
        source: PathBuf,
        metadata: Metadata,
        existing: Option<Entry>,
    ) -> anyhow::Result<bool> {
        // Named by a change: written, even if within one tick of the clock
        // (same size and mtime); copied, not trusted to the quick check.
        let named = self
            .only
            .as_ref()
            .is_some_and(|only| only.contains(&relative));
        if let Some(entry) = &existing
            && !named
            && entry_matches(entry, Kind::File, &metadata)
            && metadata.nlink() == 1
        {
            self.stats.unchanged += 1;
            self.emit(Item::Entry(entry.clone()))?;
            return Ok(false);
        }
        let mut exists = existing.is_some();
        if let Some(entry) = &existing
            && entry.kind == Kind::Dir
        {
            self.remove_existing(&relative, entry)?;
            exists = false;
        }
        if metadata.nlink() > 1 {
            if self.links_nearby.is_some() && existing.is_none() {
                return self.nearby_linked_file(relative, source, metadata);
            }
            return self.linked_file(relative, source, metadata, existing, exists);
        }
        let entry = entry_of(relative.clone(), Kind::File, &metadata, String::new());
        let destination = self.root.join(&relative);
        let twin = if named {
            None
        } else {
            self.previous.twin(&relative, &metadata)?
        };
        let job = match twin {
            Some((target, checksum)) => Job::Link {
                target,
                checksum,
                source,
                destination,
                metadata,
                exists,
            },
            None => Job::Copy {
                source,
                destination,
                metadata,
                exists,
            },
        };
        self.queue(entry, job, existing.filter(|e| e.kind != Kind::Dir))?;
        Ok(true)
    }

    /// A file with several names, in a copy into an empty place that links
    /// names met near each other ([`Copier::links_nearby`](crate::Copier::links_nearby)): the first name
    /// is queued like any file; the others are linked to it once its batch
    /// is done.
    pub(in crate::sync) fn nearby_linked_file(
        &mut self,
        relative: PathBuf,
        source: PathBuf,
        metadata: Metadata,
    ) -> anyhow::Result<bool> {
        let key = (metadata.dev(), metadata.ino());
        let destination = self.root.join(&relative);
        if let Some((first, sum)) = self.remembered(key) {
            match place_link(&first, &destination, false) {
                Ok(()) => {
                    self.stats.linked_files += 1;
                    self.stats.linked_bytes += metadata.size();
                    self.emit(Item::Entry(entry_of(relative, Kind::File, &metadata, sum)))?;
                    return Ok(true);
                }
                Err(error) if is_too_many_links(&error) || is_not_found(&error) => {}
                Err(error) => return Err(error),
            }
        } else if let Some((job, first)) = self.batch_inodes.get(&key).cloned() {
            let entry = entry_of(relative, Kind::File, &metadata, String::new());
            self.emit(Item::LinkAfter {
                entry,
                job,
                first,
                source,
                metadata: Box::new(metadata),
            })?;
            return Ok(true);
        }
        let entry = entry_of(relative, Kind::File, &metadata, String::new());
        let job = Job::Copy {
            source,
            destination: destination.clone(),
            metadata,
            exists: false,
        };
        // Its index once queued (a queue may flush the batch: then it is
        // remembered among the files done, by the flush).
        let index = self.jobs.len();
        self.pending_bytes += job.bytes_to_copy();
        self.jobs.push(job);
        self.batch_inodes.insert(key, (index, destination));
        self.emit(Item::Pending {
            entry,
            job: index,
            existing: None,
        })?;
        Ok(true)
    }

    /// A file with several names: the first name is synced like any file
    /// (at once, not in a batch, so that the others can link to it), the
    /// others become hard links to it, as in the source.
    pub(in crate::sync) fn linked_file(
        &mut self,
        relative: PathBuf,
        source: PathBuf,
        metadata: Metadata,
        existing: Option<Entry>,
        exists: bool,
    ) -> anyhow::Result<bool> {
        let destination = self.root.join(&relative);
        if self.several_names.is_none() {
            self.several_names = Some(source.clone());
        }
        let key = (metadata.dev(), metadata.ino());
        if let Some((first, sum)) = self.remembered(key) {
            let entry = entry_of(relative, Kind::File, &metadata, sum);
            if exists {
                let here = lstat(&destination)?.map(|m| (m.dev(), m.ino()));
                let there = lstat(&first)?.map(|m| (m.dev(), m.ino()));
                if here.is_some() && here == there {
                    self.stats.unchanged += 1;
                    self.emit(Item::Entry(entry))?;
                    return Ok(false);
                }
            }
            place_link(&first, &destination, exists)?;
            self.emit(Item::Entry(entry))?;
            return Ok(true);
        }
        let mut entry = entry_of(relative.clone(), Kind::File, &metadata, String::new());
        if let Some(found) = &existing
            && entry_matches(found, Kind::File, &metadata)
        {
            self.stats.unchanged += 1;
            entry.checksum = found.checksum.clone();
            self.remember(key, &destination, &found.checksum);
            self.emit(Item::Entry(entry))?;
            return Ok(false);
        }
        let job = match self.previous.twin(&relative, &metadata)? {
            Some((target, checksum)) => Job::Link {
                target,
                checksum,
                source,
                destination: destination.clone(),
                metadata,
                exists,
            },
            None => Job::Copy {
                source,
                destination: destination.clone(),
                metadata,
                exists,
            },
        };
        let sum = match job.run()? {
            Outcome::Copied(bytes, sum) => {
                self.stats.copied_files += 1;
                self.stats.copied_bytes += bytes;
                girofle_base::progress::count(1, bytes);
                entry.size = bytes;
                sum
            }
            Outcome::Linked(sum) => {
                self.stats.linked_files += 1;
                self.stats.linked_bytes += entry.size;
                girofle_base::progress::count(1, entry.size);
                sum
            }
            Outcome::Vanished => {
                if let Some(existing) = existing {
                    self.emit(Item::Entry(existing))?;
                }
                return Ok(false);
            }
        };
        self.remember(key, &destination, &sum);
        entry.checksum = sum;
        self.emit(Item::Entry(entry))?;
        Ok(true)
    }

    pub(in crate::sync) fn symlink(
        &mut self,
        relative: &Path,
        source: &Path,
        metadata: &Metadata,
        existing: Option<Entry>,
    ) -> anyhow::Result<bool> {
        let target = match std::fs::read_link(source) {
            Ok(target) => target,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                if let Some(existing) = existing {
                    self.remove_existing(relative, &existing)?;
                    return Ok(true);
                }
                return Ok(false);
            }
            Err(error) => {
                return Err(
                    anyhow::Error::new(error).context(format!("cannot read {}", source.display()))
                );
            }
        };
        let sum = blake3::hash(target.as_os_str().as_bytes())
            .to_hex()
            .to_string();
        let entry = entry_of(relative.to_path_buf(), Kind::Symlink, metadata, sum);
        if let Some(found) = &existing
            && found.kind == Kind::Symlink
            && (found.uid, found.gid, found.mtime) == (entry.uid, entry.gid, entry.mtime)
            && found.checksum == entry.checksum
        {
            self.stats.unchanged += 1;
            self.emit(Item::Entry(found.clone()))?;
            return Ok(false);
        }
        let destination = self.root.join(relative);
        let temp = temp_beside(&destination);
        let _ = std::fs::remove_file(&temp);
        symlink(&target, &temp)?;
        apply_metadata(&temp, metadata)?;
        replace(&temp, &destination)?;
        if existing.as_ref().is_some_and(|e| e.kind == Kind::Dir) {
            self.skip_under = Some(relative.to_path_buf());
        }
        self.emit(Item::Entry(entry))?;
        Ok(true)
    }

    pub(in crate::sync) fn special(
        &mut self,
        relative: &Path,
        metadata: &Metadata,
        kind: Kind,
        existing: Option<Entry>,
    ) -> anyhow::Result<bool> {
        let destination = self.root.join(relative);
        let entry = entry_of(relative.to_path_buf(), kind, metadata, "-".to_string());
        if let Some(found) = &existing
            && entry_matches(found, kind, metadata)
            && lstat(&destination)?.is_some_and(|m| m.rdev() == metadata.rdev())
        {
            self.stats.unchanged += 1;
            self.emit(Item::Entry(entry))?;
            return Ok(false);
        }
        let temp = temp_beside(&destination);
        let _ = std::fs::remove_file(&temp);
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
        replace(&temp, &destination)?;
        if existing.as_ref().is_some_and(|e| e.kind == Kind::Dir) {
            self.skip_under = Some(relative.to_path_buf());
        }
        self.emit(Item::Entry(entry))?;
        Ok(true)
    }
}
