//! Copies a tree with its metadata (what `cp -a` keeps, as root), hard-links
//! files unchanged since a previous copy (as `rsync --link-dest` does), and
//! describes a finished copy in a MANIFEST that can be re-read and checked.
//!
//! `sync` copies trees, `manifest` reads and writes the MANIFEST, `check`
//! describes a tree (checksums included) and verifies a backup against it.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use fs_err as fs;

mod check;
mod manifest;
mod sync;

pub use check::{Problem, describe, verify};
pub use manifest::{Entry, MANIFEST, Manifest, write_manifest};
pub use sync::{SyncStats, bytes_to_copy, is_out_of_space, sync_tree};

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
