//! `girofle-backup --format json`, and the final backup a decommission
//! reports.

use std::time::Duration;

use serde::Serialize;

use crate::home::BackupId;
use crate::ops::backup::{InstanceReport, Made, Outcome, TargetReport};

/// `girofle-backup --format json`: every instance attempted with its
/// backup's figures, the state backup, the shippings.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// Always `backup`.
    pub operation: &'static str,
    /// The exit code the binary ends with.
    pub exit_code: u8,
    /// Every instance attempted, in order.
    pub instances: Vec<Instance<'a>>,
    /// Every target shipped to.
    pub targets: Vec<Target<'a>>,
    /// The state backup made, if any.
    pub state: Option<&'a BackupId>,
    /// What failed, `what: why` each.
    #[serde(serialize_with = "crate::json_fields::failures")]
    pub errors: &'a [(String, crate::error::Error)],
    /// Notifications or metrics that could not be sent.
    pub warnings: &'a [String],
}

/// One instance: how the attempt went, and its backup's figures (zeros and
/// nulls when none was made).
#[derive(Debug, Serialize)]
pub struct Instance<'a> {
    /// Number, name, container, duration, backups kept, error.
    #[serde(flatten)]
    pub report: &'a InstanceReport,
    /// Whether a backup was made.
    pub ok: bool,
    /// The backup made, or its blank.
    #[serde(flatten)]
    pub figures: Figures<'a>,
}

/// A backup's figures, or the same keys blank when none was made, so that
/// a failed instance has every key a made one has.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Figures<'a> {
    /// The backup made.
    Made(&'a Made),
    /// None was made.
    Blank(NotMade),
}

/// The keys of [`Made`], blank: no ID, no path, nothing copied or removed.
/// The one place a key is named twice; a test compares the two key sets, so
/// that a key added to [`Made`] and forgotten here fails it.
#[derive(Debug, Default, Serialize)]
pub struct NotMade {
    backup: Option<()>,
    path: Option<()>,
    files_copied: u64,
    bytes_copied: u64,
    files_hardlinked: u64,
    bytes_hardlinked: u64,
    stop_window_ms: Option<()>,
    consistency: Option<()>,
    frozen_ms: Option<()>,
    fallback: Option<()>,
    second_pass_walked: Option<()>,
    removed_by_retention: [(); 0],
    retention_error: Option<()>,
}

/// One target: its shipping, and whether it went without error.
#[derive(Debug, Serialize)]
pub struct Target<'a> {
    /// Name, what was shipped, errors, duration.
    #[serde(flatten)]
    pub report: &'a TargetReport,
    /// No error.
    pub ok: bool,
}

/// A backup made with how long it took: a decommission's `final_backup`.
#[derive(Debug, Serialize)]
pub struct Timed<'a> {
    /// Its figures.
    #[serde(flatten)]
    pub made: &'a Made,
    /// How long it took, when known.
    #[serde(serialize_with = "crate::json_fields::millis_or_null")]
    pub duration_ms: Option<Duration>,
}

/// The document of `outcome`.
pub fn document(outcome: &Outcome) -> Document<'_> {
    let instances = outcome
        .instances
        .iter()
        .map(|report| {
            let made = outcome.made.iter().find(|m| m.number == report.number);
            Instance {
                report,
                ok: made.is_some(),
                figures: made.map_or_else(|| Figures::Blank(NotMade::default()), Figures::Made),
            }
        })
        .collect();
    let targets = outcome
        .targets
        .iter()
        .map(|report| Target {
            report,
            ok: report.errors.is_empty(),
        })
        .collect();
    Document {
        operation: "backup",
        exit_code: outcome.exit() as u8,
        instances,
        targets,
        state: outcome.state.as_ref(),
        errors: &outcome.failures,
        warnings: &outcome.warnings,
    }
}
