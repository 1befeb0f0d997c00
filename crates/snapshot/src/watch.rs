//! What changed in the volumes since a backup's first pass began, told by
//! the kernel, so that the second pass (GitLab stopped) visits those paths
//! only instead of `stat`ing every entry again.
//!
//! A `fanotify` mark on each volume's file system (`FAN_MARK_FILESYSTEM`,
//! events named by their directory and entry name, `FAN_REPORT_DFID_NAME`,
//! Linux 5.9) is set before the first pass walks: a change made at any time
//! after that, by any process but this one, names its directory and entry.
//! A thread reads the events as they come, so that the kernel's queue stays
//! short, and keeps those under the volumes. Whatever makes the record
//! doubtful (no `fanotify`, a lost event, too many changes) leaves the
//! second pass to walk everything, as it did before.
//!
//! A change names one name of a file; the file may have others (a hard link
//! made in the window, written through, then removed by the stop leaves the
//! other name changed and named by no event). So each event on a file also
//! carries the file's own handle (`FAN_REPORT_FID`), and before the answer
//! is given, every file changed and still there must be named by the
//! record (its one name, or a directory above it); a file gone is nothing
//! to copy, a file with several names or named by no change makes the
//! answer [`Changes::Unknown`], and the second pass walks everything.
//!
//! What the kernel does not report: writes through a shared writable
//! `mmap`, which GitLab's services (PostgreSQL, Gitaly, Redis, Puma) do not
//! use for their files.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::bail;
use nix::libc;

/// Past this many changed paths a full walk is as quick as visiting them,
/// and the set would hold more memory than the walk.
const MAX_CHANGES: usize = 200_000;
/// Directories whose path is remembered, before the memory is started over.
const MAX_CACHED_DIRECTORIES: usize = 65_536;

/// What the events are asked for: an entry written, its metadata changed,
/// made, removed or renamed, directories included.
const EVENTS: u64 = libc::FAN_MODIFY
    | libc::FAN_ATTRIB
    | libc::FAN_CREATE
    | libc::FAN_DELETE
    | libc::FAN_MOVED_FROM
    | libc::FAN_MOVED_TO
    | libc::FAN_ONDIR;

/// What changed since [`ChangeWatch::start`].
#[derive(Debug)]
pub enum Changes {
    /// The paths named by an event, relative to the copy's root (each
    /// volume's relative name first), in path order.
    Paths(BTreeSet<PathBuf>),
    /// Not known: why, in words.
    Unknown(String),
}

/// The kernel's record of changes under the volumes, running.
pub struct ChangeWatch {
    phase: Arc<AtomicU8>,
    reader: Option<JoinHandle<Changes>>,
    /// The file whose making marks the end of what is asked.
    sentinel: PathBuf,
}

/// The reader's phases: reading as changes come; reading up to the
/// sentinel; stopping now, with no answer.
const READING: u8 = 0;
const FINISHING: u8 = 1;
const ABANDONED: u8 = 2;

/// How long the reader may take to reach the sentinel once it is made.
const CATCH_UP: Duration = Duration::from_secs(30);

/// One file system marked: its identity in events, and an open directory
/// on it through which directory handles are opened again.
struct Filesystem {
    fsid: [u8; 8],
    mount: OwnedFd,
}

impl ChangeWatch {
    /// Marks the file systems of `tops` (`(relative, source)` as the copier
    /// takes them) and starts reading; an error says why no record can be
    /// kept (no `fanotify` here, no permission, a file system without
    /// handles). `scratch` is a directory of this run's own (the backup
    /// being made) where [`ChangeWatch::finish`] makes and removes a file.
    pub fn start(tops: &[(PathBuf, PathBuf)], scratch: &Path) -> anyhow::Result<ChangeWatch> {
        // SAFETY: plain system call; the descriptor returned is owned below.
        let raw = unsafe {
            libc::fanotify_init(
                libc::FAN_CLASS_NOTIF
                    | libc::FAN_REPORT_DFID_NAME
                    | libc::FAN_REPORT_FID
                    | libc::FAN_UNLIMITED_QUEUE
                    | libc::FAN_NONBLOCK
                    | libc::FAN_CLOEXEC,
                (libc::O_RDONLY | libc::O_CLOEXEC) as u32,
            )
        };
        if raw < 0 {
            return Err(anyhow::Error::new(std::io::Error::last_os_error())
                .context("fanotify is not available"));
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fanotify = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut filesystems: Vec<Filesystem> = Vec::new();
        let mut roots = Vec::new();
        for (relative, source) in tops {
            let canonical = std::fs::canonicalize(source)?;
            let mount: OwnedFd = std::fs::File::open(&canonical)?.into();
            let fsid = fsid_of(&mount)?;
            if !filesystems.iter().any(|f| f.fsid == fsid) {
                mark(&fanotify, &canonical)?;
                filesystems.push(Filesystem { fsid, mount });
            }
            let filesystem = filesystems
                .iter()
                .find(|f| f.fsid == fsid)
                .expect("just marked");
            // Events name directories by handle: each volume's handle must
            // open again to its own path, through the descriptor kept for
            // its file system (not so for a bind mount of another
            // directory of that file system, or without the right to open
            // handles).
            let again = round_trip(&filesystem.mount, &canonical)?;
            if again != canonical {
                bail!(
                    "{} is seen by its handle as {}: changes under it could not be named",
                    canonical.display(),
                    again.display()
                );
            }
            roots.push((relative.clone(), canonical));
        }
        for (_, inner) in &roots {
            if let Some((_, outer)) = roots
                .iter()
                .find(|(_, outer)| outer != inner && inner.starts_with(outer))
            {
                bail!(
                    "{} lies inside {}: its changes would be named twice",
                    inner.display(),
                    outer.display()
                );
            }
        }
        let sentinel_name = format!(".girofle-changes-read-{}", std::process::id());
        // An inode mark: only entries made in `scratch` itself.
        mark_with(&fanotify, scratch, 0, libc::FAN_CREATE)?;
        let phase = Arc::new(AtomicU8::new(READING));
        let reader = Reader {
            fanotify,
            filesystems,
            roots,
            own_pid: std::process::id() as i32,
            directories: HashMap::new(),
            changed: BTreeSet::new(),
            files: HashMap::new(),
            doubt: None,
            sentinel_name: sentinel_name.clone().into(),
            sentinel_seen: false,
            patience: std::cell::Cell::new(OPEN_BY_HANDLE_PATIENCE),
        };
        let phase_seen = Arc::clone(&phase);
        let reader = std::thread::Builder::new()
            .name("change-watch".into())
            .spawn(move || reader.run(&phase_seen))?;
        Ok(ChangeWatch {
            phase,
            reader: Some(reader),
            sentinel: scratch.join(sentinel_name),
        })
    }

    /// Reads the queue up to now and stops. Call it once nothing writes any
    /// more (GitLab stopped or frozen): every change made before is in the
    /// answer. The end is a file this makes: the kernel queues its event
    /// after every event before it, so that reading up to it is reading
    /// everything, however busy the file system is meanwhile.
    pub fn finish(mut self) -> Changes {
        if let Err(error) = std::fs::File::create(&self.sentinel) {
            return Changes::Unknown(format!("cannot make {}: {error}", self.sentinel.display()));
        }
        self.phase.store(FINISHING, Ordering::SeqCst);
        let changes = match self.reader.take().map(JoinHandle::join) {
            Some(Ok(changes)) => changes,
            _ => Changes::Unknown("the thread reading the changes failed".into()),
        };
        let _ = std::fs::remove_file(&self.sentinel);
        changes
    }
}

impl Drop for ChangeWatch {
    /// A backup abandoned before its second pass stops the reading too.
    fn drop(&mut self) {
        self.phase.store(ABANDONED, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn mark(fanotify: &OwnedFd, path: &Path) -> anyhow::Result<()> {
    mark_with(fanotify, path, libc::FAN_MARK_FILESYSTEM, EVENTS)
}

fn mark_with(
    fanotify: &OwnedFd,
    path: &Path,
    kind: libc::c_uint,
    events: u64,
) -> anyhow::Result<()> {
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: valid descriptor and NUL-terminated path.
    let marked = unsafe {
        libc::fanotify_mark(
            fanotify.as_raw_fd(),
            libc::FAN_MARK_ADD | kind,
            events,
            libc::AT_FDCWD,
            c_path.as_ptr(),
        )
    };
    if marked < 0 {
        return Err(
            anyhow::Error::new(std::io::Error::last_os_error()).context(format!(
                "cannot watch the file system of {}",
                path.display()
            )),
        );
    }
    Ok(())
}

/// The path that `path`'s file handle opens again to, through `mount`.
fn round_trip(mount: &OwnedFd, path: &Path) -> anyhow::Result<PathBuf> {
    const MAX_HANDLE_SZ: usize = 128;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // struct file_handle, 4-byte aligned, with room for the largest handle.
    let mut buffer = [0u32; (HANDLE_HEADER_LEN + MAX_HANDLE_SZ) / 4];
    buffer[0] = MAX_HANDLE_SZ as u32;
    let mut mount_id: libc::c_int = 0;
    // SAFETY: NUL-terminated path; the buffer is a file_handle announcing
    // MAX_HANDLE_SZ bytes of room.
    let named = unsafe {
        libc::name_to_handle_at(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            buffer.as_mut_ptr().cast::<libc::file_handle>(),
            &mut mount_id,
            0,
        )
    };
    if named < 0 {
        return Err(anyhow::Error::new(std::io::Error::last_os_error())
            .context(format!("{} has no file handle", path.display())));
    }
    // SAFETY: the buffer now holds the handle the kernel wrote.
    let raw = unsafe {
        libc::open_by_handle_at(
            mount.as_raw_fd(),
            buffer.as_mut_ptr().cast::<libc::file_handle>(),
            libc::O_PATH | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(anyhow::Error::new(std::io::Error::last_os_error())
            .context(format!("the handle of {} cannot be opened", path.display())));
    }
    // SAFETY: a new descriptor owned here.
    let opened = unsafe { OwnedFd::from_raw_fd(raw) };
    Ok(std::fs::read_link(format!(
        "/proc/self/fd/{}",
        opened.as_raw_fd()
    ))?)
}

/// Sizes of the kernel's records (`linux/fanotify.h`).
const METADATA_LEN: usize = std::mem::size_of::<libc::fanotify_event_metadata>();
const INFO_HEADER_LEN: usize = 4;
const FSID_LEN: usize = 8;
const HANDLE_HEADER_LEN: usize = 8;

/// How long, in all, handles' decodings are retried after `ENOMEM` over one
/// record (each doubling its pause from 5 ms): past that, the record is
/// doubted, since part of this time GitLab may be frozen.
const OPEN_BY_HANDLE_PATIENCE: Duration = Duration::from_secs(2);

/// The file system identity that events carry (`statfs`'s `f_fsid`).
fn fsid_of(fd: &OwnedFd) -> anyhow::Result<[u8; 8]> {
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, `stat` is a properly sized out-parameter.
    if unsafe { libc::fstatfs(fd.as_raw_fd(), &mut stat) } < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `fsid_t` is two plain integers.
    Ok(unsafe { std::mem::transmute::<libc::fsid_t, [u8; 8]>(stat.f_fsid) })
}

mod reader;
#[cfg(test)]
mod tests;

use reader::Reader;
