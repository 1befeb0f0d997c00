//! The reader of the fanotify record: a thread that drains the events and
//! keeps the paths they name, until the watch is finished or given up.

use std::collections::{BTreeSet, HashMap};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use nix::libc;

mod names;

use crate::watch::{
    ABANDONED, CATCH_UP, Changes, FINISHING, FSID_LEN, Filesystem, HANDLE_HEADER_LEN,
    INFO_HEADER_LEN, MAX_CHANGES, METADATA_LEN,
};
use names::{NamedIn, Place};

pub(super) struct Reader {
    pub(super) fanotify: OwnedFd,
    pub(super) filesystems: Vec<Filesystem>,
    /// Each volume: its relative name in the copy, its canonical source.
    pub(super) roots: Vec<(PathBuf, PathBuf)>,
    pub(super) own_pid: i32,
    /// Directory handle (file system identity, type, bytes) -> its path,
    /// or None when it is gone.
    pub(super) directories: HashMap<Vec<u8>, Option<PathBuf>>,
    pub(super) changed: BTreeSet<PathBuf>,
    /// The handles (file system identity, type, bytes) of the files (not
    /// directories) events were about, whose names are checked at the end,
    /// and where the events named each of them.
    pub(super) files: HashMap<Vec<u8>, NamedIn>,
    pub(super) doubt: Option<String>,
    /// The name of the file [`ChangeWatch::finish`](crate::ChangeWatch::finish) makes, and whether its
    /// event was read.
    pub(super) sentinel_name: std::ffi::OsString,
    pub(super) sentinel_seen: bool,
    /// What is left of [`OPEN_BY_HANDLE_PATIENCE`](crate::watch::OPEN_BY_HANDLE_PATIENCE).
    pub(super) patience: std::cell::Cell<Duration>,
}

/// Reads per turn, at most: a process that writes for each of our reads (a
/// tracer, a log of system calls) must not keep the reader turning.
const READS_PER_TURN: usize = 64;

impl Reader {
    pub(super) fn run(mut self, phase: &AtomicU8) -> Changes {
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
}
