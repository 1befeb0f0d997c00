//! The batch of work for the pool: jobs that touch a file's content, the
//! steps of the walk kept in order until their jobs are done, the free space.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::Context;

use super::NotEnoughSpace;
use super::files::{Outcome, copy_file, is_not_found, is_too_many_links, place_link};
use crate::{Entry, hash_file};

/// Work for the pool: what touches a file's content.
pub(super) enum Job {
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

impl Job {
    pub(super) fn run(&self) -> anyhow::Result<Outcome> {
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
                    None => hash_file(destination)?,
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

    pub(super) fn bytes_to_copy(&self) -> u64 {
        match self {
            Job::Copy { metadata, .. } => metadata.size(),
            Job::Link { .. } => 0,
        }
    }
}

/// One step of the walk, kept in order until its batch's jobs are done.
pub(super) enum Item {
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
pub(super) const BATCH_JOBS: usize = 2048;
pub(super) const BATCH_ITEMS: usize = 16384;
pub(super) const BATCH_BYTES: u64 = 256 << 20;

pub(super) struct Space {
    pub(super) directory: PathBuf,
    pub(super) margin: u64,
}

impl Space {
    pub(super) fn check(&self, bytes: u64) -> anyhow::Result<()> {
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
