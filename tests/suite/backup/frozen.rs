//! Issue 21: GitLab never restarts for a backup: frozen, not stopped, and always thawed.

use super::*;

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
