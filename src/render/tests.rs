//! The `--format json` documents pinned: each shape the README documents,
//! built from outcomes with fixed data, compared with the snapshots in
//! `snapshots/` (a change of key, type or null shows as a diff there).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::Error;
use crate::home::BackupId;
use crate::ops::backup::{self, Consistency, InstanceReport, Made, TargetReport};
use crate::ops::restore::{self, AllOutcome, InstanceResult, Previous, Verdict};
use crate::ops::{commission, decommission, list};
use crate::snapshot::SyncStats;

/// The document as it is printed: redacted, keys sorted.
pub(super) fn json(document: &impl serde::Serialize) -> Value {
    super::printable(document).expect("every document serialises")
}

pub(super) const ID: &str = "2026-11-25T14-30-00Z";
const OLDER: &str = "2026-11-23T10-00-00Z";

fn id(text: &str) -> BackupId {
    BackupId::parse(text).expect("a valid backup ID")
}

fn backup_path(number: u32, id: &str) -> PathBuf {
    PathBuf::from(format!("/girofle/noeud-gitlab-{number}/bckups/{id}"))
}

/// The README's example: instance 3, `docs`, frozen for its second pass.
pub(super) fn made(number: u32) -> Made {
    Made {
        number,
        container: format!("girofle-gitlab-{number}-docs"),
        id: id(ID),
        path: backup_path(number, ID),
        stop_window: Some(Duration::from_millis(4512)),
        consistency: Consistency::Pause,
        frozen: Some(Duration::from_millis(3870)),
        fallback: None,
        walked: Some("changes only (12 paths)".into()),
        stats: SyncStats {
            copied_files: 214,
            copied_bytes: 48_203_114,
            linked_files: 35_120,
            linked_bytes: 9_876_543_210,
            ..SyncStats::default()
        },
        removed: vec![OLDER.into()],
        retention_failure: None,
    }
}

pub(super) fn report(number: u32, name: &str, error: Option<&str>) -> InstanceReport {
    InstanceReport {
        number,
        name: name.into(),
        container: if name.is_empty() {
            format!("girofle-gitlab-{number}")
        } else {
            format!("girofle-gitlab-{number}-{name}")
        },
        duration: Duration::from_millis(61_250),
        backups_kept: error.is_none().then_some(12),
        error: error.map(str::to_string),
    }
}

pub(super) fn shipped_to(name: &str, errors: &[&str]) -> TargetReport {
    TargetReport {
        name: name.into(),
        shipped: if errors.is_empty() {
            vec![format!("gitlab-host-1/noeud-gitlab-3/bckups/{ID}")]
        } else {
            Vec::new()
        },
        snapshots: if errors.is_empty() && name == "vault" {
            [(
                format!("gitlab-host-1/noeud-gitlab-3/bckups/{ID}"),
                "4f9c2b1e0d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b".to_string(),
            )]
            .into()
        } else {
            Default::default()
        },
        errors: errors.iter().map(|e| e.to_string()).collect(),
        duration: Duration::from_millis(8113),
    }
}

#[test]
fn backup_of_one_instance_shipped() {
    let outcome = backup::Outcome {
        made: vec![made(3)],
        shipped: vec![format!("gitlab-host-1/noeud-gitlab-3/bckups/{ID}")],
        instances: vec![report(3, "docs", None)],
        targets: vec![shipped_to("off-site", &[])],
        ..backup::Outcome::default()
    };
    insta::assert_json_snapshot!(json(&super::backup::document(&outcome)));
}

#[test]
fn backup_of_one_instance_shipped_to_a_restic_target() {
    let outcome = backup::Outcome {
        made: vec![made(3)],
        shipped: vec![format!("gitlab-host-1/noeud-gitlab-3/bckups/{ID}")],
        instances: vec![report(3, "docs", None)],
        targets: vec![shipped_to("vault", &[])],
        ..backup::Outcome::default()
    };
    let document = json(&super::backup::document(&outcome));
    insta::assert_json_snapshot!(document["targets"]);
}

#[test]
fn backup_with_one_instance_failed() {
    let why = "/girofle/noeud-gitlab-4/mapping-volumes does not exist";
    let outcome = backup::Outcome {
        made: vec![made(3)],
        instances: vec![report(3, "docs", None), report(4, "", Some(why))],
        failures: vec![("instance 4".into(), Error::failed(why))],
        warnings: vec!["notify: http://127.0.0.1:9000/hook did not answer".into()],
        ..backup::Outcome::default()
    };
    insta::assert_json_snapshot!(json(&super::backup::document(&outcome)));
}

#[test]
fn backup_whose_target_failed() {
    let why = "/mnt/offsite/girofle has no .girofle-target marker";
    let outcome = backup::Outcome {
        made: vec![made(3)],
        instances: vec![report(3, "docs", None)],
        targets: vec![shipped_to("off-site", &[why])],
        failures: vec![("target off-site".into(), Error::failed(why))],
        ..backup::Outcome::default()
    };
    insta::assert_json_snapshot!(json(&super::backup::document(&outcome)));
}

#[test]
fn backup_of_the_state_alone() {
    let outcome = backup::Outcome {
        state: Some(id(ID)),
        ..backup::Outcome::default()
    };
    insta::assert_json_snapshot!(json(&super::backup::document(&outcome)));
}

#[test]
fn backup_that_fell_back_to_stop_and_whose_retention_failed() {
    let mut made = made(3);
    made.consistency = Consistency::Stop;
    made.frozen = None;
    made.fallback = Some("the engine refused to freeze the container 5 times".into());
    made.walked = Some("every entry (no change record)".into());
    made.removed = Vec::new();
    made.retention_failure = Some(format!("cannot remove {OLDER}: permission denied"));
    let outcome = backup::Outcome {
        made: vec![made],
        instances: vec![report(3, "docs", None)],
        failures: vec![(
            "retention of instance 3".into(),
            Error::failed(format!("cannot remove {OLDER}: permission denied")),
        )],
        ..backup::Outcome::default()
    };
    insta::assert_json_snapshot!(json(&super::backup::document(&outcome)));
}

#[test]
fn backup_live_of_an_instance_never_stopped() {
    let mut made = made(3);
    made.consistency = Consistency::Live;
    made.stop_window = None;
    made.frozen = None;
    made.walked = None;
    let outcome = backup::Outcome {
        made: vec![made],
        instances: vec![report(3, "docs", None)],
        ..backup::Outcome::default()
    };
    insta::assert_json_snapshot!(json(&super::backup::document(&outcome)));
}

fn restored() -> restore::Outcome {
    restore::Outcome {
        backup: ID.into(),
        previous: Previous::Backup("2026-11-25T15-02-11Z".into()),
        warnings: Vec::new(),
    }
}

#[test]
fn restore_whose_replaced_data_is_a_backup() {
    let outcome = restored();
    let document = super::restore::document(
        "girofle-gitlab-3-docs",
        Some(Path::new("/girofle/noeud-gitlab-3")),
        Ok(&outcome),
        Duration::from_millis(95_400),
    );
    insta::assert_json_snapshot!(json(&document));
}

#[test]
fn restore_whose_replaced_data_is_kept_beside() {
    let mut outcome = restored();
    outcome.previous = Previous::Beside(PathBuf::from(
        "/girofle/noeud-gitlab-3/mapping-volumes.before-restore-2026-11-25T15-02-11Z",
    ));
    outcome.warnings = vec!["metrics: /var/lib/prometheus is not writable".into()];
    let document = super::restore::document(
        "girofle-gitlab-3-docs",
        Some(Path::new("/girofle/noeud-gitlab-3")),
        Ok(&outcome),
        Duration::from_millis(95_400),
    );
    insta::assert_json_snapshot!(json(&document));
}

#[test]
fn restore_that_failed() {
    let error = Error::failed("GitLab was not healthy within 600 s")
        .context("restore of backup 2026-11-25T14-30-00Z into girofle-gitlab-3-docs");
    let document = super::restore::document(
        "girofle-gitlab-3-docs",
        Some(Path::new("/girofle/noeud-gitlab-3")),
        Err(&error),
        Duration::from_millis(601_002),
    );
    insta::assert_json_snapshot!(json(&document));
}

#[test]
fn restore_into_a_directory_of_no_instance() {
    let error = Error::usage("/srv/elsewhere has no mapping-volumes/");
    let document = super::restore::document(
        "girofle-gitlab-3-docs",
        Some(Path::new("/srv/elsewhere")),
        Err(&error),
        Duration::from_millis(3),
    );
    insta::assert_json_snapshot!(json(&document));
}

fn instance(number: u32, name: &str, verdict: Verdict) -> InstanceResult {
    InstanceResult {
        number,
        name: name.into(),
        container: format!("girofle-gitlab-{number}-{name}"),
        url: format!("http://gitlab-host-1:{}", 8080 + number),
        verdict,
    }
}

#[test]
fn restore_all_with_every_result() {
    let outcome = AllOutcome {
        state: Some("2026-11-25T14-00-00Z".into()),
        instances: vec![
            instance(
                1,
                "docs",
                Verdict::Restored {
                    backup: ID.into(),
                    previous: Some(Previous::Backup("2026-11-25T15-02-11Z".into())),
                },
            ),
            instance(2, "wiki", Verdict::LeftAlone),
            instance(
                3,
                "code",
                Verdict::Failed("no complete backup of instance 3 on this host".into()),
            ),
        ],
        warnings: vec!["girofle.conf of the state backup kept as girofle.conf.restored".into()],
    };
    insta::assert_json_snapshot!(json(&super::restore::all_document(&outcome)));
}

#[test]
fn restore_all_that_restored_nothing() {
    let outcome = AllOutcome {
        state: None,
        instances: vec![instance(
            1,
            "docs",
            Verdict::Failed("the image gitlab/gitlab-ce:17.5.1-ce.0 is missing".into()),
        )],
        warnings: Vec::new(),
    };
    insta::assert_json_snapshot!(json(&super::restore::all_document(&outcome)));
}

fn commissioned(name: &str, waited: bool) -> commission::Outcome {
    let container = if name.is_empty() {
        "girofle-gitlab-3".to_string()
    } else {
        format!("girofle-gitlab-3-{name}")
    };
    let row = crate::inventory::Row {
        number: 3,
        name: name.into(),
        container: container.clone(),
        state: crate::inventory::RowState::Commissioned,
        ip: "10.0.0.7".into(),
        http_port: Some(8080),
        https_port: Some(8443),
        ssh_port: Some(2222),
        hostname: "gitlab-host-1.example.org".into(),
        image: "gitlab/gitlab-ce:17.5.1-ce.0".into(),
        dir: PathBuf::from("/girofle/noeud-gitlab-3"),
        backup_schedule: "0 */4 * * *".into(),
        created: "2026-11-25T14:00:00Z".into(),
        note: String::new(),
        tls: String::new(),
        acme_url: String::new(),
        acme_email: String::new(),
    };
    commission::Outcome {
        number: 3,
        container,
        url: "http://gitlab-host-1.example.org:8080".into(),
        row,
        waited,
        ca_made: None,
        backup_before: None,
    }
}

#[test]
fn commission_of_an_instance() {
    let outcome = commissioned("docs", true);
    let document = super::commission::document(&outcome, Duration::from_millis(182_044));
    insta::assert_json_snapshot!(json(&document));
}

#[test]
fn commission_without_a_name_nor_waiting() {
    let outcome = commissioned("", false);
    let document = super::commission::document(&outcome, Duration::from_millis(4_210));
    insta::assert_json_snapshot!(json(&document));
}

fn decommissioned(made: Option<Made>) -> decommission::Outcome {
    decommission::Outcome {
        number: 3,
        final_backup: made.as_ref().map(|made| made.id.to_string()),
        dir: PathBuf::from("/girofle/noeud-gitlab-3"),
        container: "girofle-gitlab-3-docs".into(),
        backup_duration: made.as_ref().map(|_| Duration::from_millis(20_118)),
        made,
        warnings: Vec::new(),
    }
}

#[test]
fn decommission_with_its_final_backup() {
    let mut made = made(3);
    made.consistency = Consistency::Stop;
    made.stop_window = None;
    made.frozen = None;
    made.walked = None;
    made.removed = Vec::new();
    let outcome = decommissioned(Some(made));
    insta::assert_json_snapshot!(json(&super::decommission::document(&outcome)));
}

#[test]
fn decommission_without_a_final_backup() {
    let mut outcome = decommissioned(None);
    outcome.warnings = vec!["metrics: /var/lib/prometheus is not writable".into()];
    insta::assert_json_snapshot!(json(&super::decommission::document(&outcome)));
}

#[test]
fn an_operation_that_could_not_start() {
    let error = Error::usage("no instance 7 in /girofle/inventory.girofle");
    insta::assert_json_snapshot!(json(&super::Failure::new("backup", &error)));
}

#[test]
fn an_operation_that_failed_before_any_instance() {
    let error = Error::failed("the Docker engine did not answer").context("cannot list containers");
    insta::assert_json_snapshot!(json(&super::Failure::new("decommission", &error)));
}

fn entry(number: u32, last_backup: Option<&str>) -> list::Entry {
    list::Entry {
        number,
        name: if number == 3 {
            "docs".into()
        } else {
            String::new()
        },
        container: if number == 3 {
            "girofle-gitlab-3-docs".into()
        } else {
            format!("girofle-gitlab-{number}")
        },
        state: if last_backup.is_some() {
            "commissioned"
        } else {
            "decommissioned"
        },
        status: if last_backup.is_some() {
            "running"
        } else {
            "missing"
        },
        health: if last_backup.is_some() {
            "healthy"
        } else {
            "none"
        },
        url: format!("http://gitlab-host-1:{}", 8080 + number),
        ip: "10.0.0.7".into(),
        http_port: Some(8080 + number as u16),
        https_port: Some(8443 + number as u16),
        ssh_port: None,
        dir: format!("/girofle/noeud-gitlab-{number}"),
        image: "gitlab/gitlab-ce:17.5.1-ce.0".into(),
        last_backup: last_backup.map(str::to_string),
        last_drill: last_backup.map(|_| "ok"),
        note: String::new(),
        last_backup_age_seconds: last_backup.map(|_| 11_100),
        backup_interval_seconds: Some(14_400),
        stale: last_backup.is_none(),
        tls: String::new(),
        certificate: None,
        last_backup_shipped: Vec::new(),
    }
}

#[test]
fn list_of_no_instance() {
    let entries: Vec<list::Entry> = Vec::new();
    assert_eq!(
        super::list::render(&entries, list::Format::Json).unwrap(),
        "[]\n"
    );
}

#[test]
fn list_of_instances() {
    let entries = vec![entry(1, None), entry(3, Some(ID))];
    let text = super::list::render(&entries, list::Format::Json).unwrap();
    let document: Value = serde_json::from_str(&text).unwrap();
    // The entries' own serialisation, plus where each newest backup was
    // shipped (a list, which the CSV row of the same entry cannot hold).
    let mut expected = serde_json::to_value(&entries).unwrap();
    for object in expected.as_array_mut().unwrap() {
        object["last_backup_shipped"] = serde_json::json!([]);
    }
    assert_eq!(document, expected);
    insta::assert_json_snapshot!(entries);
}

#[test]
fn a_failed_instance_has_every_key_of_a_made_one() {
    let outcome = backup::Outcome {
        made: vec![made(3)],
        instances: vec![report(3, "docs", None), report(4, "", Some("no"))],
        ..backup::Outcome::default()
    };
    let document = json(&super::backup::document(&outcome));
    let keys = |instance: &Value| -> Vec<String> {
        instance.as_object().unwrap().keys().cloned().collect()
    };
    let instances = document["instances"].as_array().unwrap();
    assert_eq!(keys(&instances[0]), keys(&instances[1]));
    assert_eq!(
        instances[1]["removed_by_retention"],
        Value::Array(Vec::new())
    );
}

#[test]
fn secrets_in_a_document_are_redacted_when_printed() {
    let error = Error::failed(
        "rsync to girofle:hunter2pw@10.0.0.5:/srv/girofle refused: token glpat-abcdefghij0123456789",
    );
    let outcome = backup::Outcome {
        made: vec![made(3)],
        instances: vec![report(3, "docs", None)],
        targets: vec![shipped_to(
            "same-site",
            &["GIROFLE_PASSWORD=hunter2 was refused"],
        )],
        failures: vec![("target same-site".into(), error)],
        ..backup::Outcome::default()
    };
    let document = json(&super::backup::document(&outcome));
    assert!(!document.to_string().contains("hunter2"), "{document}");
    assert!(!document.to_string().contains("glpat-abc"), "{document}");
    insta::assert_json_snapshot!(document);
}

#[test]
fn the_table_of_restore_all_says_each_result() {
    let outcome = AllOutcome {
        state: None,
        instances: vec![
            instance(1, "docs", Verdict::LeftAlone),
            instance(12, "code", Verdict::Failed("no\nmore detail".into())),
        ],
        warnings: Vec::new(),
    };
    insta::assert_snapshot!(super::restore::table(&outcome), @r"
    NUMBER  NAME  CONTAINER               URL                        RESULT
    1       docs  girofle-gitlab-1-docs   http://gitlab-host-1:8081  left alone: its container exists
    12      code  girofle-gitlab-12-code  http://gitlab-host-1:8092  FAILED: no
    ");
}
