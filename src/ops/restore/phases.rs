//! The phases that change things: stage, swap, start and wait, roll back, finish.

use fs_err as fs;
use std::path::Path;
use std::time::Duration;

use super::{Args, Outcome};
use crate::container::VOLUMES;
use crate::docker::{DEFAULT_STOP_TIMEOUT, Docker, NotHealthy, Status};
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::lock::{self, PriorState};
use crate::recovery::{self, RESTORED_MARK};
use crate::snapshot;
use crate::timefmt;

/// A restore under way, once the backup is chosen and verified.
pub(super) struct Restore<'a> {
    pub(super) home: &'a Home,
    pub(super) docker: &'a Docker,
    pub(super) args: &'a Args,
    pub(super) container: &'a str,
    pub(super) instance: &'a InstanceDir,
    pub(super) row: Option<&'a Row>,
    /// The image to recreate the container with, when it changes.
    pub(super) recreate_with: Option<String>,
    pub(super) backup_name: String,
}

impl Restore<'_> {
    /// The copy, beside the live volumes; nothing live is touched yet.
    pub(super) fn stage(&self, backup: &Path) -> Result<()> {
        recovery::write_journal(self.instance, self.container)?;
        let staging = recovery::staging_path(self.instance);
        let copied = (|| -> anyhow::Result<()> {
            if staging.exists() {
                fs::remove_dir_all(&staging)?;
            }
            fs::create_dir(&staging)?;
            for volume in VOLUMES {
                snapshot::sync_tree(&backup.join(volume), &staging.join(volume), None)?;
            }
            let metadata = fs::metadata(self.instance.volumes())?;
            fs_err::set_permissions(&staging, metadata.permissions())?;
            fs::write(
                staging.join(RESTORED_MARK),
                format!("{}\n", self.backup_name),
            )?;
            let staging_dir = fs::File::open(&staging)?;
            nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&staging_dir))?;
            Ok(())
        })();
        if let Err(error) = copied {
            let _ = fs::remove_dir_all(&staging);
            let _ = recovery::clear_journal(self.instance);
            return Err(Error::Failed(error.context(
                "cannot copy the backup beside the volumes; nothing live was changed",
            )));
        }
        Ok(())
    }

    /// The swap, with the container stopped; returns the state to put it back in.
    pub(super) fn swap(&self) -> Result<PriorState> {
        let status = self
            .docker
            .inspect_state(self.container)?
            .map(|s| s.status())
            .unwrap_or(Status::Missing);
        // A paused container is running as far as its users are concerned.
        let prior = match status {
            Status::Running | Status::Restarting | Status::Paused => PriorState::Running,
            _ => PriorState::Stopped,
        };
        lock::write_record(self.instance, "girofle-restore", self.container, prior)?;
        if status == Status::Paused {
            self.docker.unpause(self.container)?;
        }
        if prior == PriorState::Running {
            self.docker.stop(self.container, DEFAULT_STOP_TIMEOUT)?;
        }
        recovery::exchange_volumes(self.instance)?;
        Ok(prior)
    }

    /// GitLab on the restored data, from the right image; the verdict of its health check.
    pub(super) fn start_and_wait(
        &self,
        progress: &mut dyn FnMut(&str),
    ) -> Result<std::result::Result<(), NotHealthy>> {
        let started = match (&self.recreate_with, self.row) {
            (Some(image), Some(row)) => recreate(self.home, self.docker, row, image, self.instance),
            _ => self.docker.start(self.container).map_err(Error::from),
        };
        Ok(match started {
            Ok(()) => {
                self.docker
                    .wait_healthy(self.container, self.args.wait_timeout.0, progress)?
            }
            Err(error) => Err(NotHealthy {
                seen: format!("not started: {error}"),
                waited: Duration::ZERO,
                last_output: String::new(),
                logs: self.docker.logs_tail(self.container, 20),
            }),
        })
    }

    /// Puts the previous volumes (and image) back, and the container as it
    /// was; returns the error that tells what happened.
    pub(super) fn roll_back(&self, prior: PriorState, not_healthy: NotHealthy) -> Result<Error> {
        if let (Some(_), Some(row)) = (&self.recreate_with, self.row) {
            let _ = recreate(self.home, self.docker, row, &row.image, self.instance);
        }
        let _ = self.docker.stop(self.container, DEFAULT_STOP_TIMEOUT);
        recovery::exchange_volumes(self.instance)?;
        fs::remove_dir_all(recovery::staging_path(self.instance))?;
        recovery::clear_journal(self.instance)?;
        if prior == PriorState::Running {
            self.docker.start(self.container)?;
        }
        lock::clear_record(self.instance)?;
        self.home.log(
            "restore",
            &format!(
                "{} into {}: not healthy, previous volumes put back",
                self.backup_name, self.container
            ),
        );
        Ok(Error::failed(format!(
            "the restored instance did not become healthy within {}s ({}); last health check: {}\n\
             Last lines of docker logs:\n{}\n\
             The previous volumes were put back and {} is {} again.",
            not_healthy.waited.as_secs(),
            not_healthy.seen,
            not_healthy.last_output,
            not_healthy.logs,
            self.container,
            prior
        )))
    }

    /// Only now does the previous data go (or stay aside with
    /// `--keep-previous`); the container goes back to its prior state and the
    /// inventory records a new image.
    pub(super) fn finish(&self, prior: PriorState) -> Result<Outcome> {
        let staging = recovery::staging_path(self.instance);
        let previous = if self.args.keep_previous {
            let kept = self.instance.root().join(format!(
                "mapping-volumes.previous-{}",
                timefmt::now_rfc3339().replace(':', "-")
            ));
            fs::rename(&staging, &kept)?;
            Some(kept)
        } else {
            let removing = recovery::removing_path(self.instance);
            fs::rename(&staging, &removing)?;
            remove_in_background(&removing);
            None
        };
        fs::remove_file(self.instance.volumes().join(RESTORED_MARK))?;
        recovery::clear_journal(self.instance)?;
        if prior == PriorState::Stopped && !self.args.leave_running {
            self.docker.stop(self.container, DEFAULT_STOP_TIMEOUT)?;
        }
        lock::clear_record(self.instance)?;
        if let (Some(image), Some(row)) = (&self.recreate_with, self.row) {
            let mut locked = inventory::lock(self.home)?;
            if let Some(stored) = locked.row_mut(row.number) {
                stored.image = image.clone();
            }
            locked.commit()?;
        }
        self.home.log(
            "restore",
            &format!(
                "{} restored into {} ({})",
                self.backup_name,
                self.container,
                self.instance.root().display()
            ),
        );
        Ok(Outcome {
            backup: self.backup_name.clone(),
            previous,
        })
    }
}

/// Deletes the previous volumes after the restore has answered: out of the
/// way under a name of their own, they cost GitLab's users nothing, and
/// deleting a large tree of small files takes seconds. If the deletion is
/// cut short, the next run on the instance finishes it.
fn remove_in_background(tree: &Path) {
    use std::os::unix::process::CommandExt;
    let spawned = std::process::Command::new("rm")
        .arg("-rf")
        .arg("--")
        .arg(tree)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group: a Ctrl-C meant for the caller does not cut it short.
        .process_group(0)
        .spawn();
    if spawned.is_err() {
        let _ = fs::remove_dir_all(tree);
    }
}

/// Replaces the container by one from `image`, with the row's settings.
fn recreate(
    home: &Home,
    docker: &Docker,
    row: &Row,
    image: &str,
    instance: &InstanceDir,
) -> Result<()> {
    docker.remove(&row.container)?;
    let mut row = row.clone();
    row.image = image.to_string();
    let spec = crate::container::run_spec(home, &row, instance);
    docker.run(&spec)?;
    Ok(())
}
