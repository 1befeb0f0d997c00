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
use std::ffi::OsString;
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::ops::Bound;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fs_err as fs;
use fs_err::OpenOptions;
use fs_err::os::unix::fs::{OpenOptionsExt, symlink};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;
use rayon::prelude::*;

use super::manifest::{EntryLines, EntryWriter, ManifestReader, write_manifest_streamed};
use super::watch::Changes;
use super::{Entry, Kind, MANIFEST, entry_matches, entry_of, lstat, sorted_entries};

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

/// What the previous copy can tell about a file.
enum Previous {
    None,
    /// Its MANIFEST, read as the walk goes.
    Manifest {
        root: PathBuf,
        entries: Option<Box<Lookahead<ManifestReader>>>,
    },
    /// No MANIFEST: its files are `stat`ed.
    Tree(PathBuf),
}

impl Previous {
    fn open(root: Option<&Path>) -> Previous {
        let Some(root) = root else {
            return Previous::None;
        };
        // A MANIFEST that cannot be read leaves the tree to answer.
        match ManifestReader::open(&root.join(MANIFEST)).and_then(Lookahead::new) {
            Ok(entries) => Previous::Manifest {
                root: root.to_path_buf(),
                entries: Some(Box::new(entries)),
            },
            Err(_) => Previous::Tree(root.to_path_buf()),
        }
    }

    /// The previous copy's file at `relative` when it has this metadata,
    /// with its checksum when known.
    fn twin(
        &mut self,
        relative: &Path,
        metadata: &Metadata,
    ) -> anyhow::Result<Option<(PathBuf, Option<String>)>> {
        match self {
            Previous::None => Ok(None),
            Previous::Manifest { root, entries } => {
                let Some(reader) = entries else {
                    return Ok(None);
                };
                match reader.find(relative) {
                    Ok(Some(entry)) if entry_matches(&entry, Kind::File, metadata) => {
                        Ok(Some((root.join(relative), Some(entry.checksum))))
                    }
                    Ok(_) => Ok(None),
                    // A damaged MANIFEST: what follows is copied, not linked.
                    Err(_) => {
                        *entries = None;
                        Ok(None)
                    }
                }
            }
            Previous::Tree(root) => {
                let candidate = root.join(relative);
                Ok(match lstat(&candidate)? {
                    Some(found) if found.is_file() && super::same_metadata(&found, metadata) => {
                        Some((candidate, None))
                    }
                    _ => None,
                })
            }
        }
    }
}

/// Something that yields entries in path order.
trait EntrySource {
    fn next_entry(&mut self) -> anyhow::Result<Option<Entry>>;
}

impl EntrySource for ManifestReader {
    fn next_entry(&mut self) -> anyhow::Result<Option<Entry>> {
        ManifestReader::next_entry(self)
    }
}

impl EntrySource for EntryLines {
    fn next_entry(&mut self) -> anyhow::Result<Option<Entry>> {
        EntryLines::next_entry(self)
    }
}

/// An entry stream with one entry of look-ahead, to merge against a walk.
struct Lookahead<S> {
    source: S,
    next: Option<Entry>,
}

impl<S: EntrySource> Lookahead<S> {
    fn new(mut source: S) -> anyhow::Result<Lookahead<S>> {
        let next = source.next_entry()?;
        Ok(Lookahead { source, next })
    }

    fn advance(&mut self) -> anyhow::Result<Option<Entry>> {
        let next = self.source.next_entry()?;
        Ok(std::mem::replace(&mut self.next, next))
    }

    /// The entry at `path`, skipping those before it.
    fn find(&mut self, path: &Path) -> anyhow::Result<Option<Entry>> {
        while self.next.as_ref().is_some_and(|e| e.path.as_path() < path) {
            self.advance()?;
        }
        if self.next.as_ref().is_some_and(|e| e.path == path) {
            return self.advance();
        }
        Ok(None)
    }
}

/// Work for the pool: what touches a file's content.
enum Job {
    /// Copy the content (and hash it on the way) and the metadata.
    Copy {
        source: PathBuf,
        destination: PathBuf,
        metadata: Metadata,
        exists: bool,
    },
    /// Hard-link to the previous copy's file (whose checksum is known, or
    /// read from it when not); a copy when the link cannot be made.
    Link {
        target: PathBuf,
        checksum: Option<String>,
        source: PathBuf,
        destination: PathBuf,
        metadata: Metadata,
        exists: bool,
    },
}

/// What happened to one regular file.
enum Outcome {
    Copied(u64, String),
    Linked(String),
    Vanished,
}

impl Job {
    fn run(&self) -> anyhow::Result<Outcome> {
        match self {
            Job::Copy {
                source,
                destination,
                metadata,
                exists,
            } => copy_file(source, destination, metadata, *exists),
            Job::Link {
                target,
                checksum,
                source,
                destination,
                metadata,
                exists,
            } => match place_link(target, destination, *exists) {
                Ok(()) => Ok(Outcome::Linked(match checksum {
                    Some(sum) => sum.clone(),
                    None => super::hash_file(destination)?,
                })),
                // Too many links to that inode, or the previous copy lacks
                // the file after all: a copy does as well.
                Err(error) if is_too_many_links(&error) || is_not_found(&error) => {
                    copy_file(source, destination, metadata, *exists)
                }
                Err(error) => Err(error),
            },
        }
    }

    fn bytes_to_copy(&self) -> u64 {
        match self {
            Job::Copy { metadata, .. } => metadata.size(),
            Job::Link { .. } => 0,
        }
    }
}

/// One step of the walk, kept in order until its batch's jobs are done.
enum Item {
    /// An entry to write as it is.
    Entry(Entry),
    /// An entry whose checksum job `job` gives; `existing` is what stays
    /// when the source vanished before it was read.
    Pending {
        entry: Entry,
        job: usize,
        existing: Option<Entry>,
    },
    /// A directory whose entries are all written: its owner, mode and times.
    DirectoryDone(PathBuf, Metadata),
    /// Another name of the file job `job` copies to `first`: linked to it
    /// once the job is done (or copied from `source` if it cannot be).
    LinkAfter {
        entry: Entry,
        job: usize,
        first: PathBuf,
        source: PathBuf,
        metadata: Box<Metadata>,
    },
}

/// Jobs per batch, and bytes: a batch runs on every core, then its entries
/// are written and its directories finished.
const BATCH_JOBS: usize = 2048;
const BATCH_ITEMS: usize = 16384;
const BATCH_BYTES: u64 = 256 << 20;

struct Space {
    directory: PathBuf,
    margin: u64,
}

impl Space {
    fn check(&self, bytes: u64) -> anyhow::Result<()> {
        let stat = nix::sys::statvfs::statvfs(&self.directory)
            .with_context(|| format!("cannot statvfs {}", self.directory.display()))?;
        let free = stat.blocks_available() as u64 * stat.fragment_size() as u64;
        if bytes + self.margin > free {
            return Err(NotEnoughSpace {
                needed: bytes + self.margin,
                free,
                directory: self.directory.clone(),
            }
            .into());
        }
        Ok(())
    }
}

struct Pass<'c> {
    root: PathBuf,
    previous: Previous,
    /// What the destination holds (the pass before's entries); None when
    /// the destination was empty.
    existing: Option<Lookahead<EntryLines>>,
    /// A directory of the destination just removed: its entries are skipped.
    skip_under: Option<PathBuf>,
    out: EntryWriter,
    /// Hears each entry written (a checked copy).
    check: Option<&'c mut EntryCheck<'c>>,
    items: Vec<Item>,
    jobs: Vec<Job>,
    pending_bytes: u64,
    /// Source (device, inode) of files with several names -> the first
    /// name's copy and checksum. Only such files are remembered; see
    /// [`Pass::remember`] for why so compactly.
    inodes: HashMap<(u64, u64), (Box<Path>, blake3::Hash)>,
    /// With `links_nearby`: the generation of `inodes` before the current one.
    older_inodes: HashMap<(u64, u64), (Box<Path>, blake3::Hash)>,
    stats: SyncStats,
    /// In a selective pass, the paths that changed.
    only: Option<BTreeSet<PathBuf>>,
    /// The first file met with several names (source path).
    several_names: Option<PathBuf>,
    /// See [`Copier::links_nearby`].
    links_nearby: Option<usize>,
    /// With `links_nearby`: files with several names first met in this
    /// batch -> their job and copy.
    batch_inodes: HashMap<(u64, u64), (usize, PathBuf)>,
    /// The first directory met on another file system than its volume's.
    mounts_inside: Option<PathBuf>,
    space: Option<Space>,
}

impl Pass<'_> {
    fn top(&mut self, relative: &Path, source: &Path) -> anyhow::Result<()> {
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

    fn visit(&self, relative: &Path) -> Visit {
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
    fn pass_through(&mut self, relative: &Path) -> anyhow::Result<bool> {
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
    fn drop_existing_until(&mut self, until: Option<&Path>) -> anyhow::Result<bool> {
        self.drop_existing_while(|path| until.is_none_or(|until| path < until))
    }

    /// Removes the pass before's next entries while `gone` says so.
    fn drop_existing_while(&mut self, gone: impl Fn(&Path) -> bool) -> anyhow::Result<bool> {
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
    fn take_existing(&mut self, relative: &Path) -> anyhow::Result<Option<Entry>> {
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
    fn remove_existing(&mut self, relative: &Path, existing: &Entry) -> anyhow::Result<()> {
        let path = self.root.join(relative);
        if existing.kind == Kind::Dir {
            self.skip_under = Some(relative.to_path_buf());
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
        Ok(())
    }

    fn emit(&mut self, item: Item) -> anyhow::Result<()> {
        self.items.push(item);
        if self.jobs.len() >= BATCH_JOBS
            || self.items.len() >= BATCH_ITEMS
            || self.pending_bytes >= BATCH_BYTES
        {
            self.flush()?;
        }
        Ok(())
    }

    fn queue(&mut self, entry: Entry, job: Job, existing: Option<Entry>) -> anyhow::Result<()> {
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
    fn record(&mut self, entry: &Entry) -> anyhow::Result<()> {
        if let Some(check) = &mut self.check {
            check(entry)?;
        }
        Ok(self.out.push(entry)?)
    }

    /// Runs the batch's jobs on every core (the first error stops them),
    /// then writes its entries in order and finishes its directories.
    fn flush(&mut self) -> anyhow::Result<()> {
        if let Some(space) = &self.space {
            space.check(self.pending_bytes)?;
        }
        let outcomes: Vec<Outcome> = self
            .jobs
            .par_iter()
            .with_min_len(16)
            .map(Job::run)
            .collect::<anyhow::Result<_>>()?;
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
    /// [`Copier::links_nearby`]): the path is kept relative to the root and
    /// without spare capacity, the checksum as its 32 bytes, not as text.
    /// A checksum that is not one (never, for a file) is not remembered:
    /// the other names are then copied, not linked.
    fn remember(&mut self, key: (u64, u64), destination: &Path, sum: &str) {
        let Ok(hash) = blake3::Hash::from_hex(sum) else {
            return;
        };
        let relative = destination.strip_prefix(&self.root).unwrap_or(destination);
        self.inodes
            .insert(key, (relative.to_path_buf().into_boxed_path(), hash));
    }

    /// The copy of the source file `key` and its checksum, if remembered.
    fn remembered(&self, key: (u64, u64)) -> Option<(PathBuf, String)> {
        self.inodes
            .get(&key)
            .or_else(|| self.older_inodes.get(&key))
            .map(|(relative, hash)| (self.root.join(relative), hash.to_hex().to_string()))
    }

    /// Syncs a directory and what it holds (all of it when `whole`, else
    /// what [`Pass::visit`] picks); true when the parent directory changed
    /// (an entry made or replaced in it).
    fn directory(
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
        let children = match sorted_entries(source) {
            Ok(children) => children,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        let mut changed = false;
        for child in children {
            let name: OsString = child.file_name();
            let child_relative = relative.join(&name);
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
            let child_metadata = match child.metadata() {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            };
            let child_existing = self.take_existing(&child_relative)?;
            let child_source = child.path();
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

    fn file(
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
    /// names met near each other ([`Copier::links_nearby`]): the first name
    /// is queued like any file; the others are linked to it once its batch
    /// is done.
    fn nearby_linked_file(
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
    fn linked_file(
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

    fn symlink(
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

    fn special(
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

/// Applies owner, mode and times of `source` to `path` (never following a link).
/// Owner first: chown clears setuid/setgid bits, so the mode comes after.
fn apply_metadata(path: &Path, source: &Metadata) -> anyhow::Result<()> {
    std::os::unix::fs::lchown(path, Some(source.uid()), Some(source.gid()))
        .with_context(|| format!("cannot chown {}", path.display()))?;
    if !source.file_type().is_symlink() {
        fs::set_permissions(
            path,
            std::fs::Permissions::from_mode(source.mode() & 0o7777),
        )?;
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

thread_local! {
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 1 << 20]);
}

/// Copies the content, hashing it on the way, and the metadata (through the
/// open file: no second path lookup). Over an existing entry the copy is
/// written beside it and renamed, never written into it (it may be a hard
/// link shared with an earlier backup); into an empty place, directly.
fn copy_file(
    source: &Path,
    destination: &Path,
    metadata: &Metadata,
    exists: bool,
) -> anyhow::Result<Outcome> {
    let target = if exists {
        temp_beside(destination)
    } else {
        destination.to_path_buf()
    };
    if exists {
        let _ = std::fs::remove_file(&target);
    }
    let mut input = match OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(source)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Outcome::Vanished),
        Err(error) => return Err(error.into()),
    };
    let mut output = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&target)?;
    let mut hasher = blake3::Hasher::new();
    let mut bytes = 0u64;
    BUFFER.with_borrow_mut(|buffer| -> anyhow::Result<()> {
        loop {
            let read = input.read(buffer)?;
            if read == 0 {
                return Ok(());
            }
            hasher.update(&buffer[..read]);
            output.write_all(&buffer[..read])?;
            bytes += read as u64;
        }
    })?;
    // The metadata is the one read BEFORE the content: if the file changed
    // while it was read, its mtime now differs, and the next pass copies it
    // again. Owner first: chown clears setuid/setgid bits.
    let fd = std::os::fd::AsRawFd::as_raw_fd(output.file());
    nix::unistd::fchown(fd, Some(metadata.uid().into()), Some(metadata.gid().into()))
        .with_context(|| format!("cannot chown {}", target.display()))?;
    nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(metadata.mode() & 0o7777))
        .with_context(|| format!("cannot chmod {}", target.display()))?;
    nix::sys::stat::futimens(
        fd,
        &TimeSpec::new(metadata.atime(), metadata.atime_nsec()),
        &TimeSpec::new(metadata.mtime(), metadata.mtime_nsec()),
    )
    .with_context(|| format!("cannot set the times of {}", target.display()))?;
    drop(output);
    if exists {
        replace(&target, destination)?;
    }
    Ok(Outcome::Copied(
        bytes,
        hasher.finalize().to_hex().to_string(),
    ))
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
        let _ = std::fs::remove_file(&link);
    }
    fs::hard_link(target, &link)?;
    if exists {
        replace(&link, destination)?;
    }
    Ok(())
}

fn replace(temp: &Path, destination: &Path) -> anyhow::Result<()> {
    if let Some(existing) = lstat(destination)?
        && existing.is_dir()
    {
        fs::remove_dir_all(destination)?;
    }
    fs::rename(temp, destination)?;
    Ok(())
}

fn has_kind(error: &anyhow::Error, kind: io::ErrorKind, errno: i32) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_error| io_error.raw_os_error() == Some(errno) || io_error.kind() == kind)
}

/// Whether an error chain holds "too many links" (by kind too: fs-err keeps
/// the kind of the error it wraps, not its OS number).
fn is_too_many_links(error: &anyhow::Error) -> bool {
    has_kind(error, io::ErrorKind::TooManyLinks, nix::libc::EMLINK)
}

fn is_not_found(error: &anyhow::Error) -> bool {
    has_kind(error, io::ErrorKind::NotFound, nix::libc::ENOENT)
}

/// Whether an error chain holds "no space left on device".
pub fn is_out_of_space(error: &anyhow::Error) -> bool {
    has_kind(error, io::ErrorKind::StorageFull, nix::libc::ENOSPC)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of a backup (nearly every file linked from outside the tree)
    /// keeps two names of one file together when fewer than half the
    /// remembered files lie between them, whenever the memory turns over.
    #[test]
    fn links_nearby_keeps_a_pair_within_half_its_memory_whatever_the_turnover() {
        use std::os::unix::fs::MetadataExt;
        let work = tempfile::tempdir().unwrap();
        let data = work.path().join("backup/data");
        let outside = work.path().join("earlier");
        fs::create_dir_all(&data).unwrap();
        fs::create_dir_all(&outside).unwrap();
        for n in 0..12000 {
            let name = format!("f{n:05}");
            if n == 10500 {
                fs::hard_link(data.join("f07000"), data.join(&name)).unwrap();
                continue;
            }
            fs::write(data.join(&name), n.to_string()).unwrap();
            fs::hard_link(data.join(&name), outside.join(&name)).unwrap();
        }
        let copy = work.path().join("copy");
        fs::create_dir(&copy).unwrap();
        Copier::new(&copy, vec![(PathBuf::from("data"), data.clone())], None)
            .links_nearby(10000)
            .pass()
            .unwrap();
        let inode = |name: &str| fs::metadata(copy.join("data").join(name)).unwrap().ino();
        assert_eq!(inode("f07000"), inode("f10500"));
        assert_eq!(
            fs::read_to_string(copy.join("data/f10500")).unwrap(),
            "7000"
        );
    }
    use crate::{Manifest, describe, verify};
    use std::os::unix::fs::FileTypeExt;

    fn inode(path: &Path) -> u64 {
        std::fs::symlink_metadata(path).unwrap().ino()
    }

    /// Copies `source` as volume `tree` of a backup in `root`, in `passes`
    /// passes (the closure changes the source between them), with a MANIFEST.
    fn backup(
        root: &Path,
        source: &Path,
        previous: Option<&Path>,
        between: impl FnOnce(),
    ) -> (SyncStats, SyncStats) {
        std::fs::create_dir(root).unwrap();
        let mut copier = Copier::new(
            root,
            vec![(PathBuf::from("tree"), source.to_path_buf())],
            previous,
        );
        let first = copier.pass().unwrap();
        between();
        let second = copier.pass().unwrap();
        copier.write_manifest(&[("id".into(), "x".into())]).unwrap();
        (first, second)
    }

    #[test]
    fn a_backup_links_what_did_not_change_and_its_manifest_matches_the_copy() {
        let work = tempfile::tempdir().unwrap();
        let source = work.path().join("source");
        std::fs::create_dir_all(source.join("sub/empty")).unwrap();
        std::fs::write(source.join("sub/same"), "same").unwrap();
        std::fs::write(source.join("changes"), "one").unwrap();
        std::fs::write(source.join("goes"), "soon gone").unwrap();
        std::fs::create_dir_all(source.join("dir-then-file/inner")).unwrap();
        std::fs::write(source.join("dir-then-file/inner/x"), "x").unwrap();
        std::os::unix::fs::symlink("sub/same", source.join("link")).unwrap();
        std::fs::hard_link(source.join("sub/same"), source.join("alias")).unwrap();
        nix::unistd::mkfifo(&source.join("pipe"), Mode::from_bits_truncate(0o640)).unwrap();
        std::fs::set_permissions(source.join("sub"), std::fs::Permissions::from_mode(0o2770))
            .unwrap();

        let first = work.path().join("first");
        let (stats, _) = backup(&first, &source, None, || {});
        assert_eq!(stats.linked_files, 0);
        assert!(verify(&first).unwrap().problems.is_empty());

        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(source.join("changes"), "two").unwrap();
        let second = work.path().join("second");
        let (stats, again) = backup(&second, &source, Some(&first), || {
            // Between the passes: a file goes, a directory becomes a file,
            // a file is added.
            std::fs::remove_file(source.join("goes")).unwrap();
            std::fs::remove_dir_all(source.join("dir-then-file")).unwrap();
            std::fs::write(source.join("dir-then-file"), "now a file").unwrap();
            std::fs::write(source.join("sub/new"), "new").unwrap();
        });
        assert_eq!(stats.copied_files, 1, "{stats:?}");
        assert_eq!(again.copied_files, 2, "{again:?}");
        assert_eq!(again.removed, 1, "{again:?}");
        let copy = second.join("tree");
        assert_eq!(
            inode(&first.join("tree/sub/same")),
            inode(&copy.join("sub/same"))
        );
        assert_eq!(inode(&copy.join("alias")), inode(&copy.join("sub/same")));
        assert_ne!(
            inode(&first.join("tree/changes")),
            inode(&copy.join("changes"))
        );
        assert_eq!(
            std::fs::read_to_string(first.join("tree/changes")).unwrap(),
            "one"
        );
        assert!(!copy.join("goes").exists());
        assert_eq!(
            std::fs::read_to_string(copy.join("dir-then-file")).unwrap(),
            "now a file"
        );
        assert_eq!(
            std::fs::read_link(copy.join("link")).unwrap(),
            Path::new("sub/same")
        );
        assert!(
            std::fs::symlink_metadata(copy.join("pipe"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(
            std::fs::metadata(copy.join("sub")).unwrap().mode() & 0o7777,
            0o2770
        );
        assert!(copy.join("sub/empty").is_dir());

        // The checksums computed on the way are those of the copy, and the
        // copy is its source.
        let manifest = Manifest::read(&second.join(MANIFEST)).unwrap();
        assert_eq!(manifest.entries, describe(&second).unwrap());
        let verification = verify(&second).unwrap();
        assert!(
            verification.problems.is_empty(),
            "{:?}",
            verification.problems
        );
        assert_eq!(verification.entries, manifest.entries.len());
        let in_source: Vec<Entry> = describe(&source).unwrap();
        let in_copy: Vec<Entry> = describe(&copy).unwrap();
        assert_eq!(in_copy, in_source, "the copy differs from its source");
    }

    #[test]
    fn sync_tree_copies_into_an_empty_place_only() {
        let work = tempfile::tempdir().unwrap();
        let source = work.path().join("source");
        std::fs::create_dir_all(source.join("a/b")).unwrap();
        std::fs::write(source.join("a/b/c"), "c").unwrap();
        let copy = work.path().join("copy");
        sync_tree(&source, &copy, None).unwrap();
        assert_eq!(describe(&copy).unwrap(), describe(&source).unwrap());
        let error = sync_tree(&source, &copy, None).unwrap_err();
        assert!(error.to_string().contains("is not empty"), "{error:#}");
    }

    #[test]
    fn a_pass_refuses_to_eat_the_last_free_bytes() {
        let work = tempfile::tempdir().unwrap();
        let source = work.path().join("source");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("a"), "a").unwrap();
        let root = work.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let mut copier =
            Copier::new(&root, vec![(PathBuf::from("t"), source)], None).keep_free(u64::MAX / 2);
        let error = copier.pass().unwrap_err();
        assert!(
            error.downcast_ref::<NotEnoughSpace>().is_some(),
            "{error:#}"
        );
    }
}
