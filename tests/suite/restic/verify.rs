//! `--verify --from T` and `--drill --from T`: a backup fetched from a
//! target into scratch and re-read against its MANIFEST (a restic target
//! checked first, `restic check --read-data-subset`), or booted. Damage at
//! the target is exit 1 naming it; a backup the target lacks is exit 2.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Vault, configure};
use crate::common::{Scenario, fresh_ip};

/// The largest file under `dir`.
fn largest(dir: &Path) -> PathBuf {
    let mut best: Option<(u64, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                stack.push(entry.path());
            } else if best.as_ref().is_none_or(|(size, _)| metadata.len() > *size) {
                best = Some((metadata.len(), entry.path()));
            }
        }
    }
    best.unwrap().1
}

/// Overwrites bytes in the middle of `file`, its size kept.
fn damage(file: &Path) {
    let size = fs::metadata(file).unwrap().len();
    let mut handle = fs::OpenOptions::new().write(true).open(file).unwrap();
    handle.seek(SeekFrom::Start(size / 2)).unwrap();
    handle.write_all(b"damaged at the target").unwrap();
}

/// No scratch copy left in the instance's directory.
fn no_scratch_left(world: &Scenario) {
    let left: Vec<String> = fs::read_dir(world.instance_dir(1))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".from-target-") || name.starts_with(".drill-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_restic_copy_is_checked_verified_and_drilled_from_the_target() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            vault.target("vault", &url, "check_read_data_subset = \"100%\"\n")
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world.fill_data(1, 50);
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    let id = world.backup(1, &["--to", "vault"]);

    let run = world
        .run("girofle-backup", &["--verify", "1", "--from", "vault"])
        .expect_code(0);
    assert!(
        run.stderr.contains(&format!("{id} on target `vault`"))
            && run.stderr.contains("all as in its MANIFEST"),
        "{}",
        run.stderr
    );
    assert!(
        world
            .log_text()
            .contains("restic check passed, 100% of the data re-read"),
        "{}",
        world.log_text()
    );
    no_scratch_left(&world);

    // A backup the target lacks, or no ID at all: exit 2.
    for bad in ["2020-01-01T00-00-00Z", "latest"] {
        let run = world.run(
            "girofle-backup",
            &["--verify", "1", "--from", "vault", "--backup", bad],
        );
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
    }

    // The drill boots the copy fetched from the target.
    world
        .run(
            "girofle-backup",
            &["--drill", "1", "--from", "vault", "--wait-timeout", "120"],
        )
        .expect_code(0);
    assert_eq!(world.entry(1)["last_drill"], "ok");
    no_scratch_left(&world);

    // Damage in the repository's data: restic check finds it, exit 1.
    damage(&largest(&vault.repository().join("data")));
    let run = world.run("girofle-backup", &["--verify", "1", "--from", "vault"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("target `vault`"), "{}", run.stderr);
    no_scratch_left(&world);
    vault.never_in("the stderr", &run.stderr);
    vault.never_in("the log", &world.log_text());
}

#[test]
fn a_path_target_copy_is_fetched_and_verified() {
    let world = Scenario::new();
    let target = tempfile::tempdir().unwrap();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n[targets.off-site]\nurl = \"{}\"\n",
            target.path().display()
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    world.fill_data(1, 20);
    world
        .run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    let id = world.backup(1, &["--to", "off-site"]);
    let run = world
        .run("girofle-backup", &["--verify", "1", "--from", "off-site"])
        .expect_code(0);
    assert!(
        run.stderr.contains("on target `off-site`"),
        "{}",
        run.stderr
    );

    // A file changed at the target: it no longer matches its MANIFEST.
    let copy = target.path().join("host-a/noeud-gitlab-1/bckups").join(&id);
    damage(&largest(&copy.join("data")));
    let run = world.run("girofle-backup", &["--verify", "1", "--from", "off-site"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("on target `off-site`") && run.stderr.contains("differ"),
        "{}",
        run.stderr
    );
    no_scratch_left(&world);
}
