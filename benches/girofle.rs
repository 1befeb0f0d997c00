//! Girofle side by side with `cp -a` and `rsync`, on GitLab-shaped data.
//!
//!   cargo bench --bench girofle -- [--size 2G] [--rounds 5] [--seed 42] [--containers 50] [--rows 1000]
//!                                  [--output FILE] [--work DIR]
//!
//! Each pair runs alternately on the same data, several rounds; the table
//! gives medians and ratios, and the machine it ran on. Needs root, Docker,
//! rsync and the stand-in image (run-tests.sh provides them).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STANDIN: &str = "girofle-gitlab-standin:latest";

struct Options {
    size: u64,
    rounds: usize,
    seed: u64,
    containers: usize,
    rows: usize,
    output: Option<PathBuf>,
    work: PathBuf,
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

/// SplitMix64: deterministic from the seed, fast enough to write gigabytes.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1).max(1)
    }
    fn fill(&mut self, buffer: &mut [u8]) {
        for chunk in buffer.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

fn write_file(random: &mut Random, path: &Path, size: u64, owner: (u32, u32), mode: u32) {
    let mut file = fs::File::create(path).unwrap();
    let mut buffer = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buffer.len() as u64) as usize;
        random.fill(&mut buffer[..n]);
        file.write_all(&buffer[..n]).unwrap();
        left -= n as u64;
    }
    drop(file);
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn make_dir(path: &Path, owner: (u32, u32), mode: u32) {
    fs::create_dir_all(path).unwrap();
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

const GIT: (u32, u32) = (998, 998);
const PSQL: (u32, u32) = (996, 996);

/// Fills `volumes` (config/, data/, log/) with GitLab-shaped data of about `size` bytes.
fn generate(volumes: &Path, size: u64, seed: u64) -> (u64, u64) {
    let mut random = Random(seed);
    let data = volumes.join("data");
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut count = |size: u64| {
        files += 1;
        bytes += size;
    };
    make_dir(&volumes.join("config"), (0, 0), 0o775);
    write_file(
        &mut random,
        &volumes.join("config/gitlab-secrets.json"),
        2_000,
        (0, 0),
        0o600,
    );
    count(2_000);
    // Repositories: 40%, in pack files of 1-50 MB, and thousands of loose objects.
    let repositories = data.join("git-data/repositories/@hashed");
    make_dir(&data.join("git-data"), GIT, 0o2770);
    make_dir(&data.join("git-data/repositories"), GIT, 0o2770);
    let mut budget = size * 40 / 100;
    let mut project = 0;
    while budget > 0 {
        project += 1;
        let repo = repositories.join(format!(
            "{:02x}/{:02x}/{project:064x}.git",
            project % 256,
            project / 256 % 256
        ));
        make_dir(&repo.join("objects/pack"), GIT, 0o2770);
        let pack = random.between(1 << 20, 50 << 20).min(budget).max(1);
        write_file(
            &mut random,
            &repo.join(format!("objects/pack/pack-{project:040x}.pack")),
            pack,
            GIT,
            0o444,
        );
        count(pack);
        budget = budget.saturating_sub(pack);
        let loose = (pack / 20_000).clamp(5, 2_000);
        for object in 0..loose {
            let directory = repo.join(format!("objects/{:02x}", object % 256));
            if !directory.exists() {
                make_dir(&directory, GIT, 0o2755);
            }
            let size = random.between(100, 4_000);
            let name = format!("{:038x}", random.next() as u128 * 7919 + object as u128);
            write_file(&mut random, &directory.join(name), size, GIT, 0o444);
            count(size);
            budget = budget.saturating_sub(size);
        }
        write_file(&mut random, &repo.join("HEAD"), 23, GIT, 0o644);
        count(23);
    }
    // PostgreSQL: 35%, 1 GiB segment files and many small relation files.
    let base = data.join("postgresql/data/base/16384");
    make_dir(&data.join("postgresql"), PSQL, 0o700);
    make_dir(&data.join("postgresql/data"), PSQL, 0o700);
    make_dir(&data.join("postgresql/data/base"), PSQL, 0o700);
    make_dir(&base, PSQL, 0o700);
    let mut budget = size * 35 / 100;
    let small = (budget / 3).min(200 << 20);
    let mut relation = 16_400;
    let mut small_left = small;
    while small_left > 0 {
        relation += 1;
        let size = random.between(8_192, 65_536).min(small_left).max(1);
        write_file(
            &mut random,
            &base.join(relation.to_string()),
            size,
            PSQL,
            0o600,
        );
        count(size);
        small_left = small_left.saturating_sub(size);
    }
    budget -= small;
    let mut segment = 0;
    while budget > 0 {
        let size = budget.min(1 << 30);
        let name = if segment == 0 {
            "16384".to_string()
        } else {
            format!("16384.{segment}")
        };
        write_file(&mut random, &base.join(name), size, PSQL, 0o600);
        count(size);
        budget -= size;
        segment += 1;
    }
    // Uploads: 20%, tens of thousands of small files.
    let uploads = data.join("gitlab-rails/uploads/@hashed");
    make_dir(&data.join("gitlab-rails"), (0, 0), 0o755);
    let mut budget = size * 20 / 100;
    let mut upload = 0u64;
    while budget > 0 {
        upload += 1;
        let directory = uploads.join(format!("{:02x}/{:02x}", upload % 256, upload / 256 % 256));
        if !directory.exists() {
            make_dir(&directory, GIT, 0o700);
        }
        let size = random.between(1_000, 20_000).min(budget).max(1);
        write_file(
            &mut random,
            &directory.join(format!("{upload:016x}.png")),
            size,
            GIT,
            0o644,
        );
        count(size);
        budget = budget.saturating_sub(size);
    }
    // Logs: 5%.
    let logs = volumes.join("log");
    for service in ["gitlab-rails", "gitaly", "nginx", "postgresql"] {
        make_dir(&logs.join(service), (0, 0), 0o755);
        let size = (size * 5 / 100 / 4).max(1);
        write_file(
            &mut random,
            &logs.join(service).join("current"),
            size,
            (0, 0),
            0o644,
        );
        count(size);
    }
    (files, bytes)
}

/// Rewrites about 1% of the files (the content of each changes, its size stays).
fn change_one_percent(root: &Path, seed: u64) -> usize {
    let mut random = Random(seed);
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(directory) = stack.pop() {
        for entry in fs::read_dir(&directory).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    let wanted = (files.len() / 100).max(1);
    let mut changed = 0;
    for _ in 0..wanted {
        let path = &files[(random.next() % files.len() as u64) as usize];
        let metadata = fs::metadata(path).unwrap();
        // Big segment files change in place, as PostgreSQL writes pages.
        let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
        let mut page = vec![0u8; 8_192.min(metadata.len() as usize)];
        random.fill(&mut page);
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).unwrap();
        file.write_all(&page).unwrap();
        changed += 1;
    }
    changed
}

// ------------------------------------------------------------------ running

fn run(command: &mut Command) -> Duration {
    let start = Instant::now();
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn output_of(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn remove(path: &Path) {
    if path.exists() {
        fs::remove_dir_all(path).unwrap();
    }
}

fn girofle(binary: &str, home: &Path) -> Command {
    let path = match binary {
        "girofle-backup" => env!("CARGO_BIN_EXE_girofle-backup"),
        "girofle-restore" => env!("CARGO_BIN_EXE_girofle-restore"),
        "girofle-list" => env!("CARGO_BIN_EXE_girofle-list"),
        "girofle-commission" => env!("CARGO_BIN_EXE_girofle-commission"),
        _ => unreachable!(),
    };
    let mut command = Command::new(path);
    command
        .env("GIROFLE_HOME", home)
        .env("GIROFLE_CRON_DIR", home.join("cron.d"))
        .env("GIROFLE_PREFIX", "gbench")
        .env("GIROFLE_IMAGE", STANDIN);
    command
}

struct Row {
    what: String,
    girofle: f64,
    other: f64,
    other_name: String,
    unit: &'static str,
    goal: String,
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn cleanup_containers() {
    let ids = output_of(Command::new("docker").args(["ps", "-aq", "--filter", "name=^gbench-"]));
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .output();
    }
}

fn inventory_worker(home: &Path, worker: u32, changes: u32) {
    let home = girofle::home::Home::resolve(Some(home));
    for change in 0..changes {
        let mut locked = girofle::inventory::lock(&home).unwrap();
        let number = locked.next_number().unwrap();
        locked.push(girofle::inventory::Row {
            number,
            name: format!("w{worker}-{change}"),
            container: format!("gbench-gitlab-{number}"),
            state: girofle::inventory::RowState::Decommissioned,
            ip: "127.0.0.1".into(),
            http_port: Some(8080),
            https_port: Some(8443),
            ssh_port: Some(2222),
            hostname: "bench".into(),
            image: STANDIN.into(),
            dir: home.instance_dir(number).root().to_path_buf(),
            backup_schedule: "0 */4 * * *".into(),
            created: String::new(),
            note: String::new(),
        });
        locked.commit().unwrap();
    }
}

fn main() {
    let options = options();
    // A run that was interrupted may have left its containers writing there.
    cleanup_containers();
    remove(&options.work);
    fs::create_dir_all(&options.work).unwrap();
    let home = options.work.join("home");
    let ip = "127.0.0.77";
    eprintln!("== commissioning an instance");
    let url = output_of(girofle("girofle-commission", &home).args([
        "bench",
        "--ip",
        ip,
        "--hostname",
        ip,
        "--http-port",
        "18777",
        "--https-port",
        "18778",
        "--ssh-port",
        "18779",
    ]));
    eprintln!("   {}", url.trim());
    let container = "gbench-gitlab-1-bench";
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
    let list_home = options.work.join("list-home");
    fs::create_dir_all(&list_home).unwrap();
    let mut csv = String::from(
        "number,name,container,state,ip,http_port,https_port,ssh_port,hostname,image,dir,backup_schedule,created,note\n",
    );
    for number in 1..=options.rows {
        csv.push_str(&format!(
            "{number},,gbench-gitlab-{number},commissioned,127.0.0.1,{},,,bench,{STANDIN},{}/noeud-gitlab-{number},0 */4 * * *,,\n",
            20000 + number,
            list_home.display()
        ));
    }
    fs::write(list_home.join("inventory.girofle"), csv).unwrap();
    for number in 1..=options.containers {
        run(Command::new("docker").args([
            "run",
            "-d",
            "--name",
            &format!("gbench-gitlab-{number}"),
            "--label",
            &format!("girofle.home={}", list_home.display()),
            STANDIN,
        ]));
    }
    let shim = options.work.join("shim");
    fs::create_dir_all(&shim).unwrap();
    let real_docker = output_of(Command::new("sh").args(["-c", "command -v docker"]));
    fs::write(
        shim.join("docker"),
        format!(
            "#!/bin/sh\necho \"$*\" >> {}/docker-calls\nexec {} \"$@\"\n",
            shim.display(),
            real_docker.trim()
        ),
    )
    .unwrap();
    fs::set_permissions(shim.join("docker"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut times = Vec::new();
    for _ in 0..options.rounds.max(3) {
        let _ = fs::remove_file(shim.join("docker-calls"));
        times.push(seconds(run(girofle("girofle-list", &list_home)
            .env("PATH", &path)
            .args(["--format", "json"]))));
    }
    let calls = fs::read_to_string(shim.join("docker-calls"))
        .unwrap_or_default()
        .lines()
        .count();
    rows.push(Row {
        what: format!(
            "6. girofle-list, {} rows, {} live containers ({calls} docker call)",
            options.rows, options.containers
        ),
        girofle: median(times) * 1000.0,
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
