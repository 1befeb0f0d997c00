//! A crash image recovers, a torn copy does not (issue 21).

use super::*;

// ---- A crash image recovers, a torn copy does not (issue 21) ----------------

/// A copy of the database's directory of `data` into `into`, in path order
/// as a backup walks it (`rsync -a`). While the database writes, a file may
/// vanish between the listing and its copy (rsync's exit 24): that is
/// allowed when `live`.
fn copy_database(data: &Path, into: &Path, live: bool) {
    let rsync = |what: &[&str]| {
        let status = Command::new("rsync")
            .arg("-a")
            .args(what)
            .arg(format!("{}/", data.join("postgresql/data").display()))
            .arg(format!("{}/", into.display()))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        // A live copy reads files as they are rewritten: rsync says so with
        // 24 (a file vanished) or 23 (a file changed while it was read, its
        // update discarded). Either is a torn copy, which is the point.
        assert!(
            status.success() || (live && matches!(status.code(), Some(23 | 24))),
            "rsync: {status:?}"
        );
    };
    if !live {
        rsync(&[]);
        return;
    }
    // A live copy of a big tree reads its files seconds apart: here the
    // segments first, the WAL once the database has written two more
    // generations, whatever the machine's load, so that each live copy is
    // truly from two instants (one generation apart could be a crash image).
    rsync(&["--exclude", "pg_wal"]);
    let copied_at = wal_generation(data);
    assert!(
        common::eventually(Duration::from_secs(60), || wal_generation(data)
            >= copied_at + 2),
        "the database stopped writing"
    );
    rsync(&["--include", "/pg_wal/***", "--exclude", "*"]);
}

/// The last generation the live database's WAL names.
fn wal_generation(data: &Path) -> usize {
    std::fs::read_to_string(data.join("postgresql/data/pg_wal/log"))
        .unwrap()
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("gen ")?.parse::<usize>().ok())
        .unwrap()
}

/// The stand-in's own start-time check (`database recover`) run on each
/// copy under `trials`, in one throwaway container: each name with its verdict.
fn recover_each(trials: &Path, names: &[String]) -> Vec<(String, Result<String, String>)> {
    let script = "for name in \"$@\"; do \
                  if out=$(/opt/standin/database recover \"/trials/$name\" 2>&1); \
                  then echo \"$name ok $(echo \"$out\" | tr '\\n' ' ')\"; \
                  else echo \"$name refused $(echo \"$out\" | tail -n 1)\"; fi; done";
    let volume = format!("{}:/trials", trials.display());
    let mut args = vec!["run", "--rm", "-v", &volume, "--entrypoint", "/bin/sh"];
    let image = image();
    args.extend([image.as_str(), "-c", script, "recover"]);
    args.extend(names.iter().map(String::as_str));
    docker(&args)
        .lines()
        .map(|line| {
            let (name, rest) = line.split_once(' ').unwrap();
            let verdict = match rest.split_once(' ') {
                Some(("ok", out)) => Ok(out.to_string()),
                Some((_, why)) => Err(why.to_string()),
                None => Err(rest.to_string()),
            };
            (name.to_string(), verdict)
        })
        .collect()
}

/// `docker pause`, tried again when the freezer gives up (runc's "unable to
/// freeze" while a process forks or sits in the kernel), as Girofle does.
fn pause(container: &str) {
    for attempt in 1..=5 {
        let output = Command::new("docker")
            .args(["pause", container])
            .output()
            .unwrap();
        if output.status.success() {
            return;
        }
        assert!(
            attempt < 5,
            "docker pause: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_frozen_copy_recovers_like_a_crash_image_and_a_live_copy_is_refused() {
    const TRIALS: usize = 20;
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--image", &image()]);
    let container = format!("{}-gitlab-1", world.prefix);
    let volumes = world.home.join("noeud-gitlab-1/mapping-volumes");
    let data = volumes.join("data");
    // The database writes as fast as it can.
    std::fs::write(volumes.join("config/standin-db-interval-us"), "0\n").unwrap();
    docker(&["restart", "--time", "60", &container]);
    wait_for_health(&container, "healthy");
    let generation = || wal_generation(&data);
    let started_at = generation();

    let trials = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    let copying = Instant::now();
    for trial in 0..TRIALS {
        pause(&container);
        copy_database(&data, &trials.path().join(format!("frozen-{trial}")), false);
        docker(&["unpause", &container]);
        copy_database(&data, &trials.path().join(format!("live-{trial}")), true);
        names.push(format!("frozen-{trial}"));
        names.push(format!("live-{trial}"));
    }
    // One frozen copy kept whole, to boot from.
    let boot_from = tempfile::tempdir().unwrap();
    pause(&container);
    copy_database(&data, boot_from.path(), false);
    docker(&["unpause", &container]);
    assert!(
        generation() > started_at + 2 * TRIALS,
        "the database did not write all along"
    );

    eprintln!("{TRIALS} frozen and live copies in {:?}", copying.elapsed());
    let checking = Instant::now();
    let verdicts = recover_each(trials.path(), &names);
    eprintln!("checked in {:?}", checking.elapsed());
    assert_eq!(verdicts.len(), 2 * TRIALS, "{verdicts:?}");
    let mut refused = 0;
    for (name, verdict) in &verdicts {
        if name.starts_with("frozen") {
            // Every frozen copy is a crash image: replayed, never refused.
            let out = verdict
                .as_ref()
                .unwrap_or_else(|why| panic!("{name}, copied frozen, was refused: {why}"));
            assert!(
                out.contains("not properly shut down; automatic recovery in progress")
                    && out.contains("redo done"),
                "{name}: {out}"
            );
        } else if verdict.is_err() {
            refused += 1;
        }
    }
    eprintln!("{refused} of {TRIALS} live copies were refused as torn: {verdicts:?}");
    assert_eq!(
        refused, TRIALS,
        "only {refused} of {TRIALS} live copies, each spanning two writes, were refused: the detector misses tears"
    );

    // A frozen copy boots healthy, after replaying its log.
    docker(&["stop", "--time", "60", &container]);
    std::fs::remove_dir_all(data.join("postgresql/data")).unwrap();
    let status = Command::new("cp")
        .args([
            "-a",
            boot_from.path().to_str().unwrap(),
            data.join("postgresql/data").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let log = volumes.join("log/postgresql/current");
    let before = std::fs::read_to_string(&log).unwrap().len();
    docker(&["start", &container]);
    wait_for_health(&container, "healthy");
    let booted = std::fs::read_to_string(&log).unwrap()[before..].to_string();
    assert!(
        booted.contains("automatic recovery in progress") && booted.contains("redo done"),
        "{booted}"
    );
    // A clean stop leaves nothing to replay.
    docker(&["stop", "--time", "60", &container]);
    let before = std::fs::read_to_string(&log).unwrap().len();
    docker(&["start", &container]);
    wait_for_health(&container, "healthy");
    let booted = std::fs::read_to_string(&log).unwrap()[before..].to_string();
    assert!(
        booted.contains("database system was shut down") && !booted.contains("automatic recovery"),
        "{booted}"
    );
}
