//! Backup targets on other machines, by kind: rsync over SSH or a mounted
//! path ([`rsync`]), or a restic repository ([`restic`]: encrypted,
//! deduplicated, possibly append-only). Operations see one [`Remote`] and
//! name what they want by folder (`<host>/noeud-gitlab-<N>/bckups`,
//! `<host>/sauvegardes`), whatever the target stores underneath.
//!
//! A target is used only once initialised (`girofle-backup --init-target`
//! writes Girofle's marker there): one without it is refused, never written into.

mod restic;
mod rsync;

use std::path::Path;

use crate::conf::{Conf, TargetKind};
use crate::error::{Error, Result};
use crate::home::BackupId;

pub use rsync::{DEFAULT_TIMEOUT_SECS, MARKER};

/// A configured target, resolved for this host.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The target's name in `girofle.conf`.
    pub name: String,
    /// This host's folder name on the target (its restic `--host`).
    pub host: String,
    /// Complete backups kept per instance there.
    pub keep_last: Option<u32>,
    engine: Engine,
}

#[derive(Debug, Clone)]
enum Engine {
    Rsync(rsync::Rsync),
    Restic(restic::Restic),
}

/// Said of a restic repository whose lock is held by a restic at work
/// (not a stale one): what callers look for to try again later.
pub const BUSY: &str =
    " (a lock restic does not judge stale: another restic is at work there; it was left alone)";

/// What a target recorded of a backup sent there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// The restic snapshot holding it (its full ID): what an operator
    /// names to `restic restore` by hand. None on an rsync target, whose
    /// copy is found by its path.
    pub snapshot: Option<String>,
    /// What the target said of it (a restic snapshot's new and changed
    /// files, the bytes it added), for the log.
    pub note: Option<String>,
}

/// This host's name on targets: `[girofle] host`, else the machine's host name.
pub fn host_name(conf: &Conf) -> String {
    conf.girofle.host.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "localhost".into())
    })
}

impl Remote {
    /// The target `name` of `conf`; an unknown name, a bad URL or (restic)
    /// a password file another user could read is exit 2.
    pub fn from_conf(conf: &Conf, name: &str) -> Result<Remote> {
        let target = conf.targets.get(name).ok_or_else(|| {
            let known: Vec<&str> = conf.targets.keys().map(String::as_str).collect();
            Error::usage(format!(
                "no target `{name}` in girofle.conf (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let host = host_name(conf);
        let engine = match target.kind {
            TargetKind::Rsync => Engine::Rsync(rsync::Rsync::new(name, target, host.clone())?),
            TargetKind::Restic => Engine::Restic(restic::Restic::new(name, target, host.clone())?),
        };
        Ok(Remote {
            name: name.to_string(),
            host,
            keep_last: target.keep_last.map(|n| n.get()),
            engine,
        })
    }

    /// The folder of this host's instance directory `dir_name` (`noeud-gitlab-<N>`).
    pub fn instance_backups(&self, host: &str, dir_name: &str) -> String {
        format!("{host}/{dir_name}/bckups")
    }

    /// Whether the target is a restic repository.
    pub fn is_restic(&self) -> bool {
        matches!(&self.engine, Engine::Restic(_))
    }

    /// Whether the target refuses deletion (a restic `append_only` target):
    /// Girofle never prunes there.
    pub fn append_only(&self) -> bool {
        matches!(&self.engine, Engine::Restic(restic) if restic.append_only)
    }

    /// Marks the target as Girofle's (a restic repository is created first
    /// if there is none, or must open with the password if there is one).
    /// Returns what was done, for the log.
    pub fn init(&self) -> Result<String> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.init().map(|()| format!("({MARKER})")),
            Engine::Restic(restic) => restic.init(),
        }
    }

    /// Whether the target is usable, touching nothing: it answers and holds
    /// Girofle's marker.
    pub fn check(&self) -> Result<()> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.check(),
            Engine::Restic(restic) => restic.check(),
        }
    }

    /// Checks that the target answers and is initialised, and makes
    /// `folder` there if it needs one. An unmarked target is refused.
    pub fn prepare(&self, folder: &str) -> Result<()> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.prepare(folder),
            Engine::Restic(restic) => restic.check(),
        }
    }

    /// Re-reads the target's own integrity data where it keeps any: a
    /// restic repository is checked (`restic check --read-data-subset`, the
    /// target's `check_read_data_subset`, 5% by default); an rsync target
    /// has none, its copies are checked by their MANIFEST once fetched.
    /// Returns what was checked, for the log.
    pub fn verify_data(&self) -> Result<Option<String>> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.check().map(|()| None),
            Engine::Restic(restic) => restic.verify_data().map(Some),
        }
    }

    /// The complete backup IDs in `folder` on the target, oldest first.
    pub fn list(&self, folder: &str) -> Result<Vec<BackupId>> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.list(folder),
            Engine::Restic(restic) => restic.list(folder),
        }
    }

    /// The newest backup of each instance directory of `host` on a restic
    /// target, from one listing; None on an rsync target, whose folders
    /// are listed one by one.
    pub fn newest_by_instance(
        &self,
        host: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, BackupId>>> {
        match &self.engine {
            Engine::Rsync(_) => Ok(None),
            Engine::Restic(restic) => restic.newest_by_instance(host).map(Some),
        }
    }

    /// Sends the complete local backup `source` (named `id`) into `folder`
    /// on the target; returns what the target recorded of it.
    pub fn send(&self, source: &Path, folder: &str, id: &str) -> Result<Sent> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.send(source, folder, id).map(|()| Sent::default()),
            Engine::Restic(restic) => restic.send(source, folder, id),
        }
    }

    /// Fetches backup `id` of `folder` from the target into `destination`
    /// (a path that must not exist yet; rsync hard-links files unchanged
    /// since `link_dest`). The caller verifies it against its MANIFEST.
    pub fn fetch(
        &self,
        folder: &str,
        id: &str,
        destination: &Path,
        link_dest: Option<&Path>,
    ) -> Result<()> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.fetch(folder, id, destination, link_dest),
            Engine::Restic(restic) => restic.fetch(folder, id, destination),
        }
    }

    /// Removes the oldest complete backups of `folder` beyond `keep` (and,
    /// for restic, beyond its `keep_daily`/`keep_weekly`/`keep_monthly`);
    /// returns their IDs. An append-only target is never pruned.
    pub fn apply_retention(&self, folder: &str, keep: u32) -> Result<Vec<String>> {
        match &self.engine {
            Engine::Rsync(rsync) => rsync.apply_retention(folder, keep),
            Engine::Restic(restic) => restic.apply_retention(folder, keep),
        }
    }
}

/// A command that gets SIGTERM when Girofle dies: a transfer that outlived a
/// killed run would go on writing behind the next run's back.
pub(crate) fn dying_with_parent(program: &str) -> std::process::Command {
    let mut command = std::process::Command::new(program);
    let parent = nix::unistd::getpid();
    // SAFETY: prctl and getppid are async-signal-safe; nothing else runs
    // between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)?;
            // A parent killed between the fork and the prctl sends no signal:
            // the child would run to its end behind the next run's back.
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::other(
                    "Girofle died before this program started",
                ));
            }
            Ok(())
        });
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_targets_are_usage_errors_and_folders_name_the_host() {
        let conf = Conf::parse(
            "[girofle]\nhost = \"gitlab-host-1\"\n[targets.off-site]\nurl = \"/mnt/offsite\"\n\
             keep_last = 42\n[targets.bad]\nurl = \"girofle@10.0.0.5:relative\"\n",
        )
        .unwrap();
        match Remote::from_conf(&conf, "nowhere") {
            Err(Error::Usage(message)) => assert!(
                message.contains("no target `nowhere` in girofle.conf (known: bad, off-site)"),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Remote::from_conf(&conf, "bad"),
            Err(Error::Usage(_))
        ));
        let remote = Remote::from_conf(&conf, "off-site").unwrap();
        assert_eq!(remote.host, "gitlab-host-1");
        assert_eq!(remote.keep_last, Some(42));
        assert!(!remote.append_only());
        assert_eq!(
            remote.instance_backups(&remote.host, "noeud-gitlab-3"),
            "gitlab-host-1/noeud-gitlab-3/bckups"
        );
    }
}
