//! `--files N`: backups, stop window and verify of N small files against cp -a, rsync, b3sum, sha256sum.

use super::*;

/// The MANIFEST header value `key` of backup `id`.
pub(crate) fn header_value(backups: &Path, id: &str, key: &str) -> String {
    let manifest = fs::File::open(backups.join(id.trim()).join("MANIFEST")).unwrap();
    let prefix = format!("{key}: ");
    std::io::BufRead::lines(std::io::BufReader::new(manifest))
        .map(Result::unwrap)
        .take_while(|l| !l.is_empty() || l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_default()
}

/// System calls of `command`, by name, counted by `strace -f -c`.
pub(crate) fn syscalls(command: &Command) -> std::collections::HashMap<String, u64> {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "-c", "-o"])
        .arg(report.path())
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            traced.env(key, value);
        }
    }
    run(&mut traced);
    let mut counts = std::collections::HashMap::new();
    for line in fs::read_to_string(report.path()).unwrap().lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if fields.len() >= 5
            && let Ok(calls) = fields[3].parse::<u64>()
        {
            counts.insert(fields.last().unwrap().to_string(), calls);
        }
    }
    counts
}

pub(crate) struct Measure {
    pub(crate) what: String,
    pub(crate) ours: (f64, f64),
    pub(crate) other_name: String,
    pub(crate) other: (f64, f64),
    pub(crate) unit: &'static str,
}

pub(crate) fn medians(values: &[(Duration, u64)]) -> (f64, f64) {
    (
        median(values.iter().map(|(d, _)| seconds(*d)).collect()),
        median(values.iter().map(|(_, m)| *m as f64 / 1024.0).collect()),
    )
}

pub(crate) fn many_files(options: &Options, home: &Path, container: &str, count: u64) {
    let instance = home.join("noeud-gitlab-1");
    let volumes = instance.join("mapping-volumes");
    let backups = instance.join("bckups");
    let scratch = options.work.join("scratch");
    eprintln!("== generating {count} small files (seed {})", options.seed);
    run(Command::new("docker").args(["stop", container]));
    let generating = Instant::now();
    let (files, bytes) = generate_files(&volumes, count, options.seed);
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { nix::libc::sync() };
    run(Command::new("docker").args(["start", container]));
    eprintln!(
        "   {files} files, {} MiB, in {:.0} s",
        bytes >> 20,
        generating.elapsed().as_secs_f64()
    );
    let backup = |extra: &[&str]| {
        let mut command = girofle("girofle-backup", home);
        command.args(["1", "--keep-last", "1000"]).args(extra);
        command
    };
    let mut rows = Vec::new();
    let wanted = |section: &str| options.sections.iter().any(|s| s == section);

    eprintln!("== 1. full backup");
    let (mut ours, mut cp, mut rsync) = (Vec::new(), Vec::new(), Vec::new());
    // `cp`: the full backup against `cp -a` alone (no rsync), for the
    // largest trees.
    let full_rounds = if wanted("full") || wanted("cp") {
        options.rounds
    } else {
        0
    };
    for round in 0..full_rounds {
        let mut turns: Vec<u8> = if wanted("full") {
            vec![0, 1, 2]
        } else {
            vec![0, 1]
        };
        let count = turns.len();
        turns.rotate_left(round % count);
        for turn in turns {
            remove(&scratch);
            let _ = fs::remove_dir_all(&backups);
            fs::create_dir_all(&backups).unwrap();
            match turn {
                0 => ours.push(measured(&mut backup(&["--consistency", "live"]))),
                1 => cp.push(measured(
                    Command::new("cp").arg("-a").arg(&volumes).arg(&scratch),
                )),
                _ => rsync.push(measured(
                    Command::new("rsync")
                        .args(["-aH", "--numeric-ids"])
                        .arg(format!("{}/", volumes.display()))
                        .arg(&scratch),
                )),
            }
        }
    }
    if wanted("full") || wanted("cp") {
        rows.push(Measure {
            what: "full backup (live)".into(),
            ours: medians(&ours),
            other_name: "cp -a".into(),
            other: medians(&cp),
            unit: "s",
        });
    }
    if wanted("full") {
        let full = medians(&ours);
        rows.push(Measure {
            what: "full backup (live)".into(),
            ours: full,
            other_name: "rsync -aH --numeric-ids".into(),
            other: medians(&rsync),
            unit: "s",
        });
    }

    eprintln!("== 2. incremental backup, 1% changed");
    remove(&scratch);
    let _ = fs::remove_dir_all(&backups);
    fs::create_dir_all(&backups).unwrap();
    let first = measured(&mut backup(&["--consistency", "live"]));
    if !wanted("full") && !wanted("cp") {
        rows.push(Measure {
            what: "full backup (live), once".into(),
            ours: medians(&[first]),
            other_name: "-".into(),
            other: (f64::NAN, f64::NAN),
            unit: "s",
        });
    }
    let unavailable_table = if wanted("unavailable") {
        unavailable(options, home, &volumes, &backups, files, bytes)
    } else {
        String::new()
    };
    let reference = options.work.join("rsync-reference");
    remove(&reference);
    if wanted("incremental") || wanted("calls") {
        run(Command::new("rsync")
            .args(["-aH", "--numeric-ids"])
            .arg(format!("{}/", volumes.display()))
            .arg(&reference));
    }
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let rsync_link_dest = || {
        let mut command = Command::new("rsync");
        command
            .args(["-aH", "--numeric-ids"])
            .arg(format!("--link-dest={}", reference.display()))
            .arg(format!("{}/", volumes.display()))
            .arg(&scratch);
        command
    };
    for round in 0..if wanted("incremental") {
        options.rounds
    } else {
        0
    } {
        run(Command::new("docker").args(["stop", container]));
        change_one_percent(&volumes.join("data"), options.seed + 1 + round as u64);
        run(Command::new("docker").args(["start", container]));
        std::thread::sleep(Duration::from_millis(1100));
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for turn in order {
            if turn == 0 {
                ours.push(measured(&mut backup(&["--consistency", "live"])));
            } else {
                remove(&scratch);
                theirs.push(measured(&mut rsync_link_dest()));
            }
        }
    }
    if wanted("incremental") {
        rows.push(Measure {
            what: "incremental backup (live), 1% changed".into(),
            ours: medians(&ours),
            other_name: "rsync -aH --numeric-ids --link-dest".into(),
            other: medians(&theirs),
            unit: "s",
        });
    }

    // Where the time goes: system calls per file of one incremental each.
    let mut ours_calls = std::collections::HashMap::new();
    let mut theirs_calls = std::collections::HashMap::new();
    if wanted("calls") {
        run(Command::new("docker").args(["stop", container]));
        change_one_percent(&volumes.join("data"), options.seed + 50);
        run(Command::new("docker").args(["start", container]));
        std::thread::sleep(Duration::from_millis(1100));
        ours_calls = syscalls(&backup(&["--consistency", "live"]));
        remove(&scratch);
        theirs_calls = syscalls(&rsync_link_dest());
    }

    eprintln!("== 3. stop window of a stop backup, 1% changed before it, 1% while GitLab stops");
    let mut windows = Vec::new();
    let mut stop_backups = Vec::new();
    let mut walked = Vec::new();
    let on_stop = volumes.join("config/standin-on-stop.sh");
    let written_on_stop = if wanted("stop") {
        write_on_stop(&volumes, &on_stop)
    } else {
        0
    };
    for round in 0..if wanted("stop") { options.rounds } else { 0 } {
        run(Command::new("docker").args(["stop", container]));
        change_one_percent(&volumes.join("data"), options.seed + 100 + round as u64);
        run(Command::new("docker").args(["start", container]));
        std::thread::sleep(Duration::from_millis(1100));
        let report = tempfile::NamedTempFile::new().unwrap();
        let id = output_of(
            Command::new("/usr/bin/time")
                .args(["-f", "%M %e", "-o"])
                .arg(report.path())
                .arg(env!("CARGO_BIN_EXE_girofle-backup"))
                .args(["1", "--keep-last", "1000", "--consistency", "stop"])
                .env("GIROFLE_HOME", home)
                .env("GIROFLE_CRON_DIR", home.join("cron.d"))
                .env("GIROFLE_PREFIX", prefix())
                .env("GIROFLE_IMAGE", STANDIN),
        );
        let text = fs::read_to_string(report.path()).unwrap();
        let mut fields = text.lines().last().unwrap().split_whitespace();
        let peak: u64 = fields.next().unwrap().parse().unwrap();
        let elapsed: f64 = fields.next().unwrap().parse().unwrap();
        stop_backups.push((Duration::from_secs_f64(elapsed), peak));
        let window: f64 = header_value(&backups, &id, "stop_window_ms")
            .parse()
            .unwrap();
        let pass: f64 = header_value(&backups, &id, "second_pass_ms")
            .parse()
            .unwrap();
        windows.push((window / 1000.0, pass / 1000.0));
        walked.push(header_value(&backups, &id, "second_pass_walked"));
    }
    let _ = fs::remove_file(&on_stop);
    if wanted("stop") {
        let window = median(windows.iter().map(|w| w.0).collect());
        let second_pass = median(windows.iter().map(|w| w.1).collect());
        walked.dedup();
        rows.push(Measure {
            what: format!(
                "stop window of a stop backup, {written_on_stop} files written while GitLab stops (second pass {second_pass:.3} s, walked: {}; the rest is GitLab's stop and start)",
                walked.join(" / ")
            ),
            ours: (window, f64::NAN),
            other_name: "the whole stop backup".into(),
            other: medians(&stop_backups),
            unit: "s",
        });
    }

    eprintln!("== 4. verify");
    let newest = girofle::home::InstanceDir::new(instance.clone())
        .latest_backup()
        .unwrap();
    let backup_dir = backups.join(newest.as_str());
    let (mut ours, mut b3, mut sha) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..if wanted("verify") { options.rounds } else { 0 } {
        let mut turns: Vec<u8> = vec![0, 1, 2];
        turns.rotate_left(round % 3);
        for turn in turns {
            let tool = |name: &str| {
                let script = format!(
                    "cd {} && find . -type f -print0 | xargs -0 {name} > /dev/null",
                    backup_dir.display()
                );
                let mut command = Command::new("sh");
                command.args(["-c", &script]);
                command
            };
            match turn {
                0 => ours.push(measured(girofle("girofle-backup", home).args([
                    "--verify",
                    "1",
                    "--backup",
                    newest.as_str(),
                ]))),
                1 => b3.push(measured(&mut tool("b3sum"))),
                _ => sha.push(measured(&mut tool("sha256sum"))),
            }
        }
    }
    if wanted("verify") {
        let verify = medians(&ours);
        rows.push(Measure {
            what: "verify a backup".into(),
            ours: verify,
            other_name: "b3sum over the files (find | xargs)".into(),
            other: medians(&b3),
            unit: "s",
        });
        rows.push(Measure {
            what: "verify a backup".into(),
            ours: verify,
            other_name: "sha256sum over the files (find | xargs)".into(),
            other: medians(&sha),
            unit: "s",
        });
    }

    if wanted("restore") {
        restore_section(home, container, &instance, options.rounds, &mut rows);
    }

    let machine = format!(
        "{} cores, {}; {files} files, {} MiB, {} rounds, seed {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        fs::read_to_string("/proc/cpuinfo")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("model name\t: "))
            .unwrap_or("unknown CPU"),
        bytes >> 20,
        options.rounds,
        options.seed
    );
    let mut table = format!(
        "Machine: {machine}\n\n| what | Girofle | peak memory | compared with | its time | its peak memory | time ratio |\n| --- | --- | --- | --- | --- | --- | --- |\n"
    );
    let memory = |m: f64| {
        if m.is_nan() {
            "-".to_string()
        } else {
            format!("{m:.1} MiB")
        }
    };
    for row in &rows {
        let (other, ratio) = if row.other.0.is_nan() {
            ("-".to_string(), "-".to_string())
        } else {
            (
                format!("{:.3} {}", row.other.0, row.unit),
                format!("{:.2}", row.ours.0 / row.other.0),
            )
        };
        table.push_str(&format!(
            "| {} | {:.3} {} | {} | {} | {other} | {} | {ratio} |\n",
            row.what,
            row.ours.0,
            row.unit,
            memory(row.ours.1),
            row.other_name,
            memory(row.other.1),
        ));
    }
    if wanted("calls") {
        table.push_str(&format!(
        "\nSystem calls of one incremental backup (1% changed) per source file (`strace -f -c`), {files} files:\n\n| call | Girofle | rsync --link-dest |\n| --- | --- | --- |\n"
    ));
        let mut names: Vec<&String> = ours_calls
            .keys()
            .chain(theirs_calls.keys())
            .filter(|name| {
                [
                    "stat",
                    "open",
                    "getdents",
                    "link",
                    "read",
                    "write",
                    "copy_file_range",
                    "utime",
                    "chown",
                    "chmod",
                    "rename",
                    "unlink",
                ]
                .iter()
                .any(|part| name.contains(part))
            })
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let per_file = |counts: &std::collections::HashMap<String, u64>| {
                format!(
                    "{:.2}",
                    *counts.get(name).unwrap_or(&0) as f64 / files as f64
                )
            };
            table.push_str(&format!(
                "| {name} | {} | {} |\n",
                per_file(&ours_calls),
                per_file(&theirs_calls)
            ));
        }
    }
    table.push_str(&unavailable_table);
    match &options.output {
        Some(path) => fs::write(path, &table).unwrap(),
        None => print!("{table}"),
    }
    eprintln!("{table}");
}

// ------------------------------------------------------------------ unavailable (issue 21)
