//! Copies a tree with its metadata (what `cp -a` keeps, as root), hard-links
//! files unchanged since a previous copy (as `rsync --link-dest` does), and
//! describes a finished copy in a MANIFEST that can be re-read and checked.
//!
//! `sync` copies trees, `manifest` reads and writes the MANIFEST, `check`
//! describes a tree (checksums included) and verifies a backup against it.
//!
//! Nothing here knows of GitLab, Docker or the command line: the server
//! toolkit calls it, and reads its progress from `girofle_base::progress`.

#![warn(missing_docs)]

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use fs_err as fs;

mod check;
mod listing;
mod manifest;
mod sync;
mod warm;
mod watch;

pub use check::{
    CheckedCopy, CopyFailure, ManifestCheck, PROBLEMS_KEPT, Problem, Verification, copy_checked,
    describe, describe_to_file, verify,
};
pub use manifest::{
    Entry, EntryLines, EntryWriter, MANIFEST, Manifest, ManifestReader, write_manifest,
    write_manifest_streamed,
};
pub use sync::{Copier, NotEnoughSpace, SyncStats, Walked, is_out_of_space, sync_tree};
pub use watch::{ChangeWatch, Changes};

/// The pool that copies and hashes files. A job on a small file mostly
/// waits for the disk (a cold read, a new inode), not for a core: with a
/// thread per core the disk sees two requests at a time on a small host and
/// idles between them. Four per core keep it busy (a restore of a million
/// files took a fifth less time with 8 threads than with 2 on 2 cores; 16
/// gained 2% more).
pub(crate) fn io_pool() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        // A host short of threads (a cgroup's pids limit) gets fewer, not a
        // failed restore.
        [(cores * 4).clamp(4, 32), cores, 1]
            .into_iter()
            .find_map(|threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|index| format!("girofle-copy-{index}"))
                    .build()
                    .ok()
            })
            .expect("cannot start a single copy thread")
    })
}

/// The kind of a tree entry, as the MANIFEST names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link, kept as a link.
    Symlink,
    /// A named pipe, recreated.
    Fifo,
    /// A character device, recreated.
    CharDevice,
    /// A block device, recreated.
    BlockDevice,
    /// A socket: cannot be copied; listed, and skipped.
    Socket,
}

impl Kind {
    fn of(metadata: &Metadata) -> Kind {
        let file_type = metadata.file_type();
        if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_symlink() {
            Kind::Symlink
        } else if file_type.is_fifo() {
            Kind::Fifo
        } else if file_type.is_char_device() {
            Kind::CharDevice
        } else if file_type.is_block_device() {
            Kind::BlockDevice
        } else if file_type.is_socket() {
            Kind::Socket
        } else {
            Kind::File
        }
    }

    /// The MANIFEST word.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dir => "dir",
            Kind::File => "file",
            Kind::Symlink => "symlink",
            Kind::Fifo => "fifo",
            Kind::CharDevice => "chardev",
            Kind::BlockDevice => "blockdev",
            Kind::Socket => "socket",
        }
    }

    fn parse(word: &str) -> Option<Kind> {
        Some(match word {
            "dir" => Kind::Dir,
            "file" => Kind::File,
            "symlink" => Kind::Symlink,
            "fifo" => Kind::Fifo,
            "chardev" => Kind::CharDevice,
            "blockdev" => Kind::BlockDevice,
            "socket" => Kind::Socket,
            _ => return None,
        })
    }
}

/// Whether two entries have the same metadata (type, size, mtime, owner, mode):
/// the test by which an unchanged file is recognised, as rsync's quick check.
fn same_metadata(a: &Metadata, b: &Metadata) -> bool {
    a.mode() == b.mode()
        && a.uid() == b.uid()
        && a.gid() == b.gid()
        && a.size() == b.size()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
}

fn lstat(path: &Path) -> io::Result<Option<Metadata>> {
    match fs::symlink_metadata(path) {
        Ok(metadata) => Ok(Some(metadata)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The MANIFEST entry of a tree entry whose metadata is `metadata`.
fn entry_of(path: PathBuf, kind: Kind, metadata: &Metadata, checksum: String) -> Entry {
    Entry {
        path,
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
    }
}

/// Whether `entry` describes an entry of this kind and metadata: the quick
/// check of [`same_metadata`], against a MANIFEST line instead of a second
/// `stat`. A directory's size depends on its history, not its entries: not
/// compared.
fn entry_matches(entry: &Entry, kind: Kind, metadata: &Metadata) -> bool {
    entry.kind == kind
        && entry.mode == metadata.mode() & 0o7777
        && (entry.uid, entry.gid) == (metadata.uid(), metadata.gid())
        && (kind == Kind::Dir || entry.size == metadata.size())
        && entry.mtime == (metadata.mtime(), metadata.mtime_nsec())
}

/// BLAKE3 of a file's content.
fn hash_file(path: &Path) -> anyhow::Result<String> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::io::Read;
    let mut file = fs_err::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}
