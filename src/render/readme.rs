//! The README's examples checked against what Girofle prints: its backup
//! document and its alert, key by key, so that the README cannot drift from
//! the code unseen.

use std::time::Duration;

use serde_json::Value;

use super::tests::{ID, json, made, report, shipped_to};
use crate::ops::backup;

/// The JSON of the README's example that follows `marker`: the text
/// between the first `{` after it and the end of its code block.
fn readme_example(marker: &str) -> Value {
    let readme = include_str!("../../README.md");
    let after = &readme[readme.find(marker).expect("the README has the example")..];
    let start = after.find('{').unwrap();
    let end = start + after[start..].find("\n```").unwrap();
    serde_json::from_str(&after[start..end]).expect("the README's example is JSON")
}

/// Every key of `example` is in `document` with the same value, nested
/// objects and arrays of objects included (the document may have more).
fn assert_covers(document: &Value, example: &Value, at: &str) {
    match (document, example) {
        (Value::Object(document), Value::Object(example)) => {
            for (key, value) in example {
                let inner = document
                    .get(key)
                    .unwrap_or_else(|| panic!("{at}.{key} is not in the document"));
                assert_covers(inner, value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(document), Value::Array(example)) => {
            assert_eq!(document.len(), example.len(), "{at}");
            for (index, (inner, value)) in document.iter().zip(example).enumerate() {
                assert_covers(inner, value, &format!("{at}[{index}]"));
            }
        }
        _ => assert_eq!(document, example, "{at}"),
    }
}

#[test]
fn the_readme_s_backup_example_is_what_the_document_says() {
    let outcome = backup::Outcome {
        made: vec![made(3)],
        shipped: vec![format!("gitlab-host-1/noeud-gitlab-3/bckups/{ID}")],
        instances: vec![report(3, "docs", None)],
        targets: vec![shipped_to("off-site", &[])],
        ..backup::Outcome::default()
    };
    let document = json(&super::backup::document(&outcome));
    let example = readme_example("$ girofle-backup 3 --to off-site --format json");
    assert_covers(&document, &example, "");
}

/// The README's failed backup event, as `[notify]` sends it.
fn failed_backup_event() -> crate::notify::Event {
    use crate::notify::{Event, Kind, Outcome};
    let mut event = Event::new(
        Kind::Backup,
        Outcome::Failure,
        "gitlab-host-1",
        "backup of instance 3 failed",
    )
    .instance(3, "docs", "girofle-gitlab-3-docs")
    .error("/girofle/noeud-gitlab-3/mapping-volumes does not exist")
    .duration(Duration::from_millis(12));
    event.time = "2026-11-25T14:31:07Z".into();
    event.girofle_version = "0.1.0".into();
    event
}

#[test]
fn the_alert_of_a_failed_backup() {
    let sent: Value = serde_json::from_str(&failed_backup_event().to_json()).unwrap();
    insta::assert_json_snapshot!(sent);
}

#[test]
fn the_readme_s_alert_example_is_what_is_sent() {
    let sent: Value = serde_json::from_str(&failed_backup_event().to_json()).unwrap();
    let example = readme_example("Every key of the event is always present");
    assert_eq!(sent, example);
}
