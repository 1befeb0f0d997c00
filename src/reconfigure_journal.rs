//! The journal of a `girofle-commission --reconfigure` under way, and what
//! recovery does with it when the run died (`kill -9`, the OOM killer).
//!
//! A reconfiguration replaces files in the config volume, then removes the
//! container and runs a new one: a death in between would leave the old
//! container with the new files, or no container at all, which the
//! container record alone cannot put back (it only starts or unpauses a
//! container that exists). So before any file changes, the run writes
//! `.reconfigure` in the instance directory (root 0600: it holds the private
//! keys it keeps): the row as it was, the row as it will be, the old
//! container's ID and the files it replaces, bytes and modes. The next
//! command on the instance (or the guardian) reads it under the instance
//! lock: unless the new container was verified, it puts the files back and
//! runs the old container again from its row; then the journal goes.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use anyhow::Context;
use fs_err as fs;
use serde::{Deserialize, Serialize};

use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row};

/// The journal's name, in the instance directory (outside the volumes).
pub const JOURNAL_FILE: &str = ".reconfigure";

/// One file as it was before the change: its bytes and mode, or `None`
/// when it did not exist (then it goes on a rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its bytes and permission bits; `None`: there was no file.
    pub content: Option<(Vec<u8>, u32)>,
}

/// The files a reconfiguration replaces, as they were: put back on a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptFiles(pub Vec<KeptFile>);

impl KeptFiles {
    /// Reads `paths` as they are. The config volume is writable from inside
    /// the container: a symbolic link or anything but a regular file there
    /// is refused (nothing is followed), before anything changes.
    pub fn take(paths: Vec<PathBuf>) -> Result<KeptFiles> {
        let mut kept = Vec::new();
        for path in paths {
            let opened = std::fs::OpenOptions::new()
                .read(true)
                // O_NONBLOCK: a FIFO planted there does not hang the open.
                .custom_flags(
                    (nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK).bits(),
                )
                .open(&path);
            let content = match opened {
                Ok(mut file) => {
                    let metadata = file
                        .metadata()
                        .with_context(|| format!("cannot stat {}", path.display()))?;
                    if !metadata.is_file() {
                        return Err(not_regular(&path));
                    }
                    let mut bytes = Vec::new();
                    file.read_to_end(&mut bytes)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some((bytes, metadata.mode() & 0o7777))
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
                Err(error) if error.raw_os_error() == Some(nix::libc::ELOOP) => {
                    return Err(not_regular(&path));
                }
                Err(error) => {
                    return Err(anyhow::Error::new(error)
                        .context(format!("cannot read {}", path.display()))
                        .into());
                }
            };
            kept.push(KeptFile { path, content });
        }
        Ok(KeptFiles(kept))
    }

    /// Puts every file back as it was (a file that was not there goes).
    pub fn put_back(&self) -> anyhow::Result<()> {
        for kept in &self.0 {
            match &kept.content {
                Some((bytes, mode)) => crate::atomic::write(&kept.path, bytes, *mode)?,
                None => match fs::remove_file(&kept.path) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                        return Err(error.into());
                    }
                    _ => {}
                },
            }
        }
        Ok(())
    }
}

fn not_regular(path: &std::path::Path) -> Error {
    Error::failed(format!(
        "{} is a symbolic link or not a regular file: Girofle does not follow it, and changes \
         nothing; remove it (the instance's config volume is writable from its container)",
        path.display()
    ))
}

/// What a reconfiguration under way records before it changes anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// The reconfiguring process.
    pub pid: u32,
    /// The inventory row as it was: the previous container runs from it again.
    pub old_row: Row,
    /// The row as it will be once the new container is verified.
    pub new_row: Row,
    /// The engine's ID of the container before the change: any other one
    /// under its name is the new one.
    pub old_container_id: String,
    /// The files replaced, as they were.
    pub kept: KeptFiles,
    /// Set once the new container is healthy and its HTTPS verified: from
    /// then on the change is finished (the row is recorded), not undone.
    pub verified: bool,
}

fn path(instance: &InstanceDir) -> PathBuf {
    instance.root().join(JOURNAL_FILE)
}

/// Whether a reconfiguration's journal is in `instance` (cheap: no lock).
pub fn exists(instance: &InstanceDir) -> bool {
    fs::symlink_metadata(path(instance)).is_ok()
}

impl Journal {
    /// Writes (atomically, durably, root 0600) the journal of `instance`.
    pub fn write(&self, instance: &InstanceDir) -> Result<()> {
        let text = serde_json::to_vec(self).context("cannot write the reconfigure journal")?;
        crate::atomic::write(&path(instance), &text, 0o600)?;
        Ok(())
    }

    /// The journal of `instance`, if there is one.
    pub fn read(instance: &InstanceDir) -> Result<Option<Journal>> {
        let path = path(instance);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(anyhow::Error::new(error).into()),
        };
        let journal = serde_json::from_slice(&text)
            .with_context(|| format!("{} is not a reconfigure journal", path.display()))?;
        Ok(Some(journal))
    }
}

/// Ends the journal of `instance`: what is there now stays.
pub fn clear(instance: &InstanceDir) -> Result<()> {
    match fs::remove_file(path(instance)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    Ok(crate::atomic::sync_directory(instance.root())?)
}

/// The stored row after a finished reconfiguration: its TLS mode and ACME
/// fields are the new row's (all three, so that an instance leaving `acme`
/// keeps no ACME server the inventory check would refuse), its note is cleared.
pub fn reconfigured(stored: &Row, new_row: &Row) -> Row {
    let mut row = stored.clone();
    row.tls = new_row.tls.clone();
    row.acme_url = new_row.acme_url.clone();
    row.acme_email = new_row.acme_email.clone();
    row.note = String::new();
    row
}

/// Records the new mode of instance `number` in the inventory, under its lock.
pub fn commit_row(home: &Home, new_row: &Row) -> Result<()> {
    let mut locked = inventory::lock(home)?;
    if let Some(stored) = locked.row_mut(new_row.number) {
        *stored = reconfigured(stored, new_row);
    }
    locked.commit()
}

/// What recovery does with the journal a killed reconfiguration left:
/// verified, the row is recorded (if it was not yet); otherwise the files
/// go back as they were and, if the container is missing or is the new one,
/// the previous container runs again from the old row. Returns what was done.
pub fn recover(home: &Home, docker: &Docker, instance: &InstanceDir) -> Result<Vec<String>> {
    let Some(journal) = Journal::read(instance)? else {
        return Ok(Vec::new());
    };
    let container = &journal.old_row.container;
    let mut done = Vec::new();
    if journal.verified {
        commit_row(home, &journal.new_row)?;
        done.push(format!(
            "recorded the reconfiguration of {container} (tls `{}`) that a killed run had verified",
            journal.new_row.tls
        ));
        // What the run did after the row: the daily renewal of a
        // Girofle-made certificate.
        if journal.new_row.tls == crate::tls::Mode::GirofleCa.as_str() {
            crate::cron::ensure_renewal_entry(home, &crate::cron::renewal_command(home))?;
        }
    } else {
        journal.kept.put_back()?;
        done.push(format!(
            "put the certificate and single sign-on files of {container} back as they were"
        ));
        let id = docker.container_id(container)?;
        if id.as_deref() != Some(journal.old_container_id.as_str()) {
            if id.is_some() {
                docker.remove(container)?;
            }
            docker.run(&crate::container::run_spec(
                home,
                &journal.old_row,
                instance,
            ))?;
            done.push(format!(
                "ran {container} again from its row as it was (a killed reconfiguration had \
                 removed it)"
            ));
        }
    }
    clear(instance)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn kept_files_come_back_with_their_modes_and_new_ones_go() {
        let temp = tempfile::tempdir().unwrap();
        let (cert, key) = (temp.path().join("h.crt"), temp.path().join("h.key"));
        crate::atomic::write(&key, b"old key", 0o600).unwrap();
        let kept = KeptFiles::take(vec![cert.clone(), key.clone()]).unwrap();
        crate::atomic::write(&key, b"new key", 0o644).unwrap();
        crate::atomic::write(&cert, b"new cert", 0o644).unwrap();
        kept.put_back().unwrap();
        assert_eq!(fs::read(&key).unwrap(), b"old key");
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        assert!(!cert.exists(), "a file that was not there goes");
    }

    #[test]
    fn a_symbolic_link_or_a_fifo_in_the_volume_is_refused_not_followed() {
        let temp = tempfile::tempdir().unwrap();
        let secret = temp.path().join("secret");
        fs::write(&secret, b"host secret").unwrap();
        let link = temp.path().join("h.key");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let error = KeptFiles::take(vec![link.clone()]).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let fifo = temp.path().join("h.crt");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let error = KeptFiles::take(vec![fifo]).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }

    #[test]
    fn the_journal_is_root_only_and_reads_back_as_written() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        let key = temp.path().join("h.key");
        crate::atomic::write(&key, b"private key", 0o600).unwrap();
        let row = Row::example(1, "", inventory::RowState::Commissioned);
        let journal = Journal {
            pid: 1,
            old_row: row.clone(),
            new_row: row,
            old_container_id: "abc".into(),
            kept: KeptFiles::take(vec![key]).unwrap(),
            verified: false,
        };
        journal.write(&instance).unwrap();
        let mode = fs::metadata(temp.path().join(JOURNAL_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "it holds private keys");
        assert!(exists(&instance));
        assert_eq!(Journal::read(&instance).unwrap(), Some(journal));
        clear(&instance).unwrap();
        assert!(!exists(&instance));
        assert_eq!(Journal::read(&instance).unwrap(), None);
    }

    #[test]
    fn leaving_acme_clears_its_server_and_the_note() {
        let stored = Row {
            tls: "acme".into(),
            acme_url: "https://acme.example/directory".into(),
            acme_email: "ops@example.org".into(),
            note: "no certificate renewal".into(),
            ..Row::example(1, "", inventory::RowState::Commissioned)
        };
        let new_row = Row {
            tls: "girofle-ca".into(),
            acme_url: String::new(),
            acme_email: String::new(),
            ..stored.clone()
        };
        let row = reconfigured(&stored, &new_row);
        assert_eq!(
            (
                row.tls.as_str(),
                row.acme_url.as_str(),
                row.acme_email.as_str()
            ),
            ("girofle-ca", "", "")
        );
        assert_eq!(row.note, "");
        assert_eq!(
            inventory::check_row(&row),
            Ok(()),
            "the inventory accepts it"
        );
    }
}
