use super::super::conflicts::{Here, check_conflicts};
use super::super::state::CronEntry;
use super::*;

fn row(number: u32, state: RowState) -> Row {
    Row::example(number, "", state)
}

fn names(names: &[&str]) -> HashSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn home() -> Home {
    Home::resolve(Some(Path::new("/new-home")))
}

fn numbers(rows: &[Row]) -> Vec<u32> {
    rows.iter().map(|r| r.number).collect()
}

fn usage(result: Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Usage(message)) => message,
        other => panic!("not a usage error: {other:?}"),
    }
}

#[test]
fn an_empty_inventory_takes_the_state_back() {
    let inventory = Path::new("/g/inventory.girofle");
    assert!(puts_back_state(0, false, false, inventory).unwrap());
    assert!(puts_back_state(0, true, false, inventory).unwrap());
    assert!(puts_back_state(0, false, true, inventory).unwrap());
}

#[test]
fn with_rows_here_only_the_missing_containers_come_back() {
    assert!(!puts_back_state(2, false, false, Path::new("/g/i")).unwrap());
}

#[test]
fn a_state_is_never_put_over_an_inventory_with_rows() {
    let from = usage(puts_back_state(
        2,
        true,
        false,
        Path::new("/g/inventory.girofle"),
    ));
    assert!(from.contains("/g/inventory.girofle already holds 2 row(s): --all --from"));
    let state = usage(puts_back_state(1, false, true, Path::new("/g/i")));
    assert!(state.contains("--all --backup-state puts back a whole inventory"));
}

#[test]
fn rows_of_a_state_move_into_this_home() {
    let mut fetched = row(3, RowState::Commissioned);
    fetched.dir = "/old-home/../../etc".into();
    fetched.note = "not restored".into();
    let rows = rows_of_state(&home(), &[fetched], false, &names(&[]), &Remap::default());
    assert_eq!(rows[0].dir, Path::new("/new-home/noeud-gitlab-3"));
    assert_eq!(rows[0].note, "");
}

#[test]
fn ip_and_image_apply_to_instances_in_service_only() {
    let remap = Remap {
        ip: Some("127.0.0.9".parse().unwrap()),
        image: Some("gitlab:new".into()),
    };
    let state = [
        row(1, RowState::Commissioned),
        row(2, RowState::Decommissioned),
    ];
    let rows = rows_of_state(&home(), &state, false, &names(&[]), &remap);
    assert_eq!(
        (rows[0].ip.as_str(), rows[0].image.as_str()),
        ("127.0.0.9", "gitlab:new")
    );
    assert_eq!(rows[1].ip, "127.0.0.2");
    assert_eq!(rows[1].image, "gitlab/gitlab-ce:latest");
}

#[test]
fn locally_an_instance_whose_container_is_here_keeps_its_row() {
    let remap = Remap {
        ip: Some("127.0.0.9".parse().unwrap()),
        image: None,
    };
    let state = [row(1, RowState::Commissioned)];
    let here = names(&["girofle-gitlab-1"]);
    assert_eq!(
        rows_of_state(&home(), &state, true, &here, &remap)[0].ip,
        "127.0.0.2"
    );
    assert_eq!(
        rows_of_state(&home(), &state, false, &here, &remap)[0].ip,
        "127.0.0.9"
    );
}

#[test]
fn locally_instances_with_a_container_are_left_alone() {
    let rows = [
        row(1, RowState::Commissioned),
        row(2, RowState::Commissioned),
    ];
    let selection = select(
        &rows,
        true,
        &names(&["girofle-gitlab-2"]),
        &Remap::default(),
    );
    assert_eq!(numbers(&selection.to_restore), [1]);
    assert_eq!(numbers(&selection.left_alone), [2]);
}

#[test]
fn from_a_target_every_instance_is_brought_back() {
    let rows = [
        row(1, RowState::Commissioned),
        row(2, RowState::Commissioned),
    ];
    let selection = select(
        &rows,
        false,
        &names(&["girofle-gitlab-2"]),
        &Remap::default(),
    );
    assert_eq!(numbers(&selection.to_restore), [1, 2]);
    assert!(selection.left_alone.is_empty());
}

#[test]
fn decommissioned_instances_are_not_brought_back() {
    let rows = [
        row(1, RowState::Decommissioned),
        row(2, RowState::Commissioned),
    ];
    let selection = select(&rows, true, &names(&[]), &Remap::default());
    assert_eq!(numbers(&selection.to_restore), [2]);
}

#[test]
fn instances_come_back_in_the_order_of_their_numbers() {
    let rows = [
        row(7, RowState::Commissioned),
        row(2, RowState::Commissioned),
        row(4, RowState::Commissioned),
    ];
    let selection = select(&rows, false, &names(&[]), &Remap::default());
    assert_eq!(numbers(&selection.to_restore), [2, 4, 7]);
}

fn here_with<'a>(
    containers: &'a HashSet<String>,
    existing: &'static [&'static str],
    busy: &'static [u16],
) -> Here<'a> {
    Here {
        containers,
        exists: Box::leak(Box::new(move |path: &Path| {
            existing.iter().any(|e| Path::new(e) == path)
        })),
        is_local: &|ip| ip.is_loopback() || ip.is_unspecified(),
        port_free: Box::leak(Box::new(move |_: IpAddr, port: u16| !busy.contains(&port))),
    }
}

fn entry(path: &str) -> CronEntry {
    CronEntry {
        path: path.into(),
        number: Some(1),
        comment: String::new(),
        schedule: "0 */4 * * *".into(),
        command: Vec::new(),
    }
}

#[test]
fn nothing_here_is_no_conflict() {
    let containers = names(&[]);
    let rows = [
        row(1, RowState::Commissioned),
        row(2, RowState::Commissioned),
    ];
    let here = here_with(&containers, &[], &[]);
    check_conflicts(&rows, &here, true, &[entry("/cron/girofle-gitlab-1")]).unwrap();
}

#[test]
fn a_container_of_the_same_name_is_a_conflict() {
    let containers = names(&["girofle-gitlab-1"]);
    let here = here_with(&containers, &[], &[]);
    let message = usage(check_conflicts(
        &[row(1, RowState::Commissioned)],
        &here,
        false,
        &[],
    ));
    assert!(message.contains("a container named `girofle-gitlab-1` (instance 1) already exists"));
    assert!(message.ends_with("; nothing was changed"));
}

#[test]
fn on_a_new_host_directories_and_cron_entries_must_not_exist() {
    let containers = names(&[]);
    let here = here_with(
        &containers,
        &["/girofle/noeud-gitlab-1", "/cron/girofle-gitlab-1"],
        &[],
    );
    let rows = [row(1, RowState::Commissioned)];
    let cron = [entry("/cron/girofle-gitlab-1")];
    let message = usage(check_conflicts(&rows, &here, true, &cron));
    assert!(message.contains("/girofle/noeud-gitlab-1 (instance 1) already exists"));
    assert!(message.contains("cron entry /cron/girofle-gitlab-1 already exists"));
    check_conflicts(&rows, &here, false, &cron).expect("locally they are the instance's own");
}

#[test]
fn an_address_that_is_not_here_asks_for_ip() {
    let containers = names(&[]);
    let here = here_with(&containers, &[], &[]);
    let mut elsewhere = row(1, RowState::Commissioned);
    elsewhere.ip = "192.0.2.1".into();
    let mut garbage = row(2, RowState::Commissioned);
    garbage.ip = "not-an-ip".into();
    let message = usage(check_conflicts(&[elsewhere, garbage], &here, false, &[]));
    assert!(message.contains("192.0.2.1, which is no address of this host: give --ip ADDR"));
    assert!(message.contains("`not-an-ip`, which is not an address"));
}

#[test]
fn a_port_in_use_is_a_conflict() {
    let containers = names(&[]);
    let here = here_with(&containers, &[], &[8444]);
    let message = usage(check_conflicts(
        &[row(1, RowState::Commissioned)],
        &here,
        false,
        &[],
    ));
    assert!(message.contains("HTTPS port 8444 on 127.0.0.2 (instance 1) is already in use"));
}

#[test]
fn two_instances_publishing_one_port_on_overlapping_addresses_clash() {
    let containers = names(&[]);
    let here = here_with(&containers, &[], &[]);
    let first = row(1, RowState::Commissioned);
    let mut second = row(2, RowState::Commissioned);
    second.ip = "0.0.0.0".into();
    second.http_port = first.http_port;
    let message = usage(check_conflicts(&[first, second], &here, false, &[]));
    assert!(
        message.contains("instances 1 and 2 would both publish port 8081"),
        "{message}"
    );
}

#[test]
fn a_legacy_row_without_https_port_publishes_what_it_has() {
    let containers = names(&[]);
    let here = here_with(&containers, &[], &[]);
    let mut legacy = row(1, RowState::Commissioned);
    legacy.https_port = None;
    check_conflicts(&[legacy], &here, false, &[]).unwrap();
}

fn selection_of(numbers: &[u32], left: &[u32]) -> Selection {
    Selection {
        to_restore: numbers
            .iter()
            .map(|n| row(*n, RowState::Commissioned))
            .collect(),
        left_alone: left
            .iter()
            .map(|n| row(*n, RowState::Commissioned))
            .collect(),
    }
}

#[test]
fn the_plan_lists_every_instance_by_number() {
    let backups = BTreeMap::from([(3, "2026-01-01T00-00-00Z".to_string())]);
    let plan = plan(
        None,
        &selection_of(&[1, 3], &[2]),
        &Remap::default(),
        vec![],
        &backups,
    );
    let listed: Vec<(u32, &Action)> = plan
        .instances
        .iter()
        .map(|i| (i.number, &i.action))
        .collect();
    assert_eq!(
        listed,
        [
            (1, &Action::Restore { backup: None }),
            (2, &Action::LeftAlone),
            (
                3,
                &Action::Restore {
                    backup: Some("2026-01-01T00-00-00Z".into())
                }
            ),
        ]
    );
    let text = plan.text();
    assert!(
        text.contains(" 1. instance 1 (`girofle-gitlab-1`"),
        "{text}"
    );
    assert!(text.contains("restore its newest backup"), "{text}");
    assert!(
        text.contains(" 2. instance 2 (`girofle-gitlab-2`): left alone"),
        "{text}"
    );
    assert!(
        text.contains("restore backup 2026-01-01T00-00-00Z"),
        "{text}"
    );
}

#[test]
fn ip_or_image_without_a_state_updates_the_rows() {
    let remap = Remap {
        ip: None,
        image: Some("img:2".into()),
    };
    let plan = plan(
        None,
        &selection_of(&[1], &[]),
        &remap,
        vec![],
        &BTreeMap::new(),
    );
    assert!(plan.rows_updated);
    assert!(plan.text().starts_with(" 1. record --ip/--image"));
    let plain = super::plan(
        None,
        &selection_of(&[1], &[]),
        &Remap::default(),
        vec![],
        &BTreeMap::new(),
    );
    assert!(!plain.rows_updated);
}

fn state_step(held_back: &[&str]) -> StateStep {
    StateStep {
        id: "2026-02-01T00-00-00Z".into(),
        fetched_from: Some("off-site".into()),
        made_in: "/girofle".into(),
        rows: 2,
        counter: 5,
        conf: true,
        conf_held_back: held_back.iter().map(|s| s.to_string()).collect(),
        installs_key: true,
    }
}

#[test]
fn a_state_comes_first_then_the_instances_then_cron() {
    let state = state_step(&[]);
    let plan = plan(
        Some(state),
        &selection_of(&[1], &[]),
        &Remap::default(),
        vec!["/cron/girofle-gitlab-1".into()],
        &BTreeMap::new(),
    );
    let steps = plan.steps();
    assert!(steps[0].starts_with("fetch state backup 2026-02-01T00-00-00Z from target `off-site`"));
    assert!(steps[1].contains("2 row(s), from /girofle") && steps[1].contains("counter (5)"));
    assert!(steps[2].starts_with("write girofle.conf (the one here"));
    assert!(steps[3].contains("--state-key"));
    assert!(steps[4].starts_with("instance 1"));
    assert_eq!(steps[5], "write cron entry /cron/girofle-gitlab-1");
    assert!(!plan.rows_updated, "the state's rows are written whole");
}

#[test]
fn settings_held_back_are_named() {
    let plan = plan(
        Some(state_step(&["[notify] url = \"http://x\""])),
        &selection_of(&[], &[]),
        &Remap::default(),
        vec![],
        &BTreeMap::new(),
    );
    let text = plan.text();
    assert!(
        text.contains("write girofle.conf without [notify] url"),
        "{text}"
    );
}

#[test]
fn the_plan_serializes_its_actions_flat() {
    let plan = plan(
        None,
        &selection_of(&[1], &[2]),
        &Remap::default(),
        vec![],
        &BTreeMap::new(),
    );
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["instances"][0]["action"], "restore");
    assert_eq!(json["instances"][0]["backup"], serde_json::Value::Null);
    assert_eq!(json["instances"][1]["action"], "left_alone");
    assert_eq!(json["state"], serde_json::Value::Null);
}

#[test]
fn dry_run_goes_with_all() {
    let args: crate::ops::restore::Args =
        crate::ops::args::parse("girofle-restore", &["--all", "--dry-run"]).unwrap();
    assert!(args.all && args.dry_run);
}
