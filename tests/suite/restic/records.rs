//! What a shipping leaves beside its backup (`<ID>.SHIPPED`: the restic
//! snapshot, or the rsync path), the weekly `restic check` the drill cron
//! entry runs, and the scratch directory a killed `--verify --from` leaves.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Vault, configure};
use crate::common::{Scenario, fresh_ip};

/// The full ID of the snapshot holding backup `id`.
fn snapshot_of(vault: &Vault, url: &str, id: &str) -> String {
    let run = vault
        .restic(
            url,
            &["snapshots", "--json", "--tag", &format!("backup={id}")],
        )
        .expect_code(0);
    let snapshots: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(snapshots.len(), 1, "{}", run.stdout);
    snapshots[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn each_shipping_is_recorded_beside_its_backup_which_still_verifies() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let off_site = tempfile::tempdir().unwrap();
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}\n[targets.off-site]\nurl = \"{}\"\n",
            vault.target("vault", &url, ""),
            off_site.path().display()
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world.fill_data(1, 20);
    for target in ["vault", "off-site"] {
        world
            .run("girofle-backup", &["--init-target", target])
            .expect_code(0);
    }
    let backups = world.instance_dir(1).join("bckups");
    let record = |id: &str| fs::read_to_string(backups.join(format!("{id}.SHIPPED"))).unwrap();

    let first = world.backup(1, &["--to", "vault"]);
    let snapshot = snapshot_of(&vault, &url, &first);
    assert_eq!(snapshot.len(), 64, "{snapshot}");
    let text = record(&first);
    assert!(
        text.contains("target: vault; kind: restic; shipped: 20")
            && text.contains(&format!(
                "at: host-a/noeud-gitlab-1/bckups/{first}; snapshot: {snapshot}\n"
            )),
        "{text}"
    );
    // The backup's sealed folder is untouched: it verifies as it did.
    let verified = world
        .run("girofle-backup", &["--verify", "1", "--backup", &first])
        .expect_code(0);
    assert!(
        verified.stderr.contains("all as in its MANIFEST"),
        "{}",
        verified.stderr
    );
    let shipped = &world.entry(1)["last_backup_shipped"];
    assert_eq!(shipped[0]["target"], "vault", "{shipped}");
    assert_eq!(shipped[0]["snapshot"], snapshot.as_str(), "{shipped}");

    // An rsync (path) target: its place there, no snapshot.
    std::thread::sleep(Duration::from_millis(1100));
    let second = world.backup(1, &["--to", "off-site"]);
    let text = record(&second);
    assert!(
        text.contains("target: off-site; kind: rsync; shipped: 20")
            && text.contains(&format!("at: host-a/noeud-gitlab-1/bckups/{second}\n")),
        "{text}"
    );
    assert!(!text.contains("snapshot:"), "{text}");
    assert!(
        off_site
            .path()
            .join(format!("host-a/noeud-gitlab-1/bckups/{second}/MANIFEST"))
            .is_file()
    );
    // No record travels with the copy.
    assert!(
        !off_site
            .path()
            .join(format!("host-a/noeud-gitlab-1/bckups/{second}.SHIPPED"))
            .exists()
    );
    assert_eq!(
        world.entry(1)["last_backup_shipped"][0]["snapshot"],
        serde_json::Value::Null
    );

    // The vault then gets what it lacks: the second backup's record names both targets.
    std::thread::sleep(Duration::from_millis(1100));
    world.backup(1, &["--to", "vault"]);
    let text = record(&second);
    let vault_snapshot = snapshot_of(&vault, &url, &second);
    assert!(text.contains("target: off-site; kind: rsync;"), "{text}");
    assert!(
        text.contains("target: vault; kind: restic;")
            && text.contains(&format!("snapshot: {vault_snapshot}\n")),
        "{text}"
    );
    world
        .run("girofle-backup", &["--verify", "1", "--backup", &second])
        .expect_code(0);
    vault.never_in("a shipping record", &text);
}

/// The command of instance 1's drill cron entry, as cron would run it.
fn drill_line(world: &Scenario) -> String {
    let entry = world.cron_dir.join(format!("{}-drill-1", world.prefix));
    let text = fs::read_to_string(&entry).unwrap();
    let line = text
        .lines()
        .find(|line| line.starts_with("17 4 * * 1 root "))
        .unwrap_or_else(|| panic!("no weekly drill line:\n{text}"));
    line.strip_prefix("17 4 * * 1 root ").unwrap().to_string()
}

fn run_as_cron(command: &str) -> std::process::Output {
    Command::new("/bin/sh")
        .args(["-c", command])
        .env_remove("GIROFLE_PREFIX")
        .env_remove("GIROFLE_HOME")
        .output()
        .unwrap()
}

#[test]
fn the_drill_cron_entry_checks_restic_targets_weekly_silently_and_alerts_once() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let world = Scenario::new();
    let events = world.home.parent().unwrap().join("events");
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n[notify]\ncommand = [\"/bin/sh\", \"-c\", \
             \"cat >> {}; echo >> {}\"]\non = [\"failure\"]\n\n{}",
            events.display(),
            events.display(),
            vault.target("vault", &url, "check_read_data_subset = \"100%\"\n")
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    world.backup(1, &["--to", "vault"]);
    let command = drill_line(&world);
    let checks = |world: &Scenario| {
        world
            .log_text()
            .matches("weekly check of target `vault`: ")
            .count()
    };
    let alerts = || {
        fs::read_to_string(&events)
            .unwrap_or_default()
            .matches("\"kind\":\"check\"")
            .count()
    };

    // A shipping at work holds the repository: the check is put off, not
    // failed (no message, no alert, nothing recorded).
    let holder = super::locks::Holder::start(&vault, &url);
    let output = run_as_cron(&command);
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{output:?}"
    );
    assert!(
        world
            .log_text()
            .contains("weekly check of target `vault` put off: another restic is at work there"),
        "{}",
        world.log_text()
    );
    assert!(!world.home.join(".target-check-vault").exists());
    drop(holder);
    // Killed, the holder's lock is stale: removed by restic's own judgement.

    // All well: silent, as cron wants it; the check ran once.
    let output = run_as_cron(&command);
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
    assert_eq!(checks(&world), 1, "{}", world.log_text());
    assert!(
        world.log_text().contains(
            "weekly check of target `vault`: restic check passed, 100% of the data re-read"
        ),
        "{}",
        world.log_text()
    );
    let record = world.home.join(".target-check-vault");
    assert!(fs::read_to_string(&record).unwrap().contains("result: ok"));
    // The next day's drill (another instance's, say) does not check it again.
    let output = run_as_cron(&command);
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{output:?}"
    );
    assert_eq!(checks(&world), 1);

    // A week later, the repository damaged: the drill passes, the check does not.
    let data = vault.repository().join("data");
    let mut damaged = 0;
    for dir in fs::read_dir(&data).unwrap().flatten() {
        for pack in fs::read_dir(dir.path()).unwrap().flatten() {
            let mut bytes = fs::read(pack.path()).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            fs::write(pack.path(), bytes).unwrap();
            damaged += 1;
        }
    }
    assert!(damaged > 0);
    let week_ago = Command::new("touch")
        .args(["-d", "8 days ago"])
        .arg(&record)
        .status()
        .unwrap();
    assert!(week_ago.success());
    let output = run_as_cron(&command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(output.stdout.is_empty(), "{output:?}");
    assert!(
        stderr.contains("target `vault` does not pass its weekly check")
            && stderr.contains("restic check"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one message: {stderr}");
    assert_eq!(
        alerts(),
        1,
        "{}",
        fs::read_to_string(&events).unwrap_or_default()
    );
    assert!(
        fs::read_to_string(&record)
            .unwrap()
            .contains("result: failed")
    );
    // Until a check passes, the host's check says so.
    let check = world.run("girofle-list", &["--check"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(
        check
            .stdout
            .contains("target `vault` failed its last weekly check"),
        "{}",
        check.stdout
    );
    vault.never_in("the drill's stderr", &stderr);
    vault.never_in("the alerts", &fs::read_to_string(&events).unwrap());
    // The next drill does not alert again: one alert per failed check.
    let output = run_as_cron(&command);
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{output:?}"
    );
    assert_eq!(alerts(), 1);
    // Repaired (the flipped bytes flipped back), a verification from the
    // target passes its check, and the host's check is clear again.
    for dir in fs::read_dir(&data).unwrap().flatten() {
        for pack in fs::read_dir(dir.path()).unwrap().flatten() {
            let mut bytes = fs::read(pack.path()).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            fs::write(pack.path(), bytes).unwrap();
        }
    }
    world
        .run("girofle-backup", &["--verify", "1", "--from", "vault"])
        .expect_code(0);
    world.run("girofle-list", &["--check"]).expect_code(0);
    vault.never_in("the log", &world.log_text());
}

/// Whether a process still holds the lock of fetches from targets in
/// `instance` (what the clean-up asks): the killed run's programs inherit it.
fn fetch_lock_held(instance: &std::path::Path) -> bool {
    let Ok(file) = fs::File::open(instance.join(".girofle-from-target.lock")) else {
        return false;
    };
    // Released when `file` is dropped.
    matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
}

#[test]
fn a_verify_from_a_target_killed_mid_way_is_cleaned_up_by_the_next_command() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            vault.target("vault", &url, "")
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    // Enough files that the fetch takes a while: a window to kill it in.
    world.fill_data(1, 6000);
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    world.backup(1, &["--to", "vault"]);
    let scratch = |world: &Scenario| -> Vec<String> {
        fs::read_dir(world.instance_dir(1))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".from-target-"))
            .collect()
    };
    for args in [
        ["--verify", "1", "--from", "vault", "--wait-timeout", "300"],
        ["--drill", "1", "--from", "vault", "--wait-timeout", "300"],
    ] {
        let args: Vec<&str> = if args[0] == "--verify" {
            args[..4].to_vec()
        } else {
            args.to_vec()
        };
        let mut child = world.command("girofle-backup").args(&args).spawn().unwrap();
        let start = Instant::now();
        while scratch(&world).is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{args:?} never made its scratch directory"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // SIGKILL: no destructor runs, the directory stays behind.
        child.kill().unwrap();
        child.wait().unwrap();
        let left = scratch(&world);
        assert!(!left.is_empty(), "{args:?}");
        // The restic it started dies with it (SIGTERM from the kernel), but
        // takes a moment to exit, holding the lock it inherited: until then
        // the clean-up rightly leaves the directory to it.
        let start = Instant::now();
        while fetch_lock_held(&world.instance_dir(1)) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{args:?}: a program of the killed run outlived it"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        world.run("girofle-list", &[]).expect_code(0);
        assert!(
            scratch(&world).is_empty(),
            "{args:?}: {:?}",
            scratch(&world)
        );
        assert!(
            world
                .log_text()
                .contains("of a killed verification or drill from a target"),
            "{}",
            world.log_text()
        );
    }
    // Nothing else was lost: the backup verifies from the target still.
    world
        .run("girofle-backup", &["--verify", "1", "--from", "vault"])
        .expect_code(0);
    assert!(scratch(&world).is_empty());
}

#[test]
fn init_target_makes_compressed_repositories_and_says_when_one_is_not() {
    let world = Scenario::new();
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let old = Vault::new();
    let old_url = old.repository().display().to_string();
    // A repository made by an older restic: format 1, no compression.
    old.restic(&old_url, &["init", "--repository-version", "1"])
        .expect_code(0);
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}\n{}",
            vault.target("vault", &url, ""),
            old.target("old", &old_url, "")
        ),
    );
    let run = world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    assert!(
        run.stderr.contains("repository created in format 2"),
        "{}",
        run.stderr
    );
    let config = vault.restic(&url, &["cat", "config"]).expect_code(0);
    assert!(
        config.stdout.contains("\"version\": 2"),
        "{}",
        config.stdout
    );
    // The old one is accepted as it is, and the operator told what it costs.
    let run = world
        .run("girofle-backup", &["--init-target", "old"])
        .expect_code(0);
    assert!(
        run.stderr
            .contains("already there in format 1 (uncompressed")
            && run.stderr.contains("restic migrate upgrade_repo_v2"),
        "{}",
        run.stderr
    );
    assert_eq!(old.tags(&old_url, "girofle-marker").len(), 1);
}
