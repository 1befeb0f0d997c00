//! Handles and names: what an event's file handle names, whether a file
//! changed is still named under a volume, where a change lies.

use std::collections::BTreeSet;
use std::ffi::{CStr, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::libc;

use super::Reader;
use crate::watch::{
    FSID_LEN, HANDLE_HEADER_LEN, INFO_HEADER_LEN, MAX_CACHED_DIRECTORIES, MAX_CHANGES,
};

impl Reader {
    /// Why the record does not name every file changed and still there,
    /// under each of its names; None when it does. A file gone (no name
    /// left) is nothing to copy.
    pub(super) fn unnamed(&self) -> Option<String> {
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
                if *named_in != NamedIn::Elsewhere && !names_this_file(&path, &stat) {
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
    pub(super) fn alone_outside(&self, key: &[u8]) -> bool {
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
        self.relative(&path).is_none() && names_this_file(&path, &stat)
    }

    /// `path` relative to the copy's root, when under a volume.
    pub(super) fn relative(&self, path: &Path) -> Option<PathBuf> {
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
    pub(super) fn names_sentinel(&self, mut info: &[u8]) -> bool {
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
    pub(super) fn named(&mut self, record: &[u8], has_name: bool) -> Place {
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
    pub(super) fn resolve(&self, key: &[u8]) -> std::io::Result<Option<PathBuf>> {
        let Some(opened) = self.open(key)? else {
            return Ok(None);
        };
        std::fs::read_link(format!("/proc/self/fd/{}", opened.as_raw_fd())).map(Some)
    }

    /// What a handle names, opened (`O_PATH`); None when it is gone or on a
    /// file system not marked.
    pub(super) fn open(&self, key: &[u8]) -> std::io::Result<Option<OwnedFd>> {
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
pub(in crate::watch) enum NamedIn {
    /// Only outside every volume.
    Elsewhere,
    /// In a directory gone by the time its event was read: perhaps a volume's.
    GoneDirectory,
    /// In a volume.
    Volume,
}

/// Where a change's name lies.
#[derive(PartialEq, Eq)]
pub(in crate::watch) enum Place {
    /// Under a volume (or a volume itself): recorded.
    Inside,
    /// Outside every volume.
    Outside,
    /// Not told (a directory gone since, a record not read).
    Unknown,
}

/// Whether `path` (read back from `/proc/self/fd`) truly names the file
/// `stat` describes: a dentry the kernel detached under memory pressure
/// resolves as `/name`, which does not, and then the file cannot be tied to
/// its name.
fn names_this_file(path: &Path, stat: &nix::sys::stat::FileStat) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .is_ok_and(|named| named.dev() == stat.st_dev && named.ino() == stat.st_ino)
}
