//! Restores that bring back exactly what was backed up, roll back when GitLab is not healthy, check their arguments and versions, and survive kill -9.

use super::*;

#[test]
fn a_restore_brings_back_exactly_the_backed_up_commits_secrets_and_metadata() {
    let it = instance_with_history();
    let project = format!("{}/grp/app.git", it.url);
    let wiki = format!("{}/grp/app.wiki.git", it.url);
    let first = push_commit(&it.app(), &project, "first");
    push_commit(&it.app(), &wiki, "wiki first");
    let first_wiki = remote_head(&wiki);
    assert_eq!(remote_head(&project), first);
    let id = it.world.backup(1, &[]);
    let backup = it.world.instance_dir(1).join("bckups").join(&id);
    let secrets_then = fs::read(it.secrets()).unwrap();

    std::thread::sleep(Duration::from_millis(1100));
    let second = push_commit(&it.app(), &project, "second");
    push_commit(&it.app(), &wiki, "wiki second");
    assert_eq!(remote_head(&project), second);
    fs::write(it.secrets(), "{\"rotated\": true}\n").unwrap();

    let run = it
        .world
        .run(
            "girofle-restore",
            &[
                &it.container,
                &it.dir(),
                "--backup",
                &id,
                "--wait-timeout",
                "120",
            ],
        )
        .expect_code(0);
    assert_eq!(run.stdout.trim(), id);
    assert_eq!(remote_head(&project), first);
    assert_eq!(remote_head(&wiki), first_wiki);
    assert_eq!(fs::read(it.secrets()).unwrap(), secrets_then);
    let volumes = it.world.instance_dir(1).join("mapping-volumes");
    for relative in [
        "config/gitlab-secrets.json",
        "data/git-data",
        "data/git-data/repositories/grp/app.git",
        "data/postgresql",
    ] {
        let (restored, saved) = (
            fs::symlink_metadata(volumes.join(relative)).unwrap(),
            fs::symlink_metadata(backup.join(relative)).unwrap(),
        );
        assert_eq!(
            (restored.uid(), restored.gid(), restored.mode()),
            (saved.uid(), saved.gid(), saved.mode()),
            "{relative}"
        );
        if relative.ends_with(".json") {
            assert_eq!(restored.mtime(), saved.mtime(), "{relative}");
        }
    }
    let git_data = fs::metadata(volumes.join("data/git-data")).unwrap();
    assert_eq!((git_data.uid(), git_data.mode() & 0o7777), (998, 0o2770));
    let postgresql = fs::metadata(volumes.join("data/postgresql")).unwrap();
    assert_eq!((postgresql.uid(), postgresql.mode() & 0o7777), (996, 0o700));
    // Nothing is left beside the volumes, and the backup was not touched by the restore.
    assert!(
        !it.world
            .instance_dir(1)
            .join("mapping-volumes.restoring")
            .exists()
    );
    it.world
        .run("girofle-backup", &["--verify", "1", "--backup", &id])
        .expect_code(0);
    assert_eq!(status(&it.container), "running");
}

#[test]
fn stop_and_pause_backups_restore_to_a_healthy_instance() {
    let it = instance_with_history();
    push_commit(&it.app(), &format!("{}/grp/app.git", it.url), "x");
    for mode in ["stop", "pause"] {
        // The stand-in writes its database all along: the copy must be consistent.
        let id = it.world.backup(1, &["--consistency", mode]);
        std::thread::sleep(Duration::from_millis(1100));
        it.world
            .run(
                "girofle-restore",
                &[
                    &it.container,
                    &it.dir(),
                    "--backup",
                    &id,
                    "--wait-timeout",
                    "60",
                    "--keep-previous",
                ],
            )
            .expect_code(0);
        wait_healthy(&it.container);
        let log = fs::read_to_string(
            it.world
                .instance_dir(1)
                .join("mapping-volumes/log/postgresql/current"),
        )
        .unwrap();
        assert!(
            log.lines()
                .last()
                .unwrap()
                .starts_with("recover: redo done: consistent"),
            "{mode}: {log}"
        );
    }
    // The data each restore replaced is kept as a backup of its own
    // (`--keep-previous` is now what always happens, and a no-op).
    let kept: Vec<String> = it
        .world
        .backup_names(1)
        .into_iter()
        .filter(|name| {
            fs::read_to_string(
                it.world
                    .instance_dir(1)
                    .join("bckups")
                    .join(name)
                    .join("MANIFEST"),
            )
            .is_ok_and(|manifest| manifest.contains("\ntaken_before_restore: "))
        })
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
}

#[test]
fn a_restore_that_does_not_come_up_healthy_puts_the_previous_data_back() {
    let it = instance_with_history();
    let project = format!("{}/grp/app.git", it.url);
    push_commit(&it.app(), &project, "first");
    let id = it.world.backup(1, &[]);
    // A backup made the legacy way (no MANIFEST, legacy name) whose database
    // is torn, as the old scripts' live copies could be.
    let backups = it.world.instance_dir(1).join("bckups");
    let legacy = "25-11-2025-time-14h-30m-00s";
    fs::rename(backups.join(&id), backups.join(legacy)).unwrap();
    fs::remove_file(backups.join(legacy).join("MANIFEST")).unwrap();
    fs::write(
        backups.join(legacy).join("data/postgresql/data/base/4"),
        "gen 999999\nx\nend 999999\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let second = push_commit(&it.app(), &project, "second");
    let run = it.world.run(
        "girofle-restore",
        &[
            &it.container,
            &it.dir(),
            "--backup",
            legacy,
            "--wait-timeout",
            "8",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("previous volumes were put back"),
        "{}",
        run.stderr
    );
    wait_healthy(&it.container);
    assert_eq!(
        remote_head(&project),
        second,
        "the previous data is not back"
    );
    assert!(
        !it.world
            .instance_dir(1)
            .join("mapping-volumes.restoring")
            .exists()
    );
}

#[test]
fn restore_arguments_are_checked_as_the_seed_did() {
    let it = instance_with_history();
    let dir = it.dir();
    // No backup yet.
    let run = it
        .world
        .run("girofle-restore", &[&it.container, &dir])
        .expect_code(2);
    assert!(run.stderr.contains("no complete backup"), "{}", run.stderr);
    let id = it.world.backup(1, &[]);
    let empty = tempfile::tempdir().unwrap();
    let no_volumes = empty.path().display().to_string();
    for (args, expected) in [
        (vec![it.container.as_str()], "Usage:"),
        (vec![], "asks on a terminal only"),
        (
            vec!["no-such-container", dir.as_str()],
            "unknown to `docker ps -a`",
        ),
        (
            vec![it.container.as_str(), "/nonexistent/dir"],
            "does not exist",
        ),
        (
            vec![it.container.as_str(), no_volumes.as_str()],
            "has no mapping-volumes",
        ),
        (
            vec![
                it.container.as_str(),
                dir.as_str(),
                "--backup",
                "2001-01-01T00-00-00Z",
            ],
            "no complete backup `2001-01-01T00-00-00Z`",
        ),
    ] {
        let run = it.world.run("girofle-restore", &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    // A backup with a flipped byte or a removed file is refused, and nothing changes.
    let backup = it.world.instance_dir(1).join("bckups").join(&id);
    let volumes_before = fs::read(it.secrets()).unwrap();
    let started = docker(&["inspect", "--format", "{{.State.StartedAt}}", &it.container]);
    let rails = backup.join("data/gitlab-rails/VERSION");
    let mtime = fs::metadata(&rails).unwrap().modified().unwrap();
    fs::write(&rails, "17.5.2\n").unwrap();
    fs::File::options()
        .write(true)
        .open(&rails)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let run = it
        .world
        .run("girofle-restore", &[&it.container, &dir])
        .expect_code(2);
    assert!(
        run.stderr.contains("does not match its MANIFEST")
            && run.stderr.contains("gitlab-rails/VERSION"),
        "{}",
        run.stderr
    );
    fs::remove_file(&rails).unwrap();
    let run = it
        .world
        .run("girofle-restore", &[&it.container, &dir])
        .expect_code(2);
    assert!(
        run.stderr.contains("missing: data/gitlab-rails/VERSION"),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read(it.secrets()).unwrap(), volumes_before);
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.StartedAt}}", &it.container]),
        started
    );
    // The root directory is no instance directory.
    let run = it
        .world
        .run("girofle-restore", &[&it.container, "--backup", &id, "/"]);
    assert_eq!(run.code, 2);
}

#[test]
fn a_backup_of_another_gitlab_version_needs_image_and_is_then_restored() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
    world.commission(&[
        "newer",
        "--ip",
        &ip,
        "--hostname",
        &ip,
        "--image",
        "girofle-gitlab-standin:17.6.0",
    ]);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 1);
    let head = push_commit(
        &work.path().join("app"),
        &format!("{url}/grp/app.git"),
        "on 17.5.1",
    );
    let id = world.backup(1, &[]);
    // Move the backup to instance 2 (as a copy between hosts would).
    let target = world.instance_dir(2).join("bckups").join(&id);
    assert!(
        std::process::Command::new("cp")
            .args([
                "-a",
                world
                    .instance_dir(1)
                    .join("bckups")
                    .join(&id)
                    .to_str()
                    .unwrap(),
                target.to_str().unwrap()
            ])
            .status()
            .unwrap()
            .success()
    );
    let container = format!("{}-gitlab-2-newer", world.prefix);
    let dir = world.instance_dir(2).display().to_string();
    let run = world
        .run("girofle-restore", &[&container, &dir])
        .expect_code(2);
    assert!(
        run.stderr.contains("GitLab 17.5.1")
            && run.stderr.contains("runs GitLab 17.6.0")
            && run.stderr.contains("--image"),
        "{}",
        run.stderr
    );
    let run = world
        .run(
            "girofle-restore",
            &[&container, &dir, "--image", "girofle-gitlab-standin:17.6.0"],
        )
        .expect_code(2);
    assert!(run.stderr.contains("runs GitLab 17.6.0"), "{}", run.stderr);
    world
        .run(
            "girofle-restore",
            &[
                &container,
                &dir,
                "--image",
                common::STANDIN_IMAGE,
                "--wait-timeout",
                "60",
            ],
        )
        .expect_code(0);
    let entry = world.entry(2);
    assert_eq!(entry["image"], common::STANDIN_IMAGE);
    assert_eq!(entry["health"], "healthy");
    let new_url = entry["url"].as_str().unwrap().to_string();
    assert_eq!(remote_head(&format!("{new_url}/grp/app.git")), head);
    let labels = docker(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"girofle.instance\"}}",
        &container,
    ]);
    assert_eq!(labels.trim(), "2");
}

#[test]
fn a_restore_killed_at_any_instant_ends_on_the_old_or_the_new_data_never_a_mix() {
    let it = instance_with_history();
    let project = format!("{}/grp/app.git", it.url);
    let old_head = push_commit(&it.app(), &project, "backed up");
    let id = it.world.backup(1, &[]);
    let old_secrets = fs::read(it.secrets()).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let new_head = push_commit(&it.app(), &project, "after the backup");
    // The container must be stopped for the secrets to stay as written.
    docker(&["stop", &it.container]);
    fs::write(it.secrets(), "{\"current\": true}\n").unwrap();
    docker(&["start", &it.container]);
    wait_healthy(&it.container);
    let full = {
        let start = std::time::Instant::now();
        it.world
            .run(
                "girofle-restore",
                &[&it.container, &it.dir(), "--backup", &id, "--keep-previous"],
            )
            .expect_code(0);
        start.elapsed()
    };
    // The kills interrupt restores of the backup over the current data.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d ^ std::process::id() as u64;
    for round in 0..10 {
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
        it.world.run("girofle-list", &[]).expect_code(0);
        // girofle-list recovers, or the killed run's guardian already does
        // (holding the lock: then list leaves it be): wait for it to end.
        let start = std::time::Instant::now();
        while (it.world.instance_dir(1).join(".girofle-restore").exists()
            || it
                .world
                .instance_dir(1)
                .join(".girofle-container-state")
                .exists())
            && start.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        wait_healthy(&it.container);
        let head = remote_head(&project);
        let secrets = fs::read(it.secrets()).unwrap();
        let is_mix = (head == old_head) != (secrets == old_secrets);
        assert!(
            !is_mix,
            "round {round} ({delay:?}): a mix of old and new data"
        );
        assert!(
            head == old_head || head == new_head,
            "round {round}: unknown history {head}"
        );
        assert!(
            !it.world
                .instance_dir(1)
                .join("mapping-volumes.restoring")
                .exists(),
            "round {round}"
        );
    }
    assert!(
        !Path::new(
            &it.world
                .instance_dir(1)
                .join("mapping-volumes")
                .join(".girofle-restored-from")
        )
        .exists()
    );
}
