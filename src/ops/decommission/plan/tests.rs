use std::path::PathBuf;

use super::*;

fn rows() -> Vec<Row> {
    vec![
        Row::example(1, "", RowState::Commissioned),
        Row::example(2, "docs", RowState::Decommissioned),
        Row::example(3, "wiki", RowState::Commissioned),
    ]
}

fn observed(status: Status) -> Observed {
    let dir = PathBuf::from("/girofle/noeud-gitlab-3");
    Observed {
        rows: rows(),
        status,
        volumes: dir.join("mapping-volumes"),
        volumes_present: true,
        backups_dir: dir.join("bckups"),
        backups: vec!["2026-01-01T00-00-00Z".into(), "2026-01-02T00-00-00Z".into()],
        previous: Some("2026-01-02T00-00-00Z".into()),
        cron_entries: vec![
            PathBuf::from("/etc/cron.d/girofle-gitlab-3"),
            PathBuf::from("/etc/cron.d/girofle-drill-3"),
        ],
        dir,
    }
}

fn args(words: &[&str]) -> Args {
    crate::ops::args::parse("girofle-decommission", words).unwrap()
}

fn planned(status: Status, words: &[&str]) -> Plan {
    plan(&observed(status), &args(words)).unwrap()
}

fn usage(words: &[&str]) -> String {
    match plan(&observed(Status::Running), &args(words)) {
        Err(Error::Usage(message)) => message,
        other => panic!("{words:?}: {other:?}"),
    }
}

#[test]
fn a_running_instance_is_stopped_backed_up_and_removed() {
    let plan = planned(Status::Running, &["3"]);
    assert_eq!(plan.number, 3);
    assert_eq!(plan.name, "wiki");
    assert_eq!(plan.container, "girofle-gitlab-3-wiki");
    assert_eq!(plan.status, "running");
    assert!(plan.stop);
    assert!(plan.final_backup.is_some());
    assert!(plan.remove_container);
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn a_paused_or_restarting_instance_is_stopped_first_too() {
    for status in [Status::Paused, Status::Restarting] {
        assert!(planned(status, &["3"]).stop, "{status:?}");
    }
}

#[test]
fn a_stopped_instance_is_not_stopped_again_but_removed() {
    let plan = planned(Status::Stopped, &["3"]);
    assert!(!plan.stop);
    assert!(plan.remove_container);
    assert!(plan.final_backup.is_some());
}

#[test]
fn a_missing_container_is_neither_stopped_nor_removed() {
    let plan = planned(Status::Missing, &["3"]);
    assert_eq!(plan.status, "missing");
    assert!(!plan.stop);
    assert!(!plan.remove_container);
    assert!(plan.final_backup.is_some());
}

#[test]
fn the_final_backup_is_a_stopped_copy_linked_to_the_previous_one() {
    let backup = planned(Status::Running, &["3"]).final_backup.unwrap();
    assert_eq!(backup.consistency, Consistency::Stop);
    assert_eq!(backup.linked_to.as_deref(), Some("2026-01-02T00-00-00Z"));
    assert_eq!(backup.into, PathBuf::from("/girofle/noeud-gitlab-3/bckups"));
    assert!(!backup.retention);
    let volumes = PathBuf::from("/girofle/noeud-gitlab-3/mapping-volumes");
    assert_eq!(
        backup.copies,
        [
            volumes.join("config"),
            volumes.join("data"),
            volumes.join("log")
        ]
    );
}

#[test]
fn a_first_final_backup_links_to_nothing() {
    let mut observed = observed(Status::Running);
    observed.backups.clear();
    observed.previous = None;
    let plan = plan(&observed, &args(&["3"])).unwrap();
    assert_eq!(plan.final_backup.unwrap().linked_to, None);
    assert!(plan.warnings.is_empty());
}

#[test]
fn no_backup_skips_the_final_backup_and_nothing_else() {
    let plan = planned(Status::Running, &["3", "--no-backup"]);
    assert_eq!(plan.final_backup, None);
    assert!(plan.stop);
    assert!(plan.remove_container);
    assert_eq!(plan.cron_entries_removed.len(), 2);
    assert_eq!(plan.inventory.to, RowState::Decommissioned);
}

#[test]
fn no_instance_named_is_a_usage_error() {
    assert!(usage(&[]).contains("name the instance to decommission"));
}

#[test]
fn an_unknown_instance_is_a_usage_error() {
    assert!(usage(&["7"]).contains("no instance `7`"));
}

#[test]
fn a_decommissioned_instance_is_a_usage_error() {
    assert!(usage(&["docs"]).contains("is decommissioned"));
    assert!(usage(&["2"]).contains("is decommissioned"));
}

#[test]
fn an_empty_inventory_refuses_every_instance() {
    let mut observed = observed(Status::Missing);
    observed.rows.clear();
    assert!(matches!(
        plan(&observed, &args(&["1"])),
        Err(Error::Usage(_))
    ));
}

#[test]
fn the_instance_is_named_by_number_name_or_container() {
    for spec in ["3", "wiki", "girofle-gitlab-3-wiki"] {
        assert_eq!(planned(Status::Running, &[spec]).number, 3, "{spec}");
    }
}

#[test]
fn selection_alone_refuses_the_same_as_the_plan() {
    assert_eq!(selection(&rows(), &args(&["wiki"])).unwrap().number, 3);
    assert!(selection(&rows(), &args(&[])).is_err());
    assert!(selection(&rows(), &args(&["docs"])).is_err());
}

#[test]
fn the_row_goes_from_commissioned_to_decommissioned() {
    let change = planned(Status::Running, &["3"]).inventory;
    assert_eq!(
        change,
        RowChange {
            number: 3,
            from: RowState::Commissioned,
            to: RowState::Decommissioned,
        }
    );
}

#[test]
fn the_cron_entries_observed_are_the_ones_removed() {
    let plan = planned(Status::Running, &["3"]);
    assert_eq!(
        plan.cron_entries_removed,
        [
            PathBuf::from("/etc/cron.d/girofle-gitlab-3"),
            PathBuf::from("/etc/cron.d/girofle-drill-3")
        ]
    );
    let mut observed = observed(Status::Running);
    observed.cron_entries.clear();
    assert!(plan_of(&observed, &["3"]).cron_entries_removed.is_empty());
}

fn plan_of(observed: &Observed, words: &[&str]) -> Plan {
    plan(observed, &args(words)).unwrap()
}

#[test]
fn the_data_and_the_backups_stay() {
    let plan = planned(Status::Running, &["3"]);
    assert_eq!(
        plan.kept,
        [
            PathBuf::from("/girofle/noeud-gitlab-3/mapping-volumes"),
            PathBuf::from("/girofle/noeud-gitlab-3/bckups")
        ]
    );
}

#[test]
fn missing_volumes_warn_that_the_final_backup_will_fail() {
    let mut observed = observed(Status::Running);
    observed.volumes_present = false;
    let plan = plan_of(&observed, &["3"]);
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].contains("final backup will fail"));
    assert!(
        plan_of(&observed, &["3", "--no-backup"])
            .warnings
            .is_empty()
    );
}

#[test]
fn no_backup_and_no_earlier_backup_is_warned() {
    let mut observed = observed(Status::Stopped);
    observed.backups.clear();
    observed.previous = None;
    let plan = plan_of(&observed, &["3", "--no-backup"]);
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].contains("has no backup"));
}

#[test]
fn dry_run_is_parsed_beside_the_other_options() {
    let parsed = args(&["3", "--dry-run", "--no-backup", "--format", "json"]);
    assert!(parsed.dry_run);
    assert!(parsed.no_backup);
    assert!(parsed.output.json());
    assert!(!args(&["3"]).dry_run);
}

#[test]
fn the_plan_serializes_in_the_contracts_words() {
    let json = serde_json::to_value(planned(Status::Running, &["3"])).unwrap();
    assert_eq!(json["number"], 3);
    assert_eq!(json["status"], "running");
    assert_eq!(json["stop"], true);
    assert_eq!(json["final_backup"]["consistency"], "stop");
    assert_eq!(json["final_backup"]["retention"], false);
    assert_eq!(json["remove_container"], true);
    assert_eq!(json["inventory"]["from"], "commissioned");
    assert_eq!(json["inventory"]["to"], "decommissioned");
    let skipped = serde_json::to_value(planned(Status::Running, &["3", "--no-backup"])).unwrap();
    assert!(skipped["final_backup"].is_null());
}
