//! How the outcomes' fields are written as data, for their
//! `#[serde(serialize_with = ...)]`: durations as whole milliseconds (the
//! documents' `*_ms` keys), errors as their whole chain of context, a
//! copy's figures under the names the documents give them.
//!
//! Down in the ground, so that every operation's outcome can name these
//! helpers in its derive without importing the renderings above it.

use std::time::Duration;

use serde::ser::SerializeSeq;
use serde::{Serialize, Serializer};

use crate::error::Error;
use crate::snapshot::SyncStats;

/// Whole milliseconds: what a `*_ms` key holds.
pub fn as_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A duration as its whole milliseconds.
pub fn millis<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(as_millis(*duration))
}

/// A duration as its whole milliseconds; `null` when there is none.
pub fn millis_or_null<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => millis(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// What a copy did, under the names the documents give it: the files and
/// bytes copied, and those hard-linked into the previous backup instead.
pub fn copied<S: Serializer>(stats: &SyncStats, serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct Copied {
        files_copied: u64,
        bytes_copied: u64,
        files_hardlinked: u64,
        bytes_hardlinked: u64,
    }
    Copied {
        files_copied: stats.copied_files,
        bytes_copied: stats.copied_bytes,
        files_hardlinked: stats.linked_files,
        bytes_hardlinked: stats.linked_bytes,
    }
    .serialize(serializer)
}

/// The text of an error with its whole chain (`context: cause: cause`), as
/// stderr prints it.
pub fn error_text(error: &Error) -> String {
    format!("{error:#}")
}

/// Items that failed, as `what: error` strings, one each.
pub fn failures<S: Serializer>(
    failures: &[(String, Error)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(failures.len()))?;
    for (what, error) in failures {
        seq.serialize_element(&format!("{what}: {}", error_text(error)))?;
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Timed {
        #[serde(serialize_with = "millis")]
        took_ms: Duration,
        #[serde(serialize_with = "millis_or_null")]
        stopped_ms: Option<Duration>,
        #[serde(serialize_with = "failures")]
        errors: Vec<(String, Error)>,
    }

    #[test]
    fn durations_are_whole_milliseconds_and_errors_their_chain() {
        let timed = Timed {
            took_ms: Duration::from_micros(61_250_900),
            stopped_ms: None,
            errors: vec![(
                "instance 4".into(),
                Error::failed("no space left").context("second pass"),
            )],
        };
        assert_eq!(
            serde_json::to_value(&timed).unwrap(),
            serde_json::from_str::<serde_json::Value>(
                r#"{"took_ms": 61250, "stopped_ms": null,
                    "errors": ["instance 4: second pass: no space left"]}"#
            )
            .unwrap()
        );
    }
}
