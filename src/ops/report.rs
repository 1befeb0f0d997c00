//! What operations tell the world besides their exit code: the `[notify]`
//! events, the `[metrics]` textfile, and `--format json`.
//!
//! Shared by the operations (backup, shipping, drills, restores, decommission),
//! so that an event or a series means the same thing whoever sends it. Nothing
//! here fails an operation: a notification or a metrics update that goes
//! wrong is logged in `girofle.log` (by [`crate::notify`] and
//! [`crate::metrics`]) and comes back as a warning.

use std::time::{Duration, SystemTime};

use crate::conf::Conf;
use crate::drill_traces::Record;
use crate::home::Home;
use crate::inventory::Row;
use crate::metrics::{self, BackupFigures, InstanceLabels};
use crate::notify::{self, Event, Kind, Outcome};
use serde_json::{Value, json};

/// How a result is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// As before: IDs and URLs, one a line
    #[default]
    Text,
    /// One JSON document (keys documented in the README, "Results as data")
    Json,
}

/// `--format`, for the operations that print results.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct FormatArgs {
    /// How the result is printed on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

impl FormatArgs {
    /// Whether `--format json` was given.
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

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

/// Removes a decommissioned instance's series from `[metrics]`.
pub fn forget(home: &Home, conf: &Conf, number: u32) -> Vec<String> {
    metrics::record(home, conf, |m| m.forget_instance(number))
        .into_iter()
        .collect()
}

/// Milliseconds, for the JSON documents.
pub fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// The figures of a backup made, as `--format json` gives them (also the
/// final backup of a decommission).
pub fn made_json(made: &crate::ops::backup::Made, duration: Option<Duration>) -> Value {
    json!({
        "backup": made.id.as_str(),
        "path": made.path,
        "files_copied": made.stats.copied_files,
        "bytes_copied": made.stats.copied_bytes,
        "files_hardlinked": made.stats.linked_files,
        "bytes_hardlinked": made.stats.linked_bytes,
        "stop_window_ms": made.stop_window.map(millis),
        "consistency": made.consistency.as_str(),
        "frozen_ms": made.frozen.map(millis),
        "fallback": made.fallback,
        "second_pass_walked": made.walked,
        "duration_ms": duration.map(millis),
        "removed_by_retention": made.removed,
        "retention_error": made.retention_failure,
    })
}

/// `girofle-backup --format json`.
pub fn backup_json(outcome: &crate::ops::backup::Outcome) -> Value {
    let instances: Vec<Value> = outcome
        .instances
        .iter()
        .map(|report| {
            let made = outcome.made.iter().find(|m| m.number == report.number);
            let mut entry = json!({
                "number": report.number,
                "name": report.name,
                "container": report.container,
                "ok": made.is_some(),
                "backups_kept": report.backups_kept,
                "error": report.error,
            });
            let figures = match made {
                Some(made) => made_json(made, Some(report.duration)),
                None => json!({
                    "backup": null, "path": null, "files_copied": 0, "bytes_copied": 0,
                    "files_hardlinked": 0, "bytes_hardlinked": 0, "stop_window_ms": null,
                    "consistency": null, "frozen_ms": null, "fallback": null,
                    "second_pass_walked": null,
                    "duration_ms": millis(report.duration), "removed_by_retention": [],
                    "retention_error": null,
                }),
            };
            merge(&mut entry, figures);
            entry
        })
        .collect();
    let targets: Vec<Value> = outcome
        .targets
        .iter()
        .map(|target| {
            json!({
                "name": target.name,
                "ok": target.errors.is_empty(),
                "shipped": target.shipped,
                "errors": target.errors,
                "duration_ms": millis(target.duration),
            })
        })
        .collect();
    json!({
        "operation": "backup",
        "exit_code": outcome.exit() as u8,
        "instances": instances,
        "state": outcome.state.as_ref().map(|id| id.as_str()),
        "targets": targets,
        "errors": errors(&outcome.failures),
        "warnings": outcome.warnings,
    })
}

/// `girofle-restore --format json`, one instance.
pub fn restore_json(
    container: &str,
    dir: Option<&std::path::Path>,
    result: std::result::Result<&crate::ops::restore::Outcome, &crate::error::Error>,
    duration: Duration,
) -> Value {
    use crate::ops::restore::Previous;
    let number = dir
        .and_then(|dir| dir.file_name())
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("noeud-gitlab-"))
        .and_then(|n| n.parse::<u32>().ok());
    let (ok, backup, previous, error, warnings, exit) = match result {
        Ok(outcome) => (
            true,
            Some(outcome.backup.clone()),
            Some(match &outcome.previous {
                Previous::Backup(id) => json!({"backup": id, "path": null}),
                Previous::Beside(path) => json!({"backup": null, "path": path}),
            }),
            None,
            outcome.warnings.clone(),
            crate::error::Exit::Done,
        ),
        Err(error) => (
            false,
            None,
            None,
            Some(format!("{error:#}")),
            Vec::new(),
            error.exit(),
        ),
    };
    json!({
        "operation": "restore",
        "exit_code": exit as u8,
        "instances": [{
            "number": number,
            "container": container,
            "dir": dir,
            "ok": ok,
            "result": if ok { "restored" } else { "failed" },
            "backup": backup,
            "previous": previous,
            "duration_ms": millis(duration),
            "error": error,
        }],
        "state": null,
        "errors": error.into_iter().collect::<Vec<_>>(),
        "warnings": warnings,
    })
}

/// `girofle-restore --all --format json`.
pub fn restore_all_json(outcome: &crate::ops::restore::AllOutcome) -> Value {
    use crate::ops::restore::Verdict;
    let instances: Vec<Value> = outcome
        .instances
        .iter()
        .map(|instance| {
            let (result, backup, error) = match &instance.verdict {
                Verdict::Restored { backup, .. } => ("restored", Some(backup.clone()), None),
                Verdict::LeftAlone => ("left_alone", None, None),
                Verdict::Failed(why) => ("failed", None, Some(why.clone())),
            };
            json!({
                "number": instance.number,
                "name": instance.name,
                "container": instance.container,
                "url": instance.url,
                "ok": error.is_none(),
                "result": result,
                "backup": backup,
                "error": error,
            })
        })
        .collect();
    let errors: Vec<String> = outcome
        .instances
        .iter()
        .filter_map(|instance| match &instance.verdict {
            Verdict::Failed(why) => Some(format!("instance {}: {why}", instance.number)),
            _ => None,
        })
        .collect();
    json!({
        "operation": "restore",
        "exit_code": outcome.exit() as u8,
        "instances": instances,
        "state": outcome.state,
        "errors": errors,
        "warnings": outcome.warnings,
    })
}

/// `girofle-commission --format json`.
pub fn commission_json(outcome: &crate::ops::commission::Outcome, duration: Duration) -> Value {
    let row = &outcome.row;
    json!({
        "operation": "commission",
        "exit_code": 0,
        "instances": [{
            "number": row.number,
            "name": row.name,
            "container": row.container,
            "ok": true,
            "url": outcome.url,
            "ip": row.ip,
            "http_port": row.http_port,
            "https_port": row.https_port,
            "ssh_port": row.ssh_port,
            "hostname": row.hostname,
            "image": row.image,
            "dir": row.dir,
            "backup_schedule": row.backup_schedule,
            "waited_healthy": outcome.waited,
            "duration_ms": millis(duration),
            "error": null,
        }],
        "errors": [],
        "warnings": [],
    })
}

/// `girofle-decommission --format json`.
pub fn decommission_json(outcome: &crate::ops::decommission::Outcome) -> Value {
    json!({
        "operation": "decommission",
        "exit_code": 0,
        "instances": [{
            "number": outcome.number,
            "container": outcome.container,
            "dir": outcome.dir,
            "ok": true,
            "final_backup": outcome.made.as_ref().map(|made| made_json(made, outcome.backup_duration)),
            "error": null,
        }],
        "errors": [],
        "warnings": outcome.warnings,
    })
}

/// The document of an operation that failed as a whole (no outcome to describe).
pub fn failure_json(operation: &str, error: &crate::error::Error) -> Value {
    json!({
        "operation": operation,
        "exit_code": error.exit() as u8,
        "instances": [],
        "errors": [format!("{error:#}")],
        "warnings": [],
    })
}

/// `what: error`, one item each.
fn errors(failures: &[(String, crate::error::Error)]) -> Vec<String> {
    failures
        .iter()
        .map(|(what, error)| format!("{what}: {error:#}"))
        .collect()
}

/// Adds `extra`'s keys to `into` (both objects).
fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}

/// Prints a document on stdout, pretty (one document, for people and `jq`),
/// every string in it redacted ([`crate::redact::secrets`]): errors quote
/// logs and command lines.
pub fn print_json(document: &Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut document = document.clone();
    redact_strings(&mut document);
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &document)?;
    writeln!(stdout)
}

/// Every string of `value`, redacted in place.
fn redact_strings(value: &mut Value) {
    match value {
        Value::String(text) => *text = crate::redact::secrets(text),
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(fields) => fields.values_mut().for_each(redact_strings),
        _ => {}
    }
}
