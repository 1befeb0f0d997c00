//! The host burned down: `girofle-restore --all` brings every instance back
//! on a new host from an off-site target, or on this host from its own
//! backups when containers vanished.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Run, Scenario, docker, fresh_ip, make_repository, push_commit, remote_head};

/// The girofle.conf of a host that ships to the off-site path `offsite`.
fn configure(world: &Scenario, host: Option<&str>, offsite: &Path) {
    fs::create_dir_all(&world.home).unwrap();
    let host = host
        .map(|h| format!("[girofle]\nhost = \"{h}\"\n\n"))
        .unwrap_or_default();
    fs::write(
        world.home.join("girofle.conf"),
        format!(
            "{host}[targets.off-site]\nurl = \"{}\"\n",
            offsite.display()
        ),
    )
    .unwrap();
}

/// Host A: two instances (one named), a commit pushed to each, their backups
/// and Girofle's state shipped off-site.
struct HostA {
    world: Scenario,
    ip: String,
    urls: [String; 2],
    heads: [String; 2],
    containers: [String; 2],
    secrets: [Vec<u8>; 2],
    /// A's state key, kept off the host as the operator keeps it.
    key: PathBuf,
    _work: tempfile::TempDir,
}

impl HostA {
    fn build(offsite: &Path) -> HostA {
        let world = Scenario::new();
        configure(&world, Some("host-a"), offsite);
        let ip = fresh_ip();
        let urls = [
            world.commission(&["docs", "--ip", &ip, "--hostname", &ip]),
            world.commission(&["--ip", &ip, "--hostname", &ip]),
        ];
        let work = tempfile::tempdir().unwrap();
        let heads = [0, 1].map(|i| {
            let repo = work.path().join(format!("app{i}"));
            make_repository(&repo, 2);
            push_commit(
                &repo,
                &format!("{}/grp/app.git", urls[i]),
                &format!("on host A, instance {}", i + 1),
            )
        });
        world.run("girofle-backup", &["--all"]).expect_code(0);
        world
            .run("girofle-backup", &["--init-target", "off-site"])
            .expect_code(0);
        world
            .run("girofle-backup", &["--state", "--to", "off-site"])
            .expect_code(0);
        let containers = [
            format!("{}-gitlab-1-docs", world.prefix),
            format!("{}-gitlab-2", world.prefix),
        ];
        let secrets = [1, 2].map(|n| {
            fs::read(
                world
                    .instance_dir(n)
                    .join("mapping-volumes/config/gitlab-secrets.json"),
            )
            .unwrap()
        });
        // The operator's safe place: install.sh printed the key once.
        let key = work.path().join("host-a.key");
        fs::copy(world.home.join("state.key"), &key).unwrap();
        HostA {
            world,
            ip,
            urls,
            heads,
            containers,
            secrets,
            key,
            _work: work,
        }
    }

    /// The fire: A's containers, home and cron entries are gone.
    fn burn(&self) {
        for container in &self.containers {
            docker(&["rm", "--force", "--volumes", container]);
        }
        fs::remove_dir_all(&self.world.home).unwrap();
        let _ = fs::remove_dir_all(&self.world.cron_dir);
    }
}

/// Host B: a fresh home, installed by install.sh without an instance.
fn host_b(offsite: &Path) -> (Scenario, tempfile::TempDir) {
    let world = Scenario::new();
    let tree = common::release_tree();
    let run = Run::from(
        world
            .command("sh")
            .arg(tree.path().join("install.sh"))
            .args(["--home", world.home.to_str().unwrap(), "--bin-dir"])
            .arg(tree.path().join("bin"))
            .args(["--no-instance", "--yes"])
            .output()
            .unwrap(),
    )
    .expect_code(0);
    assert_eq!(run.stdout, "", "no instance, no URL");
    assert!(run.stderr.contains("--no-instance"), "{}", run.stderr);
    assert!(world.containers().is_empty());
    configure(&world, None, offsite);
    (world, tree)
}

fn restore_all(world: &Scenario, extra: &[&str]) -> Run {
    let mut args = vec!["--all", "--wait-timeout", "120"];
    args.extend_from_slice(extra);
    world.run("girofle-restore", &args)
}

/// The cron file of `world` whose name ends with `suffix`, and its text.
fn cron_entry(world: &Scenario, suffix: &str) -> (PathBuf, String) {
    let name = common::sorted_names(&world.cron_dir)
        .into_iter()
        .find(|name| name.ends_with(suffix))
        .unwrap_or_else(|| {
            panic!(
                "no cron entry *{suffix} in {:?}",
                common::sorted_names(&world.cron_dir)
            )
        });
    let path = world.cron_dir.join(&name);
    let text = fs::read_to_string(&path).unwrap();
    (path, text)
}

/// The command of a cron file's job line.
fn cron_command(text: &str) -> String {
    let line = text
        .lines()
        .find(|line| line.contains(" root "))
        .expect("a job line");
    line.split_once(" root ").unwrap().1.to_string()
}

#[test]
fn a_burnt_host_comes_back_on_a_new_one_with_one_command() {
    let offsite = tempfile::tempdir().unwrap();
    let a = HostA::build(offsite.path());
    let conf_a = fs::read(a.world.home.join("girofle.conf")).unwrap();
    a.burn();

    let (b, _tree) = host_b(offsite.path());
    let key = a.key.to_str().unwrap();
    let run = restore_all(
        &b,
        &[
            "--from",
            "off-site",
            "--source",
            "host-a",
            "--state-key",
            key,
        ],
    )
    .expect_code(0);

    // The table: every instance, its result.
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[0].starts_with("NUMBER"), "{}", run.stdout);
    for (n, line) in lines[1..].iter().enumerate() {
        assert!(
            line.starts_with(&(n + 1).to_string())
                && line.contains(&a.containers[n])
                && line.contains(&a.urls[n])
                && line.contains("restored"),
            "{}",
            run.stdout
        );
    }

    // Both serve A's commits, under A's names and URLs, with A's secrets.
    for n in 0..2 {
        let number = n as u32 + 1;
        assert_eq!(
            remote_head(&format!("{}/grp/app.git", a.urls[n])),
            a.heads[n]
        );
        let entry = b.entry(number as u64);
        assert_eq!(entry["container"], a.containers[n].as_str());
        assert_eq!(entry["url"], a.urls[n].as_str());
        assert_eq!(entry["health"], "healthy");
        assert_eq!(entry["state"], "commissioned");
        assert_eq!(
            entry["dir"],
            b.instance_dir(number).display().to_string().as_str()
        );
        assert_eq!(
            fs::read(
                b.instance_dir(number)
                    .join("mapping-volumes/config/gitlab-secrets.json")
            )
            .unwrap(),
            a.secrets[n]
        );
        let label = docker(&[
            "inspect",
            "--format",
            "{{index .Config.Labels \"girofle.home\"}} {{index .Config.Labels \"girofle.instance\"}}",
            &a.containers[n],
        ]);
        assert_eq!(label.trim(), format!("{} {number}", b.home.display()));
        assert_eq!(common::status(&a.containers[n]), "running");
    }
    assert_eq!(entry_name(&b, 1), "docs");
    assert_eq!(
        fs::read_to_string(b.home.join(".auto-increment.girofle"))
            .unwrap()
            .trim(),
        "2"
    );
    // girofle.conf is A's, root's alone; the one B was given is kept beside it.
    assert_eq!(fs::read(b.home.join("girofle.conf")).unwrap(), conf_a);
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = fs::metadata(b.home.join("girofle.conf")).unwrap();
        assert_eq!((metadata.uid(), metadata.mode() & 0o777), (0, 0o600));
    }
    // A's key is B's now: the copy in the operator's safe place goes on
    // authenticating this host's state backups.
    assert_eq!(
        fs::read(b.home.join("state.key")).unwrap(),
        fs::read(&a.key).unwrap()
    );
    assert!(
        b.home_entries()
            .iter()
            .any(|name| name.starts_with("girofle.conf.before-restore-")),
        "{:?}",
        b.home_entries()
    );
    assert!(
        run.stderr.contains("girofle.conf.before-restore-"),
        "{}",
        run.stderr
    );
    assert!(
        !b.home_entries()
            .iter()
            .any(|n| n.starts_with(".restore-all-")),
        "{:?}",
        b.home_entries()
    );

    // The cron entries are back, for this home; the backup one works as cron runs it.
    let home_b = b.home.display().to_string();
    for suffix in ["-gitlab-1", "-gitlab-2", "-state"] {
        let (_, text) = cron_entry(&b, suffix);
        assert!(text.contains(&format!("--home {home_b}")), "{text}");
        assert!(
            !text.contains(&a.world.home.display().to_string()),
            "{text}"
        );
    }
    let (_, text) = cron_entry(&b, "-gitlab-1");
    assert!(text.contains("0 */4 * * * root "), "{text}");
    let before = b.backup_names(1);
    let cron_run = Run::from(
        std::process::Command::new("sh")
            .args(["-c", &cron_command(&text).replace("\\%", "%")])
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .output()
            .unwrap(),
    )
    .expect_code(0);
    assert_eq!(
        b.backup_names(1).len(),
        before.len() + 1,
        "{}",
        cron_run.stderr
    );
}

fn entry_name(world: &Scenario, number: u64) -> String {
    world.entry(number)["name"].as_str().unwrap().to_string()
}

#[test]
fn what_is_already_on_the_new_host_stops_the_command_before_anything_changes() {
    let offsite = tempfile::tempdir().unwrap();
    let a = HostA::build(offsite.path());
    a.burn();

    // An inventory with rows.
    let busy = Scenario::new();
    configure(&busy, None, offsite.path());
    let ip = fresh_ip();
    busy.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let inventory = busy.inventory_bytes();
    let cron = common::sorted_names(&busy.cron_dir);
    let run = restore_all(&busy, &["--from", "off-site", "--source", "host-a"]).expect_code(2);
    assert!(
        run.stderr.contains("inventory.girofle") && run.stderr.contains("1 row"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert_eq!(busy.inventory_bytes(), inventory);
    assert_eq!(common::sorted_names(&busy.cron_dir), cron);
    assert_eq!(busy.containers().len(), 1);
    assert!(!busy.home.join("sauvegardes").exists());

    // A port taken on the new host.
    let empty = Scenario::new();
    configure(&empty, None, offsite.path());
    let port: u16 = a.urls[1].rsplit(':').next().unwrap().parse().unwrap();
    let _taken = std::net::TcpListener::bind((a.ip.as_str(), port)).unwrap();
    let entries = empty.home_entries();
    let run = restore_all(
        &empty,
        &[
            "--from",
            "off-site",
            "--source",
            "host-a",
            "--state-key",
            a.key.to_str().unwrap(),
        ],
    )
    .expect_code(2);
    assert!(
        run.stderr.contains(&format!("port {port} on {}", a.ip))
            && run.stderr.contains("instance 2")
            && run.stderr.contains("already in use"),
        "{}",
        run.stderr
    );
    let after: Vec<String> = empty
        .home_entries()
        .into_iter()
        .filter(|name| name != "girofle.log")
        .collect();
    assert_eq!(after, entries, "something was left in the home");
    assert!(empty.inventory_bytes().is_empty());
    assert!(common::sorted_names(&empty.cron_dir).is_empty());
    assert!(empty.containers().is_empty());
    for container in &a.containers {
        let known = std::process::Command::new("docker")
            .args(["inspect", container])
            .output()
            .unwrap();
        assert!(!known.status.success(), "{container} was created");
    }
}

#[test]
fn one_instance_failing_does_not_stop_the_others() {
    let offsite = tempfile::tempdir().unwrap();
    let a = HostA::build(offsite.path());
    a.burn();
    // Instance 2's backups are lost from the target.
    fs::remove_dir_all(offsite.path().join("host-a/noeud-gitlab-2")).unwrap();

    let (b, _tree) = host_b(offsite.path());
    // The old address is taken to be gone: every instance moves to another.
    let ip_b = fresh_ip();
    let run = restore_all(
        &b,
        &[
            "--from",
            "off-site",
            "--source",
            "host-a",
            "--ip",
            &ip_b,
            "--state-key",
            a.key.to_str().unwrap(),
        ],
    )
    .expect_code(3);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(
        lines[1].contains(&a.containers[0]) && lines[1].contains("restored"),
        "{}",
        run.stdout
    );
    assert!(
        lines[2].contains(&a.containers[1]) && lines[2].contains("FAILED"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("instance 2") && run.stderr.contains("no complete backup"),
        "{}",
        run.stderr
    );
    let port = a.urls[0].rsplit(':').next().unwrap();
    assert_eq!(
        remote_head(&format!("http://{ip_b}:{port}/grp/app.git")),
        a.heads[0]
    );
    let one = b.entry(1);
    assert_eq!(one["health"], "healthy");
    assert_eq!(one["ip"], ip_b.as_str());
    // The failed one is listed as missing, and the list says what to do.
    let list = b.run("girofle-list", &[]).expect_code(0);
    assert!(
        list.stderr.contains("girofle-restore --all") && list.stderr.contains(&a.containers[1]),
        "{}",
        list.stderr
    );
    let two = b.entry(2);
    assert_eq!(two["status"], "missing");
    assert!(
        two["note"].as_str().unwrap().contains("not restored"),
        "{two}"
    );
    // Only the restored instance is scheduled for backups.
    cron_entry(&b, "-gitlab-1");
    assert!(
        !common::sorted_names(&b.cron_dir)
            .iter()
            .any(|name| name.ends_with("-gitlab-2")),
        "{:?}",
        common::sorted_names(&b.cron_dir)
    );
}

#[test]
fn without_a_target_only_the_instances_whose_container_vanished_come_back() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let urls = [
        world.commission(&["--ip", &ip, "--hostname", &ip]),
        world.commission(&["--ip", &ip, "--hostname", &ip]),
    ];
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("app");
    make_repository(&repo, 1);
    let head = push_commit(&repo, &format!("{}/grp/app.git", urls[1]), "kept");
    world.run("girofle-backup", &["--all"]).expect_code(0);
    let containers = [1, 2].map(|n| format!("{}-gitlab-{n}", world.prefix));
    let id_of = |container: &str| docker(&["inspect", "--format", "{{.Id}}", container]);
    let first_id = id_of(&containers[0]);
    docker(&["rm", "--force", &containers[1]]);

    let list = world.run("girofle-list", &[]).expect_code(0);
    assert!(
        list.stderr.contains("girofle-restore --all") && list.stderr.contains(&containers[1]),
        "{}",
        list.stderr
    );
    assert_eq!(world.entry(2)["status"], "missing");

    let run = restore_all(&world, &[]).expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[1].contains("left alone"), "{}", run.stdout);
    assert!(lines[2].contains("restored"), "{}", run.stdout);
    assert_eq!(id_of(&containers[0]), first_id, "instance 1 was touched");
    assert_eq!(world.entry(2)["health"], "healthy");
    assert_eq!(remote_head(&format!("{}/grp/app.git", urls[1])), head);
    // The volumes found in its directory are not lost: a backup of their own.
    let kept: Vec<String> = common::sorted_names(&world.instance_dir(2).join("bckups"))
        .into_iter()
        .filter(|name| {
            fs::read_to_string(
                world
                    .instance_dir(2)
                    .join("bckups")
                    .join(name)
                    .join("MANIFEST"),
            )
            .is_ok_and(|text| text.contains("taken_before_restore"))
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(run.stderr.contains("kept as backup"), "{}", run.stderr);

    // Nothing missing: nothing to do.
    let again = restore_all(&world, &[]).expect_code(0);
    assert_eq!(
        again.stdout.matches("left alone").count(),
        2,
        "{}",
        again.stdout
    );

    // The inventory lost too: it comes back first, from the newest state backup.
    world.run("girofle-backup", &["--state"]).expect_code(0);
    let listed = |world: &Scenario| -> Vec<(u64, String)> {
        world
            .list_json()
            .iter()
            .map(|e| {
                (
                    e["number"].as_u64().unwrap(),
                    e["container"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let before = listed(&world);
    fs::remove_file(world.inventory()).unwrap();
    docker(&["rm", "--force", &containers[0]]);
    let run = restore_all(&world, &[]).expect_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[1].contains("restored"), "{}", run.stdout);
    assert!(lines[2].contains("left alone"), "{}", run.stdout);
    assert_eq!(listed(&world), before);
    assert_eq!(world.entry(1)["health"], "healthy");
}
