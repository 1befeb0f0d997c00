//! One instance's backup: the lock, the space check, the two passes around
//! GitLab's time out of service, the MANIFEST, the rename, retention.

use fs_err as fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::second_pass::{Copied, OutOfServicePass};
use super::{Consistency, Made, Options, new_id_in, retention};
use crate::conf::Conf;
use crate::container::VOLUMES;
use crate::docker::{Docker, Health, Status};
use crate::error::{Error, Result};
use crate::home::PARTIAL_PREFIX;
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory::Row;
use crate::lock::{self, Halt};
use crate::recovery;
use crate::snapshot::{self, ChangeWatch, Changes, Copier, Walked};
use crate::timefmt;

/// Room kept free beyond the bytes to copy: directories and metadata take room too.
const SPACE_MARGIN: u64 = 16 << 20;

/// Backs up one instance: takes its lock, then `backup_locked`.
pub fn backup_instance(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    row: &Row,
    options: &Options,
) -> Result<Made> {
    let instance = home.instance_of(row);
    check_volumes(&instance)?;
    let lock = lock::lock_instance(&instance, "girofle-backup", options.lock.timeout())?;
    let _watch = crate::guardian::watch(home, &instance, "girofle-backup");
    recovery::recover(home, docker, &instance)?;
    backup_locked(home, docker, conf, row, options, &lock)
}

fn check_volumes(instance: &InstanceDir) -> Result<()> {
    if instance.volumes().is_dir() {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "{} does not exist",
            instance.volumes().display()
        )))
    }
}

/// Backs up one instance whose lock the caller holds (`_held`) and has
/// recovered: [`backup_instance`], and a decommission's final backup
/// (through [`super::final_backup`]), with nothing slipping in between its
/// stop and the removal.
pub fn backup_locked(
    home: &Home,
    docker: &Docker,
    conf: &Conf,
    row: &Row,
    options: &Options,
    _held: &lock::InstanceLock,
) -> Result<Made> {
    let instance = home.instance_of(row);
    check_volumes(&instance)?;
    crate::atomic::create_dir(&instance.backups(), 0o700, true)?;

    // Hard links into the newest backup made, not into the data a restore
    // replaced (older content, kept under a newer ID).
    let previous = instance
        .default_backup(&instance.complete_backups())
        .map(|id| instance.backups().join(id.as_str()));
    let id = new_id_in(&instance.backups());
    let partial = instance.backups().join(format!("{PARTIAL_PREFIX}{id}"));
    crate::atomic::create_dir(&partial, 0o700, false)?;
    let copy = copier(&instance.volumes(), &partial, previous.as_deref());
    let paths = Paths {
        partial: &partial,
        previous: previous.as_deref(),
    };
    let ceiling = conf.girofle.max_freeze_secs.map(Duration::from_secs);
    match make_backup(docker, row, options, ceiling, &instance, copy, paths, &id) {
        Ok(mut made) => {
            // The backup is made: retention failing is a partial success, said and logged.
            match retention::apply(
                &instance.backups(),
                options.keep_last.unwrap_or_else(|| conf.keep_last()),
            ) {
                Ok(removed) => made.removed = removed,
                Err(error) => {
                    let why = format!("{error:#}");
                    home.log(
                        "backup",
                        &format!(
                            "instance {}: retention FAILED after backup {}: {why}",
                            row.number, made.id
                        ),
                    );
                    made.retention_failure = Some(why);
                }
            }
            log_made(home, row, &made);
            Ok(made)
        }
        Err(error) => {
            let _ = fs::remove_dir_all(&partial);
            Err(match error {
                // The first pass, live, checks the space before each batch:
                // nothing was stopped yet.
                Error::Failed(ref inner) if let Some(short) = inner.downcast_ref::<snapshot::NotEnoughSpace>() => Error::failed(format!(
                    "not enough space for a backup of instance {}: {} MiB more needed, {} MiB free in {}; nothing was stopped",
                    row.number,
                    short.needed >> 20,
                    short.free >> 20,
                    instance.backups().display()
                )),
                Error::Failed(inner) if snapshot::is_out_of_space(&inner) => Error::Failed(inner.context(format!(
                    "out of space while backing up instance {}; the partial backup was removed, earlier backups are intact",
                    row.number
                ))),
                other => other,
            })
        }
    }
}

/// The three volumes copied into the partial backup, hard-linking what is
/// unchanged since the previous one; one walk per volume and pass, the
/// MANIFEST's entries written as the copy goes. The first pass keeps
/// [`SPACE_MARGIN`] free, before anything is stopped.
/// Where the backup is being made, and the backup before it.
#[derive(Clone, Copy)]
struct Paths<'a> {
    partial: &'a Path,
    previous: Option<&'a Path>,
}

fn copier(volumes: &Path, partial: &Path, previous: Option<&Path>) -> Copier {
    let tops = VOLUMES
        .iter()
        .map(|volume| (PathBuf::from(volume), volumes.join(volume)))
        .collect();
    Copier::new(partial, tops, previous).keep_free(SPACE_MARGIN)
}

fn log_made(home: &Home, row: &Row, made: &Made) {
    let window = made
        .stop_window
        .map(|w| format!("{} ms", w.as_millis()))
        .unwrap_or_else(|| "none".into());
    // What users felt, in their words.
    let felt = match (made.consistency, made.frozen, made.stop_window) {
        (Consistency::Pause, Some(frozen), _) => {
            format!(", GitLab frozen {} ms, never restarted", frozen.as_millis())
        }
        (Consistency::Stop, _, Some(_)) => ", GitLab stopped and started again".to_string(),
        _ => String::new(),
    };
    let walked = match (&made.walked, made.frozen) {
        (Some(walked), Some(frozen)) if walked.starts_with("every entry") => format!(
            "; the second pass walked {walked} while GitLab was frozen: frozen {} ms",
            frozen.as_millis()
        ),
        _ => String::new(),
    };
    let fallback = made
        .fallback
        .as_ref()
        .map(|why| format!("; fell back to stop: {why}"))
        .unwrap_or_default();
    let removed = if made.removed.is_empty() {
        String::new()
    } else {
        format!("; retention removed {}", made.removed.join(", "))
    };
    home.log(
        "backup",
        &format!(
            "instance {} backed up as {} ({}, {} files copied ({} bytes), {} hard-linked, stop window {window}{felt}){walked}{fallback}{removed}",
            row.number,
            made.id,
            made.consistency.as_str(),
            made.stats.copied_files,
            made.stats.copied_bytes,
            made.stats.linked_files,
        ),
    );
}

/// The backup itself, in the partial folder: the two passes, the MANIFEST,
/// then the rename that makes it visible.
#[allow(clippy::too_many_arguments)]
fn make_backup(
    docker: &Docker,
    row: &Row,
    options: &Options,
    ceiling: Option<Duration>,
    instance: &InstanceDir,
    mut copy: Copier,
    paths: Paths,
    id: &BackupId,
) -> Result<Made> {
    let started = Instant::now();
    let state = docker.inspect_state(&row.container)?;
    let prior = state
        .as_ref()
        .map(|s| s.status())
        .unwrap_or(Status::Missing);
    let image = if state.is_some() {
        docker.container_image(&row.container)?
    } else {
        (row.image.clone(), String::new())
    };
    let was_healthy = state.as_ref().map(|s| s.health()) == Some(Health::Healthy);
    let copied = copy_in_two_passes(
        docker,
        row,
        options,
        ceiling,
        instance,
        &mut copy,
        prior,
        was_healthy,
    )?;

    let header = Header {
        id,
        row,
        prior,
        image,
        previous: paths.previous,
        started,
    }
    .lines(paths.partial, &copied);
    crate::progress::phase(format!("instance {}: writing the MANIFEST", row.number));
    copy.write_manifest(&header)?;
    let partial = paths.partial;
    let complete = instance.backups().join(id.as_str());
    // A signal being handled removes the partial copy: it must never be
    // renamed after that has begun (it would look complete).
    let _held = crate::lock::transition();
    fs::rename(partial, &complete).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            complete.display()
        )
    })?;
    crate::atomic::sync_directory(&instance.backups())?;
    Ok(Made {
        number: row.number,
        container: row.container.clone(),
        id: id.clone(),
        path: complete,
        stop_window: copied.stop_window,
        consistency: copied.consistency,
        frozen: copied.frozen,
        fallback: copied.fallback,
        walked: copied.walked.as_ref().map(ToString::to_string),
        stats: copied.stats,
        removed: Vec::new(),
        retention_failure: None,
    })
}

/// The first pass while GitLab runs; the second with it out of service (in
/// `stop` and `pause` modes), copying only what changed since.
#[allow(clippy::too_many_arguments)]
fn copy_in_two_passes(
    docker: &Docker,
    row: &Row,
    options: &Options,
    ceiling: Option<Duration>,
    instance: &InstanceDir,
    copy: &mut Copier,
    prior: Status,
    was_healthy: bool,
) -> Result<Copied> {
    let out_of_service = matches!(
        (options.consistency, prior),
        (
            Consistency::Stop | Consistency::Pause,
            Status::Running | Status::Restarting
        )
    );
    // Before the first pass walks: whatever GitLab writes from now on is
    // recorded, so that the second pass, GitLab stopped, visits only that.
    let watch = out_of_service.then(|| ChangeWatch::start(copy.sources(), copy.root()));
    crate::progress::phase(format!(
        "instance {}: first pass, GitLab running",
        row.number
    ));
    let mut copied = Copied {
        stats: copy.pass()?,
        consistent: true,
        consistency: options.consistency,
        ..Copied::default()
    };
    let second = match (options.consistency, prior) {
        (Consistency::Live, _) => {
            copied.consistent = prior == Status::Stopped || prior == Status::Missing;
            None
        }
        (Consistency::Stop | Consistency::Pause, Status::Running | Status::Restarting) => {
            let changes = || match watch {
                Some(Ok(watch)) => watch.finish(),
                Some(Err(error)) => Changes::Unknown(format!("{error:#}")),
                None => Changes::Unknown("not watched".into()),
            };
            let halt = match options.consistency {
                Consistency::Pause => Halt::Pause,
                _ => Halt::Stop(options.stop_timeout.0),
            };
            let out = OutOfServicePass {
                docker,
                row,
                options,
                instance,
                was_healthy,
            };
            match out.second_pass(copy, halt, changes, ceiling, &mut copied)? {
                Ok(stats) => Some(stats),
                Err(why_thawed) => {
                    // Frozen past the ceiling (or never frozen): GitLab runs
                    // and the copy is not from one instant. Stopped now, a
                    // pass over every entry makes it whole.
                    copied.consistency = Consistency::Stop;
                    copied.fallback = Some(why_thawed);
                    let why = || Changes::Unknown("a pause fell back to stop".into());
                    match out.second_pass(
                        copy,
                        Halt::Stop(options.stop_timeout.0),
                        why,
                        None,
                        &mut copied,
                    )? {
                        Ok(stats) => Some(stats),
                        Err(never) => unreachable!("no ceiling, no thaw: {never}"),
                    }
                }
            }
        }
        // Stopped, missing or already frozen: nothing writes, a second pass
        // catches what changed during the first.
        _ => {
            crate::progress::phase(format!("instance {}: second pass", row.number));
            Some(copy.pass()?)
        }
    };
    if let Some(second) = second {
        copied.stats.copied_files += second.copied_files;
        copied.stats.copied_bytes += second.copied_bytes;
        copied.stats.linked_files += second.linked_files;
        copied.stats.linked_bytes += second.linked_bytes;
        // A pass that visited the changes only saw the sockets among them;
        // those of the first pass count if they are still there.
        if matches!(copied.walked, Some(Walked::Changes(_))) {
            let volumes = instance.volumes();
            copied.stats.skipped_sockets.retain(|socket| {
                fs::symlink_metadata(volumes.join(socket))
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            });
            copied.stats.skipped_sockets.extend(second.skipped_sockets);
            copied.stats.skipped_sockets.sort();
            copied.stats.skipped_sockets.dedup();
        } else {
            copied.stats.skipped_sockets = second.skipped_sockets;
        }
    }
    Ok(copied)
}

/// What the MANIFEST's header says of a backup.
struct Header<'a> {
    id: &'a BackupId,
    row: &'a Row,
    prior: Status,
    /// The image reference and its ID.
    image: (String, String),
    previous: Option<&'a Path>,
    started: Instant,
}

impl Header<'_> {
    fn lines(self, partial: &Path, copied: &Copied) -> Vec<(String, String)> {
        let gitlab_version = fs::read_to_string(partial.join("data/gitlab-rails/VERSION"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let consistent = if copied.consistent {
            "yes"
        } else {
            "no: copied while GitLab ran"
        };
        let previous = self
            .previous
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "none".into());
        let (image, image_id) = self.image;
        let mut header: Vec<(String, String)> = [
            ("id", self.id.to_string()),
            ("instance", self.row.number.to_string()),
            ("container", self.row.container.clone()),
            ("consistency", copied.consistency.as_str().to_string()),
            ("consistent", consistent.to_string()),
            ("prior_state", self.prior.as_str().to_string()),
            ("image", image),
            ("image_id", image_id),
            ("gitlab_version", gitlab_version),
            ("stop_window_ms", milliseconds(copied.stop_window)),
            ("frozen_ms", milliseconds(copied.frozen)),
            (
                "fallback",
                copied.fallback.clone().unwrap_or_else(|| "none".into()),
            ),
            ("second_pass_ms", milliseconds(copied.second_pass)),
            (
                "second_pass_walked",
                copied
                    .walked
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "none".into()),
            ),
            ("shutdown_ms", milliseconds(copied.shutdown)),
            ("previous", previous),
            ("finished", timefmt::now_rfc3339()),
            (
                "duration_ms",
                self.started.elapsed().as_millis().to_string(),
            ),
            ("girofle_version", env!("CARGO_PKG_VERSION").to_string()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect();
        for socket in &copied.stats.skipped_sockets {
            header.push(("skipped_socket".to_string(), socket.display().to_string()));
        }
        header
    }
}

fn milliseconds(duration: Option<Duration>) -> String {
    duration
        .map(|d| d.as_millis().to_string())
        .unwrap_or_else(|| "0".into())
}
