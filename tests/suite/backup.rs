//! girofle-backup against a real engine: exact, incremental, consistent,
//! verified, bounded by space and retention, safe under kill -9.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use common::{Scenario, docker, fresh_ip, make_repository, push_commit, status, wait_healthy};

fn manifest(world: &Scenario, number: u32, id: &str) -> String {
    fs::read_to_string(
        world
            .instance_dir(number)
            .join("bckups")
            .join(id)
            .join("MANIFEST"),
    )
    .unwrap()
}

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

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out
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

// ---- Issue 21: GitLab never restarts for a backup ----

/// The stand-in image the instances of these tests run
/// (`GIROFLE_TEST_STANDIN_IMAGE` names another build to test).
fn standin_image() -> String {
    std::env::var("GIROFLE_TEST_STANDIN_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| common::STANDIN_IMAGE.to_string())
}

/// A world with one instance of the stand-in; its URL and container.
fn one_instance() -> (Scenario, String, String, String) {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip, "--image", &standin_image()]);
    let container = format!("{}-gitlab-1", world.prefix);
    (world, ip, url, container)
}

/// A hard link in the data volume: the change record cannot name every
/// change through it, so the second pass walks every entry, GitLab frozen.
fn make_the_second_pass_walk_everything(world: &Scenario) {
    let data = world.instance_dir(1).join("mapping-volumes/data");
    fs::write(data.join("twice-named"), "one file, two names\n").unwrap();
    fs::hard_link(data.join("twice-named"), data.join("twice-named-too")).unwrap();
}

/// What users saw: each request, when it began and ended, and how it failed.
#[derive(Default)]
struct Seen {
    requests: Vec<(std::time::SystemTime, std::time::SystemTime)>,
    failures: Vec<String>,
}

/// `/-/health` asked once, without retrying: `Ok` only for `200 GitLab OK`.
fn ask_health(ip: &str, url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let port = url.rsplit(':').next().unwrap();
    let address: std::net::SocketAddr = format!("{ip}:{port}").parse().unwrap();
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(30))
        .map_err(|e| format!("health: cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(stream, "GET /-/health HTTP/1.0\r\nHost: {ip}\r\n\r\n")
        .map_err(|e| format!("health: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("health: {e}"))?;
    if answer.starts_with("HTTP/1.")
        && answer.contains(" 200 ")
        && answer.trim_end().ends_with("GitLab OK")
    {
        Ok(())
    } else {
        Err(format!("health: {:?}", answer.lines().next().unwrap_or("")))
    }
}

/// git, once, without retrying; its stderr when it fails.
fn git_once(dir: &std::path::Path, args: &[&str]) -> Result<(), String> {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=User",
            "-c",
            "user.email=user@girofle.invalid",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "git {}: {}",
            args[0],
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// People at work while `during` runs: one pushes commits, one clones, one
/// asks `/-/health` every 50 ms, each request once (no retry), from before
/// `during` starts until a second after it ends. What they saw.
fn users_at_work<T>(ip: &str, url: &str, project: &str, during: impl FnOnce() -> T) -> (T, Seen) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;
    let work = tempfile::tempdir().unwrap();
    let pusher = work.path().join("pusher");
    make_repository(&pusher, 1);
    let remote = format!("{url}/grp/{project}.git");
    git_once(&pusher, &["push", "--quiet", &remote, "main"]).unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let done = Arc::new(AtomicBool::new(false));
    let record = |seen: &Mutex<Seen>, began: SystemTime, result: Result<(), String>| {
        let mut seen = seen.lock().unwrap();
        seen.requests.push((began, SystemTime::now()));
        if let Err(failure) = result {
            seen.failures.push(failure);
        }
    };
    let result = std::thread::scope(|scope| {
        let (seen_push, done_push) = (seen.clone(), done.clone());
        let (pusher, remote_push) = (pusher.clone(), remote.clone());
        scope.spawn(move || {
            let mut n = 0;
            while !done_push.load(Ordering::SeqCst) {
                n += 1;
                fs::write(pusher.join("README.md"), format!("push {n}\n")).unwrap();
                git_once(&pusher, &["commit", "--quiet", "-am", &format!("push {n}")]).unwrap();
                let began = SystemTime::now();
                let pushed = git_once(&pusher, &["push", "--quiet", &remote_push, "main"]);
                if pushed.is_err() {
                    // Not pushed: the next push carries this commit too.
                }
                record(&seen_push, began, pushed);
            }
        });
        let (seen_clone, done_clone, scratch) = (seen.clone(), done.clone(), work.path());
        let remote_clone = remote.clone();
        scope.spawn(move || {
            let mut n = 0;
            while !done_clone.load(Ordering::SeqCst) {
                n += 1;
                let into = scratch.join(format!("clone-{n}"));
                let began = SystemTime::now();
                let cloned = git_once(
                    scratch,
                    &["clone", "--quiet", &remote_clone, into.to_str().unwrap()],
                );
                record(&seen_clone, began, cloned);
                let _ = fs::remove_dir_all(&into);
            }
        });
        let (seen_health, done_health) = (seen.clone(), done.clone());
        scope.spawn(move || {
            while !done_health.load(Ordering::SeqCst) {
                let began = SystemTime::now();
                record(&seen_health, began, ask_health(ip, url));
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        std::thread::sleep(Duration::from_secs(1));
        let result = during();
        std::thread::sleep(Duration::from_secs(1));
        done.store(true, Ordering::SeqCst);
        result
    });
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (result, seen)
}

/// When the engine says `container` was paused and unpaused between `since` and now.
fn freezes(container: &str, since: &str) -> Vec<(std::time::SystemTime, std::time::SystemTime)> {
    let until = docker(&["system", "info", "--format", "{{.SystemTime}}"]);
    let events = docker(&[
        "events",
        "--since",
        since,
        "--until",
        until.trim(),
        "--filter",
        &format!("container={container}"),
        "--filter",
        "event=pause",
        "--filter",
        "event=unpause",
        "--format",
        "{{.Action}} {{.TimeNano}}",
    ]);
    let at = |nanos: &str| {
        std::time::UNIX_EPOCH + Duration::from_nanos(nanos.trim().parse::<u64>().unwrap())
    };
    let mut frozen = Vec::new();
    let mut since_pause = None;
    for line in events.lines() {
        match line.split_once(' ') {
            Some(("pause", nanos)) => since_pause = Some(at(nanos)),
            Some(("unpause", nanos)) => {
                if let Some(paused) = since_pause.take() {
                    frozen.push((paused, at(nanos)));
                }
            }
            _ => {}
        }
    }
    frozen
}

#[test]
fn nobody_is_refused_during_a_default_backup_and_a_stop_backup_refuses_them() {
    let (world, ip, url, container) = one_instance();
    // A freeze long enough for requests to meet it: the second pass walks
    // every entry of a few thousand files.
    world.fill_data(1, 5_000);
    make_the_second_pass_walk_everything(&world);
    wait_healthy(&container);
    let since = docker(&["system", "info", "--format", "{{.SystemTime}}"])
        .trim()
        .to_string();
    let (run, seen) = users_at_work(&ip, &url, "during-pause", || {
        world.run("girofle-backup", &["1"])
    });
    let run = run.expect_code(0);
    let id = run.stdout.trim();
    let text = manifest(&world, 1, id);
    assert!(text.contains("consistency: pause\n"), "{text}");
    assert!(
        seen.failures.is_empty(),
        "{} of {} requests failed during a default backup: {:?}",
        seen.failures.len(),
        seen.requests.len(),
        seen.failures
    );
    // The users met the freeze: some request began before GitLab was frozen
    // and ended after it was thawed (it waited, it did not fail).
    let frozen = freezes(&container, &since);
    assert_eq!(frozen.len(), 1, "one freeze expected: {frozen:?}");
    let (paused, unpaused) = frozen[0];
    assert!(
        seen.requests
            .iter()
            .any(|(began, ended)| *began <= paused && *ended >= unpaused),
        "no request waited through the freeze ({} requests)",
        seen.requests.len()
    );
    // GitLab never restarted.
    assert!(
        !docker(&[
            "events",
            "--since",
            &since,
            "--until",
            docker(&["system", "info", "--format", "{{.SystemTime}}"]).trim(),
            "--filter",
            &format!("container={container}"),
            "--format",
            "{{.Action}}",
        ])
        .lines()
        .any(|action| action == "stop" || action == "die" || action == "start"),
        "GitLab was restarted by a default backup"
    );

    // The same people during a `stop` backup: what the freeze spares them.
    std::thread::sleep(Duration::from_millis(1100));
    let (run, seen) = users_at_work(&ip, &url, "during-stop", || {
        world.run("girofle-backup", &["1", "--consistency", "stop"])
    });
    run.expect_code(0);
    eprintln!(
        "during a stop backup, {} of {} requests failed: {:?}",
        seen.failures.len(),
        seen.requests.len(),
        seen.failures
    );
    assert!(
        !seen.failures.is_empty(),
        "a stop backup refused nobody: the loop did not reach GitLab's restart"
    );
}

/// Spawns default backups until one is caught with GitLab frozen; then
/// sends it `signal`. The backup's exit status.
fn signal_while_frozen(
    world: &Scenario,
    container: &str,
    signal: nix::sys::signal::Signal,
) -> std::process::Output {
    for _ in 0..5 {
        let mut child = world
            .command("girofle-backup")
            .arg("1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let frozen = common::eventually(Duration::from_secs(120), || {
            status(container) == "paused" || child.try_wait().unwrap().is_some()
        });
        if frozen && child.try_wait().unwrap().is_none() {
            common::send_signal(child.id(), signal);
            return child.wait_with_output().unwrap();
        }
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(1100));
    }
    panic!("no backup was caught with GitLab frozen");
}

#[test]
fn a_signal_or_kill_9_while_gitlab_is_frozen_thaws_it() {
    use nix::sys::signal::Signal;
    let (world, _ip, _url, container) = one_instance();
    // The second pass walks every entry: a freeze long enough to be caught.
    world.fill_data(1, 20_000);
    make_the_second_pass_walk_everything(&world);
    wait_healthy(&container);

    let output = signal_while_frozen(&world, &container, Signal::SIGTERM);
    // Thawed before the process exited, not left to anyone else.
    let at_exit = status(&container);
    assert_eq!(
        output.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(at_exit, "running", "SIGTERM left GitLab {at_exit}");
    assert!(
        output.stdout.is_empty(),
        "an interrupted backup printed an ID"
    );
    let log = world.log_text();
    assert!(
        log.contains("interrupted by SIGTERM") && log.contains(&format!("unpaused {container}")),
        "the log does not say GitLab was thawed:\n{log}"
    );
    wait_healthy(&container);

    // kill -9: no handler runs; the guardian thaws it. A kill that lands
    // just after the backup thawed GitLab itself proves nothing: tried again
    // until one lands inside the freeze, which only the guardian can undo.
    let mut thawed_by_the_guardian = false;
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(1100));
        let before = world.log_text().len();
        signal_while_frozen(&world, &container, Signal::SIGKILL);
        assert!(
            common::eventually(Duration::from_secs(10), || status(&container) == "running"),
            "GitLab is still {} 10 s after kill -9 of a backup that froze it",
            status(&container)
        );
        // The guardian removes the partial copy of 20,000 files after it
        // has thawed GitLab: a while on a loaded machine.
        assert!(
            common::eventually(Duration::from_secs(60), || {
                !world.container_record(1).exists()
                    && !world.backup_names(1).iter().any(|n| n.starts_with('.'))
            }),
            "the guardian left a record or a partial copy: {:?}",
            world.backup_names(1)
        );
        let log = world.log_text()[before..].to_string();
        wait_healthy(&container);
        if log.contains(&format!("unpaused {container}")) {
            assert!(log.contains("guardian"), "{log}");
            thawed_by_the_guardian = true;
            break;
        }
    }
    assert!(
        thawed_by_the_guardian,
        "no kill -9 of five landed while GitLab was frozen"
    );
    wait_healthy(&container);
    // And the next backup is made, frozen and thawed as usual.
    std::thread::sleep(Duration::from_millis(1100));
    let id = world.backup(1, &[]);
    assert!(manifest(&world, 1, &id).contains("consistency: pause\n"));
}

#[test]
fn a_freeze_over_a_full_walk_is_said_and_max_freeze_secs_falls_back_to_stop() {
    let (world, _ip, _url, container) = one_instance();
    make_the_second_pass_walk_everything(&world);
    wait_healthy(&container);

    // No ceiling: GitLab stays frozen while every entry is walked, and the
    // MANIFEST and the log say so, with how long.
    let id = world.backup(1, &[]);
    let text = manifest(&world, 1, &id);
    let value = |text: &str, key: &str| common::manifest_value(text, key).unwrap_or_default();
    assert_eq!(value(&text, "consistency"), "pause");
    assert_eq!(value(&text, "fallback"), "none");
    assert!(
        value(&text, "second_pass_walked").starts_with("every entry ("),
        "{text}"
    );
    let frozen: u64 = value(&text, "frozen_ms").parse().unwrap();
    assert!(frozen > 0, "{text}");
    let log = world.log_text();
    assert!(
        log.contains(&format!("GitLab frozen {frozen} ms, never restarted)"))
            && log.contains("the second pass walked every entry ("),
        "{log}"
    );

    // A ceiling it would pass: GitLab is thawed, that backup stops it
    // instead and says why; the JSON result says so too.
    fs::write(
        world.home.join("girofle.conf"),
        "[girofle]\nmax_freeze_secs = 0\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let run = world
        .run("girofle-backup", &["1", "--format", "json"])
        .expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let entry = &json["instances"][0];
    assert_eq!(entry["consistency"], "stop", "{json}");
    let why = entry["fallback"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("past max_freeze_secs = 0 s"), "{json}");
    let id = entry["backup"].as_str().unwrap();
    let text = manifest(&world, 1, id);
    assert_eq!(value(&text, "consistency"), "stop");
    assert_eq!(value(&text, "consistent"), "yes");
    assert_eq!(value(&text, "fallback"), why);
    assert!(
        world
            .log_text()
            .contains("fell back to stop: GitLab was frozen"),
        "{}",
        world.log_text()
    );
    wait_healthy(&container);
    world
        .run("girofle-backup", &["--verify", "1", "--backup", id])
        .expect_code(0);
}

#[test]
fn paused_backups_taken_under_continuous_pushes_pass_their_drills() {
    let (world, ip, url, container) = one_instance();
    // The database writes all along, every millisecond.
    let volumes = world.instance_dir(1).join("mapping-volumes");
    fs::write(volumes.join("config/standin-db-interval-us"), "1000\n").unwrap();
    docker(&["restart", "--time", "60", &container]);
    wait_healthy(&container);

    let (ids, seen) = users_at_work(&ip, &url, "pushed-during-backups", || {
        (0..2)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(1100));
                world.backup(1, &[])
            })
            .collect::<Vec<_>>()
    });
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);
    for id in &ids {
        let text = manifest(&world, 1, id);
        assert!(text.contains("consistency: pause\n"), "{text}");
        // Each backup boots (its database replays its log) and every
        // repository in it passes git fsck.
        let run = world.run(
            "girofle-backup",
            &["--drill", "1", "--backup", id, "--wait-timeout", "120"],
        );
        assert_eq!(run.code, 0, "the drill of {id} failed: {}", run.stderr);
        let record = world.drill_record(1, id);
        assert!(record.contains("result: ok\n"), "{record}");
        assert!(
            record
                .lines()
                .any(|line| line.starts_with("repositories: ") && line != "repositories: 0"),
            "{record}"
        );
    }
}

// ---- Issue 22: check, plan, act ----

/// Every path under the home but the volumes GitLab writes to, with its
/// size and modification time: what a dry run must leave as it found it.
fn home_tree(world: &Scenario) -> Vec<(std::path::PathBuf, u64, i64)> {
    let mut tree: Vec<_> = walk(&world.home)
        .into_iter()
        .filter(|path| {
            !path
                .components()
                .any(|part| part.as_os_str() == "mapping-volumes")
        })
        .map(|path| {
            let metadata = fs::symlink_metadata(&path).unwrap();
            let size = if metadata.is_dir() { 0 } else { metadata.len() };
            (path, size, metadata.mtime())
        })
        .collect();
    tree.sort();
    tree
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    let first = world.backup(1, &[]);
    let before = home_tree(&world);
    let inventory = world.inventory_bytes();
    let log = world.log_text();

    let run = world
        .run("girofle-backup", &["1", "--dry-run", "--keep-last", "1"])
        .expect_code(0);
    assert!(run.stdout.contains(&container), "{}", run.stdout);
    assert!(
        run.stdout.contains("1. back up instance 1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("remove {first}")),
        "{}",
        run.stdout
    );

    let run = world
        .run("girofle-backup", &["1", "--dry-run", "--format", "json"])
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["operation"], "backup");
    assert_eq!(document["dry_run"], true);
    let planned = &document["plan"]["instances"][0];
    assert_eq!(planned["number"], 1);
    assert_eq!(planned["container"], container.as_str());
    assert_eq!(planned["status"], "running");
    assert_eq!(planned["hold"], "freeze");
    assert_eq!(planned["linked_to"], first.as_str());

    let run = world
        .run(
            "girofle-decommission",
            &["1", "--dry-run", "--format", "json"],
        )
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["operation"], "decommission");
    assert_eq!(document["plan"]["stop"], true);
    assert_eq!(document["plan"]["inventory"]["to"], "decommissioned");

    assert_eq!(home_tree(&world), before);
    assert_eq!(world.inventory_bytes(), inventory);
    assert_eq!(world.log_text(), log);
    assert_eq!(world.backup_names(1), [first.as_str()]);
    assert_eq!(status(&container), "running");
    assert_eq!(world.entry(1)["state"], "commissioned");

    // Refused exactly as a run would refuse it (the refusal logged, as a run's is).
    let run = world.run("girofle-backup", &["7", "--dry-run"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = world.run("girofle-backup", &["1", "--dry-run", "--to", "moon"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(world.backup_names(1), [first]);
}
