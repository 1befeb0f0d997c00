//! One pass of the copy: the walk of the sources, merged with what the
//! destination and the previous copy hold, and the batches it runs.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use anyhow::bail;
use fs_err as fs;
use rayon::prelude::*;

use super::batch::{BATCH_BYTES, BATCH_ITEMS, BATCH_JOBS, Item, Job, Space};
use super::files::{Outcome, apply_metadata, copy_file, is_too_many_links, place_link};
use super::previous::{Lookahead, Previous};
use super::{EntryCheck, SyncStats, Visit};
use crate::manifest::{EntryLines, EntryWriter};
use crate::{Entry, Kind};

mod kinds;

pub(super) struct Pass<'c> {
    pub(super) root: PathBuf,
    pub(super) previous: Previous,
    /// What the destination holds (the pass before's entries); None when
    /// the destination was empty.
    pub(super) existing: Option<Lookahead<EntryLines>>,
    /// A directory of the destination just removed: its entries are skipped.
    pub(super) skip_under: Option<PathBuf>,
    pub(super) out: EntryWriter,
    /// Hears each entry written (a checked copy).
    pub(super) check: Option<&'c mut EntryCheck<'c>>,
    pub(super) items: Vec<Item>,
    pub(super) jobs: Vec<Job>,
    pub(super) pending_bytes: u64,
    /// Source (device, inode) of files with several names -> the first
    /// name's copy and checksum. Only such files are remembered; see
    /// [`Pass::remember`] for why so compactly.
    pub(super) inodes: HashMap<(u64, u64), (Box<Path>, blake3::Hash)>,
    /// With `links_nearby`: the generation of `inodes` before the current one.
    pub(super) older_inodes: HashMap<(u64, u64), (Box<Path>, blake3::Hash)>,
    pub(super) stats: SyncStats,
    /// In a selective pass, the paths that changed.
    pub(super) only: Option<BTreeSet<PathBuf>>,
    /// The first file met with several names (source path).
    pub(super) several_names: Option<PathBuf>,
    /// See [`Copier::links_nearby`](crate::Copier::links_nearby).
    pub(super) links_nearby: Option<usize>,
    /// With `links_nearby`: files with several names first met in this
    /// batch -> their job and copy.
    pub(super) batch_inodes: HashMap<(u64, u64), (usize, PathBuf)>,
    /// The first directory met on another file system than its volume's.
    pub(super) mounts_inside: Option<PathBuf>,
    pub(super) space: Option<Space>,
}

impl Pass<'_> {
    pub(super) fn top(&mut self, relative: &Path, source: &Path) -> anyhow::Result<()> {
        let metadata = fs::symlink_metadata(source)?;
        if !metadata.is_dir() {
            bail!("{} is not a directory", source.display());
        }
        self.drop_existing_until(Some(relative))?;
        let visit = self.visit(relative);
        if visit == Visit::Skip && self.pass_through(relative)? {
            return Ok(());
        }
        let existing = self.take_existing(relative)?;
        self.directory(
            relative,
            source,
            &metadata,
            existing,
            visit != Visit::Descend,
        )?;
        Ok(())
    }

    pub(super) fn visit(&self, relative: &Path) -> Visit {
        let Some(only) = &self.only else {
            return Visit::Whole;
        };
        match only
            .range::<Path, _>((Bound::Included(relative), Bound::Unbounded))
            .next()
        {
            Some(first) if first == relative => Visit::Whole,
            Some(first) if first.starts_with(relative) => Visit::Descend,
            _ => Visit::Skip,
        }
    }

    /// Writes again what the pass before wrote at `relative` and under it;
    /// false when it wrote nothing there.
    pub(super) fn pass_through(&mut self, relative: &Path) -> anyhow::Result<bool> {
        let Some(entry) = self.take_existing(relative)? else {
            return Ok(false);
        };
        let is_dir = entry.kind == Kind::Dir;
        self.emit(Item::Entry(entry))?;
        if !is_dir {
            return Ok(true);
        }
        while let Some(existing) = &mut self.existing
            && existing
                .next
                .as_ref()
                .is_some_and(|next| next.path.starts_with(relative))
        {
            let inside = existing.advance()?.expect("a next entry");
            self.emit(Item::Entry(inside))?;
        }
        Ok(true)
    }

    /// Removes from the destination what the pass before wrote before
    /// `until` (or all that is left) and the source no longer has; true
    /// when something was removed.
    pub(super) fn drop_existing_until(&mut self, until: Option<&Path>) -> anyhow::Result<bool> {
        self.drop_existing_while(|path| until.is_none_or(|until| path < until))
    }

    /// Removes the pass before's next entries while `gone` says so.
    pub(super) fn drop_existing_while(
        &mut self,
        gone: impl Fn(&Path) -> bool,
    ) -> anyhow::Result<bool> {
        let mut removed = false;
        loop {
            let Some(existing) = &mut self.existing else {
                return Ok(removed);
            };
            if !existing.next.as_ref().is_some_and(|next| gone(&next.path)) {
                return Ok(removed);
            }
            let gone = existing.advance()?.expect("a next entry");
            if self
                .skip_under
                .as_ref()
                .is_some_and(|d| gone.path.starts_with(d))
            {
                continue;
            }
            let path = self.root.join(&gone.path);
            let result = if gone.kind == Kind::Dir {
                self.skip_under = Some(gone.path.clone());
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match result {
                Ok(()) => {
                    self.stats.removed += 1;
                    removed = true;
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(anyhow::Error::new(error)
                        .context(format!("cannot remove {}", path.display())));
                }
            }
        }
    }

    /// What the pass before wrote at `relative` (everything before it gone).
    pub(super) fn take_existing(&mut self, relative: &Path) -> anyhow::Result<Option<Entry>> {
        match &mut self.existing {
            Some(existing) => {
                let found = existing.find(relative)?;
                Ok(found.filter(|e| {
                    !self
                        .skip_under
                        .as_ref()
                        .is_some_and(|d| e.path.starts_with(d))
                }))
            }
            None => Ok(None),
        }
    }

    /// Removes the destination's entry at `relative` that `existing` says
    /// is there.
    pub(super) fn remove_existing(
        &mut self,
        relative: &Path,
        existing: &Entry,
    ) -> anyhow::Result<()> {
        let path = self.root.join(relative);
        if existing.kind == Kind::Dir {
            self.skip_under = Some(relative.to_path_buf());
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
        Ok(())
    }

    pub(super) fn emit(&mut self, item: Item) -> anyhow::Result<()> {
        self.items.push(item);
        if self.jobs.len() >= BATCH_JOBS
            || self.items.len() >= BATCH_ITEMS
            || self.pending_bytes >= BATCH_BYTES
        {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn queue(
        &mut self,
        entry: Entry,
        job: Job,
        existing: Option<Entry>,
    ) -> anyhow::Result<()> {
        self.pending_bytes += job.bytes_to_copy();
        self.jobs.push(job);
        let job = self.jobs.len() - 1;
        self.emit(Item::Pending {
            entry,
            job,
            existing,
        })
    }

    /// Writes an entry of the copy, and tells the check.
    pub(super) fn record(&mut self, entry: &Entry) -> anyhow::Result<()> {
        if let Some(check) = &mut self.check {
            check(entry)?;
        }
        Ok(self.out.push(entry)?)
    }

    /// Runs the batch's jobs on every core (the first error stops them),
    /// then writes its entries in order and finishes its directories.
    pub(super) fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(space) = &self.space {
            space.check(self.pending_bytes)?;
        }
        let jobs = &self.jobs;
        let outcomes: Vec<Outcome> = crate::io_pool().install(|| {
            jobs.par_iter()
                .with_min_len(16)
                .map(Job::run)
                .collect::<anyhow::Result<_>>()
        })?;
        self.jobs.clear();
        self.pending_bytes = 0;
        for item in std::mem::take(&mut self.items) {
            match item {
                Item::Entry(entry) => self.record(&entry)?,
                Item::Pending {
                    mut entry,
                    job,
                    existing,
                } => match &outcomes[job] {
                    Outcome::Copied(bytes, sum) => {
                        self.stats.copied_files += 1;
                        self.stats.copied_bytes += bytes;
                        girofle_base::progress::count(1, *bytes);
                        // What was copied, should the file have grown or
                        // shrunk since it was `stat`ed.
                        entry.size = *bytes;
                        entry.checksum = sum.clone();
                        self.record(&entry)?;
                    }
                    Outcome::Linked(sum) => {
                        self.stats.linked_files += 1;
                        self.stats.linked_bytes += entry.size;
                        girofle_base::progress::count(1, entry.size);
                        entry.checksum = sum.clone();
                        self.record(&entry)?;
                    }
                    Outcome::Vanished => {
                        if let Some(existing) = existing {
                            self.record(&existing)?;
                        }
                    }
                },
                Item::DirectoryDone(path, metadata) => apply_metadata(&path, &metadata)?,
                Item::LinkAfter {
                    mut entry,
                    job,
                    first,
                    source,
                    metadata,
                } => {
                    let sum = match &outcomes[job] {
                        Outcome::Copied(_, sum) | Outcome::Linked(sum) => sum.clone(),
                        Outcome::Vanished => continue,
                    };
                    let destination = self.root.join(&entry.path);
                    match place_link(&first, &destination, false) {
                        Ok(()) => {
                            self.stats.linked_files += 1;
                            self.stats.linked_bytes += entry.size;
                            girofle_base::progress::count(1, entry.size);
                            entry.checksum = sum;
                        }
                        Err(error) if is_too_many_links(&error) => {
                            match copy_file(&source, &destination, &metadata, false)? {
                                Outcome::Copied(bytes, sum) => {
                                    self.stats.copied_files += 1;
                                    self.stats.copied_bytes += bytes;
                                    girofle_base::progress::count(1, bytes);
                                    entry.size = bytes;
                                    entry.checksum = sum;
                                }
                                _ => continue,
                            }
                        }
                        Err(error) => return Err(error),
                    }
                    self.record(&entry)?;
                }
            }
        }
        if let Some(limit) = self.links_nearby {
            // Two generations of half the limit each: a file met again
            // within `limit / 2` such files is always still remembered,
            // whichever instant the older half is let go.
            if self.inodes.len() + self.batch_inodes.len() > limit / 2 {
                self.older_inodes = std::mem::take(&mut self.inodes);
            }
            for (key, (job, first)) in std::mem::take(&mut self.batch_inodes) {
                if let Outcome::Copied(_, sum) | Outcome::Linked(sum) = &outcomes[job] {
                    self.remember(key, &first, sum);
                }
            }
        }
        Ok(())
    }

    /// Remembers the copy `destination` of the source file `key` and its
    /// checksum, for its other names. Nearly every file of a backup has
    /// several names, so tens of thousands are remembered at once (see
    /// [`Copier::links_nearby`](crate::Copier::links_nearby)): the path is kept relative to the root and
    /// without spare capacity, the checksum as its 32 bytes, not as text.
    /// A checksum that is not one (never, for a file) is not remembered:
    /// the other names are then copied, not linked.
    pub(super) fn remember(&mut self, key: (u64, u64), destination: &Path, sum: &str) {
        let Ok(hash) = blake3::Hash::from_hex(sum) else {
            return;
        };
        let relative = destination.strip_prefix(&self.root).unwrap_or(destination);
        self.inodes
            .insert(key, (relative.to_path_buf().into_boxed_path(), hash));
    }

    /// The copy of the source file `key` and its checksum, if remembered.
    pub(super) fn remembered(&self, key: (u64, u64)) -> Option<(PathBuf, String)> {
        self.inodes
            .get(&key)
            .or_else(|| self.older_inodes.get(&key))
            .map(|(relative, hash)| (self.root.join(relative), hash.to_hex().to_string()))
    }
}
