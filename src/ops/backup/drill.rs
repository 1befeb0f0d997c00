//! `girofle-backup --drill`: a backup proven to boot. It is verified against
//! its MANIFEST, copied into a scratch directory, booted in a throwaway
//! container of the image it was taken with (no cron entry, no inventory row,
//! no restart policy, a loopback port), waited for until healthy, and every
//! repository is checked with the git inside the image. The container and
//! the copy go whatever happened; the result is kept beside the backup.
//!
//! The instance lock is held while the backup is verified and copied (so
//! that retention cannot remove it under the copy), not while GitLab boots.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fs_err as fs;

use super::find_backup;
use super::target_check::{self, TargetCheck};
use crate::container::VOLUMES;
use crate::docker::{Docker, Health, RunSpec, Status};
use crate::drill_traces::{self as drill, Record};
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::settings::Settings;
use crate::snapshot::{self, Kind, MANIFEST, ManifestReader};
use crate::{lock, recovery, timefmt};

/// Room kept free beyond the copy.
const SPACE_MARGIN: u64 = 16 << 20;
/// Where the omnibus image keeps its repositories.
const REPOSITORIES: &str = "/var/opt/gitlab/git-data/repositories";
/// The git programs tried inside the image, in order.
const GIT_CANDIDATES: [&str; 2] = ["git", "/opt/gitlab/embedded/bin/git"];

/// How a drill waits.
#[derive(Debug, Clone, Copy)]
pub struct DrillOptions {
    /// How long to wait for the instance lock (to verify and copy).
    pub lock_timeout: Duration,
    /// How long GitLab has to become healthy.
    pub wait_timeout: Duration,
}

/// A drill that ran to its end (passed or failed).
#[derive(Debug, Clone)]
pub struct Drilled {
    /// The instance number.
    pub number: u32,
    /// The result, as kept beside the backup.
    pub record: Record,
    /// Where it is kept.
    pub record_path: PathBuf,
    /// Notifications or metrics that could not be sent (never fatal).
    pub warnings: Vec<String>,
    /// The weekly checks of restic targets this drill ran (see
    /// `target_check`): a failed one makes the drill's exit 3.
    pub checks: Vec<TargetCheck>,
}

/// Drills backup `backup` (the newest complete one by default) of the
/// instance `spec` names. A drill that fails is recorded, then returned as
/// an error (exit 1) that gives the reason. Then, whatever the drill gave,
/// the restic targets whose weekly check is due are checked (the drill
/// cron entry is what runs them; see `target_check`).
pub fn drill(
    settings: &Settings,
    spec: &str,
    backup: Option<&str>,
    options: &DrillOptions,
) -> Result<Drilled> {
    let home = settings.home();
    let rows = inventory::read(home)?;
    let row = inventory::find(&rows, spec)
        .ok_or_else(|| Error::usage(format!("no instance `{spec}` in the inventory")))?
        .clone();
    let path = find_backup(&home.instance_of(&row), backup)?;
    let drilled = drill_at(settings, &row, &path, options);
    // Whatever the drill gave: a failed drill must not put off the check
    // of the off-site copies (its own failure is logged and alerted).
    let mut warnings = Vec::new();
    let checks = target_check::run_due(settings, &mut warnings);
    let mut drilled = drilled?;
    drilled.warnings.extend(warnings);
    drilled.checks = checks;
    Ok(drilled)
}

/// Drills the backup at `path` (a local one, or a copy fetched from a
/// target) of the instance of `row`.
pub(super) fn drill_at(
    settings: &Settings,
    row: &Row,
    path: &Path,
    options: &DrillOptions,
) -> Result<Drilled> {
    let home = settings.home();
    let row = row.clone();
    let instance = home.instance_of(&row);
    let path = path.to_path_buf();
    let id = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let docker = Docker::new()?;
    docker.server_version()?;

    let _drill_lock = drill::lock(&instance)?;
    for line in drill::clean_up_locked(home, &docker, &instance)? {
        home.log(
            "recovery",
            &format!("{}: {line}", instance.root().display()),
        );
    }
    let started_at = timefmt::now_rfc3339();
    let started = Instant::now();
    home.log(
        "drill",
        &format!("instance {}: drill of backup {id} started", row.number),
    );
    let mut found = Found::default();
    let mut run = Run {
        home,
        docker: &docker,
        row: &row,
        instance: &instance,
        backup: &path,
        id: &id,
        options,
        found: &mut found,
    };
    let outcome = run.drill();
    let record = Record {
        ok: outcome.is_ok(),
        backup: id.clone(),
        started: started_at,
        finished: timefmt::now_rfc3339(),
        duration_ms: started.elapsed().as_millis(),
        image: found.image.clone(),
        repositories: found.repositories,
        reason: outcome
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default(),
    };
    let record_path = record.save(&instance);
    // Told before the record's own failure can stop us: a drill that ran is news.
    let warnings = match settings.conf_for_news() {
        Ok(conf) => crate::events::drill(home, conf, &row, &record),
        Err(warning) => vec![warning],
    };
    let record_path = record_path?;
    home.log(
        "drill",
        &match &outcome {
            Ok(()) => format!(
                "instance {}: drill of backup {id} ok in {} s ({} repositories checked, image {})",
                row.number,
                record.duration_ms / 1000,
                record.repositories,
                record.image
            ),
            Err(error) => format!(
                "instance {}: drill of backup {id} FAILED after {} s: {error}",
                row.number,
                record.duration_ms / 1000
            ),
        },
    );
    outcome.map_err(|error| {
        error.context(format!(
            "the drill of backup {id} of instance {} failed",
            row.number
        ))
    })?;
    Ok(Drilled {
        number: row.number,
        record,
        record_path,
        warnings,
        checks: Vec::new(),
    })
}

/// What the drill learnt on its way, for its record.
#[derive(Default)]
struct Found {
    image: String,
    repositories: usize,
}

struct Run<'a> {
    home: &'a Home,
    docker: &'a Docker,
    row: &'a Row,
    instance: &'a InstanceDir,
    backup: &'a Path,
    id: &'a str,
    options: &'a DrillOptions,
    found: &'a mut Found,
}

impl Run<'_> {
    fn drill(&mut self) -> Result<()> {
        let mut scratch = Scratch {
            home: self.home,
            docker: self.docker,
            path: drill::scratch_path(self.instance, self.id),
            container: None,
        };
        let (image, image_id) = self.verify_and_copy(&scratch.path)?;
        self.found.image = match image_id.is_empty() {
            true => image.clone(),
            false => format!("{image} ({image_id})"),
        };
        let boot = self.boot(&mut scratch, &image, &image_id).and_then(|()| {
            let container = scratch.container.clone().unwrap_or_default();
            self.check_repositories(&container, &scratch.path)
        });
        let cleaned = scratch.remove();
        boot?;
        cleaned
    }

    /// Under the instance lock: the backup re-read against its MANIFEST, then
    /// copied into the scratch directory. Returns the image it was taken with.
    fn verify_and_copy(&self, scratch: &Path) -> Result<(String, String)> {
        let _lock = lock::lock_instance(
            self.instance,
            "girofle-backup --drill",
            self.options.lock_timeout,
        )?;
        recovery::recover(self.home, self.docker, self.instance)?;
        if !self.backup.join(MANIFEST).exists() {
            return Err(Error::failed(format!(
                "{} has no MANIFEST (a legacy backup): it cannot be verified",
                self.backup.display()
            )));
        }
        // The header now; the entries as the scratch copy is made, so that
        // the backup is read once.
        let header =
            snapshot::ManifestReader::open(&self.backup.join(MANIFEST)).map_err(|error| {
                Error::Failed(
                    error.context(format!("{} cannot be verified", self.backup.display())),
                )
            })?;
        let image = header.get("image").unwrap_or_default().to_string();
        let image_id = header.get("image_id").unwrap_or_default().to_string();
        drop(header);
        self.check_space()?;
        crate::atomic::create_dir(scratch, 0o700, false)?;
        let copy = snapshot::copy_checked(self.backup, &VOLUMES, scratch, Some(SPACE_MARGIN))
            .map_err(|failure| {
                Error::Failed(match failure {
                    snapshot::CopyFailure::Manifest(error) => {
                        error.context(format!("{} cannot be verified", self.backup.display()))
                    }
                    snapshot::CopyFailure::Copy(error) => {
                        error.context(format!("cannot copy the backup into {}", scratch.display()))
                    }
                })
            })?;
        let problems = &copy.verification.problems;
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
            return Err(Error::failed(format!(
                "the backup does not match its MANIFEST ({} problem(s): {})",
                copy.verification.problem_count,
                shown.join("; ")
            )));
        }
        Ok((image, image_id))
    }

    /// The copy must fit, with room to spare: a drill must never fill the
    /// disk that backups are written to.
    fn check_space(&self) -> Result<()> {
        let mut reader = ManifestReader::open(&self.backup.join(MANIFEST))?;
        let mut needed = SPACE_MARGIN;
        while let Some(entry) = reader.next_entry()? {
            if entry.kind == Kind::File {
                needed += entry.size;
            }
        }
        let stats = nix::sys::statvfs::statvfs(self.instance.root()).map_err(|errno| {
            anyhow::anyhow!("statvfs {}: {errno}", self.instance.root().display())
        })?;
        let free = stats.blocks_available() as u64 * stats.fragment_size() as u64;
        if free < needed {
            return Err(Error::failed(format!(
                "not enough space for the drill's copy: {} MiB needed, {} MiB free in {}",
                needed >> 20,
                free >> 20,
                self.instance.root().display()
            )));
        }
        Ok(())
    }

    /// The throwaway container on the copy, until it is healthy.
    fn boot(&mut self, scratch: &mut Scratch, image: &str, image_id: &str) -> Result<()> {
        let image = self.image_to_boot(image, image_id)?;
        let container = drill::container_name(self.home, self.row);
        drill::write_scratch_record(&scratch.path, &container)?;
        scratch.container = Some(container.clone());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let port = free_loopback_port()?;
            let spec = self.run_spec(&scratch.path, &container, &image, port);
            match self.docker.run_throwaway(&spec) {
                Ok(_) => break,
                // Another program may take the port between the check and `docker run`.
                Err(error) if attempts < 3 && format!("{error:#}").contains("port") => {
                    drill::remove_container(self.home, self.docker, &container)?;
                }
                Err(error) => {
                    return Err(Error::Failed(
                        error.context(format!("cannot start the drill container {container}")),
                    ));
                }
            }
        }
        self.wait_healthy(&container)
    }

    /// The image the backup was taken with: by its ID when the engine still
    /// has it, else by its reference (pulled when missing).
    fn image_to_boot(&self, image: &str, image_id: &str) -> Result<String> {
        if !image_id.is_empty() && self.docker.image_present(image_id)? {
            return Ok(image_id.to_string());
        }
        let image = if image.is_empty() {
            // Backups made before the MANIFEST named it.
            self.row.image.as_str()
        } else {
            image
        };
        if !self.docker.image_present(image)? {
            self.docker.pull(image).map_err(|error| {
                Error::Failed(error.context(format!(
                    "the image {image} the backup was taken with is not here and cannot be pulled"
                )))
            })?;
        }
        Ok(image.to_string())
    }

    fn run_spec(&self, scratch: &Path, container: &str, image: &str, port: u16) -> RunSpec {
        // GitLab listens on the port of external_url; its background jobs
        // (mirrors, webhooks, mail) are off, so that a drill reaches no one.
        let omnibus = format!(
            "external_url 'http://127.0.0.1:{port}'; sidekiq['enable'] = false; \
             gitlab_rails['gitlab_email_enabled'] = false; gitlab_rails['incoming_email_enabled'] = false"
        );
        RunSpec {
            name: container.to_string(),
            hostname: container.to_string(),
            labels: drill::labels(self.home, self.row.number),
            publish: vec![("127.0.0.1".to_string(), port, port)],
            mounts: vec![
                (scratch.join("config"), "/etc/gitlab".into()),
                (scratch.join("data"), "/var/opt/gitlab".into()),
                (scratch.join("log"), "/var/log/gitlab".into()),
            ],
            env: vec![("GITLAB_OMNIBUS_CONFIG".into(), omnibus)],
            image: image.to_string(),
        }
    }

    /// Polls until healthy; an exited container or the timeout is the reason
    /// the drill failed, with its last health check and logs.
    fn wait_healthy(&self, container: &str) -> Result<()> {
        let start = Instant::now();
        let mut last_output = None;
        loop {
            let Some(state) = self.docker.inspect_state(container)? else {
                return Err(Error::failed(format!("the container {container} vanished")));
            };
            if let Some(output) = state.last_health_output() {
                last_output = Some(output);
            }
            if state.health() == Health::Healthy {
                return Ok(());
            }
            let exited = state.status() == Status::Stopped;
            if exited || start.elapsed() >= self.options.wait_timeout {
                let seen = if exited {
                    "GitLab exited".to_string()
                } else {
                    format!(
                        "not healthy after {}s ({}, {})",
                        start.elapsed().as_secs(),
                        state.status().as_str(),
                        state.health().as_str()
                    )
                };
                return Err(Error::failed(format!(
                    "the backup does not boot: {seen}; last health check: {}; last lines of its logs: {}",
                    last_output.unwrap_or_else(|| "(none ran)".into()),
                    self.docker.logs_tail(container, 20)
                )));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    /// `git fsck` of every repository, by the git inside the image.
    fn check_repositories(&mut self, container: &str, scratch: &Path) -> Result<()> {
        let root = scratch.join("data/git-data/repositories");
        let mut repositories = Vec::new();
        find_repositories(&root, Path::new(""), &mut repositories)?;
        repositories.sort();
        if repositories.is_empty() {
            return Ok(());
        }
        let git = GIT_CANDIDATES
            .into_iter()
            .find(|git| matches!(self.docker.exec(container, &[git, "--version"]), Ok(Ok(_))))
            .ok_or_else(|| Error::failed("no git in the image to check the repositories with"))?;
        let mut broken = Vec::new();
        for repository in &repositories {
            let inside = format!("{REPOSITORIES}/{}", repository.display());
            let checked = self.docker.exec(
                container,
                &[
                    git,
                    "-c",
                    "safe.directory=*",
                    "-C",
                    &inside,
                    "fsck",
                    "--no-dangling",
                    "--no-progress",
                ],
            )?;
            if let Err(output) = checked {
                broken.push(format!(
                    "{}: {}",
                    repository.display(),
                    output.replace('\n', " ")
                ));
            }
        }
        self.found.repositories = repositories.len();
        if broken.is_empty() {
            return Ok(());
        }
        Err(Error::failed(format!(
            "{} of {} repositories fail git fsck: {}",
            broken.len(),
            repositories.len(),
            broken
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        )))
    }
}

/// The bare repositories under `root` (`grp/app.git`, `@hashed/ab/cd/….git`),
/// relative to it; a repository's own directories are not searched.
fn find_repositories(root: &Path, relative: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let directory = root.join(relative);
    let Ok(entries) = fs::read_dir(&directory) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let child = relative.join(entry.file_name());
        let path = root.join(&child);
        if path.join("HEAD").is_file() && path.join("objects").is_dir() {
            found.push(child);
        } else {
            find_repositories(root, &child, found)?;
        }
    }
    Ok(())
}

/// A port nothing listens on at 127.0.0.1 now.
fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

/// The scratch copy and the container on it: both go when the drill ends,
/// whatever happened (an error, a panic). The container goes first: the copy
/// is what tells the next command that a killed drill left something.
struct Scratch<'a> {
    home: &'a Home,
    docker: &'a Docker,
    path: PathBuf,
    container: Option<String>,
}

impl Scratch<'_> {
    fn remove(mut self) -> Result<()> {
        self.remove_now()
    }

    fn remove_now(&mut self) -> Result<()> {
        if let Some(container) = self.container.take() {
            drill::remove_container(self.home, self.docker, &container).map_err(|error| {
                error.context(format!(
                    "the drill container {container} could not be removed (the next Girofle command retries)"
                ))
            })?;
        }
        if self.path.exists() {
            fs::remove_dir_all(&self.path)?;
        }
        Ok(())
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        let _ = self.remove_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_found_at_any_depth_and_not_searched_inside() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path();
        for repository in ["grp/app.git", "grp/app.wiki.git", "@hashed/ab/cd/abcd.git"] {
            fs::create_dir_all(root.join(repository).join("objects")).unwrap();
            fs::write(root.join(repository).join("HEAD"), "ref: refs/heads/main\n").unwrap();
        }
        // A repository inside a repository is not one of GitLab's.
        fs::create_dir_all(root.join("grp/app.git/objects/inner.git/objects")).unwrap();
        fs::write(root.join("grp/app.git/objects/inner.git/HEAD"), "x").unwrap();
        fs::create_dir_all(root.join("+gitaly/tmp")).unwrap();
        let mut found = Vec::new();
        find_repositories(root, Path::new(""), &mut found).unwrap();
        found.sort();
        assert_eq!(
            found,
            [
                PathBuf::from("@hashed/ab/cd/abcd.git"),
                PathBuf::from("grp/app.git"),
                PathBuf::from("grp/app.wiki.git")
            ]
        );
        let mut none = Vec::new();
        find_repositories(&root.join("missing"), Path::new(""), &mut none).unwrap();
        assert!(none.is_empty());
    }
}
