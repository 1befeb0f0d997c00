use super::*;
use crate::inventory::RowState;
use std::path::Path;

const OLD: &str = "2026-01-01T00-00-00Z";
const MID: &str = "2026-01-02T00-00-00Z";
const NEW: &str = "2026-01-03T00-00-00Z";

fn usable(ids: &[(&str, bool)]) -> Vec<Usable> {
    ids.iter()
        .map(|(id, taken)| Usable {
            id: id.to_string(),
            taken_before_restore: *taken,
        })
        .collect()
}

fn usage(result: Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Usage(message)) => message,
        other => panic!("not a usage error: {other:?}"),
    }
}

#[test]
fn the_newest_backup_is_the_default() {
    let all = usable(&[(OLD, false), (MID, false), (NEW, false)]);
    assert_eq!(choose_local(&all, None, "b").unwrap(), NEW);
}

#[test]
fn a_backup_kept_from_before_a_restore_is_never_the_default() {
    let all = usable(&[(OLD, false), (MID, false), (NEW, true)]);
    assert_eq!(choose_local(&all, None, "b").unwrap(), MID);
}

#[test]
fn when_every_backup_was_kept_from_before_a_restore_the_newest_is_taken() {
    let all = usable(&[(OLD, true), (NEW, true)]);
    assert_eq!(choose_local(&all, None, "b").unwrap(), NEW);
}

#[test]
fn backup_names_one_of_the_usable_ones() {
    let all = usable(&[(OLD, false), (NEW, false)]);
    assert_eq!(choose_local(&all, Some(OLD), "b").unwrap(), OLD);
    assert!(usage(choose_local(&all, Some(MID), "/x/bckups")).contains("no complete backup"));
}

#[test]
fn a_backup_kept_from_before_a_restore_can_be_named() {
    let all = usable(&[(OLD, false), (NEW, true)]);
    assert_eq!(choose_local(&all, Some(NEW), "b").unwrap(), NEW);
}

#[test]
fn a_legacy_backup_id_can_be_named() {
    let legacy = "25-11-2026-time-14h-30m-00s";
    let all = usable(&[(legacy, false)]);
    assert_eq!(choose_local(&all, Some(legacy), "b").unwrap(), legacy);
}

#[test]
fn a_name_that_is_no_backup_id_is_refused_even_if_a_directory_has_it() {
    let all = usable(&[("..", false), (NEW, false)]);
    assert!(usage(choose_local(&all, Some(".."), "b")).contains("no complete backup `..`"));
}

#[test]
fn no_usable_backup_is_refused_whatever_is_named() {
    let message = usage(choose_local(&[], None, "/g/noeud-gitlab-1/bckups"));
    assert!(message.contains("/g/noeud-gitlab-1/bckups holds no complete backup"));
    assert!(usage(choose_local(&[], Some(NEW), "b")).contains("holds no complete backup"));
}

#[test]
fn a_target_gives_its_newest_backup() {
    let there = vec![OLD.to_string(), NEW.to_string()];
    assert_eq!(
        choose_remote(&there, None, "off", "h/n/bckups").unwrap(),
        NEW
    );
}

#[test]
fn a_target_must_hold_the_backup_named() {
    let there = vec![OLD.to_string()];
    assert_eq!(choose_remote(&there, Some(OLD), "off", "f").unwrap(), OLD);
    let message = usage(choose_remote(&there, Some(NEW), "off", "h/n/bckups"));
    assert!(message.contains("target `off` has no complete backup"));
    assert!(message.contains("h/n/bckups"));
}

#[test]
fn an_empty_target_is_refused() {
    let message = usage(choose_remote(&[], None, "off", "h/n/bckups"));
    assert!(message.contains("has no complete backup in h/n/bckups"));
}

fn header(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn facts(pairs: &[(&str, &str)], running_id: &str, running: Option<&str>) -> VersionFacts {
    VersionFacts {
        header: header(pairs),
        running_image_id: running_id.to_string(),
        running_version: running.map(str::to_string),
        offered_version: None,
    }
}

#[test]
fn the_same_image_passes_the_version_rule() {
    let facts = facts(&[("image_id", "sha256:a")], "sha256:a", None);
    assert_eq!(
        check_version(&facts, "c", None, true).unwrap(),
        (Version::SameImage, None)
    );
}

#[test]
fn the_same_version_from_another_image_passes() {
    let facts = facts(
        &[("image_id", "sha256:a"), ("gitlab_version", "17.5.1")],
        "sha256:b",
        Some("17.5.1"),
    );
    let (version, recreate) = check_version(&facts, "c", None, true).unwrap();
    assert_eq!(
        version,
        Version::SameVersion {
            version: "17.5.1".into()
        }
    );
    assert_eq!(recreate, None);
}

#[test]
fn another_version_is_refused_and_told_how_to_go_on() {
    let facts = facts(
        &[
            ("image_id", "sha256:a"),
            ("gitlab_version", "17.5.1"),
            ("image", "gitlab/gitlab-ce:17.5.1-ce.0"),
        ],
        "sha256:b",
        Some("17.6.0"),
    );
    let message = usage(check_version(&facts, "girofle-gitlab-1", None, true));
    assert!(message.contains("made with GitLab 17.5.1"), "{message}");
    assert!(message.contains("runs GitLab 17.6.0"), "{message}");
    assert!(message.contains("--image REF"), "{message}");
    assert!(
        message.contains("gitlab/gitlab-ce:17.5.1-ce.0"),
        "{message}"
    );
}

#[test]
fn unknown_versions_never_match() {
    let both_unknown = facts(&[("image_id", "sha256:a")], "sha256:b", None);
    assert!(usage(check_version(&both_unknown, "c", None, true)).contains("GitLab unknown"));
    let said_unknown = facts(
        &[("image_id", "sha256:a"), ("gitlab_version", "unknown")],
        "sha256:b",
        Some("unknown"),
    );
    assert!(check_version(&said_unknown, "c", None, true).is_err());
}

#[test]
fn an_image_of_the_backups_version_recreates_the_container() {
    let mut facts = facts(&[("gitlab_version", "17.5.1")], "sha256:b", None);
    facts.offered_version = Some("17.5.1".into());
    let (version, recreate) = check_version(&facts, "c", Some("gitlab:17.5.1"), true).unwrap();
    assert_eq!(recreate.as_deref(), Some("gitlab:17.5.1"));
    assert!(matches!(version, Version::NewImage { .. }));
}

#[test]
fn an_image_of_another_version_is_refused() {
    let mut facts = facts(&[("gitlab_version", "17.5.1")], "sha256:b", None);
    facts.offered_version = Some("17.6.0".into());
    let message = usage(check_version(&facts, "c", Some("gitlab:17.6"), true));
    assert!(
        message.contains("--image gitlab:17.6 runs GitLab 17.6.0"),
        "{message}"
    );
}

#[test]
fn an_image_needs_an_inventory_row() {
    let facts = facts(&[("gitlab_version", "17.5.1")], "sha256:b", None);
    let message = usage(check_version(&facts, "c", Some("gitlab:17.5.1"), false));
    assert!(
        message.contains("needs the instance's inventory row"),
        "{message}"
    );
}

#[test]
fn a_legacy_backup_is_not_version_checked() {
    let legacy = VersionFacts::default();
    assert_eq!(
        check_version(&legacy, "c", None, false).unwrap(),
        (Version::NotRecorded, None)
    );
    let (_, recreate) = check_version(&legacy, "c", Some("img:1"), true).unwrap();
    assert_eq!(recreate.as_deref(), Some("img:1"));
}

#[test]
fn the_running_version_is_read_only_when_the_images_differ() {
    let same = header(&[("image_id", "sha256:a")]).unwrap();
    assert!(!needs_running_version(Some(&same), "sha256:a"));
    assert!(needs_running_version(Some(&same), "sha256:b"));
    assert!(!needs_running_version(None, "sha256:b"));
}

#[test]
fn paused_and_restarting_containers_count_as_running() {
    for status in [Status::Running, Status::Paused, Status::Restarting] {
        assert_eq!(prior_state(status), PriorState::Running, "{status:?}");
    }
    for status in [Status::Stopped, Status::Missing, Status::Unknown] {
        assert_eq!(prior_state(status), PriorState::Stopped, "{status:?}");
    }
}

fn row() -> Row {
    Row {
        number: 3,
        name: "docs".into(),
        container: "girofle-gitlab-3-docs".into(),
        state: RowState::Commissioned,
        ip: "127.0.0.1".into(),
        http_port: Some(8080),
        https_port: Some(8443),
        ssh_port: Some(2222),
        hostname: "git.example.org".into(),
        image: "gitlab:old".into(),
        dir: "/g/noeud-gitlab-3".into(),
        backup_schedule: "0 */4 * * *".into(),
        created: "2026-01-01T00:00:00Z".into(),
        note: String::new(),
        tls: String::new(),
        acme_url: String::new(),
        acme_email: String::new(),
    }
}

fn observed(status: Status) -> Observed {
    Observed {
        container: "girofle-gitlab-3-docs".into(),
        instance: "/g/noeud-gitlab-3".into(),
        status,
        row: Some(row()),
        backup: NEW.into(),
        source: Source::Local,
        version: Some(facts(&[("image_id", "sha256:a")], "sha256:a", None)),
        last_change: None,
        now: time::macros::datetime!(2026-01-03 03:00 UTC),
    }
}

#[test]
fn a_running_instance_is_stopped_swapped_and_left_running() {
    let plan = plan(&observed(Status::Running), &Request::default()).unwrap();
    assert!(plan.stops);
    assert_eq!(plan.left, "running");
    assert_eq!(
        plan.staged_in,
        Path::new("/g/noeud-gitlab-3/mapping-volumes.restoring")
    );
    assert_eq!(plan.volumes, Path::new("/g/noeud-gitlab-3/mapping-volumes"));
    assert_eq!(plan.previous_kept_in, Path::new("/g/noeud-gitlab-3/bckups"));
    assert_eq!(plan.backup_taken.as_deref(), Some("2026-01-03T00:00:00Z"));
    assert_eq!(
        plan.row_after,
        Some(row()),
        "the inventory is left as it is"
    );
}

#[test]
fn a_stopped_instance_is_left_stopped_unless_asked() {
    let stopped = plan(&observed(Status::Stopped), &Request::default()).unwrap();
    assert!(!stopped.stops);
    assert_eq!(stopped.left, "stopped");
    assert!(
        stopped
            .text()
            .contains("stop `girofle-gitlab-3-docs` again")
    );
    let request = Request {
        leave_running: true,
        ..Request::default()
    };
    let left = plan(&observed(Status::Stopped), &request).unwrap();
    assert_eq!(left.left, "running");
}

#[test]
fn a_new_image_changes_the_inventory_row() {
    let mut observed = observed(Status::Running);
    let mut facts = facts(&[("gitlab_version", "17.5.1")], "sha256:b", None);
    facts.offered_version = Some("17.5.1".into());
    observed.version = Some(facts);
    let request = Request {
        image: Some("gitlab:17.5.1".into()),
        ..Request::default()
    };
    let plan = plan(&observed, &request).unwrap();
    assert_eq!(plan.recreate_with.as_deref(), Some("gitlab:17.5.1"));
    assert_eq!(plan.row_after.as_ref().unwrap().image, "gitlab:17.5.1");
    assert!(
        plan.text()
            .contains("record image gitlab:17.5.1 in the inventory row of instance 3")
    );
}

#[test]
fn without_a_row_a_legacy_backup_never_recreates() {
    let mut observed = observed(Status::Running);
    observed.row = None;
    observed.version = Some(VersionFacts::default());
    let request = Request {
        image: Some("img:1".into()),
        ..Request::default()
    };
    let plan = plan(&observed, &request).unwrap();
    assert_eq!(plan.recreate_with, None);
    assert_eq!(plan.row_after, None);
}

#[test]
fn a_version_refusal_refuses_the_plan() {
    let mut observed = observed(Status::Running);
    observed.version = Some(facts(&[("image_id", "sha256:a")], "sha256:b", Some("1")));
    assert!(usage(plan(&observed, &Request::default())).contains("--image REF"));
}

#[test]
fn a_backup_still_to_fetch_is_checked_after_the_fetch() {
    let mut observed = observed(Status::Running);
    observed.version = None;
    observed.source = Source::ToFetch {
        target: "off-site".into(),
        folder: "host-a/noeud-gitlab-3/bckups".into(),
    };
    let plan = plan(&observed, &Request::default()).unwrap();
    assert_eq!(plan.version, Version::AfterFetch);
    let text = plan.text();
    assert!(
        text.contains(" 1. fetch backup 2026-01-03T00-00-00Z from target `off-site`"),
        "{text}"
    );
    assert!(
        text.contains("checked once the backup is fetched"),
        "{text}"
    );
}

#[test]
fn the_text_says_what_is_replaced_then_numbers_the_steps() {
    let mut observed = observed(Status::Running);
    observed.last_change = Some(time::macros::datetime!(2026-01-03 02:59 UTC));
    let text = plan(&observed, &Request::default()).unwrap().text();
    assert!(text.starts_with("This restore replaces the current data of `girofle-gitlab-3-docs`"));
    assert!(
        text.contains("last changed 2026-01-03T02:59:00Z (60 seconds ago)"),
        "{text}"
    );
    assert!(
        text.contains("(taken 2026-01-03T00:00:00Z (3 hours ago))"),
        "{text}"
    );
    assert!(text.contains(" 1. GitLab version"), "{text}");
    assert!(
        text.contains(" 3. stop `girofle-gitlab-3-docs` (it is running)"),
        "{text}"
    );
    assert!(
        text.contains("keep the replaced data as a backup of its own"),
        "{text}"
    );
}

#[test]
fn the_plan_serializes_with_its_source_and_version_tagged() {
    let plan = plan(&observed(Status::Running), &Request::default()).unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["backup"], NEW);
    assert_eq!(json["source"]["kind"], "local");
    assert_eq!(json["version"]["result"], "same_image");
    assert_eq!(json["stops"], true);
    assert_eq!(json["row_after"]["number"], 3);
    assert!(json.get("ages").is_none());
}

#[test]
fn ages_are_told_in_sensible_units() {
    let now = time::macros::datetime!(2026-01-10 00:00 UTC);
    assert_eq!(when(None, now), "at an unknown time");
    let at = |t| Some(t);
    assert!(
        when(at(time::macros::datetime!(2026-01-09 23:00 UTC)), now).ends_with("(60 minutes ago)")
    );
    assert!(
        when(at(time::macros::datetime!(2026-01-09 00:00 UTC)), now).ends_with("(24 hours ago)")
    );
    assert!(when(at(time::macros::datetime!(2026-01-01 00:00 UTC)), now).ends_with("(9 days ago)"));
    assert!(
        when(at(time::macros::datetime!(2026-01-11 00:00 UTC)), now).ends_with("(0 seconds ago)")
    );
}

#[test]
fn steps_are_numbered_from_one() {
    let text = numbered(&["a".to_string(), "b".to_string()]);
    assert_eq!(text, " 1. a\n 2. b\n");
}
