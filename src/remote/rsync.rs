//! rsync targets: rsync over SSH (host key checked against the configured
//! known_hosts, never bypassed) or a mounted path. Such a target holds
//! `<target>/<host>/noeud-gitlab-<N>/bckups/<ID>/` and
//! `<target>/<host>/sauvegardes/<ID>/`; a transfer goes to `.partial-<ID>`,
//! is checked against the local copy, and only then renamed `<ID>`.
//!
//! A target is used only once initialised (`girofle-backup --init-target`
//! writes [`MARKER`] at its root): a path target without it, such as the
//! mount point of a file system that is not mounted, is refused and never
//! written into. SSH and rsync carry timeouts, so a dead network fails a
//! transfer instead of hanging it.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use super::dying_with_parent;
use crate::conf::Target;
use crate::error::{Error, Result};
use crate::home::{BackupId, PARTIAL_PREFIX, REMOVING_PREFIX};
use crate::shell;

/// The file at a target's root that says it is Girofle's (written by `--init-target`).
pub const MARKER: &str = ".girofle-target";

/// Seconds without an answer after which a target is given up, unless `timeout` says otherwise.
pub const DEFAULT_TIMEOUT_SECS: u32 = 60;

/// Where a target is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    Local(PathBuf),
    Ssh {
        destination: String,
        path: String,
        port: u16,
        identity: Option<PathBuf>,
        known_hosts: Option<PathBuf>,
    },
}

/// An rsync target, resolved for this host.
#[derive(Debug, Clone)]
pub struct Rsync {
    /// The target's name in `girofle.conf`.
    pub name: String,
    location: Location,
    /// This host's folder name on the target.
    pub host: String,
    bwlimit_kib: Option<u32>,
    timeout_secs: u32,
}

impl Rsync {
    /// The target `name`, described by `target`, for this host `host`; a
    /// bad URL is exit 2.
    pub fn new(name: &str, target: &Target, host: String) -> Result<Rsync> {
        let location = if target.url.starts_with('/') {
            Location::Local(PathBuf::from(&target.url))
        } else {
            let (destination, path) = target
                .url
                .split_once(':')
                .filter(|(destination, path)| !destination.is_empty() && path.starts_with('/'))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "target `{name}`: url `{}` is neither `user@host:/absolute/path` nor `/mounted/path`",
                        target.url
                    ))
                })?;
            Location::Ssh {
                destination: destination.to_string(),
                path: path.to_string(),
                port: target.port.unwrap_or(22),
                identity: target.identity.clone(),
                known_hosts: target.known_hosts.clone(),
            }
        };
        Ok(Rsync {
            name: name.to_string(),
            location,
            host,
            bwlimit_kib: target.bwlimit_kib,
            timeout_secs: target
                .timeout
                .map_or(DEFAULT_TIMEOUT_SECS, |secs| secs.get()),
        })
    }

    /// The path, on the target, of `relative` (under this host's folder unless it names another).
    fn path_of(&self, relative: &str) -> String {
        format!("{}/{relative}", self.root().trim_end_matches('/'))
    }

    fn ssh_command(&self) -> Vec<String> {
        let Location::Ssh {
            port,
            identity,
            known_hosts,
            ..
        } = &self.location
        else {
            return Vec::new();
        };
        let mut command = vec![
            "ssh".to_string(),
            "-p".into(),
            port.to_string(),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            // A host that does not answer, or stops answering (keepalives
            // unanswered for about the timeout), fails instead of hanging.
            "-o".into(),
            format!("ConnectTimeout={}", self.timeout_secs),
            "-o".into(),
            format!("ServerAliveInterval={}", self.timeout_secs.div_ceil(3)),
            "-o".into(),
            "ServerAliveCountMax=3".into(),
        ];
        if let Some(identity) = identity {
            command.extend([
                "-i".into(),
                identity.display().to_string(),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
            ]);
        }
        if let Some(known_hosts) = known_hosts {
            command.extend([
                "-o".into(),
                format!("UserKnownHostsFile={}", known_hosts.display()),
            ]);
        }
        command
    }

    /// Runs a shell command on the target (for an SSH target) and returns its stdout.
    fn remote_shell(&self, words: &[&str]) -> anyhow::Result<String> {
        let Location::Ssh { destination, .. } = &self.location else {
            bail!("not an SSH target");
        };
        let mut args = self.ssh_command();
        let program = args.remove(0);
        // `--` before the destination: nothing after it is an option of ssh.
        args.push("--".into());
        args.push(destination.clone());
        args.push(shell::join(words));
        let output = dying_with_parent(&program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .context("cannot run ssh")?;
        if !output.status.success() {
            bail!(
                "target `{}`: {} failed: {}",
                self.name,
                words.first().unwrap_or(&""),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The target's root, as configured.
    fn root(&self) -> String {
        match &self.location {
            Location::Local(path) => path.display().to_string(),
            Location::Ssh { path, .. } => path.clone(),
        }
    }

    /// The refusal of a target without its marker.
    fn not_initialised(&self) -> Error {
        Error::failed(format!(
            "target `{}`: {} has no {MARKER}, so it is not (or no longer) Girofle's target: nothing was \
             written there. If it is a mount point, is it mounted? If it is the right place, run \
             `girofle-backup --init-target {}` once",
            self.name,
            self.root(),
            self.name
        ))
    }

    /// Marks the target as Girofle's: creates its root if need be and writes
    /// [`MARKER`] there (this host and the time), atomically.
    pub fn init(&self) -> Result<()> {
        let marker = format!(
            "# Girofle's backup target `{}`: do not remove (without it, Girofle refuses to write here)\n\
             initialised_by = {}\ninitialised = {}\n",
            self.name,
            self.host,
            crate::timefmt::now_rfc3339()
        );
        let root = self.root();
        match &self.location {
            Location::Local(base) => {
                fs_err::create_dir_all(base)
                    .with_context(|| format!("target `{}`: cannot create {root}", self.name))?;
                crate::atomic::write(&base.join(MARKER), marker.as_bytes(), 0o644)?;
            }
            Location::Ssh { .. } => {
                self.remote_shell(&[
                    "sh",
                    "-c",
                    "mkdir -p \"$1\" && printf %s \"$2\" > \"$1/$3.tmp\" && mv -f \"$1/$3.tmp\" \"$1/$3\"",
                    "init",
                    &root,
                    &marker,
                    MARKER,
                ])?;
            }
        }
        Ok(())
    }

    /// Whether the target is usable, touching nothing: a path target is a
    /// directory holding its [`MARKER`]; an SSH target answers within five
    /// seconds (its host key the known one) and holds its marker.
    pub fn check(&self) -> Result<()> {
        match &self.location {
            Location::Local(base) => {
                if !base.is_dir() {
                    return Err(Error::failed(format!(
                        "target `{}`: {} is not a directory (not mounted?)",
                        self.name,
                        base.display()
                    )));
                }
                if !base.join(MARKER).is_file() {
                    return Err(self.not_initialised());
                }
            }
            Location::Ssh { .. } => {
                // A monitoring check must answer quickly, whatever the shipping's timeout.
                let quick = Rsync {
                    timeout_secs: self.timeout_secs.min(5),
                    ..self.clone()
                };
                // Exit 0 whenever the host answered: only ssh fails.
                let found = quick.remote_shell(&[
                    "sh",
                    "-c",
                    "if test -f \"$1/$2\"; then echo marked; fi",
                    "check",
                    &self.root(),
                    MARKER,
                ])?;
                if found.trim() != "marked" {
                    return Err(self.not_initialised());
                }
            }
        }
        Ok(())
    }

    /// Checks that the target answers (and that its host key is the known
    /// one) and is initialised (its [`MARKER`] is there), and creates
    /// `relative` there. An unmarked target is refused, nothing written.
    pub fn prepare(&self, relative: &str) -> Result<()> {
        let path = self.path_of(relative);
        match &self.location {
            Location::Local(base) => {
                if !base.is_dir() {
                    return Err(Error::failed(format!(
                        "target `{}`: {} is not a directory (not mounted?)",
                        self.name,
                        base.display()
                    )));
                }
                if !base.join(MARKER).is_file() {
                    return Err(self.not_initialised());
                }
                fs_err::create_dir_all(&path)
                    .with_context(|| format!("target `{}`: cannot create {path}", self.name))?;
            }
            Location::Ssh { .. } => {
                // One connection: the marker checked, then the folder made.
                let found = self.remote_shell(&[
                    "sh",
                    "-c",
                    "if test -f \"$1/$2\"; then mkdir -p \"$3\" && echo marked; fi",
                    "prepare",
                    &self.root(),
                    MARKER,
                    &path,
                ])?;
                if found.trim() != "marked" {
                    return Err(self.not_initialised());
                }
            }
        }
        Ok(())
    }

    /// The complete backup IDs in `relative` on the target, oldest first.
    pub fn list(&self, relative: &str) -> Result<Vec<BackupId>> {
        let path = self.path_of(relative);
        let names: Vec<String> = match &self.location {
            Location::Local(_) => match fs_err::read_dir(&path) {
                Ok(entries) => entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(error) => {
                    return Err(anyhow!(error).context(format!("cannot list {path}")).into());
                }
            },
            Location::Ssh { .. } => self
                .remote_shell(&[
                    "sh",
                    "-c",
                    "cd \"$1\" 2>/dev/null && ls -1A || true",
                    "list",
                    &path,
                ])?
                .lines()
                .map(str::to_string)
                .collect(),
        };
        let mut ids: Vec<BackupId> = names.iter().filter_map(|n| BackupId::parse(n)).collect();
        ids.sort();
        Ok(ids)
    }

    fn rsync_base(&self) -> Vec<String> {
        let mut args = vec![
            "-aH".to_string(),
            "--numeric-ids".into(),
            "--delete".into(),
            format!("--timeout={}", self.timeout_secs),
        ];
        if let Location::Ssh { .. } = &self.location {
            args.push("-e".into());
            args.push(shell::join(
                &self
                    .ssh_command()
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            ));
        }
        if let Some(limit) = self.bwlimit_kib {
            args.push(format!("--bwlimit={limit}"));
        }
        args
    }

    fn rsync_location(&self, path: &str) -> String {
        match &self.location {
            Location::Local(_) => path.to_string(),
            Location::Ssh { destination, .. } => format!("{destination}:{path}"),
        }
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        match &self.location {
            Location::Local(_) => {
                fs_err::rename(from, to)
                    .with_context(|| format!("cannot rename {from} to {to}"))?;
                crate::atomic::sync_directory(Path::new(to).parent().unwrap_or(Path::new("/")))?;
            }
            Location::Ssh { .. } => {
                self.remote_shell(&["mv", "-T", "--", from, to])?;
            }
        }
        Ok(())
    }

    /// Sends the complete local backup `source` (named `id`) into `relative`
    /// on the target: into `.partial-<ID>`, unchanged files hard-linked to the
    /// newest backup already there, then compared file by file (checksums)
    /// with the local copy, then renamed. A run that is interrupted leaves
    /// only the partial, which the next run completes.
    pub fn send(&self, source: &Path, relative: &str, id: &str) -> Result<()> {
        self.prepare(relative)?;
        let existing = self.list(relative)?;
        let partial = self.path_of(&format!("{relative}/{PARTIAL_PREFIX}{id}"));
        let mut args = self.rsync_base();
        if let Some(newest) = existing.iter().rev().find(|other| other.as_str() != id) {
            args.push(format!(
                "--link-dest={}",
                self.path_of(&format!("{relative}/{newest}"))
            ));
        }
        // `--`: operands are never read as options.
        args.push("--".into());
        args.push(format!("{}/", source.display()));
        args.push(format!("{}/", self.rsync_location(&partial)));
        run_rsync(&args).map_err(|error| {
            error.context(format!(
                "sending {id} to target `{}` was interrupted",
                self.name
            ))
        })?;
        // The other end must hold exactly what was verified here.
        let mut check = self.rsync_base();
        check.extend([
            "--checksum".into(),
            "--dry-run".into(),
            "--itemize-changes".into(),
        ]);
        check.push("--".into());
        check.push(format!("{}/", source.display()));
        check.push(format!("{}/", self.rsync_location(&partial)));
        let differences = run_rsync(&check)?;
        let differences: Vec<&str> = differences
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        if !differences.is_empty() {
            return Err(Error::failed(format!(
                "target `{}`: {id} differs from the local backup after the transfer: {}",
                self.name,
                differences.join("; ")
            )));
        }
        self.rename(&partial, &self.path_of(&format!("{relative}/{id}")))
    }

    /// Fetches backup `id` of `relative` from the target into `destination`
    /// (a path that must not exist yet), hard-linking files unchanged since
    /// `link_dest`. The caller verifies it against its MANIFEST.
    pub fn fetch(
        &self,
        relative: &str,
        id: &str,
        destination: &Path,
        link_dest: Option<&Path>,
    ) -> Result<()> {
        let source = self.path_of(&format!("{relative}/{id}"));
        let mut args = self.rsync_base();
        if let Some(link_dest) = link_dest {
            args.push(format!("--link-dest={}", link_dest.display()));
        }
        args.push("--".into());
        args.push(format!("{}/", self.rsync_location(&source)));
        args.push(format!("{}/", destination.display()));
        run_rsync(&args).map_err(|error| {
            error.context(format!("fetching {id} from target `{}` failed", self.name))
        })?;
        Ok(())
    }

    /// Removes the oldest complete backups of `relative` beyond `keep`.
    pub fn apply_retention(&self, relative: &str, keep: u32) -> Result<Vec<String>> {
        let ids = self.list(relative)?;
        let keep = keep.max(1) as usize;
        let mut removed = Vec::new();
        if ids.len() > keep {
            for id in &ids[..ids.len() - keep] {
                let path = self.path_of(&format!("{relative}/{id}"));
                let hidden = self.path_of(&format!("{relative}/{REMOVING_PREFIX}{id}"));
                self.rename(&path, &hidden)?;
                match &self.location {
                    Location::Local(_) => fs_err::remove_dir_all(&hidden)?,
                    Location::Ssh { .. } => {
                        self.remote_shell(&["rm", "-rf", "--", &hidden])?;
                    }
                }
                removed.push(id.to_string());
            }
        }
        Ok(removed)
    }
}

fn run_rsync(args: &[String]) -> anyhow::Result<String> {
    let output = dying_with_parent("rsync")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run rsync (is it installed?)")?;
    if !output.status.success() {
        bail!(
            "rsync failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::Conf;

    fn rsync(conf: &Conf, name: &str) -> Result<Rsync> {
        Rsync::new(name, &conf.targets[name], "gitlab-host-1".into())
    }

    #[test]
    fn targets_are_ssh_or_mounted_paths() {
        let conf = Conf::parse(
            "[targets.same-site]\nurl = \"girofle@10.0.0.5:/srv/girofle/\"\nport = 2222\nkeep_last = 42\n\
             [targets.off-site]\nurl = \"/mnt/offsite/girofle\"\n",
        )
        .unwrap();
        let ssh = rsync(&conf, "same-site").unwrap();
        assert_eq!(ssh.host, "gitlab-host-1");
        assert_eq!(
            ssh.location,
            Location::Ssh {
                destination: "girofle@10.0.0.5".into(),
                path: "/srv/girofle/".into(),
                port: 2222,
                identity: None,
                known_hosts: None,
            }
        );
        assert_eq!(
            ssh.path_of("gitlab-host-1/sauvegardes"),
            "/srv/girofle/gitlab-host-1/sauvegardes"
        );
        let local = rsync(&conf, "off-site").unwrap();
        assert_eq!(
            local.location,
            Location::Local(PathBuf::from("/mnt/offsite/girofle"))
        );
    }

    #[test]
    fn bad_urls_are_usage_errors() {
        let conf = Conf::parse(
            "[targets.bad]\nurl = \"girofle@10.0.0.5:relative\"\n[targets.empty]\nurl = \":/srv\"\n",
        )
        .unwrap();
        for name in ["bad", "empty"] {
            match rsync(&conf, name) {
                Err(Error::Usage(message)) => assert!(
                    message.contains("neither `user@host:/absolute/path` nor `/mounted/path`"),
                    "{message}"
                ),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}
