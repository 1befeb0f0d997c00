//! `girofle-restore`: the document of one restore, the document and the
//! table of `--all`.

use std::path::Path;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::json_fields::error_text;
use crate::ops::restore::{AllOutcome, Outcome, Previous, Verdict};

/// Where the replaced data is kept, as the documents give it: both keys,
/// one of them null (`{"backup": ID, "path": null}`).
impl Serialize for Previous {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Kept<'a> {
            backup: Option<&'a str>,
            path: Option<&'a Path>,
        }
        match self {
            Previous::Backup(id) => Kept {
                backup: Some(id),
                path: None,
            },
            Previous::Beside(path) => Kept {
                backup: None,
                path: Some(path),
            },
        }
        .serialize(serializer)
    }
}

/// What became of an instance of `--all`, as the keys of its object: `ok`,
/// `result` (`restored`, `left_alone`, `failed`), `backup` and `error`, the
/// last two null when they do not apply.
impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            ok: bool,
            result: &'static str,
            backup: Option<&'a str>,
            error: Option<&'a str>,
        }
        let (result, backup, error) = match self {
            Verdict::Restored { backup, .. } => ("restored", Some(backup.as_str()), None),
            Verdict::LeftAlone => ("left_alone", None, None),
            Verdict::Failed(why) => ("failed", None, Some(why.as_str())),
        };
        Fields {
            ok: error.is_none(),
            result,
            backup,
            error,
        }
        .serialize(serializer)
    }
}

/// `girofle-restore CONTAINER DIR --format json`: one instance, restored or
/// not.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// Always `restore`.
    pub operation: &'static str,
    /// The exit code the binary ends with.
    pub exit_code: u8,
    /// The one instance.
    pub instances: [Instance<'a>; 1],
    /// Always null: one restore puts no state back.
    pub state: Option<()>,
    /// Why it failed, when it did.
    pub errors: Vec<String>,
    /// Notifications that could not be sent.
    pub warnings: &'a [String],
}

/// The instance restored into.
#[derive(Debug, Serialize)]
pub struct Instance<'a> {
    /// Its number, read from its directory's name (`noeud-gitlab-<N>`).
    pub number: Option<u32>,
    /// Its container.
    pub container: &'a str,
    /// Its directory.
    pub dir: Option<&'a Path>,
    /// Restored.
    pub ok: bool,
    /// `restored` or `failed`.
    pub result: &'static str,
    /// The backup restored.
    pub backup: Option<&'a str>,
    /// Where the data it replaced is kept.
    pub previous: Option<&'a Previous>,
    /// How long the restore took.
    #[serde(serialize_with = "crate::json_fields::millis")]
    pub duration_ms: Duration,
    /// Why it failed.
    pub error: Option<String>,
}

/// The document of a restore into `container` from `dir` that gave `result`
/// after `duration`.
pub fn document<'a>(
    container: &'a str,
    dir: Option<&'a Path>,
    result: Result<&'a Outcome, &Error>,
    duration: Duration,
) -> Document<'a> {
    let number = dir
        .and_then(|dir| dir.file_name())
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("noeud-gitlab-"))
        .and_then(|n| n.parse::<u32>().ok());
    let error = result.as_ref().err().map(|error| error_text(error));
    let outcome = result.as_ref().ok();
    Document {
        operation: "restore",
        exit_code: match result {
            Ok(_) => crate::error::Exit::Done,
            Err(error) => error.exit(),
        } as u8,
        instances: [Instance {
            number,
            container,
            dir,
            ok: outcome.is_some(),
            result: if outcome.is_some() {
                "restored"
            } else {
                "failed"
            },
            backup: outcome.map(|outcome| outcome.backup.as_str()),
            previous: outcome.map(|outcome| &outcome.previous),
            duration_ms: duration,
            error: error.clone(),
        }],
        state: None,
        errors: error.into_iter().collect(),
        warnings: outcome.map_or(&[], |outcome| &outcome.warnings),
    }
}

/// `girofle-restore --all --format json`: the outcome as it is (`state`,
/// `instances`, `warnings`), with the exit code and what failed.
#[derive(Debug, Serialize)]
pub struct AllDocument<'a> {
    /// Always `restore`.
    pub operation: &'static str,
    /// The exit code the binary ends with.
    pub exit_code: u8,
    /// `instance N: why`, one per instance that failed.
    pub errors: Vec<String>,
    /// The state backup put back, every instance, the warnings.
    #[serde(flatten)]
    pub outcome: &'a AllOutcome,
}

/// The document of `outcome`.
pub fn all_document(outcome: &AllOutcome) -> AllDocument<'_> {
    let errors = outcome
        .instances
        .iter()
        .filter_map(|instance| match &instance.verdict {
            Verdict::Failed(why) => Some(format!("instance {}: {why}", instance.number)),
            _ => None,
        })
        .collect();
    AllDocument {
        operation: "restore",
        exit_code: outcome.exit() as u8,
        errors,
        outcome,
    }
}

/// The table of every instance of `--all` and its result, for stdout.
pub fn table(outcome: &AllOutcome) -> String {
    let header = ["NUMBER", "NAME", "CONTAINER", "URL", "RESULT"];
    let rows: Vec<[String; 5]> = outcome
        .instances
        .iter()
        .map(|i| {
            let result = match &i.verdict {
                Verdict::Restored { backup, .. } => format!("restored {backup}"),
                Verdict::LeftAlone => "left alone: its container exists".to_string(),
                Verdict::Failed(why) => {
                    format!("FAILED: {}", why.lines().next().unwrap_or_default())
                }
            };
            [
                i.number.to_string(),
                if i.name.is_empty() {
                    "-".to_string()
                } else {
                    i.name.clone()
                },
                i.container.clone(),
                i.url.clone(),
                result,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[index]));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}
