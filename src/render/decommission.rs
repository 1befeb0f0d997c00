//! `girofle-decommission --format json`.

use std::path::Path;

use serde::Serialize;

use super::backup::Timed;
use crate::ops::decommission::Outcome;

/// The instance decommissioned; a decommission that failed prints a
/// [`super::Failure`] instead.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// Always `decommission`.
    pub operation: &'static str,
    /// Always 0.
    pub exit_code: u8,
    /// The one instance.
    pub instances: [Instance<'a>; 1],
    /// Always empty.
    pub errors: [String; 0],
    /// Metrics that could not be updated.
    pub warnings: &'a [String],
}

/// The instance, and its final backup with its figures (null with
/// `--no-backup`).
#[derive(Debug, Serialize)]
pub struct Instance<'a> {
    /// Its number.
    pub number: u32,
    /// Its container, now removed.
    pub container: &'a str,
    /// Its directory, where its data and backups stay.
    pub dir: &'a Path,
    /// Always true.
    pub ok: bool,
    /// The final backup.
    pub final_backup: Option<Timed<'a>>,
    /// Always null.
    pub error: Option<String>,
}

/// The document of `outcome`.
pub fn document(outcome: &Outcome) -> Document<'_> {
    Document {
        operation: "decommission",
        exit_code: 0,
        instances: [Instance {
            number: outcome.number,
            container: &outcome.container,
            dir: &outcome.dir,
            ok: true,
            final_backup: outcome.made.as_ref().map(|made| Timed {
                made,
                duration_ms: outcome.backup_duration,
            }),
            error: None,
        }],
        errors: [],
        warnings: &outcome.warnings,
    }
}
