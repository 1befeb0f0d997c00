//! The phases that change things: stage, swap, start and wait, roll back, finish.

use fs_err as fs;
use std::path::Path;
use std::time::Duration;

use super::checks::SPACE_MARGIN;
use super::{Args, Outcome, Previous, kept};
use crate::container::VOLUMES;
use crate::docker::{DEFAULT_STOP_TIMEOUT, Docker, NotHealthy, Status};
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::lock::{self, PriorState};
use crate::recovery::{self, RESTORED_MARK};
use crate::snapshot::{self, CopyFailure};

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
    /// The image the container ran before the restore (from `docker
    /// inspect`): what a rollback recreates it from.
    pub(super) original_image: String,
    /// That image's ID.
    pub(super) original_image_id: String,
    pub(super) backup_name: String,
}

impl Restore<'_> {
    /// The copy, beside the live volumes, GitLab still running; nothing live
    /// is touched yet. With a MANIFEST (`checked`), each entry is compared
    /// with it as it is written (a file's checksum from the bytes copied):
    /// the backup is read once, and a backup that does not match stops the
    /// restore here, the staged copy removed.
    pub(super) fn stage(&self, backup: &Path, checked: bool) -> Result<()> {
        recovery::write_journal(self.instance, self.container, &self.details(None))?;
        let staging = recovery::staging_path(self.instance);
        crate::progress::phase(format!(
            "copying and checking backup {} beside the volumes",
            self.backup_name
        ));
        let mut refused = None;
        let copied = (|| -> anyhow::Result<()> {
            if staging.exists() {
                fs::remove_dir_all(&staging)?;
            }
            fs::create_dir(&staging)?;
            if checked {
                match snapshot::copy_checked(backup, &VOLUMES, &staging, Some(SPACE_MARGIN)) {
                    Ok(copy) if copy.verification.problems.is_empty() => {}
                    Ok(copy) => {
                        refused = Some(super::mismatch(&self.backup_name, &copy.verification));
                        anyhow::bail!("the backup does not match its MANIFEST");
                    }
                    Err(CopyFailure::Manifest(error)) => {
                        refused = Some(Error::usage(format!(
                            "backup {} cannot be read: {error:#}",
                            self.backup_name
                        )));
                        anyhow::bail!("the MANIFEST cannot be read");
                    }
                    Err(CopyFailure::Copy(error)) => return Err(error),
                }
            } else {
                for volume in VOLUMES {
                    snapshot::sync_tree(&backup.join(volume), &staging.join(volume), None)?;
                }
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
            if let Some(refused) = refused {
                self.home.log(
                    "restore",
                    &format!(
                        "{} into {}: refused, {refused}",
                        self.backup_name, self.container
                    ),
                );
                return Err(refused);
            }
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
        // Looked at again: it may have changed since the plan was made.
        let prior = super::plan::prior_state(status);
        lock::write_record(self.instance, "girofle-restore", self.container, prior)?;
        recovery::write_journal(self.instance, self.container, &self.details(Some(prior)))?;
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
        // Stopped first, and only then recreated from its original image:
        // that image must never start on the restored data.
        let _ = self.docker.stop(self.container, DEFAULT_STOP_TIMEOUT);
        recovery::exchange_volumes(self.instance)?;
        fs::remove_dir_all(recovery::staging_path(self.instance))?;
        recovery::clear_journal(self.instance)?;
        match (&self.recreate_with, self.row) {
            (Some(_), Some(row)) => {
                recreate(
                    self.home,
                    self.docker,
                    row,
                    &self.original_image,
                    self.instance,
                )?;
                if prior == PriorState::Stopped {
                    self.docker.stop(self.container, DEFAULT_STOP_TIMEOUT)?;
                }
            }
            _ if prior == PriorState::Running => self.docker.start(self.container)?,
            _ => {}
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

    /// The MANIFEST header fields of the data this restore replaces.
    fn details(&self, prior: Option<PriorState>) -> Vec<(String, String)> {
        let mut details = vec![
            ("container".to_string(), self.container.to_string()),
            (
                kept::TAKEN_BEFORE_RESTORE.to_string(),
                self.backup_name.clone(),
            ),
            ("image".to_string(), self.original_image.clone()),
            ("image_id".to_string(), self.original_image_id.clone()),
        ];
        if let Some(row) = self.row {
            details.insert(0, ("instance".to_string(), row.number.to_string()));
        }
        if let Some(prior) = prior {
            details.push(("prior_state".to_string(), prior.as_str().to_string()));
        }
        details
    }

    /// The previous data is never deleted: it becomes a backup of its own
    /// (a rename, then its MANIFEST); the container goes back to its prior
    /// state and the inventory records a new image.
    pub(super) fn finish(&self, prior: PriorState) -> Result<Outcome> {
        let staging = recovery::staging_path(self.instance);
        let set_aside = kept::set_aside(self.instance, &staging, kept::new_id(self.instance))?;
        fs::remove_file(self.instance.volumes().join(RESTORED_MARK))?;
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
        let previous = match set_aside {
            kept::SetAside::Backups(id) => {
                kept::complete_set_aside(self.instance, &self.details(Some(prior)))?;
                Previous::Backup(id.to_string())
            }
            kept::SetAside::Beside(path) => Previous::Beside(path),
        };
        recovery::clear_journal(self.instance)?;
        self.home.log(
            "restore",
            &format!(
                "{} restored into {} ({}); the data it replaced is {}",
                self.backup_name,
                self.container,
                self.instance.root().display(),
                previous
            ),
        );
        Ok(Outcome {
            backup: self.backup_name.clone(),
            previous,
            warnings: Vec::new(),
        })
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
