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
        let file = File::open(path)?;
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

/// Writes the MANIFEST into `root` durably: every file of the backup reaches
/// the disk first (one syncfs), then the MANIFEST, then its directory.
pub fn write_manifest(root: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let directory = File::open(root)?;
    nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&directory)).context("syncfs failed")?;
    let path = root.join(MANIFEST);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(manifest.render().as_bytes())?;
    file.sync_all()?;
    crate::atomic::sync_directory(root)
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
