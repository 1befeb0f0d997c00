//! Locked repositories: a lock left by a killed restic is removed (restic
//! judges it stale), one held by a restic at work is left alone and the
//! shipping's retention fails, exit 3, naming the target.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Vault, configure};
use crate::common::{self, Scenario, fresh_ip};

/// A `restic backup --stdin` that holds a lock on the repository while its
/// stdin stays open; killed on drop.
pub(super) struct Holder(Child);

impl Holder {
    pub(super) fn start(vault: &Vault, url: &str) -> Holder {
        let child = Command::new("restic")
            .args([
                "backup",
                "--stdin",
                "--stdin-filename",
                "held",
                "--tag",
                "holder",
            ])
            .env("RESTIC_REPOSITORY", url)
            .env("RESTIC_PASSWORD_FILE", vault.password_file())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let locks = vault.repository().join("locks");
        assert!(
            common::eventually(Duration::from_secs(30), || {
                common::sorted_names(&locks).len() == 1
            }),
            "restic never took its lock"
        );
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_stale_lock_is_removed_and_a_live_one_left_alone() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            vault.target("vault", &url, "keep_last = 1\n")
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    world.backup(1, &["--to", "vault"]);

    // A restic at work: its lock stops the retention (forget needs the
    // repository alone), and stays.
    let holder = Holder::start(&vault, &url);
    std::thread::sleep(Duration::from_millis(1100));
    let run = world.run("girofle-backup", &["1", "--to", "vault"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("target `vault`") && run.stderr.contains("left alone"),
        "{}",
        run.stderr
    );
    assert_eq!(
        common::sorted_names(&vault.repository().join("locks")).len(),
        1
    );

    // Killed: its lock is stale, removed, and the next run goes through.
    drop(holder);
    assert_eq!(
        common::sorted_names(&vault.repository().join("locks")).len(),
        1
    );
    std::thread::sleep(Duration::from_millis(1100));
    let newest = world.backup(1, &["--to", "vault"]);
    assert_eq!(vault.backups(&url, "girofle"), vec![newest]);
    assert!(common::sorted_names(&vault.repository().join("locks")).is_empty());
    assert!(fs::read_dir(vault.repository()).is_ok());
}
