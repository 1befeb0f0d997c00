//! A restic repository on a full disk (a small tmpfs): the shipping fails
//! cleanly, exit 3, the local backup kept and printed, one alert naming the
//! target, the password nowhere.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Vault, configure};
use crate::common::{Scenario, fresh_ip};

/// A tmpfs of `size` mounted at `at`, unmounted on drop, pass or fail.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(at: &Path, size: &str) -> Mounted {
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "girofle-test",
                &at.display().to_string(),
            ])
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs {}", at.display());
        Mounted(at.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

#[test]
fn a_full_disk_at_the_target_fails_the_shipping_only_with_one_alert() {
    let vault = Vault::new();
    let mount_point = tempfile::tempdir().unwrap();
    let _mounted = Mounted::tmpfs(mount_point.path(), "4m");
    let url = mount_point.path().join("repo").display().to_string();
    let world = Scenario::new();
    let events = world.home.parent().unwrap().join("events");
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n[notify]\ncommand = [\"/bin/sh\", \"-c\", \
             \"cat >> {}\"]\non = [\"failure\"]\n\n{}",
            events.display(),
            vault.target("vault", &url, "")
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    // Incompressible and larger than the whole file system.
    let mut bytes = vec![0u8; 12_000_000];
    std::io::Read::read_exact(&mut fs::File::open("/dev/urandom").unwrap(), &mut bytes).unwrap();
    fs::write(
        world.instance_dir(1).join("mapping-volumes/data/big.bin"),
        bytes,
    )
    .unwrap();

    let run = world.run("girofle-backup", &["1", "--to", "vault"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let id = run.stdout.trim().to_string();
    assert!(world.backup_names(1).contains(&id), "{id} not kept");
    assert!(run.stderr.contains("target `vault`"), "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains("no space left"),
        "{}",
        run.stderr
    );

    let text = fs::read_to_string(&events).unwrap_or_default();
    let told: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(told.len(), 1, "{text}");
    assert_eq!(told[0]["kind"], "shipping");
    assert_eq!(told[0]["outcome"], "failure");
    assert_eq!(told[0]["target"], "vault");
    vault.never_in("the alert", &text);
    vault.never_in("the stderr", &run.stderr);
    vault.never_in("the log", &world.log_text());
}
