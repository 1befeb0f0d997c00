//! The MANIFEST: one line per entry of a backup, with percent-escaped paths,
//! read back and written durably.

use std::io::{self, BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fs_err::os::unix::fs::OpenOptionsExt;
use fs_err::{File, OpenOptions};

use super::Kind;

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
    pub(super) fn line(&self) -> String {
        let mut line = Vec::with_capacity(160);
        self.write_line(&mut line)
            .expect("writing into memory does not fail");
        String::from_utf8(line).expect("an entry line is text")
    }

    /// Writes the line (without its line feed): one per entry of a backup,
    /// so written straight into `out`, not through a `String` of its own.
    pub(super) fn write_line(&self, out: &mut impl Write) -> io::Result<()> {
        write!(
            out,
            "{}\t{:o}\t{}\t{}\t{}\t{}.{:09}\t{}\t",
            self.kind.as_str(),
            self.mode,
            self.uid,
            self.gid,
            self.size,
            self.mtime.0,
            self.mtime.1,
            self.checksum,
        )?;
        let path = self.path.as_os_str().as_bytes();
        if path
            .iter()
            .all(|&byte| byte.is_ascii() && !needs_escape(byte))
        {
            out.write_all(path)
        } else {
            out.write_all(escape(path).as_bytes())
        }
    }

    fn parse(line: &str) -> Option<Entry> {
        let mut fields = line.splitn(8, '\t');
        let mut next = || fields.next();
        let kind = Kind::parse(next()?)?;
        let mode = u32::from_str_radix(next()?, 8).ok()?;
        let uid = next()?.parse().ok()?;
        let gid = next()?.parse().ok()?;
        let size = next()?.parse().ok()?;
        let (seconds, nanoseconds) = next()?.split_once('.')?;
        let mtime = (seconds.parse().ok()?, nanoseconds.parse().ok()?);
        let checksum = next()?.to_string();
        let path = next()?;
        let path = if path.contains('%') {
            PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(path)?))
        } else {
            PathBuf::from(path)
        };
        Some(Entry {
            path,
            kind,
            size,
            mode,
            uid,
            gid,
            mtime,
            checksum,
        })
    }
}

fn needs_escape(byte: u8) -> bool {
    matches!(byte, b'%' | b'\t' | b'\n' | b'\r')
}

/// Percent-escapes what would break a line: `%`, tab, newline, carriage return.
fn escape(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    for &byte in bytes {
        if needs_escape(byte) {
            out.extend_from_slice(format!("%{byte:02X}").as_bytes())
        } else {
            out.push(byte)
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

/// A MANIFEST held in memory: `key: value` header lines, a blank line, one
/// line per entry, and a last line `end <count>` that tells a whole file from
/// a cut one. For small trees (Girofle's state); an instance's backup streams
/// its entries instead ([`ManifestReader`], [`EntryWriter`]).
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// Header fields, in order.
    pub header: Vec<(String, String)>,
    /// Entries, sorted by path.
    pub entries: Vec<Entry>,
}

/// The MANIFEST's file name inside a backup.
pub const MANIFEST: &str = "MANIFEST";

/// The text before the entries.
fn header_text(header: &[(String, String)]) -> String {
    let mut text = String::from("# Girofle backup manifest\n");
    for (key, value) in header {
        text.push_str(&format!("{key}: {}\n", value.replace('\n', " ")));
    }
    text.push_str("\n# type\tmode\tuid\tgid\tsize\tmtime\tblake3\tpath\n");
    text
}

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
        let mut text = header_text(&self.header);
        for entry in &self.entries {
            text.push_str(&entry.line());
            text.push('\n');
        }
        text.push_str(&format!("end {}\n", self.entries.len()));
        text
    }

    /// Reads a MANIFEST whole; an error names the line that is wrong.
    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        let mut reader = ManifestReader::open(path)?;
        let mut entries = Vec::new();
        while let Some(entry) = reader.next_entry()? {
            entries.push(entry);
        }
        Ok(Manifest {
            header: reader.header().to_vec(),
            entries,
        })
    }
}

/// Reads a MANIFEST one entry at a time, so that memory does not grow with
/// the number of files: the header first, then the entries in path order
/// (checked: a MANIFEST out of order is an error), then the end line, whose
/// count is checked against the entries read.
pub struct ManifestReader {
    path: PathBuf,
    lines: io::BufReader<File>,
    line: String,
    number: usize,
    header: Vec<(String, String)>,
    count: usize,
    last: Option<PathBuf>,
    ended: bool,
}

impl ManifestReader {
    /// Opens a MANIFEST and reads its header.
    pub fn open(path: &Path) -> anyhow::Result<ManifestReader> {
        let mut reader = ManifestReader {
            path: path.to_path_buf(),
            lines: io::BufReader::with_capacity(1 << 16, File::open(path)?),
            line: String::new(),
            number: 0,
            header: Vec::new(),
            count: 0,
            last: None,
            ended: false,
        };
        loop {
            if !reader.read_line()? {
                bail!("{} is cut short: no end line", path.display());
            }
            if reader.line.starts_with('#') {
                continue;
            }
            if reader.line.is_empty() {
                break;
            }
            let (key, value) = reader.line.split_once(": ").with_context(|| {
                format!(
                    "{} line {}: not a `key: value` line",
                    path.display(),
                    reader.number
                )
            })?;
            reader.header.push((key.to_string(), value.to_string()));
        }
        Ok(reader)
    }

    /// The header fields, in order.
    pub fn header(&self) -> &[(String, String)] {
        &self.header
    }

    /// A header value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Reads one line without its line feed; false at the end of the file.
    fn read_line(&mut self) -> anyhow::Result<bool> {
        self.line.clear();
        let read = self
            .lines
            .read_line(&mut self.line)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        if read == 0 {
            return Ok(false);
        }
        self.number += 1;
        if self.line.ends_with('\n') {
            self.line.pop();
        }
        Ok(true)
    }

    /// The next entry, or None after the end line (the whole file checked).
    pub fn next_entry(&mut self) -> anyhow::Result<Option<Entry>> {
        loop {
            if self.ended {
                return Ok(None);
            }
            if !self.read_line()? {
                bail!("{} is cut short: no end line", self.path.display());
            }
            let number = self.number;
            if self.line.starts_with('#') {
                continue;
            }
            if let Some(count) = self.line.strip_prefix("end ") {
                if count.parse::<usize>().ok() != Some(self.count) {
                    bail!(
                        "{} line {number}: the end line counts {count} entries, the file has {}",
                        self.path.display(),
                        self.count
                    );
                }
                self.ended = true;
                if self.read_line()? {
                    bail!(
                        "{} line {}: text after the end line",
                        self.path.display(),
                        self.number
                    );
                }
                return Ok(None);
            }
            let Some(entry) = Entry::parse(&self.line) else {
                bail!("{} line {number}: not an entry line", self.path.display());
            };
            if self.last.as_ref().is_some_and(|last| *last >= entry.path) {
                bail!(
                    "{} line {number}: entries out of order",
                    self.path.display()
                );
            }
            match &mut self.last {
                Some(last) => last.clone_from(&entry.path),
                None => self.last = Some(entry.path.clone()),
            }
            self.count += 1;
            return Ok(Some(entry));
        }
    }
}

/// Entry lines written one at a time (to a temporary file until the header
/// is known, or to nowhere), counted.
pub struct EntryWriter {
    out: io::BufWriter<Box<dyn Write + Send>>,
    count: u64,
}

impl EntryWriter {
    /// Writes into `out`.
    pub fn new(out: Box<dyn Write + Send>) -> EntryWriter {
        EntryWriter {
            out: io::BufWriter::with_capacity(1 << 16, out),
            count: 0,
        }
    }

    /// Appends one entry.
    pub fn push(&mut self, entry: &Entry) -> io::Result<()> {
        self.count += 1;
        entry.write_line(&mut self.out)?;
        self.out.write_all(b"\n")
    }

    /// The entries written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes what is buffered.
    pub fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.count)
    }
}

/// Reads the entry lines an [`EntryWriter`] wrote (no header, no end line).
pub struct EntryLines {
    lines: io::BufReader<std::fs::File>,
    line: String,
}

impl EntryLines {
    /// Reads `file` from its start.
    pub fn new(mut file: std::fs::File) -> io::Result<EntryLines> {
        io::Seek::rewind(&mut file)?;
        Ok(EntryLines {
            lines: io::BufReader::with_capacity(1 << 16, file),
            line: String::new(),
        })
    }

    /// The next entry; None at the end.
    pub fn next_entry(&mut self) -> anyhow::Result<Option<Entry>> {
        self.line.clear();
        if self.lines.read_line(&mut self.line)? == 0 {
            return Ok(None);
        }
        let line = self.line.trim_end_matches('\n');
        Entry::parse(line)
            .with_context(|| format!("a temporary entry line is not an entry: {line}"))
            .map(Some)
    }
}

/// Writes the MANIFEST into `root` durably: every file of the backup reaches
/// the disk first (one syncfs), then the MANIFEST, then its directory.
pub fn write_manifest(root: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    write_durably(root, |file| {
        file.write_all(manifest.render().as_bytes())?;
        Ok(())
    })
}

/// Writes the MANIFEST into `root` as [`write_manifest`] does, from a header
/// and the `count` entry lines of `entries` (an [`EntryWriter`]'s file).
pub fn write_manifest_streamed(
    root: &Path,
    header: &[(String, String)],
    mut entries: std::fs::File,
    count: u64,
) -> anyhow::Result<()> {
    io::Seek::rewind(&mut entries)?;
    write_durably(root, |file| {
        let mut out = io::BufWriter::with_capacity(1 << 16, file);
        out.write_all(header_text(header).as_bytes())?;
        io::copy(&mut entries, &mut out)?;
        out.write_all(format!("end {count}\n").as_bytes())?;
        out.flush()?;
        Ok(())
    })
}

fn write_durably(
    root: &Path,
    write: impl FnOnce(&mut File) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let directory = File::open(root)?;
    nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&directory)).context("syncfs failed")?;
    let path = root.join(MANIFEST);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    write(&mut file)?;
    file.sync_all()?;
    girofle_base::atomic::sync_directory(root)
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
}
