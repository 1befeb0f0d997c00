//! Backups on other machines (a real sshd on loopback, and a mounted path),
//! Girofle's own state, and moving an instance to another host.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use common::{Scenario, Sshd, docker, fresh_ip, make_repository, push_commit, remote_head};

fn configure(world: &Scenario, text: &str) {
    fs::create_dir_all(&world.home).unwrap();
    fs::write(world.home.join("girofle.conf"), text).unwrap();
}

fn remote_ids(folder: &Path) -> Vec<String> {
    common::sorted_names(folder)
}

/// `girofle-backup --init-target NAME`: a target is used only once marked.
fn init_target(world: &Scenario, name: &str) {
    world
        .run("girofle-backup", &["--init-target", name])
        .expect_code(0);
}

#[test]
fn backups_sent_to_same_site_hard_link_unchanged_files_on_the_remote() {
    let sshd = Sshd::start();
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            sshd.target("same-site", "known_hosts")
        ),
    );
    init_target(&world, "same-site");
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    docker(&["stop", &format!("{}-gitlab-1", world.prefix)]);
    let first = world.backup(1, &["--to", "same-site"]);
    std::thread::sleep(Duration::from_millis(1100));
    let second = world.backup(1, &["--to", "same-site"]);
    let folder = sshd.storage().join("host-a/noeud-gitlab-1/bckups");
    assert_eq!(remote_ids(&folder), vec![first.clone(), second.clone()]);
    let inode = |id: &str| {
        fs::metadata(folder.join(id).join("config/gitlab-secrets.json"))
            .unwrap()
            .ino()
    };
    assert_eq!(
        inode(&first),
        inode(&second),
        "unchanged files must be hard links on the remote"
    );
    let manifest = fs::read(folder.join(&second).join("MANIFEST")).unwrap();
    assert_eq!(
        manifest,
        fs::read(
            world
                .instance_dir(1)
                .join("bckups")
                .join(&second)
                .join("MANIFEST")
        )
        .unwrap()
    );
    // Retention per target.
    let conf = fs::read_to_string(world.home.join("girofle.conf")).unwrap();
    configure(&world, &format!("{conf}keep_last = 1\n"));
    std::thread::sleep(Duration::from_millis(1100));
    let third = world.backup(1, &["--to", "same-site"]);
    assert_eq!(remote_ids(&folder), vec![third]);
}

#[test]
fn an_instance_moves_to_another_host_through_off_site() {
    let offsite = tempfile::tempdir().unwrap();
    let target = format!(
        "[targets.off-site]\nurl = \"{}\"\n",
        offsite.path().display()
    );
    // Host A: an instance with history.
    let host_a = Scenario::new();
    configure(
        &host_a,
        &format!("[girofle]\nhost = \"host-a\"\n\n{target}"),
    );
    init_target(&host_a, "off-site");
    let ip_a = fresh_ip();
    let url_a = host_a.commission(&["--ip", &ip_a, "--hostname", &ip_a]);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 2);
    let head = push_commit(
        &work.path().join("app"),
        &format!("{url_a}/grp/app.git"),
        "on host A",
    );
    host_a.backup(1, &["--to", "off-site"]);
    let secrets_a = fs::read(
        host_a
            .instance_dir(1)
            .join("mapping-volumes/config/gitlab-secrets.json"),
    )
    .unwrap();

    // Host B: another home, another number, address and port.
    let host_b = Scenario::new();
    configure(
        &host_b,
        &format!("[girofle]\nhost = \"host-b\"\n\n{target}"),
    );
    let ip_b = fresh_ip();
    host_b.commission(&["--ip", &ip_b, "--hostname", &ip_b, "--no-wait"]);
    let url_b = host_b.commission(&["--ip", &ip_b, "--hostname", &ip_b, "--http-port", "18555"]);
    let container = format!("{}-gitlab-2", host_b.prefix);
    let dir = host_b.instance_dir(2).display().to_string();
    host_b
        .run(
            "girofle-restore",
            &[
                &container,
                &dir,
                "--from",
                "off-site",
                "--source",
                "host-a/noeud-gitlab-1",
                "--wait-timeout",
                "60",
            ],
        )
        .expect_code(0);
    assert_eq!(url_b, format!("http://{ip_b}:18555"));
    assert_eq!(remote_head(&format!("{url_b}/grp/app.git")), head);
    assert_eq!(
        fs::read(
            host_b
                .instance_dir(2)
                .join("mapping-volumes/config/gitlab-secrets.json")
        )
        .unwrap(),
        secrets_a
    );
    assert_eq!(host_b.entry(2)["health"], "healthy");
}

#[test]
fn a_killed_transfer_leaves_no_complete_backup_and_the_next_run_completes_it() {
    let sshd = Sshd::start();
    let world = Scenario::new();
    let slow = format!(
        "[girofle]\nhost = \"host-a\"\n\n{}bwlimit_kib = 300\n",
        sshd.target("same-site", "known_hosts")
    );
    configure(&world, &slow);
    init_target(&world, "same-site");
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let big = world
        .instance_dir(1)
        .join("mapping-volumes/data/uploads.bin");
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    fs::write(&big, bytes).unwrap();
    let folder = sshd.storage().join("host-a/noeud-gitlab-1/bckups");
    let mut child = world
        .command("girofle-backup")
        .args(["1", "--to", "same-site"])
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let partial = remote_ids(&folder)
            .into_iter()
            .find(|n| n.starts_with(".partial-"));
        if let Some(partial) = partial
            && folder.join(&partial).join("data").exists()
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the transfer never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let names = remote_ids(&folder);
    assert!(
        names.iter().all(|n| n.starts_with(".partial-")),
        "a complete-looking backup after a kill: {names:?}"
    );
    let id = names[0].trim_start_matches(".partial-").to_string();

    // The next run (the state's, as cron runs it) completes that backup.
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            sshd.target("same-site", "known_hosts")
        ),
    );
    world.run("girofle-backup", &["--state"]).expect_code(0);
    assert_eq!(remote_ids(&folder), vec![id.clone()]);
    assert_eq!(
        fs::read(folder.join(&id).join("data/uploads.bin")).unwrap(),
        fs::read(&big).unwrap()
    );
    assert!(!remote_ids(&sshd.storage().join("host-a/sauvegardes")).is_empty());
}

#[test]
fn a_flipped_byte_on_the_remote_is_caught_when_fetching() {
    let sshd = Sshd::start();
    let target = sshd.target("same-site", "known_hosts");
    let host_a = Scenario::new();
    configure(
        &host_a,
        &format!("[girofle]\nhost = \"host-a\"\n\n{target}"),
    );
    init_target(&host_a, "same-site");
    let ip = fresh_ip();
    host_a.commission(&["--ip", &ip, "--hostname", &ip]);
    let id = host_a.backup(1, &["--to", "same-site"]);
    let remote_copy = sshd
        .storage()
        .join("host-a/noeud-gitlab-1/bckups")
        .join(&id)
        .join("config/gitlab-secrets.json");
    let mtime = fs::metadata(&remote_copy).unwrap().modified().unwrap();
    let mut bytes = fs::read(&remote_copy).unwrap();
    bytes[20] ^= 0x20;
    fs::write(&remote_copy, bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&remote_copy)
        .unwrap()
        .set_modified(mtime)
        .unwrap();

    let host_b = Scenario::new();
    configure(
        &host_b,
        &format!("[girofle]\nhost = \"host-b\"\n\n{target}"),
    );
    host_b.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", host_b.prefix);
    let secrets_b = fs::read(
        host_b
            .instance_dir(1)
            .join("mapping-volumes/config/gitlab-secrets.json"),
    )
    .unwrap();
    let run = host_b.run(
        "girofle-restore",
        &[
            &container,
            &host_b.instance_dir(1).display().to_string(),
            "--from",
            "same-site",
            "--source",
            "host-a/noeud-gitlab-1",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not match its MANIFEST")
            && run.stderr.contains("gitlab-secrets.json"),
        "{}",
        run.stderr
    );
    assert!(
        host_b.backup_names(1).is_empty(),
        "{:?}",
        host_b.backup_names(1)
    );
    assert_eq!(
        fs::read(
            host_b
                .instance_dir(1)
                .join("mapping-volumes/config/gitlab-secrets.json")
        )
        .unwrap(),
        secrets_b
    );
}

/// An unreachable target or a wrong host key fails the shipping only: the
/// local backup is made all the same, its ID printed, exit 3 (before issue
/// 10 nothing was made). Bad configuration still changes nothing (exit 2).
#[test]
fn unreachable_targets_and_wrong_keys_fail_the_shipping_only_and_bad_configuration_changes_nothing()
{
    let sshd = Sshd::start();
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let closed = {
        let listener = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
        listener.local_addr().unwrap().port()
    };
    let configuration_errors = [
        (
            sshd.target("same-site", "known_hosts"),
            vec!["1", "--to", "nowhere"],
            "no target `nowhere`",
        ),
        (
            "[targets.same-site]\nurl = \"/tmp\"\nprot = 22\n".to_string(),
            vec!["1", "--to", "same-site"],
            "line 3",
        ),
        (
            "[targets.same-site]\nurl = \"relative/path\"\n".to_string(),
            vec!["1", "--to", "same-site"],
            "neither",
        ),
    ];
    for (conf, args, expected) in configuration_errors {
        configure(&world, &conf);
        let run = world.run("girofle-backup", &args);
        assert_eq!(run.code, 2, "{expected}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
        assert!(
            world.backup_names(1).is_empty(),
            "{expected}: a local backup was made"
        );
    }
    let network_errors = [
        (
            sshd.target("same-site", "wrong_known_hosts"),
            "Host key verification failed",
        ),
        (
            sshd.target("same-site", "known_hosts").replace(
                &format!("port = {}", sshd.port),
                &format!("port = {closed}"),
            ),
            "Connection refused",
        ),
    ];
    for (round, (conf, expected)) in network_errors.into_iter().enumerate() {
        configure(&world, &conf);
        let run = world.run("girofle-backup", &["1", "--to", "same-site"]);
        assert_eq!(run.code, 3, "{expected}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
        let id = run.stdout.trim();
        assert_eq!(
            id.len(),
            20,
            "{expected}: not a backup ID: {:?}",
            run.stdout
        );
        assert_eq!(world.backup_names(1).len(), round + 1, "{expected}");
        assert!(world.backup_names(1).contains(&id.to_string()));
        std::thread::sleep(Duration::from_millis(1100));
    }
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(
        log.contains("shipping instance 1 to `same-site` FAILED")
            && log.contains("Host key verification failed"),
        "{log}"
    );
    assert!(remote_ids(&sshd.storage()).is_empty());
}

#[test]
fn the_state_backup_brings_back_a_lost_inventory() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["docs", "--ip", &ip, "--hostname", &ip]);
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let before = world
        .run("girofle-list", &["--all", "--format", "json"])
        .expect_code(0)
        .stdout;
    let id = world
        .run("girofle-backup", &["--state"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    let saved = world.home.join("sauvegardes").join(&id);
    let (gitlab_entry, state_entry) = (
        format!("cron.d/{}-gitlab-1", world.prefix),
        format!("cron.d/{}-state", world.prefix),
    );
    for file in [
        "inventory.girofle",
        ".auto-increment.girofle",
        "docker-inspect.json",
        "girofle.log.tail",
        "MANIFEST",
        gitlab_entry.as_str(),
        state_entry.as_str(),
    ] {
        assert!(saved.join(file).exists(), "no {file} in the state backup");
    }
    let inspect: serde_json::Value =
        serde_json::from_slice(&fs::read(saved.join("docker-inspect.json")).unwrap()).unwrap();
    assert_eq!(inspect.as_array().unwrap().len(), 2);

    fs::remove_file(world.inventory()).unwrap();
    assert_eq!(
        world
            .run("girofle-list", &["--all", "--format", "json"])
            .expect_code(0)
            .stdout
            .trim(),
        "[]"
    );
    fs::copy(saved.join("inventory.girofle"), world.inventory()).unwrap();
    let after = world
        .run("girofle-list", &["--all", "--format", "json"])
        .expect_code(0)
        .stdout;
    assert_eq!(after, before);
}
