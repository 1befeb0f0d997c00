//! Copies a tree with its metadata (what `cp -a` keeps, as root), hard-links
//! files unchanged since a previous copy (as `rsync --link-dest` does), and
//! describes a finished copy in a MANIFEST that can be re-read and checked.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, utimensat};
use nix::sys::time::TimeSpec;

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

/// What a sync did.
#[derive(Debug, Clone, Default)]
pub struct SyncStats {
    /// Regular files whose content was copied.
    pub copied_files: u64,
    /// Bytes of content copied.
    pub copied_bytes: u64,
    /// Files hard-linked into the previous copy instead of copied.
    pub linked_files: u64,
    /// Entries already identical in the destination, left alone.
    pub unchanged: u64,
    /// Entries of the destination that the source no longer has.
    pub removed: u64,
    /// Sockets, which cannot be copied (relative paths).
    pub skipped_sockets: Vec<PathBuf>,
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

fn remove_any(path: &Path, metadata: &Metadata) -> io::Result<()> {
    if metadata.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// Applies owner, mode and times of `source` to `path` (never following a link).
/// Owner first: chown clears setuid/setgid bits, so the mode comes after.
fn apply_metadata(path: &Path, source: &Metadata) -> anyhow::Result<()> {
    std::os::unix::fs::lchown(path, Some(source.uid()), Some(source.gid()))
        .with_context(|| format!("cannot chown {}", path.display()))?;
    if !source.file_type().is_symlink() {
        fs::set_permissions(path, fs::Permissions::from_mode(source.mode() & 0o7777))
            .with_context(|| format!("cannot chmod {}", path.display()))?;
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

/// Makes `destination` an exact copy of `source`, like `rsync -aH --numeric-ids
/// --delete --link-dest=<previous>`: entries already identical are left alone,
/// unchanged files are hard links into `previous`, anything else is written
/// beside its place and renamed over it, so that a file shared with an earlier
/// backup is never modified in place.
pub fn sync_tree(
    source: &Path,
    destination: &Path,
    previous: Option<&Path>,
) -> anyhow::Result<SyncStats> {
    let mut syncer = Syncer {
        roots: Roots {
            source: source.to_path_buf(),
            destination: destination.to_path_buf(),
            previous: previous.map(Path::to_path_buf),
        },
        inodes: HashMap::new(),
        stats: SyncStats::default(),
        jobs: Vec::new(),
        directories: Vec::new(),
    };
    let metadata = fs::symlink_metadata(source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    if !metadata.is_dir() {
        bail!("{} is not a directory", source.display());
    }
    syncer.sync_dir(Path::new(""), &metadata)?;
    // Creating files costs the kernel more than copying their bytes: every
    // core takes a share of the plain files.
    for outcome in syncer.roots.sync_files_in_parallel(&syncer.jobs)? {
        syncer.stats.count(outcome);
    }
    // Last, children before parents: writing entries changes a directory's mtime.
    // A directory whose entries did not change keeps what the earlier pass
    // set: in a second pass, most of them (three syscalls saved on each).
    for (directory, metadata) in &syncer.directories {
        let current = fs::symlink_metadata(directory)?;
        // A directory's size depends on its history, not on its entries: not compared.
        let same = current.mode() == metadata.mode()
            && (current.uid(), current.gid()) == (metadata.uid(), metadata.gid())
            && (current.mtime(), current.mtime_nsec()) == (metadata.mtime(), metadata.mtime_nsec());
        if !same {
            apply_metadata(directory, metadata)?;
        }
    }
    Ok(syncer.stats)
}

/// What happened to one regular file.
#[derive(Debug, Clone, Copy)]
enum FileOutcome {
    Unchanged,
    Linked,
    Copied(u64),
    Vanished,
}

impl SyncStats {
    fn count(&mut self, outcome: FileOutcome) {
        match outcome {
            FileOutcome::Unchanged => self.unchanged += 1,
            FileOutcome::Linked => self.linked_files += 1,
            FileOutcome::Copied(bytes) => {
                self.copied_files += 1;
                self.copied_bytes += bytes;
            }
            FileOutcome::Vanished => {}
        }
    }
}

/// The trees a sync works on; shared by the threads that copy files.
struct Roots {
    source: PathBuf,
    destination: PathBuf,
    previous: Option<PathBuf>,
}

struct Syncer {
    roots: Roots,
    /// Source (device, inode) of multiply-linked files -> their first copy.
    inodes: HashMap<(u64, u64), PathBuf>,
    stats: SyncStats,
    /// Files with one link: synced after the walk, on every core.
    jobs: Vec<(PathBuf, Metadata)>,
    /// Directories and their source metadata, in post-order.
    directories: Vec<(PathBuf, Metadata)>,
}

impl Roots {
    fn sync_files_in_parallel(
        &self,
        jobs: &[(PathBuf, Metadata)],
    ) -> anyhow::Result<Vec<FileOutcome>> {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        // Runs of neighbours (mostly one directory) per grab, so that two
        // threads seldom contend for the same directory.
        const RUN: usize = 32;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(jobs.len().div_ceil(RUN).max(1));
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let first_error: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        let outcomes: Vec<Mutex<FileOutcome>> = jobs
            .iter()
            .map(|_| Mutex::new(FileOutcome::Vanished))
            .collect();
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    while !failed.load(Ordering::Relaxed) {
                        let start = next.fetch_add(RUN, Ordering::Relaxed);
                        if start >= jobs.len() {
                            break;
                        }
                        for index in start..(start + RUN).min(jobs.len()) {
                            let (relative, metadata) = &jobs[index];
                            match self.sync_plain_file(relative, metadata) {
                                Ok(outcome) => {
                                    *outcomes[index].lock().expect("not poisoned") = outcome
                                }
                                Err(error) => {
                                    failed.store(true, Ordering::Relaxed);
                                    first_error
                                        .lock()
                                        .expect("not poisoned")
                                        .get_or_insert(error);
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        if let Some(error) = first_error.into_inner().expect("not poisoned") {
            return Err(error);
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.into_inner().expect("not poisoned"))
            .collect())
    }

    /// Syncs one regular file: left alone if identical, else a hard link
    /// into the previous copy if unchanged since, else a copy.
    fn sync_plain_file(&self, relative: &Path, metadata: &Metadata) -> anyhow::Result<FileOutcome> {
        let destination = self.destination.join(relative);
        let existing = lstat(&destination)?;
        if let Some(existing) = &existing
            && existing.is_file()
            && same_metadata(existing, metadata)
        {
            return Ok(FileOutcome::Unchanged);
        }
        if let Some(previous) = self.previous_twin(relative, metadata)? {
            match place_link(&previous, &destination, existing.is_some()) {
                Ok(()) => return Ok(FileOutcome::Linked),
                // Too many links to that inode: a copy does as well.
                Err(error) if is_too_many_links(&error) => {}
                Err(error) => return Err(error),
            }
        }
        self.copy_file(relative, metadata, existing.is_some())
    }

    /// The file of the previous copy with this path and the same metadata.
    fn previous_twin(
        &self,
        relative: &Path,
        metadata: &Metadata,
    ) -> anyhow::Result<Option<PathBuf>> {
        let Some(previous) = &self.previous else {
            return Ok(None);
        };
        let candidate = previous.join(relative);
        Ok(match lstat(&candidate)? {
            Some(found) if found.is_file() && same_metadata(&found, metadata) => Some(candidate),
            _ => None,
        })
    }

    /// Copies the content and metadata. Over an existing entry the copy is
    /// written beside it and renamed, never written into it (it may be a hard
    /// link shared with an earlier backup); into an empty place, directly.
    fn copy_file(
        &self,
        relative: &Path,
        metadata: &Metadata,
        exists: bool,
    ) -> anyhow::Result<FileOutcome> {
        let source = self.source.join(relative);
        let destination = self.destination.join(relative);
        let target = if exists {
            temp_beside(&destination)
        } else {
            destination.clone()
        };
        if exists {
            let _ = fs::remove_file(&target);
        }
        let mut input = match OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&source)
        {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Ok(FileOutcome::Vanished);
            }
            Err(error) => {
                return Err(
                    anyhow::Error::new(error).context(format!("cannot open {}", source.display()))
                );
            }
        };
        let mut output = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        // std::io::copy uses copy_file_range on Linux: no round trip through user space.
        let bytes = io::copy(&mut input, &mut output)
            .with_context(|| format!("cannot copy {}", source.display()))?;
        drop(output);
        // The metadata is the one read BEFORE the content: if the file changed
        // while it was read, its mtime now differs, and the next pass copies it again.
        apply_metadata(&target, metadata)?;
        if exists {
            replace(&target, &destination)?;
        }
        Ok(FileOutcome::Copied(bytes))
    }
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
        let _ = fs::remove_file(&link);
    }
    fs::hard_link(target, &link)
        .with_context(|| format!("cannot link {} to {}", link.display(), target.display()))?;
    if exists {
        replace(&link, destination)?;
    }
    Ok(())
}

impl Syncer {
    fn sync_dir(&mut self, relative: &Path, metadata: &Metadata) -> anyhow::Result<()> {
        let source_dir = self.roots.source.join(relative);
        let destination_dir = self.roots.destination.join(relative);
        match lstat(&destination_dir)? {
            Some(existing) if existing.is_dir() => {}
            Some(existing) => {
                remove_any(&destination_dir, &existing)?;
                fs::create_dir(&destination_dir)?;
            }
            None => fs::DirBuilder::new()
                .recursive(true)
                .create(&destination_dir)
                .with_context(|| format!("cannot create {}", destination_dir.display()))?,
        }
        let mut names: Vec<OsString> = fs::read_dir(&source_dir)
            .with_context(|| format!("cannot read {}", source_dir.display()))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        let wanted: std::collections::HashSet<&OsString> = names.iter().collect();
        for entry in fs::read_dir(&destination_dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if !wanted.contains(&name) {
                let path = entry.path();
                if let Some(existing) = lstat(&path)? {
                    remove_any(&path, &existing)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                    self.stats.removed += 1;
                }
            }
        }
        for name in &names {
            let child = relative.join(name);
            let source_path = self.roots.source.join(&child);
            // A file that vanished between the listing and now is not an error:
            // a live instance deletes files while the first pass runs.
            let Some(child_metadata) = lstat(&source_path)? else {
                continue;
            };
            match Kind::of(&child_metadata) {
                Kind::Dir => self.sync_dir(&child, &child_metadata)?,
                Kind::File if child_metadata.nlink() == 1 => {
                    self.jobs.push((child, child_metadata));
                }
                Kind::File => self.sync_linked_file(&child, &child_metadata)?,
                Kind::Symlink => self.sync_symlink(&child, &child_metadata)?,
                Kind::Socket => {
                    let destination = self.roots.destination.join(&child);
                    if let Some(existing) = lstat(&destination)? {
                        remove_any(&destination, &existing)?;
                    }
                    self.stats.skipped_sockets.push(child);
                }
                kind => self.sync_special(&child, &child_metadata, kind)?,
            }
        }
        self.directories.push((destination_dir, metadata.clone()));
        Ok(())
    }

    /// A file with several names: the first name is synced like any file,
    /// the others become hard links to it, as in the source.
    fn sync_linked_file(&mut self, relative: &Path, metadata: &Metadata) -> anyhow::Result<()> {
        let destination = self.roots.destination.join(relative);
        let key = (metadata.dev(), metadata.ino());
        if let Some(first) = self.inodes.get(&key).cloned() {
            let existing = lstat(&destination)?;
            let first_metadata = fs::symlink_metadata(&first)?;
            if existing.as_ref().map(|m| (m.dev(), m.ino()))
                == Some((first_metadata.dev(), first_metadata.ino()))
            {
                self.stats.unchanged += 1;
            } else {
                place_link(&first, &destination, existing.is_some())?;
            }
            return Ok(());
        }
        let outcome = self.roots.sync_plain_file(relative, metadata)?;
        self.stats.count(outcome);
        self.inodes.insert(key, destination);
        Ok(())
    }

    fn sync_symlink(&mut self, relative: &Path, metadata: &Metadata) -> anyhow::Result<()> {
        let source = self.roots.source.join(relative);
        let destination = self.roots.destination.join(relative);
        let target = match fs::read_link(&source) {
            Ok(target) => target,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        if let Some(existing) = lstat(&destination)?
            && existing.file_type().is_symlink()
            && existing.uid() == metadata.uid()
            && existing.gid() == metadata.gid()
            && existing.mtime() == metadata.mtime()
            && existing.mtime_nsec() == metadata.mtime_nsec()
            && fs::read_link(&destination)? == target
        {
            self.stats.unchanged += 1;
            return Ok(());
        }
        let temp = temp_beside(&destination);
        let _ = fs::remove_file(&temp);
        symlink(&target, &temp)
            .with_context(|| format!("cannot create link {}", temp.display()))?;
        apply_metadata(&temp, metadata)?;
        replace(&temp, &destination)
    }

    fn sync_special(
        &mut self,
        relative: &Path,
        metadata: &Metadata,
        kind: Kind,
    ) -> anyhow::Result<()> {
        let destination = self.roots.destination.join(relative);
        if let Some(existing) = lstat(&destination)?
            && same_metadata(&existing, metadata)
            && existing.rdev() == metadata.rdev()
        {
            self.stats.unchanged += 1;
            return Ok(());
        }
        let temp = temp_beside(&destination);
        let _ = fs::remove_file(&temp);
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
        replace(&temp, &destination)
    }
}

fn replace(temp: &Path, destination: &Path) -> anyhow::Result<()> {
    if let Some(existing) = lstat(destination)?
        && existing.is_dir()
    {
        fs::remove_dir_all(destination)?;
    }
    fs::rename(temp, destination).with_context(|| {
        format!(
            "cannot rename {} to {}",
            temp.display(),
            destination.display()
        )
    })
}

fn is_too_many_links(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_error| io_error.raw_os_error() == Some(nix::libc::EMLINK))
}

/// Whether an error chain holds "no space left on device".
pub fn is_out_of_space(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|io_error| {
            io_error.raw_os_error() == Some(nix::libc::ENOSPC)
                || io_error.kind() == io::ErrorKind::StorageFull
        })
}

/// The bytes a sync of `source` would copy (files neither identical in
/// `destination` nor linkable from `previous`), found by metadata alone.
pub fn bytes_to_copy(
    source: &Path,
    destination: &Path,
    previous: Option<&Path>,
) -> anyhow::Result<u64> {
    fn walk(
        source: &Path,
        destination: &Path,
        previous: Option<&Path>,
        total: &mut u64,
    ) -> anyhow::Result<()> {
        let entries = match fs::read_dir(source) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error.into()),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(metadata) = lstat(&entry.path())? else {
                continue;
            };
            if metadata.is_dir() {
                walk(
                    &entry.path(),
                    &destination.join(&name),
                    previous.map(|p| p.join(&name)).as_deref(),
                    total,
                )?;
            } else if metadata.is_file() {
                let identical = |path: PathBuf| -> io::Result<bool> {
                    Ok(lstat(&path)?
                        .is_some_and(|found| found.is_file() && same_metadata(&found, &metadata)))
                };
                if !identical(destination.join(&name))?
                    && !previous
                        .map(|p| identical(p.join(&name)))
                        .transpose()?
                        .unwrap_or(false)
                {
                    *total += metadata.size();
                }
            }
        }
        Ok(())
    }
    let mut total = 0;
    walk(source, destination, previous, &mut total)?;
    Ok(total)
}

/// One entry of a MANIFEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the backup root.
    pub path: PathBuf,
    /// Its kind.
    pub kind: Kind,
    /// Its size in bytes (0 but for files and links).
    pub size: u64,
    /// Its permission bits, setuid/setgid/sticky included.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Modification time, seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
    /// BLAKE3 of the content (files), of the target (links), or `-`.
    pub checksum: String,
}

impl Entry {
    fn line(&self) -> String {
        format!(
            "{}\t{:o}\t{}\t{}\t{}\t{}.{:09}\t{}\t{}",
            self.kind.as_str(),
            self.mode,
            self.uid,
            self.gid,
            self.size,
            self.mtime.0,
            self.mtime.1,
            self.checksum,
            escape(self.path.as_os_str().as_bytes())
        )
    }

    fn parse(line: &str) -> Option<Entry> {
        let fields: Vec<&str> = line.splitn(8, '\t').collect();
        if fields.len() != 8 {
            return None;
        }
        let (seconds, nanoseconds) = fields[5].split_once('.')?;
        Some(Entry {
            kind: Kind::parse(fields[0])?,
            mode: u32::from_str_radix(fields[1], 8).ok()?,
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            size: fields[4].parse().ok()?,
            mtime: (seconds.parse().ok()?, nanoseconds.parse().ok()?),
            checksum: fields[6].to_string(),
            path: PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(fields[7])?)),
        })
    }
}

/// Percent-escapes what would break a line: `%`, tab, newline, carriage return.
fn escape(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    for &byte in bytes {
        match byte {
            b'%' | b'\t' | b'\n' | b'\r' => {
                out.extend_from_slice(format!("%{byte:02X}").as_bytes())
            }
            _ => out.push(byte),
        }
    }
    // Paths are bytes: non-UTF-8 bytes are escaped too, so the MANIFEST is text.
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(error) => error
            .into_bytes()
            .iter()
            .map(|&b| {
                if b.is_ascii() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
    }
}

fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    Some(out)
}

/// A MANIFEST: `key: value` header lines, a blank line, one line per entry,
/// and a last line `end <count>` that tells a whole file from a cut one.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// Header fields, in order.
    pub header: Vec<(String, String)>,
    /// Entries, sorted by path.
    pub entries: Vec<Entry>,
}

/// The MANIFEST's file name inside a backup.
pub const MANIFEST: &str = "MANIFEST";

impl Manifest {
    /// A header value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The text of the MANIFEST.
    pub fn render(&self) -> String {
        let mut text = String::from("# Girofle backup manifest\n");
        for (key, value) in &self.header {
            text.push_str(&format!("{key}: {}\n", value.replace('\n', " ")));
        }
        text.push_str("\n# type\tmode\tuid\tgid\tsize\tmtime\tblake3\tpath\n");
        for entry in &self.entries {
            text.push_str(&entry.line());
            text.push('\n');
        }
        text.push_str(&format!("end {}\n", self.entries.len()));
        text
    }

    /// Reads a MANIFEST; an error names the line that is wrong.
    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut manifest = Manifest::default();
        let mut in_header = true;
        let mut ended = false;
        for (index, line) in io::BufReader::new(file).lines().enumerate() {
            let line = line?;
            let number = index + 1;
            if ended {
                bail!("{} line {number}: text after the end line", path.display());
            }
            if line.starts_with('#') {
                continue;
            }
            if in_header {
                if line.is_empty() {
                    in_header = false;
                } else {
                    let (key, value) = line.split_once(": ").with_context(|| {
                        format!("{} line {number}: not a `key: value` line", path.display())
                    })?;
                    manifest.header.push((key.to_string(), value.to_string()));
                }
            } else if let Some(count) = line.strip_prefix("end ") {
                if count.parse::<usize>().ok() != Some(manifest.entries.len()) {
                    bail!(
                        "{} line {number}: the end line counts {count} entries, the file has {}",
                        path.display(),
                        manifest.entries.len()
                    );
                }
                ended = true;
            } else {
                let entry = Entry::parse(&line).with_context(|| {
                    format!("{} line {number}: not an entry line", path.display())
                })?;
                manifest.entries.push(entry);
            }
        }
        if !ended {
            bail!("{} is cut short: no end line", path.display());
        }
        Ok(manifest)
    }
}

fn hash_file(path: &Path) -> anyhow::Result<String> {
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file
            .read(&mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Describes the tree at `root`, entry by entry, with content checksums.
/// Files that are the very inode of a file in `previous` (hard links made by
/// the sync) take their checksum from the previous MANIFEST instead of being
/// read again; the others are read on every core at once. The MANIFEST file
/// itself is left out.
pub fn describe(root: &Path, previous: Option<(&Path, &Manifest)>) -> anyhow::Result<Vec<Entry>> {
    let known: HashMap<&Path, &Entry> = previous
        .map(|(_, manifest)| {
            manifest
                .entries
                .iter()
                .map(|e| (e.path.as_path(), e))
                .collect()
        })
        .unwrap_or_default();
    // Entry index -> index in `to_hash` of the file whose checksum it takes.
    let mut pending: Vec<(usize, usize)> = Vec::new();
    let mut to_hash: Vec<PathBuf> = Vec::new();
    let mut first_of_inode: HashMap<(u64, u64), usize> = HashMap::new();
    let mut entries = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let directory = root.join(&relative);
        let mut names: Vec<OsString> = fs::read_dir(&directory)
            .with_context(|| format!("cannot read {}", directory.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        for name in names {
            let child = relative.join(&name);
            if child.as_os_str() == MANIFEST {
                continue;
            }
            let path = root.join(&child);
            let metadata = fs::symlink_metadata(&path)?;
            let kind = Kind::of(&metadata);
            let checksum = match kind {
                Kind::File => {
                    let inode = (metadata.dev(), metadata.ino());
                    let reused = previous.and_then(|(previous_root, _)| {
                        let entry = known.get(child.as_path())?;
                        let twin = fs::symlink_metadata(previous_root.join(&child)).ok()?;
                        ((twin.dev(), twin.ino()) == inode && entry.kind == Kind::File)
                            .then(|| entry.checksum.clone())
                    });
                    match reused {
                        Some(sum) => sum,
                        None => {
                            let slot = *first_of_inode.entry(inode).or_insert_with(|| {
                                to_hash.push(path.clone());
                                to_hash.len() - 1
                            });
                            pending.push((entries.len(), slot));
                            String::new()
                        }
                    }
                }
                Kind::Symlink => blake3::hash(fs::read_link(&path)?.as_os_str().as_bytes())
                    .to_hex()
                    .to_string(),
                _ => "-".to_string(),
            };
            if kind == Kind::Dir {
                stack.push(child.clone());
            }
            entries.push(Entry {
                path: child,
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
            });
        }
    }
    let sums = hash_files(&to_hash)?;
    for (entry, slot) in pending {
        entries[entry].checksum = sums[slot].clone();
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// BLAKE3 of each file, read by as many threads as there are cores.
fn hash_files(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(paths.len().max(1));
    let next = AtomicUsize::new(0);
    let sums: Vec<Mutex<Option<anyhow::Result<String>>>> =
        paths.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = paths.get(index) else { break };
                    *sums[index].lock().expect("no thread panics holding it") =
                        Some(hash_file(path));
                }
            });
        }
    });
    sums.into_iter()
        .map(|slot| {
            slot.into_inner()
                .expect("no thread panics holding it")
                .expect("every file was hashed")
        })
        .collect()
}

/// Writes the MANIFEST into `root` durably: every file of the backup reaches
/// the disk first (one syncfs), then the MANIFEST, then its directory.
pub fn write_manifest(root: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let directory = File::open(root).with_context(|| format!("cannot open {}", root.display()))?;
    nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&directory)).context("syncfs failed")?;
    let path = root.join(MANIFEST);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(manifest.render().as_bytes())?;
    file.sync_all()?;
    crate::atomic::sync_directory(root)
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

/// Re-reads the tree at `root` and compares it with its MANIFEST.
pub fn verify(root: &Path) -> anyhow::Result<(Manifest, Vec<Problem>)> {
    let manifest = Manifest::read(&root.join(MANIFEST))?;
    let actual = describe(root, None)?;
    let mut problems = Vec::new();
    let expected: HashMap<&Path, &Entry> = manifest
        .entries
        .iter()
        .map(|e| (e.path.as_path(), e))
        .collect();
    let found: HashMap<&Path, &Entry> = actual.iter().map(|e| (e.path.as_path(), e)).collect();
    for entry in &manifest.entries {
        // Sockets were listed, not copied.
        if entry.kind == Kind::Socket {
            continue;
        }
        match found.get(entry.path.as_path()) {
            None => problems.push(Problem::Missing(entry.path.clone())),
            Some(actual) => {
                let mut how = Vec::new();
                if actual.kind != entry.kind {
                    how.push(format!(
                        "type {} instead of {}",
                        actual.kind.as_str(),
                        entry.kind.as_str()
                    ));
                }
                if actual.size != entry.size && entry.kind != Kind::Dir {
                    how.push(format!("size {} instead of {}", actual.size, entry.size));
                }
                if actual.mode != entry.mode {
                    how.push(format!(
                        "mode {:o} instead of {:o}",
                        actual.mode, entry.mode
                    ));
                }
                if (actual.uid, actual.gid) != (entry.uid, entry.gid) {
                    how.push(format!(
                        "owner {}:{} instead of {}:{}",
                        actual.uid, actual.gid, entry.uid, entry.gid
                    ));
                }
                if actual.mtime != entry.mtime && entry.kind != Kind::Dir {
                    how.push("mtime".to_string());
                }
                if actual.checksum != entry.checksum {
                    how.push("content".to_string());
                }
                if !how.is_empty() {
                    problems.push(Problem::Changed(entry.path.clone(), how.join(", ")));
                }
            }
        }
    }
    for entry in &actual {
        if !expected.contains_key(entry.path.as_path()) {
            problems.push(Problem::Extra(entry.path.clone()));
        }
    }
    Ok((manifest, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_paths_round_trip() {
        for path in ["plain/name", "with\ttab", "new\nline", "50%", "é"] {
            assert_eq!(unescape(&escape(path.as_bytes())).unwrap(), path.as_bytes());
        }
    }

    #[test]
    fn a_second_sync_hard_links_unchanged_files_and_copies_changed_ones() {
        let work = tempfile::tempdir().unwrap();
        let source = work.path().join("source");
        fs::create_dir_all(source.join("sub/empty")).unwrap();
        fs::write(source.join("sub/same"), "same").unwrap();
        fs::write(source.join("changes"), "one").unwrap();
        symlink("sub/same", source.join("link")).unwrap();
        fs::hard_link(source.join("sub/same"), source.join("alias")).unwrap();
        nix::unistd::mkfifo(&source.join("pipe"), Mode::from_bits_truncate(0o640)).unwrap();
        fs::set_permissions(source.join("sub"), fs::Permissions::from_mode(0o2770)).unwrap();

        let first = work.path().join("first");
        sync_tree(&source, &first, None).unwrap();
        let manifest = Manifest {
            header: vec![],
            entries: describe(&first, None).unwrap(),
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(source.join("changes"), "two").unwrap();
        let second = work.path().join("second");
        let stats = sync_tree(&source, &second, Some(&first)).unwrap();
        assert_eq!(stats.copied_files, 1);
        let inode = |p: &Path| fs::symlink_metadata(p).unwrap().ino();
        assert_eq!(
            inode(&first.join("sub/same")),
            inode(&second.join("sub/same"))
        );
        assert_eq!(
            inode(&second.join("alias")),
            inode(&second.join("sub/same"))
        );
        assert_ne!(
            inode(&first.join("changes")),
            inode(&second.join("changes"))
        );
        assert_eq!(fs::read_to_string(first.join("changes")).unwrap(), "one");
        assert_eq!(
            fs::read_link(second.join("link")).unwrap(),
            Path::new("sub/same")
        );
        assert!(
            fs::symlink_metadata(second.join("pipe"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(
            fs::metadata(second.join("sub")).unwrap().mode() & 0o7777,
            0o2770
        );
        assert!(second.join("sub/empty").is_dir());

        let entries = describe(&second, Some((&first, &manifest))).unwrap();
        assert_eq!(entries, describe(&second, None).unwrap());
        let source_entries = describe(&source, None).unwrap();
        assert_eq!(entries, source_entries, "the copy differs from its source");
    }

    #[test]
    fn verify_reports_missing_extra_and_changed_entries() {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("backup");
        fs::create_dir_all(root.join("d")).unwrap();
        fs::write(root.join("d/a"), "aaaa").unwrap();
        fs::write(root.join("d/b"), "bbbb").unwrap();
        let manifest = Manifest {
            header: vec![("id".into(), "x".into())],
            entries: describe(&root, None).unwrap(),
        };
        write_manifest(&root, &manifest).unwrap();
        assert!(verify(&root).unwrap().1.is_empty());
        let mtime = fs::metadata(root.join("d/a")).unwrap().modified().unwrap();
        fs::write(root.join("d/a"), "aaab").unwrap();
        File::options()
            .write(true)
            .open(root.join("d/a"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        fs::remove_file(root.join("d/b")).unwrap();
        fs::write(root.join("d/c"), "new").unwrap();
        let problems: Vec<String> = verify(&root)
            .unwrap()
            .1
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert!(
            problems.contains(&"changed: d/a (content)".to_string()),
            "{problems:?}"
        );
        assert!(
            problems.contains(&"missing: d/b".to_string()),
            "{problems:?}"
        );
        assert!(problems.contains(&"extra: d/c".to_string()), "{problems:?}");
    }
}
