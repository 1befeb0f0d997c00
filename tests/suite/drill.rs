//! `girofle-backup --drill`: a backup booted in a throwaway container and
//! its repositories checked; the result kept beside the backup and listed;
//! nothing left behind, even by a drill killed mid-way.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Scenario, fresh_ip, git, make_repository, status, tear_database};

/// What must not change when a drill runs: the instance's containers, the
/// cron entries and the inventory.
fn footprint(world: &Scenario) -> (Vec<String>, Vec<String>, Vec<u8>) {
    let mut containers = world.containers();
    containers.sort();
    (containers, world.cron_names(), world.inventory_bytes())
}

fn assert_nothing_left(world: &Scenario, number: u32) {
    assert_eq!(world.drill_containers(), Vec::<String>::new());
    assert_eq!(world.drill_scratch_dirs(number), Vec::<String>::new());
}

#[test]
fn a_good_backup_passes_its_drill_and_a_corrupt_repository_fails_it() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
    let work = tempfile::tempdir().unwrap();
    let app = work.path().join("app");
    make_repository(&app, 3);
    for path in ["grp/app.git", "grp/app.wiki.git"] {
        git(&app, &["push", "--quiet", &format!("{url}/{path}"), "main"]);
    }
    let id = world.backup(1, &[]);
    let before = footprint(&world);

    let run = world
        .run("girofle-backup", &["--drill", "1", "--wait-timeout", "120"])
        .expect_code(0);
    // Quiet on success, as under cron.
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr, "");
    let record = world.drill_record(1, &id);
    assert!(record.contains("result: ok\n"), "{record}");
    assert!(record.contains("repositories: 2\n"), "{record}");
    assert!(
        record.contains("image: girofle-gitlab-standin:latest (sha256:"),
        "{record}"
    );
    assert_eq!(world.entry(1)["last_drill"], "ok");
    let table = world.run("girofle-list", &[]).expect_code(0).stdout;
    let header = table.lines().next().unwrap();
    let column = header.find("LAST DRILL").unwrap();
    assert!(
        table.lines().nth(1).unwrap()[column..].starts_with("ok"),
        "{table}"
    );
    let log = std::fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(log.contains(&format!("drill of backup {id} ok")), "{log}");
    // No drill container, scratch copy, cron entry or inventory row remains;
    // the instance itself was not touched, and its backup still verifies.
    assert_nothing_left(&world, 1);
    assert_eq!(footprint(&world), before);
    assert_eq!(status(&format!("{}-gitlab-1", world.prefix)), "running");
    world
        .run("girofle-backup", &["--verify", "1", "--backup", &id])
        .expect_code(0);

    // A repository whose objects are damaged boots, and fails git fsck.
    let objects = world
        .instance_dir(1)
        .join("mapping-volumes/data/git-data/repositories/grp/app.git/objects");
    let object = first_object(&objects);
    let mut bytes = std::fs::read(&object).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..] {
        *byte ^= 0x5a;
    }
    std::fs::write(&object, bytes).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let damaged = world.backup(1, &[]);
    let run = world
        .run("girofle-backup", &["--drill", "1", "--wait-timeout", "120"])
        .expect_code(1);
    assert!(run.stderr.contains("fail git fsck"), "{}", run.stderr);
    assert!(run.stderr.contains("grp/app.git"), "{}", run.stderr);
    assert!(!run.stderr.contains("grp/app.wiki.git"), "{}", run.stderr);
    assert!(world.drill_record(1, &damaged).contains("result: failed\n"));
    assert_eq!(world.entry(1)["last_drill"], "failed");
    // The older backup's drill is still known, and can be run again.
    world
        .run(
            "girofle-backup",
            &["--drill", "1", "--backup", &id, "--wait-timeout", "120"],
        )
        .expect_code(0);
    assert_eq!(world.entry(1)["last_drill"], "ok");
    assert_nothing_left(&world, 1);
    assert_eq!(footprint(&world), before);
}

/// The first loose object, else the first pack, under `objects`.
fn first_object(objects: &Path) -> std::path::PathBuf {
    let mut files = Vec::new();
    for entry in walkdir(objects) {
        let name = entry.to_string_lossy().into_owned();
        if name.ends_with(".pack") || entry.parent().unwrap().file_name().unwrap().len() == 2 {
            files.push(entry);
        }
    }
    files.sort_by_key(|path| path.extension().is_some_and(|ext| ext == "pack"));
    files.into_iter().next().expect("an object file")
}

fn walkdir(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walkdir(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_torn_backup_verifies_but_fails_its_drill_with_the_reason() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    tear_database(&world, 1);
    let id = world.backup(1, &[]);
    world
        .run("girofle-backup", &["--verify", "1"])
        .expect_code(0);
    let before = footprint(&world);

    let run = world
        .run("girofle-backup", &["--drill", "1", "--wait-timeout", "20"])
        .expect_code(1);
    assert!(run.stderr.contains("does not boot"), "{}", run.stderr);
    assert!(
        run.stderr.contains("the database is inconsistent"),
        "{}",
        run.stderr
    );
    let record = world.drill_record(1, &id);
    assert!(record.contains("result: failed\n"), "{record}");
    assert!(record.contains("the database is inconsistent"), "{record}");
    assert_eq!(world.entry(1)["last_drill"], "failed");
    let log = std::fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(
        log.contains(&format!("drill of backup {id} FAILED")),
        "{log}"
    );
    assert_nothing_left(&world, 1);
    assert_eq!(footprint(&world), before);
    // A backup that does not match its MANIFEST is not booted at all.
    let segment = world
        .instance_dir(1)
        .join(format!("bckups/{id}/data/postgresql/data/base/6"));
    std::fs::write(&segment, "changed\n").unwrap();
    let run = world
        .run("girofle-backup", &["--drill", "1", "--wait-timeout", "20"])
        .expect_code(1);
    assert!(
        run.stderr.contains("does not match its MANIFEST"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("does not boot"), "{}", run.stderr);
    assert_nothing_left(&world, 1);
    // Bad requests change nothing.
    for args in [
        &["--drill", "7"][..],
        &["--drill", "1", "--backup", "latest"][..],
        &["--drill", "1", "--backup", "2020-01-01T00-00-00Z"][..],
        &["--drill", "1", "--verify", "1"][..],
    ] {
        world.run("girofle-backup", args).expect_code(2);
    }
}

#[test]
fn a_drill_killed_mid_way_is_cleaned_up_by_the_next_command() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    // A torn database keeps the drill waiting: a long window to kill it in.
    tear_database(&world, 1);
    world.backup(1, &[]);
    let before = footprint(&world);
    // Killed once its scratch copy exists (copying, or starting), then once
    // its container runs.
    for moment in ["scratch copy", "container"] {
        let mut child = world
            .command("girofle-backup")
            .args(["--drill", "1", "--wait-timeout", "300"])
            .spawn()
            .unwrap();
        let start = Instant::now();
        loop {
            let reached = match moment {
                "scratch copy" => !world.drill_scratch_dirs(1).is_empty(),
                _ => !world.drill_containers().is_empty(),
            };
            if reached {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the drill never reached its {moment}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if moment == "container" {
            assert!(!world.drill_containers().is_empty());
        }
        assert!(!world.drill_scratch_dirs(1).is_empty());
        world.run("girofle-list", &[]).expect_code(0);
        assert_nothing_left(&world, 1);
        assert_eq!(footprint(&world), before, "after a kill at its {moment}");
    }
    let log = std::fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(log.contains("of a killed drill"), "{log}");
    // A drill that runs is not taken for a killed one.
    let mut child = world
        .command("girofle-backup")
        .args(["--drill", "1", "--wait-timeout", "300"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    while world.drill_containers().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(50));
    }
    world.run("girofle-list", &[]).expect_code(0);
    assert_eq!(world.drill_containers().len(), 1);
    assert_eq!(world.drill_scratch_dirs(1).len(), 1);
    let second = world
        .run("girofle-backup", &["--drill", "1", "--wait-timeout", "5"])
        .expect_code(1);
    assert!(
        second.stderr.contains("already under way"),
        "{}",
        second.stderr
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // A backup cleans up too.
    world.backup(1, &[]);
    assert_nothing_left(&world, 1);
}

#[test]
fn commission_writes_a_staggered_weekly_drill_that_cron_can_run() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let entry = world.cron_dir.join(format!("{}-drill-1", world.prefix));
    let text = std::fs::read_to_string(&entry).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("17 4 * * 1 root "))
        .unwrap_or_else(|| panic!("no staggered weekly line:\n{text}"));
    let command = line.strip_prefix("17 4 * * 1 root ").unwrap();
    assert!(command.contains("girofle-backup --home"), "{command}");
    assert!(command.ends_with(" --drill 1 >/dev/null"), "{command}");

    // The line runs as cron would run it (no GIROFLE_PREFIX): quiet on success.
    let id = world.backup(1, &[]);
    let output = std::process::Command::new("/bin/sh")
        .args(["-c", command])
        .env_remove("GIROFLE_PREFIX")
        .env_remove("GIROFLE_HOME")
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
    assert!(world.drill_record(1, &id).contains("result: ok"));
    assert_nothing_left(&world, 1);

    // `never` writes none; a bad schedule changes nothing.
    world.commission(&["--ip", &ip, "--hostname", &ip, "--drill-schedule", "never"]);
    assert!(
        !world
            .cron_dir
            .join(format!("{}-drill-2", world.prefix))
            .exists()
    );
    let inventory = world.inventory_bytes();
    let cron = world.cron_names();
    for bad in ["0 5 * *", "sometimes", "@fortnightly"] {
        world
            .run(
                "girofle-commission",
                &["--ip", &ip, "--drill-schedule", bad],
            )
            .expect_code(2);
    }
    assert_eq!(world.inventory_bytes(), inventory);
    assert_eq!(world.cron_names(), cron);
    let url = world.commission(&[
        "--ip",
        &ip,
        "--hostname",
        &ip,
        "--drill-schedule",
        "30 2 * * 6",
    ]);
    assert!(url.starts_with("http://"));
    let third =
        std::fs::read_to_string(world.cron_dir.join(format!("{}-drill-3", world.prefix))).unwrap();
    assert!(third.contains("\n30 2 * * 6 root "), "{third}");

    // Decommission removes it.
    world
        .run("girofle-decommission", &["1", "--no-backup"])
        .expect_code(0);
    assert!(!entry.exists());
}
