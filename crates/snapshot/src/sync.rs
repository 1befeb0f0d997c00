//! The tree copy: owners, modes, times, links and special files kept,
//! hard-linking what a previous copy already holds (as `rsync --link-dest`),
//! and the MANIFEST entries written as the copy goes.
//!
//! One walk of the source per pass, in path order, that streams: each file
//! is `stat`ed once; what the previous backup holds is read from its MANIFEST
//! (merged against the walk, both in path order) instead of being `stat`ed;
//! what the destination holds is known from the pass before (the first pass
//! writes into an empty place); a file's checksum is computed from the bytes
//! as they are copied. Memory holds one directory listing per level of the
//! walk and a bounded batch of pending work, whatever the size of the tree.

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fs_err as fs;

use crate::manifest::{EntryLines, EntryWriter, write_manifest_streamed};
use crate::watch::Changes;
use crate::{Entry, lstat};
use batch::Space;
use pass::Pass;
pub(crate) use previous::Lookahead;
use previous::Previous;

/// What hears each entry a checked pass writes ([`Copier::pass_checked`]).
type EntryCheck<'a> = dyn FnMut(&Entry) -> anyhow::Result<()> + 'a;

/// What a sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncStats {
    /// Regular files whose content was copied.
    pub copied_files: u64,
    /// Bytes of content copied.
    pub copied_bytes: u64,
    /// Files hard-linked into the previous copy instead of copied.
    pub linked_files: u64,
    /// Bytes of the files hard-linked (not copied).
    pub linked_bytes: u64,
    /// Entries already identical in the destination, left alone.
    pub unchanged: u64,
    /// Entries of the destination that the source no longer has.
    pub removed: u64,
    /// Sockets, which cannot be copied (paths relative to the destination).
    pub skipped_sockets: Vec<PathBuf>,
}

/// A pass stopped because the file system holding the copy would have kept
/// less free space than asked: nothing more was written.
#[derive(Debug, Clone)]
pub struct NotEnoughSpace {
    /// Bytes the next batch of copies needs, the kept margin included.
    pub needed: u64,
    /// Bytes free.
    pub free: u64,
    /// The directory whose file system is short.
    pub directory: PathBuf,
}

impl std::fmt::Display for NotEnoughSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not enough space in {}: {} MiB needed, {} MiB free",
            self.directory.display(),
            self.needed >> 20,
            self.free >> 20
        )
    }
}

impl std::error::Error for NotEnoughSpace {}

/// Copies trees into one destination root, pass after pass: the first pass
/// writes into an empty place, each later one (GitLab stopped, say) fixes
/// only what differs from what the pass before wrote, and the last pass's
/// entries become the MANIFEST.
pub struct Copier {
    root: PathBuf,
    tops: Vec<(PathBuf, PathBuf)>,
    previous: Option<PathBuf>,
    keep_free: Option<u64>,
    /// The entries the last pass wrote, and how many.
    last: Option<(std::fs::File, u64)>,
    /// What the last pass met that a record of changes cannot follow.
    unfollowable: Option<String>,
    /// Files with several names are linked together only when their names
    /// are met within this many such files (see [`Copier::links_nearby`]).
    links_nearby: Option<usize>,
}

impl Copier {
    /// Copies each `(relative, source)` of `tops` (sorted by `relative`) to
    /// `root/relative`; `previous` is an earlier copy of the same root, with
    /// a MANIFEST (read as a stream) or, for backups made before MANIFESTs,
    /// without (then its files are `stat`ed).
    pub fn new(root: &Path, mut tops: Vec<(PathBuf, PathBuf)>, previous: Option<&Path>) -> Copier {
        tops.sort();
        Copier {
            root: root.to_path_buf(),
            tops,
            previous: previous.map(Path::to_path_buf),
            keep_free: None,
            last: None,
            unfollowable: None,
            links_nearby: None,
        }
    }

    /// Where the copy is made.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The trees copied: `(relative, source)`, sorted.
    pub fn sources(&self) -> &[(PathBuf, PathBuf)] {
        &self.tops
    }

    /// The first pass stops with [`NotEnoughSpace`] before a batch of copies
    /// that would leave less than `bytes` free where the copy goes.
    pub fn keep_free(mut self, bytes: u64) -> Copier {
        self.keep_free = Some(bytes);
        self
    }

    /// For a copy of a backup, whose files nearly all have several names
    /// (hard links into the backups before and after it), most of them
    /// outside the tree copied: such files are copied in parallel batches
    /// like any other, and two names of one file are linked together in the
    /// copy when they are met within `files / 2` such files of each other
    /// (always; up to `files` often: a bounded memory of them, in two
    /// generations), else each gets a copy of the same content and
    /// metadata. Memory then stays flat, whatever the size of the tree.
    pub fn links_nearby(mut self, files: usize) -> Copier {
        self.links_nearby = Some(files);
        self
    }

    /// One pass over the sources.
    pub fn pass(&mut self) -> anyhow::Result<SyncStats> {
        self.run_pass(None, None)
    }

    /// One pass over the sources (into an empty place) that hands `check`
    /// each entry it writes, in path order, as the MANIFEST would list it:
    /// the checksum of a file is that of the bytes written, so the sources
    /// are read once to be both copied and checked. An error from `check`
    /// stops the pass.
    pub fn pass_checked(
        &mut self,
        check: &mut dyn FnMut(&Entry) -> anyhow::Result<()>,
    ) -> anyhow::Result<SyncStats> {
        self.run_pass(None, Some(check))
    }

    /// A later pass that visits only the paths `changes` names (relative
    /// to the root, as [`super::ChangeWatch`] tells them) and the directories that
    /// lead to them; the rest of what the pass before wrote stands as it is.
    /// When the changes are not known, or a changed file has several names
    /// (its other names in the copy would keep the old content), every
    /// entry is walked, as [`Copier::pass`] does; the answer says which.
    pub fn pass_after(&mut self, changes: Changes) -> anyhow::Result<(SyncStats, Walked)> {
        let paths = match changes {
            Changes::Paths(paths) if self.last.is_some() => paths,
            Changes::Paths(_) => {
                return Ok((self.pass()?, Walked::Everything("no pass before".into())));
            }
            Changes::Unknown(why) => return Ok((self.pass()?, Walked::Everything(why))),
        };
        // A change made through a name the record does not give (another
        // name of the file, or under a file system mounted inside a volume,
        // which is not marked) would be missed.
        if let Some(why) = self.unfollowable.clone().or_else(|| self.obstacle(&paths)) {
            return Ok((self.pass()?, Walked::Everything(why)));
        }
        let count = paths.len();
        Ok((self.run_pass(Some(paths), None)?, Walked::Changes(count)))
    }

    /// What forbids visiting `paths` alone: a file with several names
    /// among them or under a directory among them (which is walked whole),
    /// or a path that cannot be looked at.
    fn obstacle(&self, paths: &BTreeSet<PathBuf>) -> Option<String> {
        let mut checked: Option<&Path> = None;
        for path in paths {
            // In path order: what lies under a directory checked whole
            // comes right after it.
            if checked.is_some_and(|directory| path.starts_with(directory)) {
                continue;
            }
            let Some(source) = self.tops.iter().find_map(|(relative, source)| {
                path.strip_prefix(relative)
                    .ok()
                    .map(|inside| source.join(inside))
            }) else {
                continue;
            };
            match several_names_under(&source) {
                Ok(Some(found)) => {
                    return Some(format!("{} changed and has several names", found.display()));
                }
                Ok(None) => checked = Some(path),
                Err(error) => return Some(format!("{}: {error:#}", source.display())),
            }
        }
        None
    }

    fn run_pass<'c>(
        &mut self,
        only: Option<BTreeSet<PathBuf>>,
        check: Option<&'c mut EntryCheck<'c>>,
    ) -> anyhow::Result<SyncStats> {
        let output = tempfile::tempfile_in(&self.root).with_context(|| {
            format!("cannot create a temporary file in {}", self.root.display())
        })?;
        let existing_is_none = self.last.is_none();
        let existing = match self.last.take() {
            Some((file, _)) => Some(Lookahead::new(EntryLines::new(file)?)?),
            None => None,
        };
        let mut pass = Pass {
            root: self.root.clone(),
            previous: Previous::open(self.previous.as_deref()),
            existing,
            skip_under: None,
            out: EntryWriter::new(Box::new(output.try_clone()?)),
            check,
            items: Vec::new(),
            jobs: Vec::new(),
            pending_bytes: 0,
            inodes: HashMap::new(),
            older_inodes: HashMap::new(),
            stats: SyncStats::default(),
            only,
            several_names: None,
            links_nearby: self.links_nearby,
            batch_inodes: HashMap::new(),
            mounts_inside: None,
            space: if existing_is_none {
                self.keep_free.map(|margin| Space {
                    directory: self.root.clone(),
                    margin,
                })
            } else {
                None
            },
        };
        if let Some(space) = &pass.space {
            space.check(0)?;
        }
        for (relative, source) in &self.tops {
            pass.top(relative, source)?;
        }
        pass.drop_existing_until(None)?;
        pass.flush()?;
        let count = pass.out.finish()?;
        self.last = Some((output, count));
        self.unfollowable = match (&pass.several_names, &pass.mounts_inside) {
            (Some(file), _) => Some(format!("{} has several names", file.display())),
            (_, Some(mount)) => Some(format!("a file system is mounted at {}", mount.display())),
            _ => None,
        };
        Ok(pass.stats)
    }

    /// Writes the MANIFEST from the last pass's entries, under `header`.
    pub fn write_manifest(self, header: &[(String, String)]) -> anyhow::Result<()> {
        let Some((entries, count)) = self.last else {
            bail!("no pass was made: nothing to describe");
        };
        write_manifest_streamed(&self.root, header, entries, count)
    }
}

/// What a [`Copier::pass_after`] walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walked {
    /// The paths changed (this many) and the directories leading to them.
    Changes(usize),
    /// Every entry, and why.
    Everything(String),
}

impl std::fmt::Display for Walked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Walked::Changes(count) => write!(f, "changes only ({count} paths)"),
            Walked::Everything(why) => write!(f, "every entry ({why})"),
        }
    }
}

/// The first regular file with several names at `path` or under it.
fn several_names_under(path: &Path) -> anyhow::Result<Option<PathBuf>> {
    let metadata = match lstat(path)? {
        Some(metadata) => metadata,
        None => return Ok(None),
    };
    if metadata.is_file() && metadata.nlink() > 1 {
        return Ok(Some(path.to_path_buf()));
    }
    if metadata.is_dir() {
        let children = match std::fs::read_dir(path) {
            Ok(children) => children,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        for child in children {
            if let Some(found) = several_names_under(&child?.path())? {
                return Ok(Some(found));
            }
        }
    }
    Ok(None)
}

/// How far a selective pass looks at an entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    /// Nothing at it or under it changed: what the pass before wrote stands.
    Skip,
    /// Something under it changed: it is looked at, and its entries chosen.
    Descend,
    /// It changed: it and everything under it are looked at.
    Whole,
}

/// Makes `destination`, which must not exist or be empty, a copy of
/// `source`, like `cp -a` (or `rsync -aH --numeric-ids --link-dest=<previous>`
/// when `previous` is given: files unchanged since are hard links into it).
pub fn sync_tree(
    source: &Path,
    destination: &Path,
    previous: Option<&Path>,
) -> anyhow::Result<SyncStats> {
    if let Ok(mut entries) = std::fs::read_dir(destination)
        && entries.next().is_some()
    {
        bail!("{} is not empty", destination.display());
    }
    fs::create_dir_all(destination)?;
    let mut copier = Copier::new(
        destination,
        vec![(PathBuf::new(), source.to_path_buf())],
        previous,
    );
    copier.pass()
}

mod batch;
mod files;
mod pass;
mod previous;
#[cfg(test)]
mod tests;

pub use files::is_out_of_space;
