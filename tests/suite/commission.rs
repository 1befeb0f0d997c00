//! girofle-commission against a real engine with the stand-in image.

use crate::common;

use std::net::TcpListener;

use common::{Scenario, fresh_ip, git, http_get, make_repository};

#[test]
fn two_instances_on_their_own_addresses_serve_health_and_git() {
    let world = Scenario::new();
    let (ip_a, ip_b) = (fresh_ip(), fresh_ip());
    let http_a = common::default_ports(&ip_a, 8080, 1)[0];
    let ssh_a = common::default_ports(&ip_a, 2222, 1)[0];
    let url_a = world.commission(&["alpha", "--ip", &ip_a, "--hostname", &ip_a]);
    let url_b = world.commission(&[
        "--ip",
        &ip_b,
        "--hostname",
        "beta.girofle.test",
        "--http-port",
        "18081",
        "--https-port",
        "18444",
        "--ssh-port",
        "12222",
    ]);
    assert_eq!(url_a, format!("http://{ip_a}:{http_a}"));
    assert_eq!(url_b, "http://beta.girofle.test:18081");

    for (ip, url) in [(&ip_a, &url_a), (&ip_b, &url_b)] {
        let (status, body) = http_get(ip, &format!("{url}/-/health"));
        assert_eq!((status, body.trim()), (200, "GitLab OK"), "{url}");
    }

    // Push-to-create, then a clone through the URL gets the same history.
    let work = tempfile::tempdir().unwrap();
    let head = make_repository(&work.path().join("app"), 3);
    git(
        &work.path().join("app"),
        &["push", "--quiet", &format!("{url_a}/grp/app.git"), "main"],
    );
    git(
        work.path(),
        &["clone", "--quiet", &format!("{url_a}/grp/app.git"), "clone"],
    );
    let cloned = git(&work.path().join("clone"), &["rev-parse", "HEAD"]);
    assert_eq!(cloned.trim(), head);

    // The container was made as the contract says.
    let container = &world.entry(1)["container"];
    assert_eq!(container, &format!("{}-gitlab-1-alpha", world.prefix));
    let inspect = common::docker(&[
        "inspect",
        "--format",
        "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.ShmSize}} {{index .Config.Labels \"girofle.instance\"}} {{range .Config.Env}}{{println .}}{{end}}",
        container.as_str().unwrap(),
    ]);
    assert!(inspect.starts_with("always 268435456 1 "), "{inspect}");
    assert!(
        inspect.contains(&format!(
            "external_url '{url_a}'; gitlab_rails['gitlab_shell_ssh_port'] = {ssh_a}"
        )),
        "{inspect}"
    );

    // Its files are owned as the omnibus image owns them.
    let data = world.home.join("noeud-gitlab-1/mapping-volumes/data");
    use std::os::unix::fs::MetadataExt;
    let git_data = std::fs::metadata(data.join("git-data")).unwrap();
    assert_eq!(
        (git_data.uid(), git_data.gid(), git_data.mode() & 0o7777),
        (998, 998, 0o2770)
    );
    let postgresql = std::fs::metadata(data.join("postgresql")).unwrap();
    assert_eq!((postgresql.uid(), postgresql.mode() & 0o7777), (996, 0o700));
    assert!(
        world
            .home
            .join("noeud-gitlab-1/mapping-volumes/config/gitlab-secrets.json")
            .exists()
    );
    let backups = std::fs::metadata(world.home.join("noeud-gitlab-2/bckups")).unwrap();
    assert_eq!(backups.mode() & 0o777, 0o700);

    // Each instance has its backup schedule, every 4 hours by default.
    let cron =
        std::fs::read_to_string(world.cron_dir.join(format!("{}-gitlab-2", world.prefix))).unwrap();
    assert!(cron.contains("0 */4 * * * root "), "{cron}");
    assert!(
        cron.trim_end()
            .ends_with(&format!("--home {} 2 >/dev/null", world.home.display())),
        "{cron}"
    );

    // And Girofle's own state is backed up (and shipped) on the same rhythm.
    let state =
        std::fs::read_to_string(world.cron_dir.join(format!("{}-state", world.prefix))).unwrap();
    assert!(
        state.trim_end().ends_with(&format!(
            "--home {} --state >/dev/null",
            world.home.display()
        )),
        "{state}"
    );

    // The inventory is root's; the girofle group may read it (girofle-list), nobody else.
    let metadata = std::fs::metadata(world.inventory()).unwrap();
    assert_eq!(metadata.mode() & 0o777, 0o640);
    assert_eq!(metadata.uid(), 0);
    assert_eq!(
        metadata.gid(),
        std::fs::metadata(&world.home).unwrap().gid()
    );
}

/// Commissions that must be refused before anything is made.
#[test]
fn bad_requests_exit_2_and_change_nothing() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let taken_url = world.commission(&["taken", "--ip", &ip, "--hostname", &ip]);
    let taken_port = taken_url.rsplit(':').next().unwrap().to_string();
    let busy = TcpListener::bind(format!("{ip}:18090")).unwrap();
    let forty_one = "a".repeat(41);

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--ip", &ip, "--http-port", "18090"], "18090"),
        (
            vec!["--ip", &ip, "--http-port", &taken_port],
            "held by instance 1",
        ),
        (vec!["taken", "--ip", &ip], "`taken` is taken"),
        (vec!["../x", "--ip", &ip], "`../x` is invalid"),
        (vec!["a;b", "--ip", &ip], "`a;b` is invalid"),
        (vec!["", "--ip", &ip], "name is empty"),
        (vec![&forty_one, "--ip", &ip], "41 characters"),
        (
            vec!["--ip", "192.0.2.1"],
            "192.0.2.1: this address is not assigned",
        ),
        (vec!["--ip", "not-an-ip"], "not an IP address"),
        (
            vec!["--ip", &ip, "--image", "girofle-no-such-image:never"],
            "girofle-no-such-image:never",
        ),
        (vec!["--ip", &ip, "--http-port", "0"], "0"),
        (vec!["--ip", &ip, "--ssh-port", "65536"], "65536"),
        (
            vec!["--ip", &ip, "--backup-schedule", "every hour"],
            "--backup-schedule",
        ),
        (vec!["--ip", &ip, "--hostname", "bad_host!"], "bad_host!"),
    ];
    let inventory = world.inventory_bytes();
    let counter = std::fs::read(world.home.join(".auto-increment.girofle")).unwrap();
    let entries = world.home_entries();
    let containers = world.containers();
    for (args, expected) in cases {
        let mut all = vec!["--wait-timeout", "60"];
        all.extend(&args);
        let run = world.run("girofle-commission", &all);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: stderr does not name {expected:?}:\n{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert_eq!(
            world.inventory_bytes(),
            inventory,
            "{args:?} changed the inventory"
        );
        assert_eq!(
            std::fs::read(world.home.join(".auto-increment.girofle")).unwrap(),
            counter,
            "{args:?}"
        );
        assert_eq!(
            world.home_entries(),
            entries,
            "{args:?} made something in the home"
        );
        assert_eq!(world.containers(), containers, "{args:?} made a container");
    }
    drop(busy);
}

#[test]
fn eight_concurrent_commissions_get_their_own_numbers_names_and_ports() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let children: Vec<_> = (1..=8)
        .map(|n| {
            world
                .command("girofle-commission")
                .args([
                    &format!("c{n}"),
                    "--ip",
                    &ip,
                    "--hostname",
                    &ip,
                    "--wait-timeout",
                    "180",
                ])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut urls = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        urls.push(String::from_utf8_lossy(&output.stdout).trim().to_string());
    }
    let entries = world.list_json();
    assert_eq!(entries.len(), 8);
    let mut numbers: Vec<u64> = entries
        .iter()
        .map(|e| e["number"].as_u64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=8).collect::<Vec<u64>>());
    let mut ports: Vec<u64> = entries
        .iter()
        .flat_map(|e| ["http_port", "https_port", "ssh_port"].map(|k| e[k].as_u64().unwrap()))
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 24, "ports were handed out twice: {entries:?}");
    let mut names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]);
    for entry in &entries {
        assert_eq!(entry["status"], "running", "{entry}");
        assert_eq!(entry["health"], "healthy", "{entry}");
        assert!(urls.contains(&entry["url"].as_str().unwrap().to_string()));
    }
    let counter = std::fs::read_to_string(world.home.join(".auto-increment.girofle")).unwrap();
    assert_eq!(counter.trim(), "8");
}

#[test]
fn an_instance_that_never_becomes_healthy_is_reported_and_kept() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let run = world.run(
        "girofle-commission",
        &[
            "slow",
            "--ip",
            &ip,
            "--image",
            common::SLOW_BOOT_IMAGE,
            "--wait-timeout",
            "4",
        ],
    );
    let run = run.expect_code(1);
    assert!(
        run.stderr.contains("is not healthy after"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("slow boot: waiting 3600 s"),
        "no docker logs in:\n{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    // No orphan: the container and its row are both there, and the list shows why.
    let entry = world.entry(1);
    assert_eq!(entry["status"], "running");
    assert_ne!(entry["health"], "healthy");
    assert!(
        entry["note"].as_str().unwrap().contains("not healthy"),
        "{entry}"
    );
    assert_eq!(world.containers().len(), 1);
    let table = world.run("girofle-list", &[]).expect_code(0).stdout;
    assert!(table.contains("not healthy"), "{table}");
}

#[test]
fn no_wait_prints_the_url_at_once_and_numbers_are_never_reused() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let http = common::default_ports(&ip, 8080, 1)[0];
    let run = world
        .run(
            "girofle-commission",
            &["--ip", &ip, "--hostname", "a.girofle.test", "--no-wait"],
        )
        .expect_code(0);
    assert_eq!(run.stdout.trim(), format!("http://a.girofle.test:{http}"));
    // A `docker run` that fails (here a container already holds the name)
    // leaves no row and no directory behind.
    let clash = format!("{}-gitlab-2", world.prefix);
    common::docker(&[
        "create",
        "--name",
        &clash,
        "--label",
        &format!("girofle.home={}", world.home.display()),
        common::STANDIN_IMAGE,
    ]);
    let before = world.inventory_bytes();
    let run = world
        .run("girofle-commission", &["--ip", &ip, "--no-wait"])
        .expect_code(1);
    assert!(
        run.stderr
            .contains("cannot start the container of instance 2"),
        "{}",
        run.stderr
    );
    assert_eq!(world.inventory_bytes(), before);
    assert!(!world.home.join("noeud-gitlab-2").exists());
    // Number 2 was handed out once and is not handed out again.
    common::docker(&["rm", &clash]);
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let numbers: Vec<u64> = world
        .list_json()
        .iter()
        .map(|e| e["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 3]);
}

#[test]
fn every_binary_answers_help_and_version() {
    let world = Scenario::new();
    for binary in common::BINARIES {
        let help = world.run(binary, &["--help"]).expect_code(0);
        assert!(help.stdout.contains("--home"), "{binary}: {}", help.stdout);
        let version = world.run(binary, &["--version"]).expect_code(0);
        assert!(version.stdout.contains(env!("CARGO_PKG_VERSION")));
        world.run(binary, &["--no-such-flag"]).expect_code(2);
    }
}
