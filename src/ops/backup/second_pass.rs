//! The second pass of a `stop` or `pause` backup, with GitLab out of
//! service: taken out (a freeze tried again, then `stop`), the changes
//! copied under `max_freeze_secs`, put back, and healthy again.

use std::time::{Duration, Instant};

use super::{Consistency, Options};
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::home::InstanceDir;
use crate::inventory::Row;
use crate::lock::{Halt, OutOfService};
use crate::snapshot::{Changes, Copier, SyncStats, Walked};

/// How many times `docker pause` is tried before a backup falls back to `stop`.
const PAUSE_ATTEMPTS: u32 = 5;

/// What the two passes did, and how long GitLab was out of service.
#[derive(Default)]
pub(super) struct Copied {
    pub(super) stats: SyncStats,
    pub(super) consistent: bool,
    /// The consistency used: the one asked, or `stop` when a freeze went
    /// past `max_freeze_secs`.
    pub(super) consistency: Consistency,
    /// From `docker pause` asked to `docker unpause` done.
    pub(super) frozen: Option<Duration>,
    /// Why a `pause` fell back to `stop`.
    pub(super) fallback: Option<String>,
    /// What users felt: from the moment the stop (or freeze) began to the
    /// moment GitLab is healthy again (running again, if it was not healthy).
    pub(super) stop_window: Option<Duration>,
    pub(super) second_pass: Option<Duration>,
    /// What the second pass walked, when GitLab was taken out of service.
    pub(super) walked: Option<Walked>,
    /// GitLab's own time to stop.
    pub(super) shutdown: Option<Duration>,
}

/// What the second pass needs to take GitLab out of service around it.
pub(super) struct OutOfServicePass<'a> {
    pub(super) docker: &'a Docker,
    pub(super) row: &'a Row,
    pub(super) options: &'a Options,
    pub(super) instance: &'a InstanceDir,
    pub(super) was_healthy: bool,
}

impl OutOfServicePass<'_> {
    /// Stops or freezes GitLab, runs the second pass over `changes` (taken
    /// once GitLab is halted: nothing it writes is missed), puts it back and
    /// waits until it serves again. Frozen longer than `ceiling`, GitLab is
    /// thawed at once (the inner `Err` says so and why); the caller then
    /// falls back to `stop`.
    pub(super) fn second_pass(
        &self,
        copy: &mut Copier,
        halt: Halt,
        changes: impl FnOnce() -> Changes,
        ceiling: Option<Duration>,
        copied: &mut Copied,
    ) -> Result<std::result::Result<SyncStats, String>> {
        let row = self.row;
        crate::progress::phase(format!(
            "instance {}: taking GitLab out of service",
            row.number
        ));
        // GitLab stops answering as soon as the stop (or freeze) begins.
        let stopping = Instant::now();
        let mut attempts = 0;
        let guard = loop {
            match OutOfService::take(
                self.docker,
                self.instance,
                "girofle-backup",
                &row.container,
                halt,
            ) {
                Ok(guard) => break guard,
                // The freezer gives up when processes fork or sit in the
                // kernel as it freezes (runc: "unable to freeze"): again,
                // then a stop rather than no backup.
                Err(error) if halt == Halt::Pause => {
                    attempts += 1;
                    if attempts == PAUSE_ATTEMPTS {
                        return Ok(Err(format!(
                            "GitLab could not be frozen ({attempts} attempts: {error:#}); stopped instead, for a second pass over every entry"
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(200 * u64::from(attempts)));
                }
                Err(error) => {
                    return Err(
                        error.context(format!("cannot halt {} for the second pass", row.container))
                    );
                }
            }
        };
        copied.shutdown = Some(guard.shutdown);
        let window = Instant::now();
        crate::progress::phase(format!(
            "instance {}: second pass, GitLab {}",
            row.number,
            if halt == Halt::Pause {
                "frozen"
            } else {
                "stopped"
            }
        ));
        // Reading the record is part of the freeze, and so under its ceiling.
        let (pass, thawed) = match ceiling.filter(|_| halt == Halt::Pause) {
            Some(limit) => frozen_at_most(self.docker, &row.container, window, limit, || {
                copy.pass_after(changes())
            }),
            None => (copy.pass_after(changes()), None),
        };
        let pass = pass.map(|(stats, walked)| {
            copied.walked = Some(walked);
            stats
        });
        copied.second_pass = Some(window.elapsed());
        if let Some(thawed_after) = thawed {
            // Already running: the record goes, nothing is started.
            let held = crate::lock::transition();
            guard.keep_out(&held)?;
            drop(held);
            copied.frozen = Some(thawed_after);
            let walked = copied
                .walked
                .take()
                .map(|walked| format!(" (the second pass walked {walked})"))
                .unwrap_or_default();
            return Ok(Err(format!(
                "GitLab was frozen {} ms, past max_freeze_secs = {} s{walked}; thawed, then stopped for a second pass over every entry",
                thawed_after.as_millis(),
                ceiling.unwrap_or_default().as_secs()
            )));
        }
        crate::progress::phase(format!(
            "instance {}: putting GitLab back, until healthy",
            row.number
        ));
        let resumed = guard.put_back();
        if halt == Halt::Pause {
            copied.frozen = Some(stopping.elapsed());
        }
        resumed.map_err(|error| {
            error.context(format!(
                "{} could not be started again after the backup",
                row.container
            ))
        })?;
        // The backup ends when GitLab serves again, not when it is asked to.
        if self.was_healthy {
            back_healthy(
                self.docker,
                &row.container,
                self.options.wait_timeout.0,
                pass.as_ref().err(),
            )?;
        }
        copied.stop_window = Some(stopping.elapsed());
        Ok(Ok(pass?))
    }
}

/// Runs `pass` while `container` is frozen (since `started`); if it still
/// runs `limit` after that, another thread thaws the container then, and the
/// answer says after how long (the pass goes on, its copy no longer from one
/// instant).
fn frozen_at_most<T>(
    docker: &Docker,
    container: &str,
    started: Instant,
    limit: Duration,
    pass: impl FnOnce() -> T,
) -> (T, Option<Duration>) {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    // The pass waits until the watchdog watches: otherwise a short pass could
    // end before the watchdog's thread has even begun, and the ceiling would
    // depend on the scheduler rather than on the time GitLab stayed frozen.
    let watching = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let watching = &watching;
        let watchdog = scope.spawn(move || {
            watching.wait();
            match wait.recv_timeout(limit.saturating_sub(started.elapsed())) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    // As any change of the container's state: never while a
                    // signal is being acted on.
                    let _held = crate::lock::transition();
                    docker.unpause(container).ok().map(|()| started.elapsed())
                }
                _ => None,
            }
        });
        watching.wait();
        let result = pass();
        drop(done);
        (result, watchdog.join().unwrap_or(None))
    })
}

/// Waits (up to `timeout`) for GitLab to be healthy again after the second
/// pass. If it is not, that is the error, said first, whatever happened to
/// the copy (`copy_failed`).
fn back_healthy(
    docker: &Docker,
    container: &str,
    timeout: Duration,
    copy_failed: Option<&anyhow::Error>,
) -> Result<()> {
    let verdict = docker.wait_healthy(container, timeout, &mut |_| {})?;
    let Err(not_healthy) = verdict else {
        return Ok(());
    };
    let copy = match copy_failed {
        Some(error) => format!("; the copy failed too: {error:#}"),
        None => "; the backup was abandoned".to_string(),
    };
    Err(Error::failed(format!(
        "{container} is not healthy again {}s after the backup started it ({}; last health check: {}){copy}",
        not_healthy.waited.as_secs(),
        not_healthy.seen,
        not_healthy.last_output.trim(),
    )))
}
