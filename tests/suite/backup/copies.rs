//! Exact, incremental, verified copies, bounded by space and retention, safe under kill -9.

use super::*;

#[test]
fn a_backup_is_an_exact_copy_with_its_manifest() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 2);
    push_commit(
        &work.path().join("app"),
        &format!("{url}/grp/app.git"),
        "pushed",
    );

    // Everything cp -a keeps: a symlink, a hard link, a FIFO, an empty
    // directory, a sticky bit, odd owners and an old mtime.
    let data = world.instance_dir(1).join("mapping-volumes/data");
    fs::create_dir_all(data.join("odd/empty")).unwrap();
    fs::write(data.join("odd/file"), "content").unwrap();
    std::os::unix::fs::symlink("../gitlab-rails/VERSION", data.join("odd/link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", data.join("odd/dangling")).unwrap();
    fs::hard_link(data.join("odd/file"), data.join("odd/alias")).unwrap();
    Command::new("mkfifo")
        .arg(data.join("odd/pipe"))
        .status()
        .unwrap();
    Command::new("chmod")
        .args(["1777", data.join("odd/empty").to_str().unwrap()])
        .status()
        .unwrap();
    Command::new("chown")
        .args(["-h", "1234:5678", data.join("odd/file").to_str().unwrap()])
        .status()
        .unwrap();
    Command::new("touch")
        .args([
            "-h",
            "-d",
            "2001-02-03 04:05:06",
            data.join("odd/link").to_str().unwrap(),
        ])
        .status()
        .unwrap();

    let id = world.backup(1, &[]);
    let copy = world.instance_dir(1).join("bckups").join(&id).join("data");
    let meta = |p: &std::path::Path| fs::symlink_metadata(p).unwrap();
    for relative in [
        "git-data",
        "git-data/repositories/grp/app.git",
        "postgresql",
        "odd/empty",
        "odd/file",
        "odd/link",
        "odd/pipe",
    ] {
        let (a, b) = (meta(&data.join(relative)), meta(&copy.join(relative)));
        assert_eq!(
            (a.mode(), a.uid(), a.gid()),
            (b.mode(), b.uid(), b.gid()),
            "{relative}"
        );
        if relative != "postgresql" && relative != "git-data" {
            assert_eq!(
                (a.mtime(), a.mtime_nsec()),
                (b.mtime(), b.mtime_nsec()),
                "{relative}"
            );
        }
    }
    assert_eq!(meta(&copy.join("git-data")).mode() & 0o7777, 0o2770);
    assert_eq!(
        fs::read_link(copy.join("odd/dangling")).unwrap(),
        std::path::Path::new("/nonexistent/target")
    );
    assert_eq!(
        meta(&copy.join("odd/alias")).ino(),
        meta(&copy.join("odd/file")).ino()
    );
    assert!(
        copy.join("config/gitlab-secrets.json").exists()
            || world
                .instance_dir(1)
                .join("bckups")
                .join(&id)
                .join("config/gitlab-secrets.json")
                .exists()
    );

    let text = manifest(&world, 1, &id);
    for line in [
        format!("id: {id}"),
        "instance: 1".to_string(),
        format!("container: {}-gitlab-1", world.prefix),
        "consistency: pause".to_string(),
        "consistent: yes".to_string(),
        format!("image: {}", common::STANDIN_IMAGE),
        "gitlab_version: 17.5.1".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no `{line}` in MANIFEST:\n{text}"
        );
    }
    assert!(text.contains("image_id: sha256:"));
    assert!(text.lines().any(|l| l.starts_with("stop_window_ms: ")));
    assert!(
        text.lines()
            .any(|l| l.starts_with("file\t600\t0\t0\t")
                && l.ends_with("\tconfig/gitlab-secrets.json")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("symlink\t") && l.ends_with("\tdata/odd/link"))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("fifo\t") && l.ends_with("\tdata/odd/pipe"))
    );
    assert!(
        !world
            .backup_names(1)
            .iter()
            .any(|n| n.starts_with(".partial"))
    );

    // The container is back to running, and how long it was frozen was logged.
    assert_eq!(status(&format!("{}-gitlab-1", world.prefix)), "running");
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(
        log.contains(&format!("backed up as {id} (pause,"))
            && log.contains("stop window")
            && log.contains("never restarted"),
        "{log}"
    );
    world
        .run("girofle-backup", &["--verify", "1"])
        .expect_code(0);
}

#[test]
fn a_second_backup_hard_links_what_did_not_change_and_a_stopped_instance_stays_stopped() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    docker(&["stop", &container]);
    let first = world.backup(1, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    let second = world.backup(1, &[]);
    assert_eq!(
        status(&container),
        "exited",
        "a stopped instance must stay stopped"
    );
    let root = world.instance_dir(1).join("bckups");
    let mut files = 0;
    for entry in walk(&root.join(&second)) {
        let relative = entry.strip_prefix(root.join(&second)).unwrap();
        let metadata = fs::symlink_metadata(&entry).unwrap();
        if metadata.is_file() && relative != std::path::Path::new("MANIFEST") {
            let earlier = fs::symlink_metadata(root.join(&first).join(relative)).unwrap();
            assert_eq!(
                metadata.ino(),
                earlier.ino(),
                "{} was copied again",
                relative.display()
            );
            files += 1;
        }
    }
    assert!(files > 10, "only {files} files");

    // A changed file is a new copy; the older backup keeps its content.
    let secrets = world
        .instance_dir(1)
        .join("mapping-volumes/config/gitlab-secrets.json");
    let original = fs::read(&secrets).unwrap();
    fs::write(&secrets, "{\"changed\": true}\n").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let third = world.backup(1, &[]);
    let inode = |id: &str| {
        fs::metadata(root.join(id).join("config/gitlab-secrets.json"))
            .unwrap()
            .ino()
    };
    assert_ne!(inode(&third), inode(&second));
    assert_eq!(
        fs::read(root.join(&second).join("config/gitlab-secrets.json")).unwrap(),
        original
    );
}

#[test]
fn live_backups_say_they_are_not_consistent_and_retention_keeps_the_newest() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let live = world.backup(1, &["--consistency", "live"]);
    assert!(manifest(&world, 1, &live).contains("consistent: no"));
    let mut ids = vec![live];
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1100));
        ids.push(world.backup(1, &["--consistency", "pause", "--keep-last", "2"]));
    }
    assert_eq!(world.backup_names(1), ids[2..].to_vec());
    let pause = manifest(&world, 1, &ids[3]);
    assert!(pause.contains("consistency: pause") && pause.contains("consistent: yes"));
    // girofle.conf holds the default.
    fs::write(
        world.home.join("girofle.conf"),
        "[retention]\nkeep_last = 1\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let last = world.backup(1, &[]);
    assert_eq!(world.backup_names(1), vec![last]);
    // A bad value is refused with its line, and nothing is made.
    fs::write(
        world.home.join("girofle.conf"),
        "[retention]\n\nkeep_last = \"many\"\n",
    )
    .unwrap();
    let run = world.run("girofle-backup", &["1"]).expect_code(2);
    assert!(
        run.stderr.contains("girofle.conf: line 3"),
        "{}",
        run.stderr
    );
    world
        .run("girofle-backup", &["1", "--keep-last", "0"])
        .expect_code(2);
}

#[test]
fn verify_reports_a_removed_file_and_a_flipped_byte() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 1);
    push_commit(
        &work.path().join("app"),
        &format!("{url}/grp/app.git"),
        "pushed",
    );
    let id = world.backup(1, &[]);
    world
        .run("girofle-backup", &["--verify", "1", "--backup", &id])
        .expect_code(0);
    let backup = world.instance_dir(1).join("bckups").join(&id);
    let secrets = backup.join("config/gitlab-secrets.json");
    let mut bytes = fs::read(&secrets).unwrap();
    bytes[10] ^= 0x01;
    let mtime = fs::metadata(&secrets).unwrap().modified().unwrap();
    fs::write(&secrets, &bytes).unwrap();
    fs::File::options()
        .write(true)
        .open(&secrets)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fs::remove_file(backup.join("data/gitlab-rails/VERSION")).unwrap();
    let run = world
        .run("girofle-backup", &["--verify", "1"])
        .expect_code(1);
    assert!(
        run.stdout
            .contains("changed: config/gitlab-secrets.json (content)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("missing: data/gitlab-rails/VERSION"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_requests_are_refused_with_exit_2() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world.commission(&["gone", "--ip", &ip, "--hostname", &ip]);
    world
        .run("girofle-decommission", &["gone", "--no-backup"])
        .expect_code(0);
    for (args, expected) in [
        (vec!["7"], "no instance `7`"),
        (vec!["gone"], "decommissioned"),
        (vec![], "name an instance"),
        (vec!["1", "--all"], "not both"),
        (
            vec!["--verify", "1", "--backup", "nonsense"],
            "not a backup ID",
        ),
    ] {
        let run = world.run("girofle-backup", &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    assert!(world.backup_names(1).is_empty());
}

#[test]
fn all_backs_up_every_instance_and_a_locked_instance_is_reported() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let run = world.run("girofle-backup", &["--all"]).expect_code(0);
    assert_eq!(run.stdout.lines().count(), 2);

    // Someone else holds instance 2: instance 1 is done, 2 is reported, exit 3.
    let lock = fs::File::options()
        .write(true)
        .open(world.instance_dir(2).join(".girofle.lock"))
        .unwrap();
    lock.lock().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let run = world.run("girofle-backup", &["--all", "--lock-timeout", "1"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1);
    assert!(
        run.stderr.contains("is busy: held by girofle-backup"),
        "{}",
        run.stderr
    );
    drop(lock);
}

#[test]
fn a_full_disk_fails_cleanly_and_keeps_earlier_backups() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    let backups = world.instance_dir(1).join("bckups");
    let started = || docker(&["inspect", "--format", "{{.State.StartedAt}}", &container]);

    // Too little room for what must be copied: refused before anything is stopped.
    let mount = |options: &str| {
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                options,
                "tmpfs",
                backups.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    let unmount = || {
        Command::new("umount")
            .arg(backups.to_str().unwrap())
            .status()
            .unwrap();
    };
    mount("size=1m,mode=700");
    let before = started();
    let run = world.run("girofle-backup", &["1"]);
    unmount();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("not enough space"), "{}", run.stderr);
    assert_eq!(
        started(),
        before,
        "the container was stopped although the space check failed"
    );

    // Room for the bytes but not for the files: ENOSPC mid-copy. The partial
    // goes, the container runs again, the earlier backup is intact.
    // Inodes for one full copy and a few more: the second backup's
    // directories cannot all be made.
    let entries = walk(&world.instance_dir(1).join("mapping-volumes")).len();
    mount(&format!("size=64m,nr_inodes={},mode=700", entries + 6));
    let first = world.run("girofle-backup", &["1", "--consistency", "live"]);
    let names_before = world.backup_names(1);
    let run = world.run("girofle-backup", &["1"]);
    let names_after = world.backup_names(1);
    assert_eq!(
        first.code, 0,
        "the first backup should fit: {}",
        first.stderr
    );
    let verify = world.run("girofle-backup", &["--verify", "1"]);
    unmount();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("out of space") || run.stderr.contains("No space left"),
        "{}",
        run.stderr
    );
    assert_eq!(
        names_after, names_before,
        "a partial was left, or a backup vanished"
    );
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    wait_healthy(&container);
}

#[test]
fn a_backup_killed_at_any_instant_leaves_no_partial_and_the_next_command_restarts_gitlab() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    // Spread the kills over a run: first pass, stop window, manifest.
    let full_run = {
        let start = std::time::Instant::now();
        world.backup(1, &[]);
        start.elapsed()
    };
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % (full_run.as_micros() as u64 + 1));
        let mut child = world.command("girofle-backup").arg("1").spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        // Never a visible partial: every name that looks complete verifies.
        for name in world.backup_names(1) {
            if !name.starts_with('.') {
                let run = world.run("girofle-backup", &["--verify", "1", "--backup", &name]);
                assert_eq!(
                    run.code, 0,
                    "round {round} ({delay:?}): {name} is not whole: {}",
                    run.stdout
                );
            }
        }
        world.run("girofle-list", &[]).expect_code(0);
        // girofle-list restarts it, or the killed run's guardian already
        // has (or is doing it, holding the lock: then list leaves it be).
        let start = std::time::Instant::now();
        while status(&container) != "running" && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            status(&container),
            "running",
            "round {round} ({delay:?}): neither girofle-list nor the guardian restarted GitLab"
        );
        let start = std::time::Instant::now();
        while world
            .backup_names(1)
            .iter()
            .any(|n| n.starts_with(".partial"))
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            !world
                .backup_names(1)
                .iter()
                .any(|n| n.starts_with(".partial")),
            "round {round}: partial left after recovery"
        );
        std::thread::sleep(Duration::from_millis(1000));
    }
    wait_healthy(&container);
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(
        log.contains("recovery"),
        "no recovery was ever logged:\n{log}"
    );
}
