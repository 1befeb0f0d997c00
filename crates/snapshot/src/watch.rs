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
use std::ffi::{CStr, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

struct Reader {
    fanotify: OwnedFd,
    filesystems: Vec<Filesystem>,
    /// Each volume: its relative name in the copy, its canonical source.
    roots: Vec<(PathBuf, PathBuf)>,
    own_pid: i32,
    /// Directory handle (file system identity, type, bytes) -> its path,
    /// or None when it is gone.
    directories: HashMap<Vec<u8>, Option<PathBuf>>,
    changed: BTreeSet<PathBuf>,
    /// The handles (file system identity, type, bytes) of the files (not
    /// directories) events were about, whose names are checked at the end,
    /// and where the events named each of them.
    files: HashMap<Vec<u8>, NamedIn>,
    doubt: Option<String>,
    /// The name of the file [`ChangeWatch::finish`] makes, and whether its
    /// event was read.
    sentinel_name: std::ffi::OsString,
    sentinel_seen: bool,
    /// What is left of [`OPEN_BY_HANDLE_PATIENCE`].
    patience: std::cell::Cell<Duration>,
}

/// Reads per turn, at most: a process that writes for each of our reads (a
/// tracer, a log of system calls) must not keep the reader turning.
const READS_PER_TURN: usize = 64;

/// Sizes of the kernel's records (`linux/fanotify.h`).
const METADATA_LEN: usize = std::mem::size_of::<libc::fanotify_event_metadata>();
const INFO_HEADER_LEN: usize = 4;
const FSID_LEN: usize = 8;
const HANDLE_HEADER_LEN: usize = 8;

impl Reader {
    fn run(mut self, phase: &AtomicU8) -> Changes {
        let mut buffer = vec![0u8; 256 << 10];
        let mut finishing_since = None;
        loop {
            match phase.load(Ordering::SeqCst) {
                ABANDONED => break,
                FINISHING => {
                    let since = *finishing_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > CATCH_UP {
                        self.doubt.get_or_insert(format!(
                            "the record of changes did not catch up within {} s",
                            CATCH_UP.as_secs()
                        ));
                        break;
                    }
                }
                _ => {}
            }
            if let Err(error) = self.drain(&mut buffer) {
                self.doubt
                    .get_or_insert(format!("reading the changes failed: {error}"));
            }
            // Once in doubt, nothing read will be used: the mark goes with
            // the descriptor, and the file system is spared the events.
            if self.sentinel_seen || self.doubt.is_some() {
                break;
            }
            // In batches, not on each event: the kernel merges the events
            // on one entry meanwhile.
            std::thread::sleep(if finishing_since.is_some() {
                Duration::from_millis(1)
            } else {
                Duration::from_millis(50)
            });
        }
        if self.sentinel_seen && self.doubt.is_none() {
            self.doubt = self.unnamed();
        }
        match self.doubt {
            Some(why) => Changes::Unknown(why),
            None if self.sentinel_seen => Changes::Paths(self.changed),
            None => Changes::Unknown("abandoned".into()),
        }
    }

    /// Reads events until the queue is empty, the sentinel is read, or
    /// [`READS_PER_TURN`] reads.
    fn drain(&mut self, buffer: &mut [u8]) -> std::io::Result<()> {
        for _ in 0..READS_PER_TURN {
            if self.sentinel_seen {
                return Ok(());
            }
            // SAFETY: reading into a buffer of the length given.
            let read = unsafe {
                libc::read(
                    self.fanotify.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            if read < 0 {
                let error = std::io::Error::last_os_error();
                return match error.kind() {
                    std::io::ErrorKind::WouldBlock => Ok(()),
                    std::io::ErrorKind::Interrupted => continue,
                    _ => Err(error),
                };
            }
            let mut events = &buffer[..read as usize];
            while events.len() >= METADATA_LEN && !self.sentinel_seen {
                let event_len = u32::from_ne_bytes(events[0..4].try_into().unwrap()) as usize;
                if event_len < METADATA_LEN || event_len > events.len() {
                    self.doubt
                        .get_or_insert("an event the kernel sent could not be read".into());
                    break;
                }
                self.event(&events[..event_len]);
                events = &events[event_len..];
            }
        }
        Ok(())
    }

    fn event(&mut self, event: &[u8]) {
        // struct fanotify_event_metadata: event_len u32, vers u8, reserved
        // u8, metadata_len u16, mask u64, fd i32, pid i32.
        if event[4] != libc::FANOTIFY_METADATA_VERSION {
            self.doubt = Some(format!(
                "fanotify speaks version {}, not {}",
                event[4],
                libc::FANOTIFY_METADATA_VERSION
            ));
            return;
        }
        let metadata_len = u16::from_ne_bytes(event[6..8].try_into().unwrap()) as usize;
        let mask = u64::from_ne_bytes(event[8..16].try_into().unwrap());
        let pid = i32::from_ne_bytes(event[20..24].try_into().unwrap());
        if mask & libc::FAN_Q_OVERFLOW != 0 {
            self.doubt = Some("the kernel's queue of changes overflowed".into());
            return;
        }
        // The backup's own writes: into the backup, never into a volume.
        if pid == self.own_pid {
            if mask & libc::FAN_CREATE != 0
                && self.names_sentinel(&event[metadata_len.min(event.len())..])
            {
                self.sentinel_seen = true;
            }
            return;
        }
        if self.doubt.is_some() {
            return;
        }
        let on_directory = mask & libc::FAN_ONDIR != 0;
        // Whether a name came with the event, and where.
        let mut named = false;
        let mut outside = false;
        let mut inside = false;
        let mut unsure = false;
        let mut file = None;
        let mut info = &event[metadata_len.min(event.len())..];
        while info.len() >= INFO_HEADER_LEN {
            let kind = info[0];
            let len = u16::from_ne_bytes(info[2..4].try_into().unwrap()) as usize;
            if len < INFO_HEADER_LEN || len > info.len() {
                self.doubt = Some("an event the kernel sent could not be read".into());
                return;
            }
            let record = &info[INFO_HEADER_LEN..len];
            match kind {
                libc::FAN_EVENT_INFO_TYPE_DFID_NAME => {
                    named = true;
                    match self.named(record, true) {
                        Place::Outside => outside = true,
                        Place::Inside => inside = true,
                        // A directory gone since: perhaps a volume's.
                        Place::Unknown => unsure = true,
                    }
                }
                libc::FAN_EVENT_INFO_TYPE_DFID => {
                    self.named(record, false);
                }
                // The file's own handle: its names are checked at the end.
                libc::FAN_EVENT_INFO_TYPE_FID if !on_directory => file = Some(record),
                libc::FAN_EVENT_INFO_TYPE_FID => {
                    self.named(record, false);
                }
                _ => {}
            }
            info = &info[len..];
        }
        if self.doubt.is_some() || on_directory {
            return;
        }
        match file {
            // Only a name outside every volume: what was written there is
            // not the backup's (a name inside, made since the first pass,
            // comes with an event of its own).
            Some(_) if outside && !inside && !unsure => {}
            Some(record) => {
                if record.len() >= FSID_LEN + HANDLE_HEADER_LEN {
                    let handle_bytes =
                        u32::from_ne_bytes(record[FSID_LEN..FSID_LEN + 4].try_into().unwrap())
                            as usize;
                    if let Some(key) = record.get(..FSID_LEN + HANDLE_HEADER_LEN + handle_bytes) {
                        let here = if inside {
                            NamedIn::Volume
                        } else if unsure {
                            NamedIn::GoneDirectory
                        } else {
                            NamedIn::Elsewhere
                        };
                        // Another program's busy scratch (a build, a restore
                        // elsewhere on the host) must not fill the record:
                        // a file whose one name is outside every volume now
                        // is not remembered (moved into a volume later, its
                        // new name has an event of its own).
                        let remember = here != NamedIn::GoneDirectory
                            || self.files.contains_key(key)
                            || !self.alone_outside(key);
                        if remember {
                            let named = self.files.entry(key.to_vec()).or_insert(here);
                            *named = (*named).max(here);
                        }
                    }
                }
                if self.files.len() > MAX_CHANGES {
                    self.doubt = Some(format!("more than {MAX_CHANGES} files changed"));
                    self.files = HashMap::new();
                }
            }
            None if !named => {
                self.doubt = Some(format!(
                    "the kernel told of a change (mask {mask:#x}) without naming the file"
                ));
            }
            None => {}
        }
    }

    /// Why the record does not name every file changed and still there,
    /// under each of its names; None when it does. A file gone (no name
    /// left) is nothing to copy.
    fn unnamed(&self) -> Option<String> {
        for (key, named_in) in &self.files {
            let opened = match self.open(key) {
                Ok(Some(opened)) => opened,
                Ok(None) => continue,
                Err(error) => {
                    return Some(format!("a changed file cannot be found again: {error}"));
                }
            };
            let stat = match nix::sys::stat::fstat(opened.as_raw_fd()) {
                Ok(stat) => stat,
                Err(error) => return Some(format!("a changed file cannot be looked at: {error}")),
            };
            let links = stat.st_nlink;
            if stat.st_mode & libc::S_IFMT == libc::S_IFDIR || links == 0 {
                continue;
            }
            let path = match std::fs::read_link(format!("/proc/self/fd/{}", opened.as_raw_fd())) {
                Ok(path) => path,
                Err(error) => return Some(format!("a changed file cannot be named: {error}")),
            };
            let relative = self.relative(&path);
            let shown = relative.as_deref().unwrap_or(&path).display().to_string();
            // Whether that name, outside the volumes, truly is this file: a
            // dentry the kernel detached under memory pressure resolves as
            // `/name`, which is not, and then the file cannot be tied to
            // its name.
            let truly_named = || {
                std::fs::symlink_metadata(&path).is_ok_and(|named| {
                    use std::os::unix::fs::MetadataExt;
                    named.dev() == stat.st_dev && named.ino() == stat.st_ino
                })
            };
            // Several names: those in a volume cannot all be told. A file
            // only ever named outside the volumes, one of whose names is
            // outside, is another program's (a build's hard links, an image
            // being unpacked): a volume's file linked outside by another
            // program on the host, and written there, is not seen. One an
            // event named in a directory gone since is not: that directory
            // may have been a volume's, and the name written through with it.
            if links > 1 {
                let another_programs = *named_in == NamedIn::Elsewhere && relative.is_none();
                if !another_programs {
                    return Some(format!("{shown} changed and has several names ({links})"));
                }
                continue;
            }
            let Some(relative) = relative else {
                // Its one name is outside every volume now. Either it was
                // moved out (its old name's directory has its own event), or
                // the event's directory was gone by the time it was read (a
                // compiler writes into a temporary directory, renames the
                // file out, removes the directory): nothing of the backup's
                // either way, provided that name truly is this file.
                if *named_in != NamedIn::Elsewhere && !truly_named() {
                    return Some(format!(
                        "{shown} changed and its name inside the volumes cannot be found again"
                    ));
                }
                continue;
            };
            if !relative
                .ancestors()
                .any(|named| self.changed.contains(named))
            {
                return Some(format!(
                    "{shown} changed through a name gone by the stop (no change names it)"
                ));
            }
        }
        None
    }

    /// Whether the file a handle names is gone, or has one name, outside
    /// every volume, which truly is its own.
    fn alone_outside(&self, key: &[u8]) -> bool {
        let opened = match self.open(key) {
            Ok(Some(opened)) => opened,
            Ok(None) => return true,
            Err(_) => return false,
        };
        let Ok(stat) = nix::sys::stat::fstat(opened.as_raw_fd()) else {
            return false;
        };
        if stat.st_nlink == 0 {
            return true;
        }
        if stat.st_nlink > 1 || stat.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return false;
        }
        let Ok(path) = std::fs::read_link(format!("/proc/self/fd/{}", opened.as_raw_fd())) else {
            return false;
        };
        self.relative(&path).is_none()
            && std::fs::symlink_metadata(&path).is_ok_and(|named| {
                use std::os::unix::fs::MetadataExt;
                named.dev() == stat.st_dev && named.ino() == stat.st_ino
            })
    }

    /// `path` relative to the copy's root, when under a volume.
    fn relative(&self, path: &Path) -> Option<PathBuf> {
        self.roots.iter().find_map(|(relative, root)| {
            path.strip_prefix(root).ok().map(|inside| {
                if inside.as_os_str().is_empty() {
                    relative.clone()
                } else {
                    relative.join(inside)
                }
            })
        })
    }

    /// Whether the information records of one of our own events name the
    /// sentinel.
    fn names_sentinel(&self, mut info: &[u8]) -> bool {
        while info.len() >= INFO_HEADER_LEN {
            let len = u16::from_ne_bytes(info[2..4].try_into().unwrap()) as usize;
            if len < INFO_HEADER_LEN || len > info.len() {
                return false;
            }
            let record = &info[INFO_HEADER_LEN..len];
            if info[0] == libc::FAN_EVENT_INFO_TYPE_DFID_NAME && record.len() >= FSID_LEN + 4 {
                let handle_bytes =
                    u32::from_ne_bytes(record[FSID_LEN..FSID_LEN + 4].try_into().unwrap()) as usize;
                let name = record.get(FSID_LEN + HANDLE_HEADER_LEN + handle_bytes..);
                if let Some(Ok(name)) = name.map(CStr::from_bytes_until_nul)
                    && OsStr::from_bytes(name.to_bytes()) == self.sentinel_name
                {
                    return true;
                }
            }
            info = &info[len..];
        }
        false
    }

    /// One directory handle and, with `has_name`, the entry's name after it;
    /// where that is.
    fn named(&mut self, record: &[u8], has_name: bool) -> Place {
        if record.len() < FSID_LEN + HANDLE_HEADER_LEN {
            return Place::Unknown;
        }
        let handle_bytes =
            u32::from_ne_bytes(record[FSID_LEN..FSID_LEN + 4].try_into().unwrap()) as usize;
        let handle_end = FSID_LEN + HANDLE_HEADER_LEN + handle_bytes;
        if handle_end > record.len() {
            self.doubt = Some("an event the kernel sent could not be read".into());
            return Place::Unknown;
        }
        let key = &record[..handle_end];
        let directory = match self.directories.get(key) {
            Some(known) => known.clone(),
            None => {
                let found = match self.resolve(key) {
                    Ok(found) => found,
                    Err(error) => {
                        self.doubt = Some(format!("a changed directory cannot be named: {error}"));
                        return Place::Unknown;
                    }
                };
                if self.directories.len() >= MAX_CACHED_DIRECTORIES {
                    self.directories.clear();
                }
                self.directories.insert(key.to_vec(), found.clone());
                found
            }
        };
        let Some(directory) = directory else {
            return Place::Unknown;
        };
        // The directory may be a volume's parent: a volume itself changed
        // (its owner or mode) is named from there.
        if !self
            .roots
            .iter()
            .any(|(_, root)| root.starts_with(&directory) || directory.starts_with(root))
        {
            return Place::Outside;
        }
        let name = if has_name {
            CStr::from_bytes_until_nul(&record[handle_end..])
                .map(|name| OsStr::from_bytes(name.to_bytes()))
                .unwrap_or_default()
        } else {
            OsStr::new("")
        };
        let path = if name.is_empty() || name == "." {
            directory
        } else {
            directory.join(name)
        };
        let Some(relative) = self.relative(&path) else {
            return Place::Outside;
        };
        self.changed.insert(relative);
        if self.changed.len() > MAX_CHANGES {
            self.doubt = Some(format!("more than {MAX_CHANGES} paths changed"));
            self.changed = BTreeSet::new();
        }
        Place::Inside
    }

    /// The path of the directory a handle names; None when it is gone or
    /// on a file system not marked; an error when it cannot be told.
    fn resolve(&self, key: &[u8]) -> std::io::Result<Option<PathBuf>> {
        let Some(opened) = self.open(key)? else {
            return Ok(None);
        };
        std::fs::read_link(format!("/proc/self/fd/{}", opened.as_raw_fd())).map(Some)
    }

    /// What a handle names, opened (`O_PATH`); None when it is gone or on a
    /// file system not marked.
    fn open(&self, key: &[u8]) -> std::io::Result<Option<OwnedFd>> {
        let fsid: [u8; 8] = key[..FSID_LEN].try_into().expect("8 bytes");
        let Some(filesystem) = self.filesystems.iter().find(|f| f.fsid == fsid) else {
            return Ok(None);
        };
        // struct file_handle { u32 handle_bytes; i32 handle_type; u8 f_handle[] },
        // 4-byte aligned for the kernel.
        let handle = &key[FSID_LEN..];
        let mut aligned = vec![0u32; handle.len().div_ceil(4)];
        // SAFETY: `aligned` holds at least `handle.len()` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                handle.as_ptr(),
                aligned.as_mut_ptr().cast::<u8>(),
                handle.len(),
            )
        };
        let mut pause = Duration::from_millis(5);
        loop {
            // SAFETY: the buffer holds a whole file_handle as the kernel sent it.
            let raw = unsafe {
                libc::open_by_handle_at(
                    filesystem.mount.as_raw_fd(),
                    aligned.as_mut_ptr().cast::<libc::file_handle>(),
                    libc::O_PATH | libc::O_CLOEXEC,
                )
            };
            if raw >= 0 {
                // SAFETY: a new descriptor owned here.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(raw) }));
            }
            let error = std::io::Error::last_os_error();
            match error.raw_os_error() {
                // Gone: its parent's event names it.
                Some(libc::ESTALE | libc::ENOENT) => return Ok(None),
                // The kernel could not build the directory's path back to the
                // root this time (an allocation while reconnecting it, under
                // load): NFS servers answer "try again later" to the same
                // error, and so do we, rather than walking every entry.
                Some(libc::ENOMEM) if self.patience.get() >= pause => {
                    std::thread::sleep(pause);
                    self.patience.set(self.patience.get() - pause);
                    pause *= 2;
                }
                _ => return Err(error),
            }
        }
    }
}

/// Where the events about one file named it, the surest place kept.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum NamedIn {
    /// Only outside every volume.
    Elsewhere,
    /// In a directory gone by the time its event was read: perhaps a volume's.
    GoneDirectory,
    /// In a volume.
    Volume,
}

/// Where a change's name lies.
#[derive(PartialEq, Eq)]
enum Place {
    /// Under a volume (or a volume itself): recorded.
    Inside,
    /// Outside every volume.
    Outside,
    /// Not told (a directory gone since, a record not read).
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(root: &Path, scratch: &Path) -> anyhow::Result<ChangeWatch> {
        ChangeWatch::start(&[(PathBuf::from("data"), root.to_path_buf())], scratch)
    }

    /// Changes made by another process are named, under the volume's
    /// relative name; the watcher's own writes are not.
    #[test]
    fn names_what_another_process_changed() {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("volume");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/kept"), "1").unwrap();
        std::fs::write(root.join("a/b/edited"), "1").unwrap();
        let own = scratch.path().join("own");
        std::fs::create_dir(&own).unwrap();
        let watch = match watched(&root, &own) {
            Ok(watch) => watch,
            // Without CAP_SYS_ADMIN (`cargo test --lib` as a user) there is
            // no file system mark: the backup falls back to a full walk.
            Err(error) if !nix::unistd::geteuid().is_root() => {
                eprintln!("skipped: {error:#}");
                return;
            }
            Err(error) => panic!("{error:#}"),
        };
        std::fs::write(root.join("a/b/own"), "mine").unwrap();
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("echo 2 >> a/b/edited && mkdir c && touch c/new && mv a/b/kept a/moved && chmod 0700 .")
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(status.success());
        let Changes::Paths(paths) = watch.finish() else {
            panic!("no record of the changes");
        };
        let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "data",
                "data/a/b/edited",
                "data/a/b/kept",
                "data/a/moved",
                "data/c",
                "data/c/new"
            ]
        );
    }

    /// Runs `script` in `root` while watched; the answer.
    fn changes_of(script: &str, prepare: &str) -> Option<Changes> {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().join("volume");
        std::fs::create_dir_all(&root).unwrap();
        let sh = |script: &str| {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .current_dir(&root)
                .status()
                .unwrap();
            assert!(status.success(), "{script}");
        };
        sh(prepare);
        let own = scratch.path().join("own");
        std::fs::create_dir(&own).unwrap();
        let watch = match watched(&root, &own) {
            Ok(watch) => watch,
            Err(error) if !nix::unistd::geteuid().is_root() => {
                eprintln!("skipped: {error:#}");
                return None;
            }
            Err(error) => panic!("{error:#}"),
        };
        sh(script);
        Some(watch.finish())
    }

    /// A file written through a name made and removed since: its other
    /// name is named by no event, and the answer says so.
    #[test]
    fn a_file_written_through_a_name_gone_is_not_known() {
        let Some(changes) = changes_of(
            "ln a/x b/y && echo more >> b/y && rm b/y",
            "mkdir a b && echo 1 > a/x",
        ) else {
            return;
        };
        let Changes::Unknown(why) = changes else {
            panic!("known: {changes:?}");
        };
        assert!(why.contains("data/a/x"), "{why}");
    }

    /// A file still with two names, one of them never named by an event.
    #[test]
    fn a_file_left_with_a_second_name_is_not_known() {
        let Some(changes) = changes_of(
            "ln a/x b/y && echo more >> b/y",
            "mkdir a b && echo 1 > a/x",
        ) else {
            return;
        };
        assert!(matches!(changes, Changes::Unknown(why) if why.contains("several names (2)")));
    }

    /// Another program on the same file system (a compiler: writes into a
    /// temporary directory, renames the file out, removes the directory)
    /// keeps the record, though the directory is gone when its events are
    /// read: the file's one name, outside every volume, is truly its own.
    #[test]
    fn another_programs_temporary_directories_outside_the_volumes_keep_the_record() {
        let Some(changes) = changes_of(
            "cd .. && mkdir out && for i in $(seq 1 300); do mkdir out/tmp$i \
             && echo $i > out/tmp$i/lib$i.rmeta && mv out/tmp$i/lib$i.rmeta out/ \
             && rmdir out/tmp$i; done",
            "",
        ) else {
            return;
        };
        assert!(matches!(changes, Changes::Paths(_)), "{changes:?}");
    }

    /// What services do all the time keeps the record: a file renamed into
    /// place, an object linked to its name then its temporary name removed,
    /// a scratch file made and removed, a file removed.
    #[test]
    fn renames_links_and_scratch_files_are_followed() {
        let Some(changes) = changes_of(
            "echo 1 > tmp && mv tmp final && echo 2 > tmp-obj && ln tmp-obj obj && rm tmp-obj \
             && echo 3 > scratch && rm scratch old",
            "echo 0 > old",
        ) else {
            return;
        };
        let Changes::Paths(paths) = changes else {
            panic!("not known: {changes:?}");
        };
        assert!(paths.contains(Path::new("data/final")) && paths.contains(Path::new("data/obj")));
    }
}
