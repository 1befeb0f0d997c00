//! What an operation tells the operator's alerts and metrics when it ends:
//! the `[notify]` events and the `[metrics]` series of backups, shippings,
//! drills, restores and decommissions.
//!
//! Shared by the operations, so that an event or a series means the same
//! thing whoever sends it, and below them, so that none reaches into another
//! to send one. Nothing here fails an operation: a notification or a metrics
//! update that goes wrong is logged in `girofle.log` (by [`crate::notify`]
//! and [`crate::metrics`]) and comes back as a warning.

use std::time::{Duration, SystemTime};

use crate::conf::Conf;
use crate::drill_traces::Record;
use crate::home::Home;
use crate::inventory::Row;
use crate::metrics::{self, BackupFigures, InstanceLabels};
use crate::notify::{self, Event, Kind, Outcome};

/// The labels of an instance's metrics.
pub fn labels(row: &Row) -> InstanceLabels {
    InstanceLabels {
        number: row.number,
        name: row.name.clone(),
        container: row.container.clone(),
    }
}

/// An event about `row`, on this host.
fn event(conf: &Conf, kind: Kind, ok: bool, row: Option<&Row>, message: String) -> Event {
    let outcome = if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let event = Event::new(kind, outcome, crate::remote::host_name(conf), message);
    match row {
        Some(row) => event.instance(row.number, &row.name, &row.container),
        None => event,
    }
}

/// What one backup attempt of an instance gave: its figures when made, the
/// error when not.
pub enum Attempt<'a> {
    /// Made.
    Made {
        /// The backup ID.
        id: &'a str,
        /// The two passes' figures.
        stats: &'a crate::snapshot::SyncStats,
        /// GitLab's time out of service.
        stop_window: Option<Duration>,
        /// Complete backups kept after retention.
        kept: u64,
    },
    /// Failed.
    Failed(&'a dyn std::fmt::Display),
}

/// Tells `[notify]` and `[metrics]` about a backup attempt of `row`.
pub fn backup(
    home: &Home,
    conf: &Conf,
    row: &Row,
    attempt: Attempt,
    duration: Duration,
) -> Vec<String> {
    let ended = SystemTime::now();
    let mut figures = BackupFigures {
        instance: labels(row),
        ok: false,
        ended,
        duration,
        stop_window: Duration::ZERO,
        bytes_copied: 0,
        bytes_hardlinked: 0,
        files_copied: 0,
        files_hardlinked: 0,
        backups_kept: None,
    };
    let event = match &attempt {
        Attempt::Made {
            id,
            stats,
            stop_window,
            kept,
        } => {
            figures.ok = true;
            figures.stop_window = stop_window.unwrap_or_default();
            figures.bytes_copied = stats.copied_bytes;
            figures.bytes_hardlinked = stats.linked_bytes;
            figures.files_copied = stats.copied_files;
            figures.files_hardlinked = stats.linked_files;
            figures.backups_kept = Some(*kept);
            event(
                conf,
                Kind::Backup,
                true,
                Some(row),
                format!("instance {} backed up as {id}", row.number),
            )
            .backup(id)
        }
        Attempt::Failed(error) => event(
            conf,
            Kind::Backup,
            false,
            Some(row),
            format!("backup of instance {} failed", row.number),
        )
        .error(error),
    };
    let mut warnings = notify::notify(home, conf, &event.duration(duration));
    warnings.extend(metrics::record(home, conf, |m| m.backup(&figures)));
    warnings
}

/// Tells `[notify]` about a failed backup of Girofle's own state.
pub fn state_backup_failed(
    home: &Home,
    conf: &Conf,
    error: &dyn std::fmt::Display,
    duration: Duration,
) -> Vec<String> {
    let event = event(
        conf,
        Kind::Backup,
        false,
        None,
        "backup of Girofle's state failed".into(),
    )
    .error(error)
    .duration(duration);
    notify::notify(home, conf, &event)
}

/// Tells `[notify]` and `[metrics]` how a shipping to `target` went
/// (`error`: the failures, one a line, if any).
pub fn shipping(
    home: &Home,
    conf: &Conf,
    target: &str,
    sent: &[String],
    error: Option<&str>,
    duration: Duration,
) -> Vec<String> {
    let ok = error.is_none();
    let message = if ok {
        format!("{} backup(s) shipped to target `{target}`", sent.len())
    } else {
        format!("shipping to target `{target}` failed")
    };
    let mut event = event(conf, Kind::Shipping, ok, None, message)
        .target(target)
        .duration(duration);
    if let Some(error) = error {
        event = event.error(error);
    }
    if let Some(last) = sent.last().and_then(|path| path.rsplit('/').next()) {
        event = event.backup(last);
    }
    let mut warnings = notify::notify(home, conf, &event);
    warnings.extend(metrics::record(home, conf, |m| {
        m.shipping(target, ok, SystemTime::now())
    }));
    warnings
}

/// Tells `[notify]` and `[metrics]` a drill's result.
pub fn drill(home: &Home, conf: &Conf, row: &Row, record: &Record) -> Vec<String> {
    let message = if record.ok {
        format!(
            "backup {} of instance {} booted healthy ({} repositories checked)",
            record.backup, row.number, record.repositories
        )
    } else {
        format!(
            "the drill of backup {} of instance {} failed",
            record.backup, row.number
        )
    };
    let mut event = event(conf, Kind::Drill, record.ok, Some(row), message)
        .backup(&record.backup)
        .duration(Duration::from_millis(record.duration_ms as u64));
    if !record.ok {
        event = event.error(&record.reason);
    }
    let mut warnings = notify::notify(home, conf, &event);
    warnings.extend(metrics::record(home, conf, |m| {
        m.drill(&labels(row), record.ok, SystemTime::now())
    }));
    warnings
}

/// Tells `[notify]` how a target's own integrity check (the weekly `restic
/// check`) went: one event per check.
pub fn target_check(
    home: &Home,
    conf: &Conf,
    target: &str,
    error: Option<&str>,
    duration: Duration,
) -> Vec<String> {
    let ok = error.is_none();
    let message = if ok {
        format!("target `{target}` passes its check")
    } else {
        format!("target `{target}` does not pass its check")
    };
    let mut event = event(conf, Kind::Check, ok, None, message)
        .target(target)
        .duration(duration);
    if let Some(error) = error {
        event = event.error(error);
    }
    notify::notify(home, conf, &event)
}

/// Tells `[notify]` how a restore into `container` went.
pub fn restore(
    home: &Home,
    conf: &Conf,
    row: Option<&Row>,
    container: &str,
    result: Result<&str, &dyn std::fmt::Display>,
    from: Option<&str>,
    duration: Duration,
) -> Vec<String> {
    let mut event = match result {
        Ok(backup) => event(
            conf,
            Kind::Restore,
            true,
            row,
            format!("backup {backup} restored into {container}"),
        )
        .backup(backup),
        Err(error) => event(
            conf,
            Kind::Restore,
            false,
            row,
            format!("restore into {container} failed"),
        )
        .error(error),
    };
    if row.is_none() {
        event.container = Some(container.to_string());
    }
    if let Some(target) = from {
        event = event.target(target);
    }
    notify::notify(home, conf, &event.duration(duration))
}

/// Tells `[notify]` about an instance's certificate: renewed (`ok`), or
/// failing to renew, about to expire, not verifying (`message` says which).
pub fn certificate(home: &Home, conf: &Conf, row: &Row, ok: bool, message: String) -> Vec<String> {
    notify::notify(
        home,
        conf,
        &event(conf, Kind::Certificate, ok, Some(row), message),
    )
}

/// Removes a decommissioned instance's series from `[metrics]`.
pub fn forget(home: &Home, conf: &Conf, number: u32) -> Vec<String> {
    metrics::record(home, conf, |m| m.forget_instance(number))
        .into_iter()
        .collect()
}
