//! `girofle-list` tells how old each instance's last backup is and which are
//! stale; `girofle-list --check` prints only what is wrong and says so by its
//! exit code. Real stand-in containers, real backups, real cron entries.

use crate::common;

use common::{Scenario, docker, fresh_ip};

#[test]
fn a_fresh_backup_passes_an_old_one_is_stale_a_missing_container_is_named() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let id = world.backup(1, &[]);

    // Fresh: listed with its age, not stale; nothing wrong.
    let entry = world.entry(1);
    assert_eq!(entry["last_backup"], id.as_str());
    assert_eq!(entry["stale"], false, "{entry}");
    assert!(entry["last_backup_age_seconds"].as_u64().unwrap() < 3600);
    // The default schedule, every 4 hours, read from its cron entry.
    assert_eq!(entry["backup_interval_seconds"], 4 * 3600);
    let table = world.run("girofle-list", &[]).expect_code(0).stdout;
    assert!(table.contains(&format!("{id} (")), "{table}");
    assert!(table.contains(" ago)"), "{table}");
    let check = world.run("girofle-list", &["--check"]).expect_code(0);
    assert!(check.stdout.is_empty(), "{}", check.stdout);

    // Aged: the same backup, its folder named as if taken long ago.
    let backups = world.instance_dir(1).join("bckups");
    let old = "2020-01-01T00-00-00Z";
    std::fs::rename(backups.join(&id), backups.join(old)).unwrap();
    let entry = world.entry(1);
    assert_eq!(entry["last_backup"], old);
    assert_eq!(entry["stale"], true, "{entry}");
    let table = world.run("girofle-list", &[]).expect_code(0).stdout;
    assert!(table.contains("STALE"), "{table}");
    let check = world.run("girofle-list", &["--check"]).expect_code(1);
    let lines: Vec<&str> = check.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", check.stdout);
    assert!(lines[0].starts_with("instance 1 "), "{}", lines[0]);
    assert!(lines[0].contains(old), "{}", lines[0]);
    assert!(
        lines[0].contains("twice its schedule's interval (8h00m)"),
        "{}",
        lines[0]
    );

    // A fresh backup again: the problem is gone.
    world.backup(1, &[]);
    world.run("girofle-list", &["--check"]).expect_code(0);

    // The container removed: named.
    let container = entry["container"].as_str().unwrap().to_string();
    docker(&["rm", "--force", &container]);
    let check = world.run("girofle-list", &["--check"]).expect_code(1);
    assert_eq!(check.stdout.lines().count(), 1, "{}", check.stdout);
    assert!(
        check.stdout.contains(&format!(
            "instance 1 ({container}): its container is missing"
        )),
        "{}",
        check.stdout
    );
}

#[test]
fn a_target_without_its_marker_is_named() {
    let world = Scenario::new();
    let target = world.home.parent().unwrap().join("offsite");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::create_dir_all(&world.home).unwrap();
    world.run("girofle-list", &[]).expect_code(0);
    std::fs::write(
        world.home.join("girofle.conf"),
        format!("[targets.off-site]\nurl = \"{}\"\n", target.display()),
    )
    .unwrap();
    let check = world.run("girofle-list", &["--check"]).expect_code(1);
    assert!(
        check.stdout.starts_with("target `off-site` is not usable:")
            && check.stdout.contains(".girofle-target"),
        "{}",
        check.stdout
    );
    world
        .run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    let check = world.run("girofle-list", &["--check"]).expect_code(0);
    assert!(check.stdout.is_empty(), "{}", check.stdout);
}
