//! `--format json`: the documents the binaries print, one per operation,
//! drawn from the operations' outcomes. Above the operations, beside the
//! binaries: no operation renders another's result.

use std::time::Duration;

use serde_json::{Value, json};

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

#[cfg(test)]
mod tests;
