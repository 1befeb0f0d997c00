//! Checking: a tree described entry by entry with content checksums, in path
//! order and as a stream, and a backup compared with its MANIFEST (both read
//! as streams, merged), so that memory does not grow with the tree.

use std::collections::HashMap;

use anyhow::Context;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use fs_err as fs;
use rayon::prelude::*;

use crate::warm::Warmer;

use super::listing::Listing;
use super::manifest::{EntryWriter, ManifestReader};
use super::sync::{Copier, Lookahead, SyncStats};
use super::{Entry, Kind, MANIFEST, Manifest, entry_of, hash_file};

/// Files hashed per batch, on the copy threads (four per core).
const BATCH: usize = 4096;

/// Entries waiting for a batch, at most: those whose checksums are known (a
/// directory, a link, a file unchanged since the reference) wait with the
/// files to read, so that all are handed on in path order.
const WAITING: usize = 4 * BATCH;

/// Walks a tree in path order and hands each entry, checksum included, to
/// `visit`; files are read in batches on the copy threads (the first error stops
/// them); a file with several names is read once per batch.
struct Describer<'a, F> {
    root: &'a Path,
    visit: F,
    /// Entries waiting for their batch; the index of the file to hash.
    waiting: Vec<(Entry, Option<usize>)>,
    to_hash: Vec<PathBuf>,
    /// (device, inode) of this batch's files with several names -> slot.
    linked: HashMap<(u64, u64), usize>,
    /// A backup of an earlier state of the tree, whose checksums are taken
    /// for the files that have not changed since (see [`describe_to_file`]).
    reference: Option<Lookahead<ManifestReader>>,
    /// The most entries that waited at once: memory, which must not grow
    /// with the tree (at most [`WAITING`]).
    most_waiting: usize,
}

impl<F: FnMut(Entry) -> anyhow::Result<()>> Describer<'_, F> {
    fn directory(&mut self, relative: &Path) -> anyhow::Result<()> {
        let directory = self.root.join(relative);
        for name in Listing::read(&directory)?.names() {
            let child_relative = relative.join(name);
            if child_relative.as_os_str() == MANIFEST {
                continue;
            }
            let child_path = directory.join(name);
            let metadata = fs::symlink_metadata(&child_path)?;
            let kind = Kind::of(&metadata);
            match kind {
                Kind::File => {
                    // Not `continue`: an entry whose checksum is known waits
                    // too, and must count towards the flush below, or a
                    // directory of 100,000 unchanged files would be held
                    // whole (it was: 25 MB at 1,000,000 files).
                    if let Some(checksum) = self.known_checksum(&child_relative, &metadata) {
                        self.waiting
                            .push((entry_of(child_relative, kind, &metadata, checksum), None));
                    } else {
                        self.unknown_file(child_relative, child_path, &metadata)?;
                    }
                }
                Kind::Symlink => {
                    let target = fs::read_link(&child_path)?;
                    let sum = blake3::hash(target.as_os_str().as_bytes())
                        .to_hex()
                        .to_string();
                    self.waiting
                        .push((entry_of(child_relative, kind, &metadata, sum), None));
                }
                Kind::Dir => {
                    self.waiting.push((
                        entry_of(child_relative.clone(), kind, &metadata, "-".to_string()),
                        None,
                    ));
                    self.directory(&child_relative)?;
                }
                _ => self.waiting.push((
                    entry_of(child_relative, kind, &metadata, "-".to_string()),
                    None,
                )),
            }
            if self.waiting.len() >= WAITING {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// A file whose checksum is not known: queued to be read in this batch
    /// (once, for all its names met in the batch).
    fn unknown_file(
        &mut self,
        relative: PathBuf,
        path: PathBuf,
        metadata: &std::fs::Metadata,
    ) -> anyhow::Result<()> {
        let key = (metadata.dev(), metadata.ino());
        let known = (metadata.nlink() > 1)
            .then(|| self.linked.get(&key).copied())
            .flatten();
        let entry = entry_of(relative, Kind::File, metadata, String::new());
        let slot = known.unwrap_or_else(|| {
            self.to_hash.push(path);
            self.to_hash.len() - 1
        });
        if metadata.nlink() > 1 {
            self.linked.insert(key, slot);
        }
        self.waiting.push((entry, Some(slot)));
        if self.to_hash.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// The reference's checksum of the file at `relative`, when the
    /// reference lists it with this very metadata (kind, mode, owners, size,
    /// mtime to the nanosecond): the trust a backup already puts in its
    /// previous backup when it hard-links a file instead of copying it.
    fn known_checksum(&mut self, relative: &Path, metadata: &std::fs::Metadata) -> Option<String> {
        let reference = self.reference.as_mut()?;
        match reference.find(relative) {
            Ok(Some(entry)) if super::entry_matches(&entry, Kind::File, metadata) => {
                Some(entry.checksum)
            }
            Ok(_) => None,
            // A damaged MANIFEST: what follows is read and hashed.
            Err(_) => {
                self.reference = None;
                None
            }
        }
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.most_waiting = self.most_waiting.max(self.waiting.len());
        let to_hash = &self.to_hash;
        let sums: Vec<String> = crate::io_pool().install(|| {
            to_hash
                .par_iter()
                .map(|path| hash_file(path))
                .collect::<anyhow::Result<_>>()
        })?;
        // A file with several names is read once per batch, not once per
        // tree: in a backup nearly every file has several names (hard links
        // into earlier backups), and remembering them all would make memory
        // grow with the tree.
        self.linked.clear();
        self.to_hash.clear();
        for (mut entry, slot) in std::mem::take(&mut self.waiting) {
            if let Some(slot) = slot {
                entry.checksum = sums[slot].clone();
                girofle_base::progress::count(1, entry.size);
            }
            (self.visit)(entry)?;
        }
        Ok(())
    }
}

/// Walks the tree at `root` in path order and hands `visit` each entry with
/// its checksum. The MANIFEST file itself is left out.
pub fn describe_each(
    root: &Path,
    visit: impl FnMut(Entry) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut describer = Describer {
        root,
        visit,
        waiting: Vec::new(),
        to_hash: Vec::new(),
        linked: HashMap::new(),
        reference: None,
        most_waiting: 0,
    };
    describer.directory(Path::new(""))?;
    describer.flush()
}

/// Describes the tree at `root` as [`describe_each`] does, its entry lines
/// written into an unnamed temporary file in `temporary` (on the same file
/// system, not under `root`) rather than kept: a tree as large as an
/// instance's data has a line per file, and memory must not grow with it.
/// Returns the file and how many entries it holds, for
/// [`super::write_manifest_streamed`].
///
/// `reference`, a backup of an earlier state of the same tree, spares
/// reading what did not change: a file its MANIFEST lists with the very
/// metadata found here takes the checksum listed there (a restore describes
/// the data it replaces this way, and is done sooner by the time it takes
/// to read that data). A reference without a readable MANIFEST is not used.
pub fn describe_to_file(
    root: &Path,
    temporary: &Path,
    reference: Option<&Path>,
) -> anyhow::Result<(std::fs::File, u64)> {
    let (file, count, _) = describe_to_file_watched(root, temporary, reference)?;
    Ok((file, count))
}

/// [`describe_to_file`], and the most entries that waited in memory at
/// once (for the test that this stays bounded).
fn describe_to_file_watched(
    root: &Path,
    temporary: &Path,
    reference: Option<&Path>,
) -> anyhow::Result<(std::fs::File, u64, usize)> {
    let file = tempfile::tempfile_in(temporary)
        .with_context(|| format!("cannot create a temporary file in {}", temporary.display()))?;
    let mut lines = EntryWriter::new(Box::new(file.try_clone()?));
    let _warmer = Warmer::start(vec![root.to_path_buf()]);
    let mut describer = Describer {
        root,
        visit: |entry: Entry| Ok(lines.push(&entry)?),
        waiting: Vec::new(),
        to_hash: Vec::new(),
        linked: HashMap::new(),
        reference: reference.and_then(|backup| {
            ManifestReader::open(&backup.join(MANIFEST))
                .and_then(Lookahead::new)
                .ok()
        }),
        most_waiting: 0,
    };
    describer.directory(Path::new(""))?;
    describer.flush()?;
    let most_waiting = describer.most_waiting;
    drop(describer);
    let count = lines.finish()?;
    Ok((file, count, most_waiting))
}

/// Describes the tree at `root`, entry by entry in path order, with content
/// checksums; the MANIFEST file itself is left out. Held in memory: for
/// small trees (Girofle's state); a backup's copy describes as it goes, and
/// a large tree is described into a file ([`describe_to_file`]).
pub fn describe(root: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    describe_each(root, |entry| {
        entries.push(entry);
        Ok(())
    })?;
    Ok(entries)
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

/// The differences a check keeps, in path order: the first ones tell what
/// went wrong, and a backup different in every one of its million files
/// must not take memory for each.
pub const PROBLEMS_KEPT: usize = 1000;

/// What [`verify`] found.
#[derive(Debug)]
pub struct Verification {
    /// The MANIFEST's header (its entries are read as a stream, not kept).
    pub manifest: Manifest,
    /// How many entries the MANIFEST lists.
    pub entries: usize,
    /// The first differences, in path order ([`PROBLEMS_KEPT`] at most).
    pub problems: Vec<Problem>,
    /// How many differences there are in all.
    pub problem_count: usize,
}

/// How `actual` differs from `expected`, in words; empty when it does not.
fn differences(actual: &Entry, expected: &Entry) -> Vec<String> {
    let mut how = Vec::new();
    if actual.kind != expected.kind {
        how.push(format!(
            "type {} instead of {}",
            actual.kind.as_str(),
            expected.kind.as_str()
        ));
    }
    if actual.size != expected.size && expected.kind != Kind::Dir {
        how.push(format!("size {} instead of {}", actual.size, expected.size));
    }
    if actual.mode != expected.mode {
        how.push(format!(
            "mode {:o} instead of {:o}",
            actual.mode, expected.mode
        ));
    }
    if (actual.uid, actual.gid) != (expected.uid, expected.gid) {
        how.push(format!(
            "owner {}:{} instead of {}:{}",
            actual.uid, actual.gid, expected.uid, expected.gid
        ));
    }
    if actual.mtime != expected.mtime && expected.kind != Kind::Dir {
        how.push("mtime".to_string());
    }
    if actual.checksum != expected.checksum {
        how.push("content".to_string());
    }
    how
}

/// Compares entries, handed in path order, with a MANIFEST read as a stream
/// beside them: what [`verify`] does with a tree it re-reads, and what a
/// checked copy ([`super::copy_checked`]) does with the entries it writes,
/// so that a backup is read once to be both copied and checked.
pub struct ManifestCheck {
    reader: ManifestReader,
    next: Option<Entry>,
    entries: usize,
    problems: Vec<Problem>,
    problem_count: usize,
}

impl ManifestCheck {
    /// Opens the MANIFEST at `path` (its header read, its entries not yet).
    pub fn open(path: &Path) -> anyhow::Result<ManifestCheck> {
        let mut reader = ManifestReader::open(path)?;
        let next = reader.next_entry()?;
        Ok(ManifestCheck {
            reader,
            next,
            entries: 0,
            problems: Vec::new(),
            problem_count: 0,
        })
    }

    /// The MANIFEST's header fields.
    pub fn header(&self) -> &[(String, String)] {
        self.reader.header()
    }

    /// Takes the next listed entry (the one looked at).
    fn take(&mut self) -> anyhow::Result<Entry> {
        self.entries += 1;
        let following = self.reader.next_entry()?;
        Ok(std::mem::replace(&mut self.next, following).expect("an entry"))
    }

    /// Listed, not found: sockets were listed, not copied.
    fn missing(&mut self, entry: Entry) {
        if entry.kind != Kind::Socket {
            self.problem(Problem::Missing(entry.path));
        }
    }

    /// The next entry found (after every one handed before it).
    pub fn actual(&mut self, actual: &Entry) -> anyhow::Result<()> {
        while self.next.as_ref().is_some_and(|e| e.path < actual.path) {
            let expected = self.take()?;
            self.missing(expected);
        }
        if self.next.as_ref().is_some_and(|e| e.path == actual.path) {
            let expected = self.take()?;
            let how = differences(actual, &expected);
            if !how.is_empty() {
                self.problem(Problem::Changed(expected.path, how.join(", ")));
            }
        } else {
            self.problem(Problem::Extra(actual.path.clone()));
        }
        Ok(())
    }

    /// Records a problem found beside the entries (an entry that could not
    /// be handed in order, say).
    pub fn problem(&mut self, problem: Problem) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(problem);
        }
    }

    /// The first problems so far ([`PROBLEMS_KEPT`] at most).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Every entry found was handed: what is left of the MANIFEST is missing
    /// (and its end line is checked).
    pub fn finish(mut self) -> anyhow::Result<Verification> {
        while self.next.is_some() {
            let expected = self.take()?;
            self.missing(expected);
        }
        Ok(Verification {
            manifest: Manifest {
                header: self.reader.header().to_vec(),
                entries: Vec::new(),
            },
            entries: self.entries,
            problems: self.problems,
            problem_count: self.problem_count,
        })
    }
}

/// Re-reads the tree at `root` and compares it with its MANIFEST, both read
/// in path order and merged.
pub fn verify(root: &Path) -> anyhow::Result<Verification> {
    let mut check = ManifestCheck::open(&root.join(MANIFEST))?;
    let _warmer = Warmer::start(vec![root.to_path_buf()]);
    describe_each(root, |actual| check.actual(&actual))?;
    check.finish()
}

/// Files with several names a checked copy remembers, to link their other
/// names met soon after (see [`Copier::links_nearby`]).
const LINKS_REMEMBERED: usize = 1 << 15;

/// What [`copy_checked`] made of a backup.
#[derive(Debug)]
pub struct CheckedCopy {
    /// The copy compared with the backup's MANIFEST.
    pub verification: Verification,
    /// What the copy did.
    pub stats: SyncStats,
}

/// Why [`copy_checked`] stopped.
#[derive(Debug)]
pub enum CopyFailure {
    /// The MANIFEST cannot be read (cut short, out of order, not a MANIFEST).
    Manifest(anyhow::Error),
    /// The copy failed (the disk, a file that cannot be read).
    Copy(anyhow::Error),
}

/// Copies the trees `tops` of the backup at `backup` into `destination` (an
/// empty directory), and compares what it writes with the backup's MANIFEST
/// as it goes: each file's checksum is that of the bytes written, so the
/// backup is read once, and the MANIFEST and the tree both stream (memory
/// does not grow with the backup). Anything else at the backup's root but
/// the MANIFEST is a problem (an extra entry), as [`verify`] would say.
/// With `keep_free`, the copy stops before leaving less than that free.
pub fn copy_checked(
    backup: &Path,
    tops: &[&str],
    destination: &Path,
    keep_free: Option<u64>,
) -> std::result::Result<CheckedCopy, CopyFailure> {
    let mut check = ManifestCheck::open(&backup.join(MANIFEST)).map_err(CopyFailure::Manifest)?;
    let root = Listing::read(backup).map_err(|error| CopyFailure::Copy(error.into()))?;
    for name in root.names() {
        if name != MANIFEST && !tops.iter().any(|top| name == *top) {
            check.problem(Problem::Extra(PathBuf::from(name)));
        }
    }
    let sources = tops
        .iter()
        .map(|top| (PathBuf::from(top), backup.join(top)))
        .collect();
    let _warmer = Warmer::start(tops.iter().map(|top| backup.join(top)).collect());
    // A backup's files nearly all have several names, most in other
    // backups: remembering them all would make memory grow with the tree.
    let mut copier = Copier::new(destination, sources, None).links_nearby(LINKS_REMEMBERED);
    if let Some(bytes) = keep_free {
        copier = copier.keep_free(bytes);
    }
    let mut unreadable = None;
    let copied = copier.pass_checked(&mut |entry| {
        check.actual(entry).map_err(|error| {
            let message = format!("{error:#}");
            unreadable = Some(error);
            anyhow::anyhow!(message)
        })
    });
    if let Some(error) = unreadable {
        return Err(CopyFailure::Manifest(error));
    }
    let stats = copied.map_err(CopyFailure::Copy)?;
    let verification = check.finish().map_err(CopyFailure::Manifest)?;
    Ok(CheckedCopy {
        verification,
        stats,
    })
}

#[cfg(test)]
mod tests;
