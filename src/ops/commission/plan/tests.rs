use super::*;
use std::path::Path;

/// What `girofle-commission WORDS...` asks for, validated as `run` does
/// before anything is touched.
fn plan(words: &[&str]) -> Result<Request> {
    let args = parse(words)?;
    validate(&args, "gitlab/gitlab-ce:latest", "localhost", &Host::here())
}

fn parse(words: &[&str]) -> Result<Args> {
    crate::ops::args::parse("girofle-commission", words)
        .map_err(|error| Error::usage(error.to_string()))
}

fn usage_error(words: &[&str]) -> String {
    match plan(words) {
        Err(Error::Usage(message)) => message,
        Err(other) => panic!("{words:?}: not a usage error: {other}"),
        Ok(_) => panic!("{words:?}: accepted"),
    }
}

#[test]
fn names_are_lower_case_words_of_at_most_40_characters() {
    for good in ["docs", "a", "team-2_wiki", "9lives", &"x".repeat(40)] {
        assert!(validate_name(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "Docs",
        "-docs",
        "_docs",
        "do cs",
        "docs/1",
        "émile",
        &"x".repeat(41),
    ] {
        assert!(matches!(validate_name(bad), Err(Error::Usage(_))), "{bad}");
    }
    assert!(usage_error(&["Bad"]).contains("is invalid"));
}

#[test]
fn host_names_follow_dns_labels() {
    for good in [
        "localhost",
        "git.example.org",
        "a-b.c",
        &format!("{}.org", "a".repeat(63)),
    ] {
        assert!(validate_hostname(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "-git.org",
        "git-.org",
        "git..org",
        "git_lab.org",
        "git.org;x",
        &"a".repeat(64),
    ] {
        assert!(validate_hostname(bad).is_err(), "{bad}");
    }
    assert!(usage_error(&["--hostname", "bad_name"]).contains("not a valid host name"));
}

#[test]
fn ports_must_differ_and_be_ports() {
    assert!(usage_error(&["--http-port", "8080", "--ssh-port", "8080"]).contains("must differ"));
    assert!(plan(&["--http-port", "0"]).is_err());
    assert!(plan(&["--http-port", "65536"]).is_err());
    let plan = plan(&["--http-port", "8081", "--https-port", "8444"]).unwrap();
    assert_eq!(plan.ip.to_string(), "0.0.0.0");
    assert_eq!(plan.schedule, cron::DEFAULT_SCHEDULE);
}

#[test]
fn addresses_schedules_and_images_are_checked() {
    assert!(usage_error(&["--ip", "not-an-address"]).contains("not an IP address"));
    // TEST-NET-3 (RFC 5737): assigned to no host's interface.
    assert!(usage_error(&["--ip", "203.0.113.7"]).contains("not assigned"));
    assert!(usage_error(&["--backup-schedule", "0 */4 * *"]).contains("--backup-schedule"));
    assert!(usage_error(&["--drill-schedule", "weekly"]).contains("--drill-schedule"));
    let never = plan(&["--drill-schedule", "never"]).unwrap();
    assert!(!never.drills);
    let weekly = plan(&["--drill-schedule", "0 5 * * 0"]).unwrap();
    assert_eq!(weekly.drill_schedule.as_deref(), Some("0 5 * * 0"));
    assert!(weekly.drills);
    assert!(usage_error(&["--image", "two words"]).contains("not an image reference"));
    assert!(usage_error(&["--image=-x"]).contains("not an image reference"));
    let plan = plan(&[
        "--image",
        "gitlab/gitlab-ce:17.5.1-ce.0",
        "--backup-schedule",
        "@daily",
    ])
    .unwrap();
    assert_eq!(plan.image, "gitlab/gitlab-ce:17.5.1-ce.0");
    assert_eq!(plan.schedule, "@daily");
}

#[test]
fn waiting_is_the_default() {
    let waits: Args = crate::ops::args::parse("girofle-commission", &[]).unwrap();
    assert_eq!(waits.wait(), Some(crate::docker::DEFAULT_HEALTHY_TIMEOUT));
    let no_wait: Args = crate::ops::args::parse("girofle-commission", &["--no-wait"]).unwrap();
    assert_eq!(no_wait.wait(), None);
}

/// A host where every address is local and only `busy` ports are taken.
fn host_with(busy: &'static [u16]) -> Host<'static> {
    Host {
        is_local: &|_| true,
        port_free: Box::leak(Box::new(move |_: IpAddr, port: u16| !busy.contains(&port))),
    }
}

fn home() -> Home {
    Home::resolve(Some(Path::new("/girofle")))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn row_on(number: u32, name: &str, ip: &str, ports: [u16; 3], state: RowState) -> Row {
    let mut row = Row::example(number, name, state);
    row.ip = ip.to_string();
    row.http_port = Some(ports[0]);
    row.https_port = Some(ports[1]);
    row.ssh_port = Some(ports[2]);
    row
}

fn observed(rows: Vec<Row>, counter: u32) -> Observed {
    Observed {
        rows,
        counter,
        image_present: true,
        dir_exists: false,
        ca_exists: false,
        now: "2026-12-03T20:00:00Z".into(),
    }
}

fn planned(words: &[&str], observed: &Observed, busy: &'static [u16]) -> Result<Plan> {
    let args = parse(words)?;
    let host = host_with(busy);
    let request = validate(&args, "gitlab/gitlab-ce:latest", "here.example.org", &host)?;
    super::plan(&home(), &args, &request, observed, &host)
}

#[test]
fn the_first_instance_gets_number_one_and_the_default_ports() {
    let plan = planned(&[], &observed(vec![], 0), &[]).unwrap();
    assert_eq!(plan.number, 1);
    assert_eq!(plan.container, "girofle-gitlab-1");
    assert_eq!(
        [plan.row.http_port, plan.row.https_port, plan.row.ssh_port],
        [Some(8080), Some(8443), Some(2222)]
    );
    assert_eq!(plan.url, "http://here.example.org:8080");
    assert_eq!(plan.row.ip, "0.0.0.0");
}

#[test]
fn numbers_are_never_reused() {
    assert_eq!(next_number(0, &[]), 1);
    assert_eq!(
        next_number(7, &[]),
        8,
        "the counter remembers numbers given out"
    );
    let rows = vec![Row::example(12, "", RowState::Decommissioned)];
    assert_eq!(next_number(3, &rows), 13, "a row beyond the counter counts");
    let plan = planned(&[], &observed(rows, 3), &[]).unwrap();
    assert_eq!(plan.number, 13);
}

#[test]
fn a_name_goes_into_the_container_name() {
    let plan = planned(&["docs"], &observed(vec![], 4), &[]).unwrap();
    assert_eq!(plan.container, "girofle-gitlab-5-docs");
    assert_eq!(plan.row.name, "docs");
    assert_eq!(plan.row.dir, Path::new("/girofle/noeud-gitlab-5"));
}

#[test]
fn a_name_in_service_is_taken_but_a_decommissioned_ones_is_free() {
    let taken = vec![Row::example(2, "docs", RowState::Commissioned)];
    let error = planned(&["docs"], &observed(taken, 2), &[]).unwrap_err();
    assert!(
        matches!(&error, Error::Usage(m) if m.contains("taken by instance 2")),
        "{error}"
    );
    let gone = vec![Row::example(2, "docs", RowState::Decommissioned)];
    assert!(planned(&["docs"], &observed(gone, 2), &[]).is_ok());
}

#[test]
fn ports_held_by_instances_on_an_overlapping_address_are_skipped() {
    let rows = vec![row_on(
        1,
        "",
        "0.0.0.0",
        [8080, 8443, 2222],
        RowState::Commissioned,
    )];
    let plan = planned(&["--ip", "127.0.0.1"], &observed(rows, 1), &[]).unwrap();
    assert_eq!(
        [plan.row.http_port, plan.row.https_port, plan.row.ssh_port],
        [Some(8081), Some(8444), Some(2223)]
    );
}

#[test]
fn ports_of_a_decommissioned_instance_are_free_again() {
    let rows = vec![row_on(
        1,
        "",
        "0.0.0.0",
        [8080, 8443, 2222],
        RowState::Decommissioned,
    )];
    let plan = planned(&[], &observed(rows, 1), &[]).unwrap();
    assert_eq!(plan.row.http_port, Some(8080));
}

#[test]
fn ports_busy_on_the_host_are_skipped() {
    let plan = planned(&[], &observed(vec![], 0), &[8080, 8081, 8443]).unwrap();
    assert_eq!(plan.row.http_port, Some(8082));
    assert_eq!(plan.row.https_port, Some(8444));
    assert_eq!(plan.row.ssh_port, Some(2222));
}

#[test]
fn an_explicit_port_is_never_taken_by_a_default() {
    let plan = planned(&["--https-port", "8080"], &observed(vec![], 0), &[]).unwrap();
    assert_eq!(plan.row.https_port, Some(8080));
    assert_eq!(plan.row.http_port, Some(8081));
}

#[test]
fn an_explicit_port_held_by_an_instance_is_refused() {
    let rows = vec![row_on(
        4,
        "",
        "127.0.0.1",
        [9000, 9443, 9022],
        RowState::Commissioned,
    )];
    let error = planned(
        &["--ip", "127.0.0.1", "--http-port", "9000"],
        &observed(rows, 4),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(&error, Error::Usage(m) if m.contains("HTTP port 9000 on 127.0.0.1 is held by instance 4")),
        "{error}"
    );
}

#[test]
fn an_explicit_port_in_use_on_the_host_is_refused() {
    let error = planned(&["--ssh-port", "2022"], &observed(vec![], 0), &[2022]).unwrap_err();
    assert!(
        matches!(&error, Error::Usage(m) if m.contains("SSH port 2022 on 0.0.0.0 is already in use")),
        "{error}"
    );
}

#[test]
fn an_instance_on_another_address_does_not_hold_the_port() {
    let rows = vec![row_on(
        1,
        "",
        "127.0.0.2",
        [8080, 8443, 2222],
        RowState::Commissioned,
    )];
    let plan = planned(&["--ip", "127.0.0.3"], &observed(rows, 1), &[]).unwrap();
    assert_eq!(plan.row.http_port, Some(8080));
}

#[test]
fn no_free_port_left_is_a_failure() {
    let args = parse(&[]).unwrap();
    let host = Host {
        is_local: &|_| true,
        port_free: &|_, port| port < 8443,
    };
    let error = choose_ports(&[], &args, ip("0.0.0.0"), &host).unwrap_err();
    assert!(
        matches!(&error, Error::Failed(e) if e.to_string().contains("no free HTTPS port above 8443")),
        "{error}"
    );
}

#[test]
fn an_address_that_is_not_this_hosts_is_refused() {
    let args = parse(&["--ip", "192.0.2.1"]).unwrap();
    let host = Host {
        is_local: &|ip| ip.is_loopback(),
        port_free: &|_, _| true,
    };
    let error = validate(&args, "img", "h", &host).unwrap_err();
    assert!(
        matches!(&error, Error::Usage(m) if m.contains("not assigned")),
        "{error}"
    );
}

#[test]
fn the_host_name_defaults_to_this_hosts() {
    let args = parse(&[]).unwrap();
    let request = validate(&args, "img:1", "box.example.org", &host_with(&[])).unwrap();
    assert_eq!(request.hostname, "box.example.org");
    assert_eq!(request.image, "img:1", "the home's default image");
}

#[test]
fn a_directory_already_there_is_left_untouched() {
    let mut observed = observed(vec![], 0);
    observed.dir_exists = true;
    let error = planned(&[], &observed, &[]).unwrap_err();
    assert!(
        matches!(&error, Error::Failed(e) if e.to_string().contains("/girofle/noeud-gitlab-1 already exists")),
        "{error}"
    );
}

#[test]
fn the_plan_makes_the_volumes_and_the_cron_entries() {
    let plan = planned(&[], &observed(vec![], 0), &[]).unwrap();
    let dirs: Vec<String> = plan
        .directories
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    assert_eq!(
        dirs,
        [
            "/girofle/noeud-gitlab-1",
            "/girofle/noeud-gitlab-1/mapping-volumes/config",
            "/girofle/noeud-gitlab-1/mapping-volumes/data",
            "/girofle/noeud-gitlab-1/mapping-volumes/log",
            "/girofle/noeud-gitlab-1/bckups",
        ]
    );
    assert!(plan.backup_entry.ends_with("girofle-gitlab-1"));
    let (drill, schedule) = plan.drill_entry.clone().unwrap();
    assert!(drill.ends_with("girofle-drill-1"));
    assert_eq!(schedule, cron::default_drill_schedule(1));
    assert!(plan.state_entry.ends_with("girofle-state"));
}

#[test]
fn never_drills_writes_no_drill_entry() {
    let plan = planned(&["--drill-schedule", "never"], &observed(vec![], 0), &[]).unwrap();
    assert_eq!(plan.drill_entry, None);
    assert!(!plan.text().contains("weekly drill"));
    let given = planned(
        &["--drill-schedule", "0 5 * * 0"],
        &observed(vec![], 0),
        &[],
    )
    .unwrap();
    assert_eq!(given.drill_entry.unwrap().1, "0 5 * * 0");
}

#[test]
fn the_container_config_carries_the_url_and_ssh_port() {
    let plan = planned(
        &[
            "--hostname",
            "git.example.org",
            "--http-port",
            "8090",
            "--ssh-port",
            "2299",
        ],
        &observed(vec![], 0),
        &[],
    )
    .unwrap();
    assert_eq!(
        plan.omnibus_config,
        "external_url 'http://git.example.org:8090'; gitlab_rails['gitlab_shell_ssh_port'] = 2299"
    );
    let run = plan.docker_run.join(" ");
    assert!(run.contains("--publish 0.0.0.0:8090:8090"), "{run}");
    assert!(run.contains("--publish 0.0.0.0:2299:22"), "{run}");
}

#[test]
fn the_row_says_it_is_being_commissioned() {
    let plan = planned(&["--backup-schedule", "@daily"], &observed(vec![], 0), &[]).unwrap();
    assert_eq!(plan.row.state, RowState::Commissioned);
    assert_eq!(plan.row.backup_schedule, "@daily");
    assert_eq!(plan.row.created, "2026-12-03T20:00:00Z");
    assert_eq!(plan.row.note, "commissioning since 2026-12-03T20:00:00Z");
}

#[test]
fn a_missing_image_is_pulled_first() {
    let mut observed = observed(vec![], 0);
    observed.image_present = false;
    let plan = planned(&["--image", "gitlab/gitlab-ce:17.5.1-ce.0"], &observed, &[]).unwrap();
    assert!(plan.pull_image);
    assert!(
        plan.text()
            .starts_with(" 1. pull image gitlab/gitlab-ce:17.5.1-ce.0\n")
    );
}

#[test]
fn the_text_numbers_the_steps_and_says_whether_it_waits() {
    let waits = planned(&[], &observed(vec![], 0), &[]).unwrap();
    assert!(
        waits.text().contains(" 1. hand out number 1"),
        "{}",
        waits.text()
    );
    assert!(waits.text().contains("wait up to"));
    let no_wait = planned(&["--no-wait"], &observed(vec![], 0), &[]).unwrap();
    assert_eq!(no_wait.wait_seconds, None);
    assert!(no_wait.text().contains("--no-wait"));
}

#[test]
fn the_plan_serializes_its_row_and_entries() {
    let plan = planned(&["docs"], &observed(vec![], 0), &[]).unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["number"], 1);
    assert_eq!(json["container"], "girofle-gitlab-1-docs");
    assert_eq!(json["row"]["name"], "docs");
    assert_eq!(json["pull_image"], false);
    assert!(json["docker_run"].as_array().unwrap().len() > 5);
}

#[test]
fn dry_run_is_a_flag_of_its_own() {
    assert!(parse(&["--dry-run"]).unwrap().dry_run);
    assert!(!parse(&[]).unwrap().dry_run);
}

#[test]
fn tls_with_girofle_ca_plans_an_https_url_the_authority_and_the_certificate() {
    let words = ["--tls", "girofle-ca", "--hostname", "git.example.org"];
    let plan = planned(&words, &observed(vec![], 0), &[]).unwrap();
    assert_eq!(plan.url, "https://git.example.org:8443");
    assert_eq!(plan.row.tls, "girofle-ca");
    assert!(
        plan.omnibus_config
            .starts_with("external_url 'https://git.example.org:8443';"),
        "{}",
        plan.omnibus_config
    );
    assert!(
        plan.omnibus_config
            .contains("nginx['redirect_http_to_https'] = true")
    );
    let tls = plan.tls.clone().unwrap();
    assert!(tls.make_ca);
    assert_eq!(tls.source, Path::new("/girofle/tls/ca.crt"));
    assert_eq!(
        tls.key,
        Path::new("/girofle/noeud-gitlab-1/mapping-volumes/config/ssl/git.example.org.key")
    );
    let text = plan.text();
    assert!(
        text.contains("TLS (girofle-ca): make Girofle's certificate authority"),
        "{text}"
    );
    assert!(
        text.contains("TLS (girofle-ca): sign a certificate"),
        "{text}"
    );
    assert!(
        text.contains("girofle-tls-renew (daily renewal of Girofle-made certificates)"),
        "{text}"
    );
    assert!(
        planned(&[], &observed(vec![], 0), &[])
            .unwrap()
            .renewal_entry
            .is_none()
    );
    let mut known = observed(vec![], 0);
    known.ca_exists = true;
    let again = planned(&words, &known, &[]).unwrap();
    assert!(
        !again
            .text()
            .contains("make Girofle's certificate authority")
    );
    assert!(
        planned(&[], &observed(vec![], 0), &[])
            .unwrap()
            .tls
            .is_none()
    );
}

#[test]
fn tls_own_needs_its_two_files_and_they_go_with_it_only() {
    for words in [
        &["--tls", "own"][..],
        &["--tls", "own", "--cert", "/c.pem"],
        &["--tls", "own", "--key", "/k.pem"],
    ] {
        assert!(usage_error(words).contains("--tls own needs"), "{words:?}");
    }
    for words in [
        &["--cert", "/c.pem", "--key", "/k.pem"][..],
        &["--tls", "girofle-ca", "--key", "/k.pem"],
    ] {
        assert!(
            usage_error(words).contains("with --tls own only"),
            "{words:?}"
        );
    }
    let words = ["--tls", "own", "--cert", "/c.pem", "--key", "/k.pem"];
    let plan = planned(&words, &observed(vec![], 0), &[]).unwrap();
    assert!(
        plan.text()
            .contains("TLS (own): copy the certificate /c.pem")
    );
    assert!(parse(&["--tls", "acme-please"]).is_err());
}

#[test]
fn tls_acme_checks_its_server_and_address_and_plans_them() {
    for (words, problem) in [
        (
            &["--email", "ops@example.org"][..],
            "go with --tls acme only",
        ),
        (
            &["--tls", "girofle-ca", "--acme-url", "https://ca.test/dir"],
            "go with --tls acme only",
        ),
        (
            &["--tls", "acme", "--acme-url", "http://ca.test/dir"],
            "not an https:// URL",
        ),
        (&["--tls", "acme", "--email", "ops"], "not an email address"),
        (
            &["--tls", "acme", "--acme-ca", "/ca.pem"],
            "goes with --acme-url",
        ),
        (
            &["--tls", "acme", "--hostname", "10.0.0.7"],
            "an IP address",
        ),
    ] {
        let found = usage_error(words);
        assert!(found.contains(problem), "{words:?}: {found}");
    }
    let words = [
        "--tls",
        "acme",
        "--hostname",
        "git.example.org",
        "--acme-url",
        "https://ca.test/dir",
        "--acme-ca",
        "/ca.pem",
        "--email",
        "ops@example.org",
    ];
    let plan = planned(&words, &observed(vec![], 0), &[]).unwrap();
    assert_eq!(plan.url, "https://git.example.org:8443");
    assert_eq!(plan.row.tls, "acme");
    assert_eq!(plan.row.acme_url, "https://ca.test/dir");
    assert_eq!(plan.row.acme_email, "ops@example.org");
    assert!(
        plan.omnibus_config
            .contains("letsencrypt['acme_production_endpoint'] = 'https://ca.test/dir'"),
        "{}",
        plan.omnibus_config
    );
    let text = plan.text();
    for expected in [
        "TLS (acme): copy the ACME server's authority /ca.pem to \
         /girofle/noeud-gitlab-1/mapping-volumes/config/trusted-certs/acme-ca.crt",
        "TLS (acme): GitLab asks https://ca.test/dir for a certificate at boot, written to \
         /girofle/noeud-gitlab-1/mapping-volumes/config/ssl/git.example.org.crt",
    ] {
        assert!(text.contains(expected), "{expected} not in {text}");
    }
    let lets_encrypt = planned(
        &["--tls", "acme", "--hostname", "git.example.org"],
        &observed(vec![], 0),
        &[],
    )
    .unwrap();
    assert_eq!(lets_encrypt.row.acme_url, "");
    assert!(
        lets_encrypt.text().contains(
            "GitLab asks https://acme-v02.api.letsencrypt.org/directory for a certificate"
        ),
        "{}",
        lets_encrypt.text()
    );
    assert!(!lets_encrypt.text().contains("authority"));
}
