//! Operations on one file of the copy: its metadata, its content copied and
//! hashed, a link placed, a temporary renamed over; errors recognised.

use std::ffi::OsString;
use std::fs::Metadata;
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use fs_err as fs;
use fs_err::OpenOptions;
use fs_err::os::unix::fs::OpenOptionsExt;
use nix::sys::stat::{Mode, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

use crate::lstat;

/// What happened to one regular file.
pub(super) enum Outcome {
    Copied(u64, String),
    Linked(String),
    Vanished,
}

/// Applies owner, mode and times of `source` to `path` (never following a link).
/// Owner first: chown clears setuid/setgid bits, so the mode comes after.
pub(super) fn apply_metadata(path: &Path, source: &Metadata) -> anyhow::Result<()> {
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

pub(super) fn temp_beside(path: &Path) -> PathBuf {
    let mut name = OsString::from(".girofle-tmp-");
    name.push(path.file_name().unwrap_or_default());
    path.with_file_name(name)
}

thread_local! {
    // One per copy thread (four per core): 256 KiB keeps a read's cost in
    // the disk, not in the system call, and eight threads' buffers at 2 MiB
    // of the restore's memory when every file is large (1 MiB per core).
    static BUFFER: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; 256 << 10]);
}

/// Copies the content, hashing it on the way, and the metadata (through the
/// open file: no second path lookup). Over an existing entry the copy is
/// written beside it and renamed, never written into it (it may be a hard
/// link shared with an earlier backup); into an empty place, directly.
pub(super) fn copy_file(
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
pub(super) fn place_link(target: &Path, destination: &Path, exists: bool) -> anyhow::Result<()> {
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

pub(super) fn replace(temp: &Path, destination: &Path) -> anyhow::Result<()> {
    if let Some(existing) = lstat(destination)?
        && existing.is_dir()
    {
        fs::remove_dir_all(destination)?;
    }
    fs::rename(temp, destination)?;
    Ok(())
}

pub(super) fn has_kind(error: &anyhow::Error, kind: io::ErrorKind, errno: i32) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_error| io_error.raw_os_error() == Some(errno) || io_error.kind() == kind)
}

/// Whether an error chain holds "too many links" (by kind too: fs-err keeps
/// the kind of the error it wraps, not its OS number).
pub(super) fn is_too_many_links(error: &anyhow::Error) -> bool {
    has_kind(error, io::ErrorKind::TooManyLinks, nix::libc::EMLINK)
}

pub(super) fn is_not_found(error: &anyhow::Error) -> bool {
    has_kind(error, io::ErrorKind::NotFound, nix::libc::ENOENT)
}

/// Whether an error chain holds "no space left on device".
pub fn is_out_of_space(error: &anyhow::Error) -> bool {
    has_kind(error, io::ErrorKind::StorageFull, nix::libc::ENOSPC)
}
