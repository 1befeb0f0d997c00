//! girofle-list: formats, the engine's absence, legacy and corrupt inventories.

use crate::common;

use common::{Scenario, docker, fresh_ip};

const CONTRACT_KEYS: [&str; 19] = [
    "number",
    "name",
    "container",
    "state",
    "status",
    "health",
    "url",
    "ip",
    "http_port",
    "https_port",
    "ssh_port",
    "dir",
    "image",
    "last_backup",
    "last_drill",
    "note",
    "last_backup_age_seconds",
    "backup_interval_seconds",
    "stale",
];

#[test]
fn the_listing_comes_in_three_formats() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let http = common::default_ports(&ip, 8080, 2);
    world.commission(&["docs", "--ip", &ip, "--hostname", &ip]);
    world.commission(&["--ip", &ip, "--hostname", &ip]);

    let entries = world.list_json();
    assert_eq!(entries.len(), 2);
    for entry in &entries {
        for key in CONTRACT_KEYS {
            assert!(entry.get(key).is_some(), "no `{key}` in {entry}");
        }
        assert_eq!(entry["state"], "commissioned");
        assert_eq!(entry["status"], "running");
        assert_eq!(entry["health"], "healthy");
        assert_eq!(entry["last_backup"], serde_json::Value::Null);
        assert_eq!(entry["last_drill"], serde_json::Value::Null);
        assert_eq!(entry["image"], common::STANDIN_IMAGE);
    }
    assert_eq!(entries[0]["name"], "docs");
    assert_eq!(entries[1]["url"], format!("http://{ip}:{}", http[1]));

    let csv = world
        .run("girofle-list", &["--format", "csv"])
        .expect_code(0)
        .stdout;
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), CONTRACT_KEYS.join(","));
    assert!(lines.next().unwrap().starts_with(&format!(
        "1,docs,{}-gitlab-1-docs,commissioned,running,healthy,",
        world.prefix
    )));
    assert_eq!(lines.count(), 1);

    let table = world.run("girofle-list", &[]).expect_code(0).stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("NUMBER"));
    // Aligned: each column starts at the same offset on every line.
    let column = lines[0].find("CONTAINER").unwrap();
    assert_eq!(&lines[1][column..column + world.prefix.len()], world.prefix);
    assert_eq!(&lines[2][column..column + world.prefix.len()], world.prefix);
    let status = lines[0].find("STATUS").unwrap();
    assert!(lines[1][status..].starts_with("running"));

    // A container that vanished is shown as missing.
    docker(&["rm", "--force", &format!("{}-gitlab-2", world.prefix)]);
    assert_eq!(world.entry(2)["status"], "missing");
}

#[test]
fn with_the_engine_down_the_rows_are_listed_as_unknown_and_it_exits_1() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let run = world
        .command("girofle-list")
        .args(["--format", "json"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["status"], "unknown");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("Docker engine did not answer"), "{stderr}");
}

#[test]
fn a_corrupt_inventory_line_is_refused_with_its_line_number() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let mut text = std::fs::read_to_string(world.inventory()).unwrap();
    text.push_str("2,x,y,commissioned,127.0.0.1,notaport,,,,,,,,\n");
    std::fs::write(world.inventory(), &text).unwrap();

    let run = world.run("girofle-list", &[]).expect_code(1);
    assert!(
        run.stderr.contains("inventory.girofle line 3"),
        "{}",
        run.stderr
    );
    let run = world.run("girofle-commission", &["--ip", &ip, "--no-wait"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(world.inventory()).unwrap(),
        text,
        "the inventory was rewritten"
    );
    assert_eq!(world.containers().len(), 1);
}

#[test]
fn a_legacy_inventory_is_listed_and_rewritten_as_csv_on_the_next_write() {
    let world = Scenario::new();
    std::fs::create_dir_all(&world.home).unwrap();
    let legacy_container = format!("{}-conteneur-kytes.io.gitlab.1", world.prefix);
    let ip = fresh_ip();
    let legacy = format!(
        " +girofle+ INSTANCE GITLAB no. [1] + [ADRESSE_IP_SRV_GITLAB={ip}] +[NO_PORT_IP_SRV_GITLAB=18200] + \
         [REP_GIROFLE_INSTANCE_GITLAB={home}/noeud-gitlab-1] + [NOM_DU_CONTENEUR_CREE={legacy_container}]\n \
         +girofle+ INSTANCE GITLAB no. [2] + [ADRESSE_IP_SRV_GITLAB={ip}] +[NO_PORT_IP_SRV_GITLAB=18201] + \
         [REP_GIROFLE_INSTANCE_GITLAB={home}/noeud-gitlab-2] + [NOM_DU_CONTENEUR_CREE=conteneur-gone]\n",
        home = world.home.display()
    );
    std::fs::write(world.inventory(), &legacy).unwrap();
    // The old scripts ran containers without labels; one of them still runs.
    docker(&[
        "run",
        "--detach",
        "--name",
        &legacy_container,
        "--label",
        &format!("girofle.home={}", world.home.display()),
        common::STANDIN_IMAGE,
    ]);

    let entries = world.list_json();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["container"], legacy_container);
    assert_eq!(entries[0]["status"], "running");
    assert_eq!(entries[0]["http_port"], 18200);
    assert_eq!(entries[0]["ip"], ip.as_str());
    assert_eq!(entries[1]["status"], "missing");
    assert_eq!(
        std::fs::read_to_string(world.inventory()).unwrap(),
        legacy,
        "a read must not rewrite"
    );

    // The next write turns every line into a CSV row; numbers go on from there.
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let text = std::fs::read_to_string(world.inventory()).unwrap();
    assert!(text.starts_with("number,name,container,state,"), "{text}");
    assert!(text.contains(&legacy_container));
    assert!(text.contains("conteneur-gone"));
    let numbers: Vec<u64> = world
        .list_json()
        .iter()
        .map(|e| e["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3]);
}
