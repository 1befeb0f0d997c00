//! Girofle side by side with `cp -a` and `rsync`, on GitLab-shaped data.
//!
//!   cargo bench --bench girofle -- [--size 2G] [--rounds 5] [--seed 42] [--containers 50] [--rows 1000]
//!                                  [--output FILE] [--work DIR]
//!   cargo bench --bench girofle -- --files 200000 [--rounds 3] [--seed 42] [--output FILE] [--work DIR]
//!                                  [--sections full,incremental,calls,stop,verify]
//!                                  (`cp` instead of `full`: against `cp -a` alone;
//!                                  `unavailable` [--boot-delay 60]: issue 21)
//!   cargo bench --bench girofle -- --listing [--containers 50] [--rows 1000] [--layer-files 2000]
//!
//! Each pair runs alternately on the same data, several rounds; the table
//! gives medians and ratios, and the machine it ran on. Needs root, Docker,
//! rsync and the stand-in image (run-tests.sh provides them).
//!
//! `--files N`: N small files (200 B to 8 KiB) shaped as a GitLab host's
//! (loose objects, uploads, CI artifacts, LFS objects, relation files); the
//! table gives times and peak memory (`/usr/bin/time`, package `time`) of
//! the full and incremental backups, the stop window and verify, against
//! `cp -a`, `rsync --link-dest`, `b3sum` and `sha256sum`, and the system
//! calls per file of an incremental backup (`strace -f -c`).
//!
//! `--sections unavailable`: the time GitLab did not answer during a
//! `pause` backup and a `stop` backup, as a client loop polling
//! `/-/health` sees it, on a stand-in whose start takes `--boot-delay`
//! seconds (built once as `girofle-gitlab-standin:bench-boot`).
//!
//! `--listing`: line 6 alone, `girofle-list` over live containers that have
//! each written `--layer-files` files into their own layer, beside the
//! `docker ps` query it made before (which has the engine compute sizes).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod data;
mod files;
mod listing;
mod measure;
mod restore;
mod unavailable;

use data::*;
use files::*;
use listing::*;
use measure::*;
use restore::*;
use unavailable::*;

const STANDIN: &str = "girofle-gitlab-standin:latest";

/// `--prefix`: the instances' prefix, which names (and cleans up) every
/// container the run makes; another one lets a run go beside another.
static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// `--ip`: the loopback address the benchmark's instance listens on.
static IP: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn prefix() -> &'static str {
    PREFIX.get().map(String::as_str).unwrap_or("gbench")
}

fn instance_ip() -> &'static str {
    IP.get().map(String::as_str).unwrap_or("127.0.0.77")
}
/// The stand-in with a boot delay baked in, for `--sections unavailable`.
const BOOT_STANDIN: &str = "girofle-gitlab-standin:bench-boot";

struct Options {
    size: u64,
    rounds: usize,
    seed: u64,
    containers: usize,
    rows: usize,
    output: Option<PathBuf>,
    work: PathBuf,
    files: Option<u64>,
    sections: Vec<String>,
    /// `--listing`: line 6 alone.
    listing: bool,
    /// Files each listed container writes into its own layer.
    layer_files: usize,
    /// `--boot-delay`: seconds the `unavailable` section's stand-in takes
    /// from `docker start` to answering.
    boot_delay: u64,
}

fn parse_size(text: &str) -> u64 {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: u64 = number.parse().expect("a size such as 2G or 8M");
    number
        * match unit
            .to_ascii_uppercase()
            .trim_end_matches("IB")
            .trim_end_matches('B')
        {
            "" => 1,
            "K" => 1 << 10,
            "M" => 1 << 20,
            "G" => 1 << 30,
            other => panic!("unknown size unit {other}"),
        }
}

fn options() -> Options {
    let mut options = Options {
        size: 2 << 30,
        rounds: 5,
        seed: 42,
        containers: 50,
        rows: 1000,
        output: None,
        work: std::env::temp_dir().join("girofle-bench"),
        files: None,
        listing: false,
        layer_files: 2000,
        boot_delay: 60,
        sections: ["full", "incremental", "calls", "stop", "verify"]
            .map(String::from)
            .to_vec(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--size" => options.size = parse_size(&value()),
            "--rounds" => options.rounds = value().parse().unwrap(),
            "--seed" => options.seed = value().parse().unwrap(),
            "--containers" => options.containers = value().parse().unwrap(),
            "--rows" => options.rows = value().parse().unwrap(),
            "--output" => options.output = Some(PathBuf::from(value())),
            "--work" => options.work = PathBuf::from(value()),
            "--files" => options.files = Some(value().parse().unwrap()),
            "--listing" => options.listing = true,
            "--layer-files" => options.layer_files = value().parse().unwrap(),
            "--boot-delay" => options.boot_delay = value().parse().unwrap(),
            "--prefix" => PREFIX.set(value()).unwrap(),
            "--ip" => IP.set(value()).unwrap(),
            "--sections" => {
                options.sections = value().split(',').map(String::from).collect();
            }
            "--inventory-worker" => {
                let home = PathBuf::from(value());
                let worker: u32 = value().parse().unwrap();
                let changes: u32 = value().parse().unwrap();
                inventory_worker(&home, worker, changes);
                std::process::exit(0);
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    options
}

// ------------------------------------------------------------------ data

fn main() {
    let options = options();
    // A run that was interrupted may have left its containers writing there.
    cleanup_containers();
    remove(&options.work);
    fs::create_dir_all(&options.work).unwrap();
    if options.listing {
        listing_only(&options);
        cleanup_containers();
        remove(&options.work);
        return;
    }
    let home = options.work.join("home");
    let image = if options.files.is_some() && options.sections.iter().any(|s| s == "unavailable") {
        boot_image(options.boot_delay);
        BOOT_STANDIN
    } else {
        STANDIN
    };
    let container = &commission(&home, image);
    if let Some(files) = options.files {
        many_files(&options, &home, container, files);
        cleanup_containers();
        remove(&options.work);
        return;
    }
    let instance = home.join("noeud-gitlab-1");
    let volumes = instance.join("mapping-volumes");
    let backups = instance.join("bckups");
    eprintln!(
        "== generating {} MiB of GitLab-shaped data (seed {})",
        options.size >> 20,
        options.seed
    );
    run(Command::new("docker").args(["stop", container]));
    let (files, bytes) = generate(&volumes, options.size, options.seed);
    run(Command::new("docker").args(["start", container]));
    eprintln!("   {files} files, {} MiB", bytes >> 20);
    let scratch = options.work.join("scratch");
    let mut rows = Vec::new();

    // 1. Full backup.
    eprintln!("== 1. full backup");
    let (mut ours, mut cp, mut rsync) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..options.rounds {
        let mut turns: Vec<u8> = vec![0, 1, 2];
        turns.rotate_left(round % 3);
        for turn in turns {
            remove(&scratch);
            let _ = fs::remove_dir_all(&backups);
            fs::create_dir_all(&backups).unwrap();
            match turn {
                0 => ours.push(seconds(run(girofle("girofle-backup", &home).args([
                    "1",
                    "--consistency",
                    "live",
                ])))),
                1 => cp.push(seconds(run(Command::new("cp")
                    .arg("-a")
                    .arg(&volumes)
                    .arg(&scratch)))),
                _ => rsync.push(seconds(run(Command::new("rsync")
                    .args(["-aH", "--numeric-ids"])
                    .arg(format!("{}/", volumes.display()))
                    .arg(&scratch)))),
            }
        }
    }
    rows.push(Row {
        what: "1. full backup (live)".into(),
        girofle: median(ours.clone()),
        other: median(cp),
        other_name: "cp -a".into(),
        unit: "s",
        goal: "no slower than cp -a".into(),
    });
    rows.push(Row {
        what: "1. full backup (live)".into(),
        girofle: median(ours),
        other: median(rsync),
        other_name: "rsync -aH --numeric-ids".into(),
        unit: "s",
        goal: "-".into(),
    });

    // 2. Incremental backup after 1% of files changed.
    eprintln!("== 2. incremental backup, 1% changed");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    remove(&scratch);
    let _ = fs::remove_dir_all(&backups);
    fs::create_dir_all(&backups).unwrap();
    run(girofle("girofle-backup", &home).args([
        "1",
        "--consistency",
        "live",
        "--keep-last",
        "1000",
    ]));
    let reference = options.work.join("rsync-reference");
    remove(&reference);
    run(Command::new("rsync")
        .args(["-aH", "--numeric-ids"])
        .arg(format!("{}/", volumes.display()))
        .arg(&reference));
    for round in 0..options.rounds {
        run(Command::new("docker").args(["stop", container]));
        change_one_percent(&volumes.join("data"), options.seed + 1 + round as u64);
        run(Command::new("docker").args(["start", container]));
        std::thread::sleep(Duration::from_millis(1100));
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for turn in order {
            if turn == 0 {
                ours.push(seconds(run(girofle("girofle-backup", &home).args([
                    "1",
                    "--consistency",
                    "live",
                    "--keep-last",
                    "1000",
                ]))));
            } else {
                remove(&scratch);
                theirs.push(seconds(run(Command::new("rsync")
                    .args(["-aH", "--numeric-ids"])
                    .arg(format!("--link-dest={}", reference.display()))
                    .arg(format!("{}/", volumes.display()))
                    .arg(&scratch))));
            }
        }
    }
    rows.push(Row {
        what: "2. incremental backup, 1% changed".into(),
        girofle: median(ours),
        other: median(theirs),
        other_name: "rsync --link-dest".into(),
        unit: "s",
        goal: "faster than rsync --link-dest".into(),
    });

    // 3. Stop window with 1% changed, against a cold copy of the whole tree.
    eprintln!("== 3. stop window");
    let (mut windows, mut copies) = (Vec::new(), Vec::new());
    for round in 0..options.rounds {
        run(Command::new("docker").args(["stop", container]));
        change_one_percent(&volumes.join("data"), options.seed + 100 + round as u64);
        run(Command::new("docker").args(["start", container]));
        std::thread::sleep(Duration::from_millis(1100));
        let id = output_of(girofle("girofle-backup", &home).args(["1", "--keep-last", "1000"]));
        let manifest = fs::read_to_string(backups.join(id.trim()).join("MANIFEST")).unwrap();
        let window: f64 = manifest
            .lines()
            .find_map(|l| l.strip_prefix("stop_window_ms: "))
            .unwrap()
            .parse()
            .unwrap();
        windows.push(window / 1000.0);
        remove(&scratch);
        let _ = fs::write("/proc/sys/vm/drop_caches", "3");
        copies.push(seconds(run(Command::new("cp")
            .arg("-a")
            .arg(&volumes)
            .arg(&scratch))));
    }
    rows.push(Row {
        what: "3. stop window, 1% changed".into(),
        girofle: median(windows),
        other: median(copies),
        other_name: "cold cp -a of the tree".into(),
        unit: "s",
        goal: "under 10% of the cold copy".into(),
    });

    // 4. Restore.
    eprintln!("== 4. restore");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let newest = girofle::home::InstanceDir::new(instance.clone())
        .latest_backup()
        .unwrap();
    for round in 0..options.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for turn in order {
            if turn == 0 {
                ours.push(seconds(run(girofle("girofle-restore", &home).args([
                    container,
                    instance.to_str().unwrap(),
                    "--backup",
                    newest.as_str(),
                ]))));
            } else {
                remove(&scratch);
                fs::create_dir_all(&scratch).unwrap();
                let start = Instant::now();
                for volume in ["config", "data", "log"] {
                    run(Command::new("cp")
                        .arg("-a")
                        .arg(backups.join(newest.as_str()).join(volume))
                        .arg(&scratch));
                }
                theirs.push(seconds(start.elapsed()));
            }
        }
    }
    rows.push(Row {
        what: "4. restore (verify, copy, swap, restart, healthy)".into(),
        girofle: median(ours),
        other: median(theirs),
        other_name: "cp -a into empty volumes".into(),
        unit: "s",
        goal: "no slower than cp -a".into(),
    });

    // 5. Verify.
    eprintln!("== 5. verify");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let backup_dir = backups.join(newest.as_str());
    for round in 0..options.rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for turn in order {
            if turn == 0 {
                ours.push(seconds(run(girofle("girofle-backup", &home).args([
                    "--verify",
                    "1",
                    "--backup",
                    newest.as_str(),
                ]))));
            } else {
                let script = format!(
                    "cd {} && find . -type f -print0 | xargs -0 sha256sum > /dev/null",
                    backup_dir.display()
                );
                theirs.push(seconds(run(Command::new("sh").args(["-c", &script]))));
            }
        }
    }
    rows.push(Row {
        what: "5. verify a backup".into(),
        girofle: median(ours),
        other: median(theirs),
        other_name: "sha256sum over the files".into(),
        unit: "s",
        goal: "at least 80% of its speed".into(),
    });

    // 6. girofle-list with many rows and live containers, and its docker calls.
    eprintln!(
        "== 6. girofle-list: {} rows, {} containers",
        options.rows, options.containers
    );
    let listed = measure_listing(&options, options.layer_files);
    let calls = listed.calls;
    let times = listed.ours;
    rows.push(Row {
        what: format!(
            "6. girofle-list, {} rows, {} live containers ({calls} docker call)",
            options.rows, options.containers
        ),
        girofle: times,
        other: 150.0,
        other_name: "goal".into(),
        unit: "ms",
        goal: "under 150 ms, one docker call".into(),
    });
    cleanup_containers();

    // 7. Inventory under contention.
    eprintln!("== 7. inventory under contention");
    let contention = options.work.join("contention");
    remove(&contention);
    fs::create_dir_all(&contention).unwrap();
    let (workers, changes) = (8u32, 100u32);
    let start = Instant::now();
    let children: Vec<_> = (0..workers)
        .map(|worker| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--inventory-worker",
                    contention.to_str().unwrap(),
                    &worker.to_string(),
                    &changes.to_string(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let elapsed = start.elapsed();
    let text = fs::read_to_string(contention.join("inventory.girofle")).unwrap();
    let rows_found = text.lines().count() - 1;
    let lost = (workers * changes) as usize - rows_found;
    rows.push(Row {
        what: format!("7. inventory, {workers} processes x {changes} changes: {lost} rows lost"),
        girofle: (workers * changes) as f64 / elapsed.as_secs_f64(),
        other: 0.0,
        other_name: "-".into(),
        unit: "changes/s",
        goal: "nothing lost".into(),
    });

    // The table.
    let machine = format!(
        "{} cores, {} GiB, {}; {} files, {} MiB of data, {} rounds, seed {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        fs::read_to_string("/proc/meminfo")
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >> 20,
        fs::read_to_string("/proc/cpuinfo")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("model name\t: "))
            .unwrap_or("unknown CPU"),
        files,
        bytes >> 20,
        options.rounds,
        options.seed
    );
    let mut table = format!(
        "Machine: {machine}\n\n| what | Girofle | compared with | ratio | goal |\n| --- | --- | --- | --- | --- |\n"
    );
    for row in &rows {
        let ratio = if row.other > 0.0 {
            format!("{:.2}", row.girofle / row.other)
        } else {
            "-".into()
        };
        let other = if row.other > 0.0 {
            format!("{}: {:.3} {}", row.other_name, row.other, row.unit)
        } else {
            "-".into()
        };
        table.push_str(&format!(
            "| {} | {:.3} {} | {} | {} | {} |\n",
            row.what, row.girofle, row.unit, other, ratio, row.goal
        ));
    }
    match &options.output {
        Some(path) => fs::write(path, &table).unwrap(),
        None => print!("{table}"),
    }
    eprintln!("{table}");
    cleanup_containers();
    remove(&options.work);
}

// ------------------------------------------------------------------ many files
