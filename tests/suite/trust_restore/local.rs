//! A restore on this host: refused directories, no room, the replaced data kept, retention, the terminal, killed restores.

use super::*;

#[test]
fn a_directory_that_the_container_does_not_mount_is_refused_and_both_instances_stay_untouched() {
    let mine = instance(Scenario::new(), &[]);
    let other = instance(Scenario::new(), &[]);
    mine.push("mine");
    let others_head = other.push("other's");
    other.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let others_newer = other.push("other's, after its backup");
    assert_ne!(others_newer, others_head);
    let (mine_started, other_started) = (mine.started(), other.started());
    let (mine_secrets, other_secrets) = (mine.secrets(), other.secrets());
    let other_backups = other.world.backup_names(1);
    // The other home's directory: this home's inventory does not know it;
    // only the container's mounts tell that it is not this container's.
    let dir = other.dir();
    for extra in [vec![], vec!["--yes"]] {
        let mut args = vec![mine.container.as_str(), dir.as_str()];
        args.extend(extra);
        let run = mine.world.run("girofle-restore", &args);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("does not mount") && run.stderr.contains(&dir),
            "{}",
            run.stderr
        );
    }
    assert_eq!(mine.started(), mine_started);
    assert_eq!(other.started(), other_started);
    assert_eq!(mine.secrets(), mine_secrets);
    assert_eq!(other.secrets(), other_secrets);
    assert_eq!(other.world.backup_names(1), other_backups);
    assert!(mine.world.backup_names(1).is_empty());
    assert_eq!(remote_head(&other.project()), others_newer);
    assert!(
        !other
            .world
            .instance_dir(1)
            .join("mapping-volumes.restoring")
            .exists()
    );
    // Another instance of the same home is refused as well.
    let ip = fresh_ip();
    mine.world
        .commission(&["second", "--ip", &ip, "--hostname", &ip]);
    mine.world.backup(2, &[]);
    let second = mine.world.instance_dir(2).display().to_string();
    let run = mine
        .world
        .run("girofle-restore", &[&mine.container, &second]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(mine.started(), mine_started);
}

/// A tmpfs mounted on the home for the test's life; lazily unmounted at the end.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=750")])
            .arg("tmpfs")
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
        Tmpfs(path.to_path_buf())
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Fills the file system until `left` bytes are free.
    fn fill_until(&self, left: u64) {
        let filler = self.0.join("filler");
        let _ = fs::remove_file(&filler);
        let size = self.free().saturating_sub(left);
        let ok = Command::new("fallocate")
            .args(["-l", &size.to_string()])
            .arg(&filler)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn without_room_for_the_staged_copy_the_restore_exits_1_before_gitlab_is_touched() {
    let world = Scenario::new();
    let disk = Tmpfs::mount(&world.home, "512m");
    let it = instance(world, &[]);
    it.push("backed up");
    let id = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let newer = it.push("after the backup");
    let backup = it.world.instance_dir(1).join("bckups").join(&id);
    let du = Command::new("du")
        .args(["-s", "--block-size=1"])
        .arg(&backup)
        .output()
        .unwrap();
    let copy: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let started = it.started();
    let backups = it.world.backup_names(1);
    // No room for the copy at all; then room for the copy itself, but not
    // for GitLab to keep writing beside it: both refused.
    for left in [copy / 2, copy + (6 << 20)] {
        disk.fill_until(left);
        let run = it.restore(&["--backup", &id]);
        assert_eq!(run.code, 1, "{left}: {}", run.stderr);
        assert!(run.stderr.contains("not enough space"), "{}", run.stderr);
        assert_eq!(it.started(), started, "GitLab was touched");
        assert_eq!(status(&it.container), "running");
        assert_eq!(remote_head(&it.project()), newer);
        assert_eq!(it.world.backup_names(1), backups);
        assert!(
            !it.world
                .instance_dir(1)
                .join("mapping-volumes.restoring")
                .exists()
        );
    }
    // With room, the same restore goes through.
    fs::remove_file(disk.0.join("filler")).unwrap();
    it.restore(&["--backup", &id]).expect_code(0);
    assert_ne!(remote_head(&it.project()), newer);
    drop(it);
    drop(disk);
}

#[test]
fn the_replaced_data_becomes_a_backup_whose_restore_brings_it_back_exactly() {
    let it = instance(Scenario::new(), &[]);
    let old = it.push("in backup B");
    let b = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let newer = it.push("pushed after backup B");
    let newest = it.push("and another");
    assert_ne!(newer, newest);
    // Stopped, the data stays as it is: what it is must come back exactly.
    docker(&["stop", &it.container]);
    let before = tree(&it.volumes());
    let secrets = it.secrets();
    let run = it.restore(&["--backup", &b]).expect_code(0);
    assert_eq!(run.stdout.trim(), b);
    assert_eq!(
        status(&it.container),
        "exited",
        "the prior state was stopped"
    );
    let kept = it.taken_before_restore();
    assert_eq!(kept.len(), 1, "{:?}", it.world.backup_names(1));
    let (kept_id, restored) = &kept[0];
    assert_eq!(restored, &b);
    assert!(run.stderr.contains(kept_id.as_str()), "{}", run.stderr);
    let kept_dir = it.world.instance_dir(1).join("bckups").join(kept_id);
    assert_eq!(
        tree(&kept_dir),
        before,
        "the kept data differs from the replaced data"
    );
    let manifest = fs::read_to_string(kept_dir.join("MANIFEST")).unwrap();
    assert_eq!(header(&manifest, "consistency").as_deref(), Some("stop"));
    assert_eq!(header(&manifest, "prior_state").as_deref(), Some("stopped"));
    assert_eq!(header(&manifest, "id").as_deref(), Some(kept_id.as_str()));
    assert_eq!(
        fs::metadata(&kept_dir).unwrap().mode() & 0o777,
        0o700,
        "a backup is root's alone"
    );
    it.world
        .run("girofle-backup", &["--verify", "1", "--backup", kept_id])
        .expect_code(0);
    let beside = common::sorted_names(&it.world.instance_dir(1));
    assert!(
        !beside.iter().any(|name| name.contains("mapping-volumes.")),
        "{beside:?}"
    );
    // Restoring it undoes the restore: the commits pushed after B are back.
    docker(&["start", &it.container]);
    wait_healthy(&it.container);
    assert_eq!(remote_head(&it.project()), old);
    it.restore(&["--backup", kept_id]).expect_code(0);
    assert_eq!(remote_head(&it.project()), newest);
    assert_eq!(it.secrets(), secrets);
    // And the data of B that this second restore replaced is kept too.
    let kept = it.taken_before_restore();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(&kept[1].1, kept_id);
}

#[test]
fn retention_counts_the_backup_taken_before_a_restore() {
    let it = instance(Scenario::new(), &[]);
    it.push("first");
    let a = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.push("second");
    let b = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.restore(&["--backup", &a]).expect_code(0);
    let kept = it.taken_before_restore();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        it.world.backup_names(1),
        [a.clone(), b.clone(), kept[0].0.clone()]
    );
    fs::write(
        it.world.home.join("girofle.conf"),
        "[retention]\nkeep_last = 2\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let c = it.backup();
    assert_eq!(it.world.backup_names(1), [kept[0].0.clone(), c]);
    assert_eq!(it.world.entry(1)["last_backup"], c_last(&it));
}

/// The kept data is newer by its ID, older by its content: the listing's last
/// backup, the next backup's hard links, and what a target receives (and so
/// what a restore from it takes by default) are the backups made, not it.
#[test]
fn the_backup_taken_before_a_restore_is_never_taken_for_the_newest() {
    let it = instance(Scenario::new(), &[]);
    it.push("first");
    let a = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.push("second");
    let b = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.restore(&["--backup", &a]).expect_code(0);
    let kept = it.taken_before_restore()[0].0.clone();
    assert!(kept > b, "{kept} {b}");
    assert_eq!(it.world.entry(1)["last_backup"], b.as_str());

    let offsite = tempfile::tempdir().unwrap();
    fs::write(
        it.world.home.join("girofle.conf"),
        format!(
            "[targets.off-site]\nurl = \"{}\"\n",
            offsite.path().display()
        ),
    )
    .unwrap();
    it.world
        .run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    std::thread::sleep(Duration::from_millis(1100));
    let c = it
        .world
        .run("girofle-backup", &["1", "--to", "off-site"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    wait_healthy(&it.container);
    let manifest = fs::read_to_string(
        it.world
            .instance_dir(1)
            .join("bckups")
            .join(&c)
            .join("MANIFEST"),
    )
    .unwrap();
    assert_eq!(header(&manifest, "previous").as_deref(), Some(b.as_str()));
    let host = fs::read_dir(offsite.path())
        .unwrap()
        .flatten()
        .find(|entry| entry.path().is_dir())
        .unwrap()
        .path();
    let shipped = common::sorted_names(&host.join("noeud-gitlab-1").join("bckups"));
    assert!(shipped.contains(&c), "{shipped:?}");
    assert!(!shipped.contains(&kept), "{shipped:?}");
}

fn c_last(it: &Instance) -> String {
    it.world.backup_names(1).pop().unwrap()
}

/// Runs girofle-restore on a terminal (`script`), answering `answers`.
fn on_a_terminal(it: &Instance, args: &str, answers: &str) -> (i32, String) {
    let binary = common::binary_path("girofle-restore");
    let mut child = it
        .world
        .command("script")
        .args([
            "-qec",
            &format!("{} {args} --wait-timeout 90", binary.display()),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), answers.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn on_a_terminal_restore_says_what_it_replaces_and_acts_only_on_yes() {
    let it = instance(Scenario::new(), &[]);
    let old = it.push("in the backup");
    let id = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let newer = it.push("after the backup");
    let started = it.started();
    let backups = it.world.backup_names(1);
    let args = format!("{} {} --backup {id}", it.container, it.dir());
    let (code, screen) = on_a_terminal(&it, &args, "no\n");
    assert_ne!(code, 0, "{screen}");
    for told in [
        id.as_str(),
        "ago",
        "last changed",
        it.volumes().to_str().unwrap(),
        "Restore?",
    ] {
        assert!(
            screen.contains(told),
            "`{told}` not on the screen: {screen}"
        );
    }
    assert!(screen.contains("nothing was changed"), "{screen}");
    assert_eq!(it.started(), started);
    assert_eq!(remote_head(&it.project()), newer);
    assert_eq!(it.world.backup_names(1), backups);
    // An empty answer is no as well.
    let (code, _) = on_a_terminal(&it, &args, "\n");
    assert_ne!(code, 0);
    assert_eq!(remote_head(&it.project()), newer);
    let (code, screen) = on_a_terminal(&it, &args, "yes\n");
    assert_eq!(code, 0, "{screen}");
    assert_eq!(remote_head(&it.project()), old);
    // --yes on a terminal: no question.
    let (code, screen) = on_a_terminal(&it, &format!("{args} --yes"), "");
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("Restore?"), "{screen}");
}

#[test]
fn a_rollback_after_image_recreates_the_container_from_the_image_it_ran() {
    let it = instance(
        Scenario::new(),
        &["--image", "girofle-gitlab-standin:17.6.0"],
    );
    let head = it.push("on 17.6.0");
    let id = it.backup();
    // A legacy backup (no MANIFEST) whose database is torn: the restored
    // GitLab never becomes healthy.
    let backups = it.world.instance_dir(1).join("bckups");
    let legacy = "25-11-2025-time-14h-30m-00s";
    fs::rename(backups.join(&id), backups.join(legacy)).unwrap();
    fs::remove_file(backups.join(legacy).join("MANIFEST")).unwrap();
    fs::write(
        backups.join(legacy).join("data/postgresql/data/base/4"),
        "gen 999999\nx\nend 999999\n",
    )
    .unwrap();
    // The inventory names another image than the one the container runs
    // (a row written by hand, or an image changed outside Girofle).
    let inventory = fs::read_to_string(it.world.inventory()).unwrap();
    assert!(inventory.contains("girofle-gitlab-standin:17.6.0"));
    fs::write(
        it.world.inventory(),
        inventory.replace("girofle-gitlab-standin:17.6.0", common::STANDIN_IMAGE),
    )
    .unwrap();
    let dir = it.dir();
    let run = it.world.run(
        "girofle-restore",
        &[
            &it.container,
            &dir,
            "--backup",
            legacy,
            "--image",
            common::STANDIN_IMAGE,
            "--wait-timeout",
            "8",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("put back"), "{}", run.stderr);
    let image = docker(&["inspect", "--format", "{{.Config.Image}}", &it.container]);
    assert_eq!(image.trim(), "girofle-gitlab-standin:17.6.0");
    wait_healthy(&it.container);
    assert_eq!(remote_head(&it.project()), head);
    assert!(it.taken_before_restore().is_empty());
}

/// The `main` of the test repository in a tree holding `data/`.
fn head_in(tree: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["-c", "safe.directory=*", "--git-dir"])
        .arg(tree.join("data/git-data/repositories/grp/app.git"))
        .args(["rev-parse", "refs/heads/main"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn a_restore_killed_at_any_instant_never_loses_the_data_it_replaces() {
    let it = instance(Scenario::new(), &[]);
    let old = it.push("in the backup");
    let id = it.backup();
    let full = {
        let start = std::time::Instant::now();
        it.restore(&["--backup", &id]).expect_code(0);
        start.elapsed()
    };
    let backups = it.world.instance_dir(1).join("bckups");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    for round in 0..6 {
        wait_healthy(&it.container);
        let live = it.push(&format!("round {round}"));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % (full.as_micros() as u64 + 1));
        let mut child = it
            .world
            .command("girofle-restore")
            .args([&it.container, &it.dir(), "--backup", &id])
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        // The guardian, or else the next command, finishes what the killed
        // restore left: wait until nothing hidden remains.
        common::eventually(Duration::from_secs(30), || {
            it.world.run("girofle-list", &[]).expect_code(0);
            let hidden = it.world.backup_names(1).iter().any(|n| n.starts_with('.'));
            let beside = common::sorted_names(&it.world.instance_dir(1))
                .iter()
                .any(|name| name.starts_with("mapping-volumes."));
            !hidden && !beside
        });
        wait_healthy(&it.container);
        let now = remote_head(&it.project());
        assert!(now == live || now == old, "round {round}: unknown history");
        if now == old {
            let kept: Vec<String> = it
                .taken_before_restore()
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| head_in(&backups.join(name)).as_deref() == Some(live.as_str()))
                .collect();
            assert_eq!(
                kept.len(),
                1,
                "round {round} ({delay:?}): the replaced data (at {live}) is not kept: {:?}",
                it.world.backup_names(1)
            );
            it.world
                .run("girofle-backup", &["--verify", "1", "--backup", &kept[0]])
                .expect_code(0);
        }
        let hidden: Vec<String> = it
            .world
            .backup_names(1)
            .into_iter()
            .filter(|name| name.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "round {round}: {hidden:?}");
        let beside = common::sorted_names(&it.world.instance_dir(1));
        assert!(
            !beside
                .iter()
                .any(|name| name.starts_with("mapping-volumes.")),
            "round {round}: {beside:?}"
        );
    }
}
