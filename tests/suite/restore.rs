//! girofle-restore and girofle-decommission against a real engine.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use common::{
    Scenario, docker, fresh_ip, make_repository, push_commit, remote_head, status, wait_healthy,
};

struct Instance {
    world: Scenario,
    url: String,
    container: String,
    work: tempfile::TempDir,
}

fn instance_with_history() -> Instance {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 2);
    Instance {
        world,
        url,
        container,
        work,
    }
}

impl Instance {
    fn app(&self) -> std::path::PathBuf {
        self.work.path().join("app")
    }
    fn dir(&self) -> String {
        self.world.instance_dir(1).display().to_string()
    }
    fn secrets(&self) -> std::path::PathBuf {
        self.world
            .instance_dir(1)
            .join("mapping-volumes/config/gitlab-secrets.json")
    }
}

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

#[test]
fn decommission_takes_a_final_backup_and_keeps_the_data() {
    let it = instance_with_history();
    push_commit(&it.app(), &format!("{}/grp/app.git", it.url), "last words");
    let run = it.world.run("girofle-decommission", &["1"]).expect_code(0);
    let id = run.stdout.trim();
    assert!(
        it.world
            .instance_dir(1)
            .join("bckups")
            .join(id)
            .join("MANIFEST")
            .exists()
    );
    assert!(
        it.world.containers().is_empty(),
        "the container is still there"
    );
    assert!(
        !it.world
            .cron_dir
            .join(format!("{}-gitlab-1", it.world.prefix))
            .exists()
    );
    assert!(
        it.world
            .instance_dir(1)
            .join("mapping-volumes/data/git-data/repositories/grp/app.git")
            .is_dir()
    );
    let listed = it
        .world
        .run("girofle-list", &["--format", "json"])
        .expect_code(0);
    assert_eq!(listed.stdout.trim(), "[]");
    let entry = it.world.entry(1);
    assert_eq!(entry["state"], "decommissioned");
    assert_eq!(entry["last_backup"], id);
    assert!(entry["note"].as_str().unwrap().contains(&it.dir()));
    let run = it.world.run("girofle-decommission", &["1"]).expect_code(2);
    assert!(run.stderr.contains("decommissioned"));
}

#[test]
fn without_arguments_on_a_terminal_it_asks_for_container_directory_and_backup() {
    let it = instance_with_history();
    let project = format!("{}/grp/app.git", it.url);
    let first = push_commit(&it.app(), &project, "first");
    let id = it.world.backup(1, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    push_commit(&it.app(), &project, "second");
    // `script` gives the binary a terminal; the answers come through it.
    let binary = common::binary_path("girofle-restore");
    // The last answer is to the question every restore on a terminal asks.
    let answers = format!("{}\n{}\n\nyes\n", it.container, it.dir());
    let mut child = it
        .world
        .command("script")
        .args([
            "-qec",
            &format!("{} --wait-timeout 60", binary.display()),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), answers.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains("Container to restore into"), "{screen}");
    assert!(
        screen.contains(&format!("Backup to restore [{id}]")),
        "{screen}"
    );
    assert!(screen.contains("replaces the current data"), "{screen}");
    assert_eq!(remote_head(&project), first);
}

/// The names under `root`, but for the live volumes (GitLab writes there
/// all the time) and the log (a refusal is logged), with the content of
/// every file outside the backups.
fn everything_but_live_data(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if name.ends_with("girofle.log") {
                continue;
            }
            let kind = entry.file_type().unwrap();
            let content = (kind.is_file() && !name.contains("bckups/"))
                .then(|| fs::read(&path).unwrap_or_default());
            found.push((name.clone(), content));
            if kind.is_dir() && !name.ends_with("mapping-volumes") && !name.ends_with("bckups") {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let it = instance_with_history();
    let id = it.world.backup(1, &[]);
    let dir = it.dir();
    let before = everything_but_live_data(&it.world.home);
    let cron_before = everything_but_live_data(&it.world.cron_dir);
    let backups_before = it.world.backup_names(1);
    let started = docker(&["inspect", "--format", "{{.State.StartedAt}}", &it.container]);

    let text = it
        .world
        .run("girofle-restore", &[&it.container, &dir, "--dry-run"])
        .expect_code(0);
    assert!(
        text.stdout.contains("replaces the current data"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!(" copy backup {id} into ")),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("(it is running)"), "{}", text.stdout);
    let json = it
        .world
        .run(
            "girofle-restore",
            &[&it.container, &dir, "--dry-run", "--format", "json"],
        )
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(document["operation"], "restore");
    assert_eq!(document["dry_run"], true);
    assert_eq!(document["plan"]["backup"], id.as_str());
    assert_eq!(document["plan"]["version"]["result"], "same_image");
    // Refused as a real run refuses it.
    let refused = it
        .world
        .run(
            "girofle-restore",
            &[
                &it.container,
                &dir,
                "--backup",
                "2001-01-01T00-00-00Z",
                "--dry-run",
            ],
        )
        .expect_code(2);
    assert!(
        refused
            .stderr
            .contains("no complete backup `2001-01-01T00-00-00Z`")
    );
    // --all: the instance's container is here, so it is left alone.
    let all = it
        .world
        .run(
            "girofle-restore",
            &["--all", "--dry-run", "--format", "json"],
        )
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(document["plan"]["instances"][0]["action"], "left_alone");
    assert_eq!(document["plan"]["state"], serde_json::Value::Null);
    let ip = fresh_ip();
    let planned = it
        .world
        .run(
            "girofle-commission",
            &["docs", "--ip", &ip, "--hostname", &ip, "--dry-run"],
        )
        .expect_code(0);
    assert!(
        planned.stdout.contains("hand out number 2"),
        "{}",
        planned.stdout
    );
    assert!(
        planned
            .stdout
            .contains(&format!("{}-gitlab-2-docs", it.world.prefix)),
        "{}",
        planned.stdout
    );

    assert_eq!(everything_but_live_data(&it.world.home), before);
    assert_eq!(everything_but_live_data(&it.world.cron_dir), cron_before);
    assert_eq!(it.world.backup_names(1), backups_before);
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.StartedAt}}", &it.container]),
        started
    );
    assert_eq!(status(&it.container), "running");
    let containers = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={}-gitlab-2", it.world.prefix),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(containers.trim(), "");
}
