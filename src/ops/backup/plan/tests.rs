use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::inventory::RowState;

fn rows() -> Vec<Row> {
    vec![
        Row::example(1, "", RowState::Commissioned),
        Row::example(2, "docs", RowState::Decommissioned),
        Row::example(3, "wiki", RowState::Commissioned),
    ]
}

fn disk(number: u32, backups: &[&str]) -> Disk {
    let dir = PathBuf::from(format!("/girofle/noeud-gitlab-{number}"));
    Disk {
        volumes: dir.join("mapping-volumes"),
        volumes_present: true,
        backups_dir: dir.join("bckups"),
        backups: backups.iter().map(ToString::to_string).collect(),
        previous: backups.last().map(ToString::to_string),
    }
}

const THREE: [&str; 3] = [
    "2026-01-01T00-00-00Z",
    "2026-01-02T00-00-00Z",
    "2026-01-03T00-00-00Z",
];

fn observed() -> Observed {
    let rows = rows();
    let statuses = rows
        .iter()
        .map(|row| (row.container.clone(), Status::Running))
        .collect();
    Observed {
        rows,
        statuses: Some(statuses),
        disks: BTreeMap::from([(1, disk(1, &THREE)), (3, disk(3, &[]))]),
        keep_last: 12,
        max_freeze_secs: None,
        targets: BTreeMap::from([
            ("off-site".to_string(), None),
            ("same-site".to_string(), Some(42)),
        ]),
        host: "gitlab-host-1".into(),
        state_backups: PathBuf::from("/girofle/sauvegardes"),
    }
}

fn args(words: &[&str]) -> Args {
    crate::ops::args::parse("girofle-backup", words).unwrap()
}

fn planned(observed: &Observed, words: &[&str]) -> Plan {
    plan(observed, &args(words)).unwrap()
}

fn numbers(plan: &Plan) -> Vec<u32> {
    plan.instances.iter().map(|i| i.number).collect()
}

fn usage(observed: &Observed, words: &[&str]) -> String {
    match plan(observed, &args(words)) {
        Err(Error::Usage(message)) => message,
        other => panic!("{words:?}: {other:?}"),
    }
}

fn with_status(status: Status) -> Observed {
    let mut observed = observed();
    for value in observed.statuses.as_mut().unwrap().values_mut() {
        *value = status;
    }
    observed
}

fn first(observed: &Observed, words: &[&str]) -> InstancePlan {
    planned(observed, words).instances.remove(0)
}

#[test]
fn named_instances_are_backed_up_in_the_order_given() {
    assert_eq!(numbers(&planned(&observed(), &["3", "1"])), [3, 1]);
    assert_eq!(numbers(&planned(&observed(), &["1", "3"])), [1, 3]);
}

#[test]
fn all_takes_the_commissioned_instances_in_inventory_order() {
    assert_eq!(numbers(&planned(&observed(), &["--all"])), [1, 3]);
}

#[test]
fn an_instance_is_named_by_its_name_or_its_container() {
    assert_eq!(numbers(&planned(&observed(), &["wiki"])), [3]);
    assert_eq!(numbers(&planned(&observed(), &["girofle-gitlab-1"])), [1]);
}

#[test]
fn an_instance_named_twice_is_planned_twice_as_a_run_backs_it_up_twice() {
    assert_eq!(numbers(&planned(&observed(), &["1", "1"])), [1, 1]);
}

#[test]
fn an_unknown_instance_is_a_usage_error() {
    assert!(usage(&observed(), &["7"]).contains("no instance `7`"));
}

#[test]
fn a_decommissioned_instance_is_a_usage_error() {
    assert!(usage(&observed(), &["docs"]).contains("is decommissioned"));
}

#[test]
fn no_instance_and_no_all_is_a_usage_error() {
    assert!(usage(&observed(), &[]).contains("or --all"));
}

#[test]
fn instances_and_all_together_are_a_usage_error() {
    assert!(usage(&observed(), &["1", "--all"]).contains("not both"));
}

#[test]
fn all_on_an_empty_inventory_plans_nothing() {
    let observed = Observed {
        rows: Vec::new(),
        ..observed()
    };
    let plan = planned(&observed, &["--all"]);
    assert!(plan.instances.is_empty());
    assert_eq!(plan.state, None);
    assert_eq!(plan.shipping, None);
}

#[test]
fn state_alone_backs_up_no_instance_but_the_state() {
    let plan = planned(&observed(), &["--state"]);
    assert!(plan.instances.is_empty());
    assert_eq!(
        plan.state,
        Some(StatePlan {
            into: PathBuf::from("/girofle/sauvegardes"),
            keep_last: 12,
        })
    );
}

#[test]
fn state_keeps_what_the_conf_says_not_keep_last() {
    let plan = planned(&observed(), &["--state", "--keep-last", "3"]);
    assert_eq!(plan.state.unwrap().keep_last, 12);
}

#[test]
fn state_with_instances_backs_up_both() {
    let plan = planned(&observed(), &["--state", "1"]);
    assert_eq!(numbers(&plan), [1]);
    assert!(plan.state.is_some());
}

#[test]
fn a_running_instance_is_frozen_by_default() {
    let instance = first(&observed(), &["1"]);
    assert_eq!(instance.status, "running");
    assert_eq!(instance.consistency, Consistency::Pause);
    assert_eq!(instance.hold, Hold::Freeze);
    assert!(instance.consistent);
}

#[test]
fn a_restarting_instance_is_frozen_too() {
    let instance = first(&with_status(Status::Restarting), &["1"]);
    assert_eq!(instance.hold, Hold::Freeze);
}

#[test]
fn stop_stops_a_running_instance_and_starts_it_again() {
    let instance = first(&observed(), &["1", "--consistency", "stop"]);
    assert_eq!(instance.hold, Hold::Stop);
    assert!(instance.why.contains("started again"), "{}", instance.why);
    assert_eq!(instance.fallback, None);
}

#[test]
fn live_copies_a_running_instance_without_consistency() {
    let instance = first(&observed(), &["1", "--consistency", "live"]);
    assert_eq!(instance.hold, Hold::None);
    assert!(!instance.consistent);
    assert_eq!(instance.fallback, None);
}

#[test]
fn live_on_a_stopped_instance_is_consistent() {
    let instance = first(
        &with_status(Status::Stopped),
        &["1", "--consistency", "live"],
    );
    assert_eq!(instance.hold, Hold::None);
    assert!(instance.consistent);
}

#[test]
fn a_stopped_instance_is_left_as_it_is() {
    for consistency in ["pause", "stop"] {
        let instance = first(
            &with_status(Status::Stopped),
            &["1", "--consistency", consistency],
        );
        assert_eq!(instance.status, "stopped");
        assert_eq!(instance.hold, Hold::None, "{consistency}");
        assert!(instance.consistent);
        assert_eq!(instance.fallback, None);
    }
}

#[test]
fn an_instance_already_paused_is_not_frozen_again() {
    let instance = first(&with_status(Status::Paused), &["1"]);
    assert_eq!(instance.status, "paused");
    assert_eq!(instance.hold, Hold::None);
}

#[test]
fn a_container_the_engine_does_not_have_is_missing() {
    let mut observed = observed();
    observed.statuses = Some(BTreeMap::new());
    let instance = first(&observed, &["1"]);
    assert_eq!(instance.status, "missing");
    assert_eq!(instance.hold, Hold::None);
    assert!(instance.consistent);
}

#[test]
fn an_engine_that_does_not_answer_leaves_the_hold_undecided() {
    let mut observed = observed();
    observed.statuses = None;
    let instance = first(&observed, &["1"]);
    assert_eq!(instance.status, "unknown");
    assert_eq!(instance.hold, Hold::Undecided);
    assert!(instance.why.contains("locked"));
}

#[test]
fn a_freeze_falls_back_to_stop_and_names_the_ceiling() {
    let mut observed = observed();
    observed.max_freeze_secs = Some(30);
    let fallback = first(&observed, &["1"]).fallback.unwrap();
    assert!(fallback.starts_with("stop"), "{fallback}");
    assert!(fallback.contains("30 s"), "{fallback}");
}

#[test]
fn a_freeze_without_ceiling_falls_back_only_if_it_cannot_freeze() {
    let fallback = first(&observed(), &["1"]).fallback.unwrap();
    assert!(fallback.contains("cannot be frozen"), "{fallback}");
    assert!(!fallback.contains("max_freeze_secs"), "{fallback}");
}

#[test]
fn the_three_volumes_are_copied_into_the_backups_folder() {
    let instance = first(&observed(), &["1"]);
    let volumes = PathBuf::from("/girofle/noeud-gitlab-1/mapping-volumes");
    assert_eq!(
        instance.copies,
        [
            volumes.join("config"),
            volumes.join("data"),
            volumes.join("log")
        ]
    );
    assert_eq!(
        instance.into,
        PathBuf::from("/girofle/noeud-gitlab-1/bckups")
    );
}

#[test]
fn a_new_backup_links_to_the_previous_one() {
    let instance = first(&observed(), &["1"]);
    assert_eq!(instance.linked_to.as_deref(), Some("2026-01-03T00-00-00Z"));
}

#[test]
fn the_previous_backup_is_the_one_observed_not_merely_the_newest() {
    let mut observed = observed();
    observed.disks.get_mut(&1).unwrap().previous = Some(THREE[1].to_string());
    let instance = first(&observed, &["1"]);
    assert_eq!(instance.linked_to.as_deref(), Some(THREE[1]));
}

#[test]
fn a_first_backup_links_to_nothing() {
    let instance = first(&observed(), &["3"]);
    assert_eq!(instance.linked_to, None);
    assert!(instance.removed_by_retention.is_empty());
}

#[test]
fn retention_keeps_the_conf_number_by_default() {
    let instance = first(&observed(), &["1"]);
    assert_eq!(instance.keep_last, 12);
    assert!(instance.removed_by_retention.is_empty());
}

#[test]
fn retention_follows_the_conf_when_it_says_fewer() {
    let mut observed = observed();
    observed.keep_last = 3;
    let instance = first(&observed, &["1"]);
    assert_eq!(instance.removed_by_retention, [THREE[0]]);
}

#[test]
fn keep_last_on_the_command_line_wins_over_the_conf() {
    let instance = first(&observed(), &["1", "--keep-last", "2"]);
    assert_eq!(instance.keep_last, 2);
    assert_eq!(instance.removed_by_retention, [THREE[0], THREE[1]]);
}

#[test]
fn keep_last_one_removes_every_earlier_backup() {
    let instance = first(&observed(), &["1", "--keep-last", "1"]);
    assert_eq!(instance.removed_by_retention, THREE);
}

#[test]
fn retention_never_removes_the_new_backup_even_with_zero() {
    let backups: Vec<String> = THREE.iter().map(ToString::to_string).collect();
    assert_eq!(retention(&backups, 0), THREE);
    assert_eq!(retention(&backups, 1), THREE);
    assert_eq!(retention(&backups, 4), Vec::<String>::new());
    assert_eq!(retention(&backups, 100), Vec::<String>::new());
    assert_eq!(retention(&[], 1), Vec::<String>::new());
}

#[test]
fn retention_removes_the_oldest_first_legacy_names_included() {
    let backups = vec![
        "24-12-2025-time-09h-05m-00s".to_string(),
        THREE[0].to_string(),
        THREE[1].to_string(),
    ];
    assert_eq!(
        retention(&backups, 2),
        ["24-12-2025-time-09h-05m-00s", THREE[0]]
    );
}

#[test]
fn missing_volumes_are_said_before_the_backup_fails() {
    let mut observed = observed();
    observed.disks.get_mut(&1).unwrap().volumes_present = false;
    let problem = first(&observed, &["1"]).problem.unwrap();
    assert!(
        problem.contains("mapping-volumes does not exist"),
        "{problem}"
    );
    assert_eq!(first(&observed, &["3"]).problem, None);
}

#[test]
fn an_instance_whose_directory_was_not_observed_plans_a_first_backup() {
    let mut observed = observed();
    observed.disks.clear();
    let instance = first(&observed, &["1"]);
    assert_eq!(instance.linked_to, None);
    assert!(instance.removed_by_retention.is_empty());
    assert!(instance.problem.is_some());
}

#[test]
fn to_ships_the_instances_backed_up_with_the_targets_retention() {
    let shipping = planned(&observed(), &["3", "1", "--to", "same-site"])
        .shipping
        .unwrap();
    assert_eq!(shipping.target, "same-site");
    assert_eq!(shipping.host, "gitlab-host-1");
    assert_eq!(shipping.instances, [3, 1]);
    assert!(!shipping.state);
    assert_eq!(shipping.keep_last, 42);
}

#[test]
fn a_target_without_its_own_retention_keeps_the_conf_number() {
    let shipping = planned(&observed(), &["1", "--to", "off-site"])
        .shipping
        .unwrap();
    assert_eq!(shipping.keep_last, 12);
}

#[test]
fn an_unknown_target_is_a_usage_error_naming_the_known_ones() {
    let message = usage(&observed(), &["1", "--to", "moon"]);
    assert!(
        message.contains("no target `moon` in girofle.conf (known: off-site, same-site)"),
        "{message}"
    );
    let mut bare = observed();
    bare.targets.clear();
    assert!(usage(&bare, &["1", "--to", "moon"]).contains("(known: none)"));
}

#[test]
fn the_state_ships_to_same_site_with_every_commissioned_instance() {
    let shipping = planned(&observed(), &["--state"]).shipping.unwrap();
    assert_eq!(shipping.target, "same-site");
    assert_eq!(shipping.instances, [1, 3]);
    assert!(shipping.state);
}

#[test]
fn the_state_without_a_same_site_target_ships_nowhere() {
    let mut observed = observed();
    observed.targets.remove("same-site");
    assert_eq!(planned(&observed, &["--state"]).shipping, None);
}

#[test]
fn to_wins_over_same_site_for_the_state() {
    let shipping = planned(&observed(), &["--state", "--to", "off-site"])
        .shipping
        .unwrap();
    assert_eq!(shipping.target, "off-site");
    assert!(shipping.state);
}

#[test]
fn no_target_no_shipping() {
    assert_eq!(planned(&observed(), &["--all"]).shipping, None);
}

#[test]
fn target_name_alone_follows_the_same_rules() {
    let targets = observed().targets;
    assert_eq!(target_name(&targets, &args(&["1"])).unwrap(), None);
    assert_eq!(
        target_name(&targets, &args(&["--state"]))
            .unwrap()
            .as_deref(),
        Some("same-site")
    );
    assert!(target_name(&targets, &args(&["1", "--to", "x"])).is_err());
}

#[test]
fn the_hold_choice_covers_every_status_and_consistency() {
    use Consistency::*;
    for (consistency, status, expected) in [
        (Pause, Status::Running, Hold::Freeze),
        (Stop, Status::Restarting, Hold::Stop),
        (Live, Status::Paused, Hold::None),
        (Pause, Status::Missing, Hold::None),
        (Stop, Status::Paused, Hold::None),
        (Live, Status::Unknown, Hold::Undecided),
    ] {
        assert_eq!(
            hold(consistency, status).0,
            expected,
            "{consistency:?} {status:?}"
        );
    }
}

#[test]
fn dry_run_is_an_option_of_a_backup_not_of_a_reread() {
    assert!(args(&["--all", "--dry-run"]).dry_run);
    assert!(!args(&["--all"]).dry_run);
    for refused in [
        &["--dry-run", "--verify", "1"][..],
        &["--dry-run", "--drill", "1"][..],
        &["--dry-run", "--init-target", "off-site"][..],
    ] {
        assert!(
            crate::ops::args::parse::<Args>("girofle-backup", refused).is_err(),
            "{refused:?}"
        );
    }
}

#[test]
fn the_plan_serializes_in_the_contracts_words() {
    let plan = planned(&observed(), &["1", "--to", "same-site", "--state"]);
    let json = serde_json::to_value(&plan).unwrap();
    let instance = &json["instances"][0];
    assert_eq!(instance["number"], 1);
    assert_eq!(instance["status"], "running");
    assert_eq!(instance["consistency"], "pause");
    assert_eq!(instance["hold"], "freeze");
    assert_eq!(instance["linked_to"], "2026-01-03T00-00-00Z");
    assert_eq!(instance["removed_by_retention"], serde_json::json!([]));
    assert_eq!(json["state"]["keep_last"], 12);
    assert_eq!(json["shipping"]["target"], "same-site");
    assert_eq!(json["shipping"]["instances"], serde_json::json!([1]));
}

#[test]
fn planning_is_pure_the_same_values_give_the_same_plan() {
    let observed = observed();
    let words = ["--all", "--to", "off-site", "--keep-last", "2"];
    assert_eq!(planned(&observed, &words), planned(&observed, &words));
}
