//! What a shipping to a restic target records (the snapshot's full ID, in
//! the log and in `--format json`), and `girofle-list --check` judging the
//! newest snapshot of each instance there by the local backups' rule.

use std::io::Write;
use std::process::{Command, Stdio};

use super::{Vault, configure};
use crate::common::{Scenario, fresh_ip};

/// Writes a snapshot of instance 1 of `host-a` named as backup `id`, as
/// an older Girofle would have shipped it.
fn ship_by_hand(vault: &Vault, url: &str, id: &str) {
    let mut child = Command::new("restic")
        .args([
            "backup",
            "--stdin",
            "--stdin-filename",
            "MANIFEST",
            "--host",
            "host-a",
            "--tag",
            &format!("girofle,host=host-a,instance=noeud-gitlab-1,backup={id}"),
        ])
        .env("RESTIC_REPOSITORY", url)
        .env("RESTIC_PASSWORD_FILE", vault.password_file())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"old\n").unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn the_snapshot_is_recorded_and_a_stale_one_is_a_problem_of_the_check() {
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
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);

    // Only an old snapshot there: stale, the target and instance named.
    ship_by_hand(&vault, &url, "2025-01-01T00-00-00Z");
    let check = world.run("girofle-list", &["--check"]);
    assert_eq!(check.code, 1, "{}{}", check.stdout, check.stderr);
    let line = check
        .stdout
        .lines()
        .find(|line| line.contains("target `vault`"))
        .unwrap_or_else(|| panic!("no line names the target: {}", check.stdout));
    assert!(
        line.contains("instance 1") && line.contains("2025-01-01T00-00-00Z"),
        "{line}"
    );

    // Shipped now: the snapshot's full ID in the JSON and in the log.
    let run = world
        .run(
            "girofle-backup",
            &["1", "--to", "vault", "--format", "json"],
        )
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let target = &document["targets"][0];
    let shipped = target["shipped"][0].as_str().unwrap().to_string();
    let snapshot = target["snapshots"][&shipped].as_str().unwrap_or_else(|| {
        panic!("no snapshot recorded for {shipped}: {target}");
    });
    assert_eq!(snapshot.len(), 64, "{snapshot}");
    let listed = vault
        .restic(&url, &["snapshots", "--json", "--tag", "girofle"])
        .expect_code(0);
    assert!(listed.stdout.contains(snapshot), "{}", listed.stdout);
    assert!(
        world
            .log_text()
            .lines()
            .any(|l| l.contains(&shipped) && l.contains(&format!("[snapshot {snapshot}]"))),
        "{}",
        world.log_text()
    );

    // Fresh again: nothing wrong.
    let check = world.run("girofle-list", &["--check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    vault.never_in("the check", &check.stdout);
    vault.never_in("the log", &world.log_text());
}
