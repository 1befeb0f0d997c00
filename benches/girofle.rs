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

/// Makes the stand-in append to every hundredth file of the data volume as
/// it stops (after a backup's first pass, before its second); returns how
/// many files that is.
fn write_on_stop(volumes: &Path, script: &Path) -> usize {
    let data = volumes.join("data");
    let mut files = regular_files(&data);
    files.retain(|path| !path.starts_with(data.join("postgresql")));
    let chosen: Vec<String> = files
        .iter()
        .step_by(100)
        .map(|path| path.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    fs::write(
        volumes.join("config/standin-on-stop.list"),
        chosen.join("\n") + "\n",
    )
    .unwrap();
    fs::write(
        script,
        "while read -r path; do echo 'written while stopping' >> \"$path\"; done < /etc/gitlab/standin-on-stop.list\n",
    )
    .unwrap();
    chosen.len()
}

/// What line 6 measured.
struct Listing {
    /// girofle-list's median, in ms, and the docker calls it made.
    ours: f64,
    calls: usize,
    /// `docker ps --all --format '{{json .}}'`, the query it made before
    /// issue 11 (the engine computes every container's size), median in ms.
    json_query: f64,
    /// `docker ps --all` with the fields girofle-list asks for, median in ms.
    fields_query: f64,
}

/// girofle-list over `options.rows` rows and `options.containers` live
/// containers, each of which has written `layer_files` small files into
/// its own layer (what makes the engine's size computation cost).
fn measure_listing(options: &Options, layer_files: usize) -> Listing {
    let list_home = options.work.join("list-home");
    fs::create_dir_all(&list_home).unwrap();
    let mut csv = String::from(
        "number,name,container,state,ip,http_port,https_port,ssh_port,hostname,image,dir,backup_schedule,created,note\n",
    );
    for number in 1..=options.rows {
        csv.push_str(&format!(
            "{number},,{}-gitlab-{number},commissioned,127.0.0.1,{},,,bench,{STANDIN},{}/noeud-gitlab-{number},0 */4 * * *,,\n",
            prefix(),
            20000 + number,
            list_home.display()
        ));
    }
    fs::write(list_home.join("inventory.girofle"), csv).unwrap();
    for number in 1..=options.containers {
        let name = format!("{}-gitlab-{number}", prefix());
        run(Command::new("docker").args([
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &format!("girofle.home={}", list_home.display()),
            STANDIN,
        ]));
        if layer_files > 0 {
            run(Command::new("docker").args([
                "exec",
                &name,
                "sh",
                "-c",
                &format!(
                    "mkdir -p /srv/layer && cd /srv/layer && i=0; while [ $i -lt {layer_files} ]; do echo $i > f$i; i=$((i+1)); done"
                ),
            ]));
        }
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
    let (mut ours, mut json_query, mut fields_query) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.rounds.max(3) {
        let _ = fs::remove_file(shim.join("docker-calls"));
        ours.push(seconds(run(girofle("girofle-list", &list_home)
            .env("PATH", &path)
            .args(["--format", "json"]))));
        json_query.push(seconds(run(Command::new("docker").args([
            "ps",
            "--all",
            "--no-trunc",
            "--format",
            "{{json .}}",
        ]))));
        fields_query.push(seconds(run(Command::new("docker").args([
            "ps",
            "--all",
            "--no-trunc",
            "--format",
            "{{.Names}}\t{{.State}}\t{{.Status}}\t{{.Image}}\t{{.Labels}}",
        ]))));
    }
    let calls = fs::read_to_string(shim.join("docker-calls"))
        .unwrap_or_default()
        .lines()
        .count();
    Listing {
        ours: median(ours) * 1000.0,
        calls,
        json_query: median(json_query) * 1000.0,
        fields_query: median(fields_query) * 1000.0,
    }
}

/// Line 6 alone (`--listing`): girofle-list with live containers that
/// wrote into their own layer, beside the two docker queries.
fn listing_only(options: &Options) {
    eprintln!(
        "== girofle-list: {} rows, {} containers with {} files each in their own layer",
        options.rows, options.containers, options.layer_files
    );
    let listed = measure_listing(options, options.layer_files);
    let table = format!(
        "{} rows, {} live containers, {} files written into each container's own layer, {} rounds, medians\n\n\
         | what | time | compared with the goal (150 ms) |\n| --- | --- | --- |\n\
         | girofle-list --format json ({} docker call) | {:.0} ms | {:.2} |\n\
         | docker ps --all --format '{{{{json .}}}}' (the query before issue 11: sizes computed) | {:.0} ms | {:.2} |\n\
         | docker ps --all with the fields girofle-list asks for | {:.0} ms | {:.2} |\n",
        options.rows,
        options.containers,
        options.layer_files,
        options.rounds.max(3),
        listed.calls,
        listed.ours,
        listed.ours / 150.0,
        listed.json_query,
        listed.json_query / 150.0,
        listed.fields_query,
        listed.fields_query / 150.0,
    );
    match &options.output {
        Some(path) => fs::write(path, &table).unwrap(),
        None => print!("{table}"),
    }
    eprintln!("{table}");
}

/// The regular files under `root`, sorted.
fn regular_files(root: &Path) -> Vec<PathBuf> {
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
    files
}

/// The regular files of the data volume `data` but the stand-in's own
/// database (its WAL, segments and catalog, which it checks at start: a
/// page of random bytes there is a torn database, and GitLab answers 503
/// until a restore waits its 30 minutes out); the generated relation
/// files beside it, in `base/16384`, stay.
fn changeable_files(data: &Path) -> Vec<PathBuf> {
    let database = data.join("postgresql/data");
    let generated = database.join("base/16384");
    let mut files = regular_files(data);
    files.retain(|path| !path.starts_with(&database) || path.starts_with(&generated));
    files
}

/// Rewrites about 1% of the files (the content of each changes, its size stays).
fn change_one_percent(root: &Path, seed: u64) -> usize {
    let mut random = Random(seed);
    let files = changeable_files(root);
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

/// Runs `command` under `/usr/bin/time`: its wall time and the peak
/// resident memory (KiB) of it and the children it waited for.
fn measured(command: &mut Command) -> (Duration, u64) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M %U %S", "-o"])
        .arg(report.path())
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    let elapsed = run(&mut timed);
    let report = fs::read_to_string(report.path()).unwrap();
    let mut fields = report.lines().last().unwrap_or("").split_whitespace();
    let peak = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    // Where the time went: user and system CPU beside the elapsed time.
    eprintln!(
        "   {}: {:.3} s elapsed, {} s user, {} s system, {peak} KiB peak",
        Path::new(command.get_program()).display(),
        elapsed.as_secs_f64(),
        fields.next().unwrap_or("?"),
        fields.next().unwrap_or("?"),
    );
    (elapsed, peak)
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

/// Removes a copy, and waits for the file system to have done with it: on
/// a disk mounted with `discard`, the freed blocks are otherwise trimmed
/// behind the next measured command's back, and charged to it.
fn remove(path: &Path) {
    if path.exists() {
        fs::remove_dir_all(path).unwrap();
    }
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { nix::libc::sync() };
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
        .env("GIROFLE_PREFIX", prefix())
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
    let ids = output_of(Command::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        &format!("name=^{}-", prefix()),
    ]));
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
            container: format!("{}-gitlab-{number}", prefix()),
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
            tls: String::new(),
        });
        locked.commit().unwrap();
    }
}

/// Commissions the benchmark's instance under `home` on `image`; returns
/// its container.
fn commission(home: &Path, image: &str) -> String {
    let ip = instance_ip();
    eprintln!("== commissioning an instance");
    let url = output_of(girofle("girofle-commission", home).args([
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
        "--image",
        image,
    ]));
    eprintln!("   {}", url.trim());
    format!("{}-gitlab-1-bench", prefix())
}

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

/// Fills `volumes` with `count` small files (200 B to 8 KiB) laid out as a
/// GitLab host keeps them: loose objects (45%), uploads (20%), CI artifacts
/// (15%), LFS objects (10%), PostgreSQL relation files (10%).
fn generate_files(volumes: &Path, count: u64, seed: u64) -> (u64, u64) {
    let mut random = Random(seed);
    let data = volumes.join("data");
    let (mut files, mut bytes) = (0u64, 0u64);
    make_dir(&volumes.join("config"), (0, 0), 0o775);
    write_file(
        &mut random,
        &volumes.join("config/gitlab-secrets.json"),
        2_000,
        (0, 0),
        0o600,
    );
    files += 1;
    bytes += 2_000;
    for service in ["gitlab-rails", "gitaly", "nginx", "postgresql"] {
        make_dir(&volumes.join("log").join(service), (0, 0), 0o755);
        write_file(
            &mut random,
            &volumes.join("log").join(service).join("current"),
            100_000,
            (0, 0),
            0o644,
        );
        files += 1;
        bytes += 100_000;
    }
    make_dir(&data.join("git-data"), GIT, 0o2770);
    make_dir(&data.join("git-data/repositories"), GIT, 0o2770);
    make_dir(&data.join("gitlab-rails"), (0, 0), 0o755);
    make_dir(&data.join("gitlab-rails/shared"), GIT, 0o751);
    make_dir(&data.join("postgresql"), PSQL, 0o700);
    make_dir(&data.join("postgresql/data/base/16384"), PSQL, 0o700);
    let mut made = std::collections::HashSet::new();
    let mut directory = |path: PathBuf, owner: (u32, u32), mode: u32| -> PathBuf {
        if made.insert(path.clone()) {
            make_dir(&path, owner, mode);
        }
        path
    };
    let target = count.saturating_sub(files);
    for index in 0..target {
        let size = random.between(200, 8_192);
        let share = index * 100 / target.max(1);
        let (path, owner, mode) = if share < 45 {
            // Repositories of 2,000 loose objects in 256 fan-out directories.
            let project = index / 2_000;
            let repo = data.join(format!(
                "git-data/repositories/@hashed/{:02x}/{:02x}/{project:064x}.git",
                project % 256,
                project / 256 % 256
            ));
            let fan = directory(
                repo.join(format!("objects/{:02x}", random.next() % 256)),
                GIT,
                0o2755,
            );
            (
                fan.join(format!("{:038x}", index as u128 * 7919)),
                GIT,
                0o444,
            )
        } else if share < 65 {
            // Uploads: a secret directory per file, ten per project.
            let project = index / 10;
            let dir = directory(
                data.join(format!(
                    "gitlab-rails/uploads/@hashed/{:02x}/{:02x}/{project:064x}/{index:032x}",
                    project % 256,
                    project / 256 % 256
                )),
                GIT,
                0o700,
            );
            (dir.join("image.png"), GIT, 0o644)
        } else if share < 80 {
            // CI artifacts: a directory per job.
            let job = index / 3;
            let dir = directory(
                data.join(format!(
                    "gitlab-rails/shared/artifacts/{:02x}/{:02x}/{job:064x}/2026_11_25/{job}",
                    job % 256,
                    job / 256 % 256
                )),
                GIT,
                0o700,
            );
            (dir.join(format!("{index}.zip")), GIT, 0o644)
        } else if share < 90 {
            let dir = directory(
                data.join(format!(
                    "gitlab-rails/shared/lfs-objects/{:02x}/{:02x}",
                    index % 256,
                    index / 256 % 256
                )),
                GIT,
                0o700,
            );
            (dir.join(format!("{index:060x}")), GIT, 0o644)
        } else {
            (
                data.join(format!("postgresql/data/base/16384/{}", 20_000 + index)),
                PSQL,
                0o600,
            )
        };
        write_file(&mut random, &path, size, owner, mode);
        files += 1;
        bytes += size;
    }
    (files, bytes)
}

/// The MANIFEST header value `key` of backup `id`.
fn header_value(backups: &Path, id: &str, key: &str) -> String {
    let manifest = fs::File::open(backups.join(id.trim()).join("MANIFEST")).unwrap();
    let prefix = format!("{key}: ");
    std::io::BufRead::lines(std::io::BufReader::new(manifest))
        .map(Result::unwrap)
        .take_while(|l| !l.is_empty() || l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_default()
}

/// System calls of `command`, by name, counted by `strace -f -c`.
fn syscalls(command: &Command) -> std::collections::HashMap<String, u64> {
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

struct Measure {
    what: String,
    ours: (f64, f64),
    other_name: String,
    other: (f64, f64),
    unit: &'static str,
}

fn medians(values: &[(Duration, u64)]) -> (f64, f64) {
    (
        median(values.iter().map(|(d, _)| seconds(*d)).collect()),
        median(values.iter().map(|(_, m)| *m as f64 / 1024.0).collect()),
    )
}

fn many_files(options: &Options, home: &Path, container: &str, count: u64) {
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

/// Builds `BOOT_STANDIN` with `delay` seconds of boot delay, unless an
/// image of that name with that delay is already there.
fn boot_image(delay: u64) {
    let present = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            BOOT_STANDIN,
        ])
        .output()
        .map(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .any(|line| line == format!("STANDIN_BOOT_DELAY={delay}"))
        })
        .unwrap_or(false);
    if present {
        return;
    }
    eprintln!("== building {BOOT_STANDIN} (boot delay {delay} s)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin/build.sh");
    run(Command::new("sh").arg(script).args([
        "--tag",
        BOOT_STANDIN,
        "--boot-delay",
        &delay.to_string(),
    ]));
}

/// One request of the client loop, in time since the loop's origin.
struct Probe {
    start: Duration,
    end: Duration,
    /// `200` with `GitLab OK`, whatever the time it took.
    ok: bool,
}

/// Longest a request of the client loop may take before it is given up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The second, looser bound of served: a request refused, failed or
/// stalled a whole second, which this machine's load alone rarely reaches.
const STALLED: Duration = Duration::from_secs(1);
/// Time between the starts of two requests of the client loop.
const PROBE_INTERVAL: Duration = Duration::from_millis(15);
/// A request answered later than this was not served, as a user sees it;
/// the table also gives the figures with `STALLED` as the bound.
const SERVED_WITHIN: Duration = Duration::from_millis(200);

/// `GET /-/health` on `address`, a new connection each time as a browser
/// after an error would; true when GitLab answered `200` with `GitLab OK`
/// within `PROBE_TIMEOUT`.
fn health(address: std::net::SocketAddr) -> bool {
    use std::io::Read;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, PROBE_TIMEOUT) else {
        return false;
    };
    let request = format!("GET /-/health HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if left().is_zero()
        || stream.set_write_timeout(Some(left())).is_err()
        || stream.write_all(request.as_bytes()).is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let wait = left();
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return false;
        }
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(_) => return false,
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or("");
    status.starts_with("HTTP/1.") && status.contains(" 200") && answer.contains("GitLab OK")
}

/// A client loop on `address` in a thread of its own, until `stop` is set.
fn client_loop(
    address: std::net::SocketAddr,
    origin: Instant,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<Probe>> {
    std::thread::spawn(move || {
        let mut probes = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let start = origin.elapsed();
            let ok = health(address);
            let end = origin.elapsed();
            probes.push(Probe { start, end, ok });
            let next = start + PROBE_INTERVAL;
            if end < next {
                std::thread::sleep(next - end);
            }
        }
        probes
    })
}

/// What the client loop saw.
#[derive(Default)]
struct Unavailability {
    /// Sum of the windows, in seconds.
    total: f64,
    windows: usize,
    /// The longest single request, in seconds (capped at `PROBE_TIMEOUT`).
    longest_request: f64,
    /// The longest single window, in seconds.
    longest: f64,
    requests: usize,
    /// Requests refused, reset, answered with an error or given up.
    failed: usize,
    /// Requests answered `GitLab OK`, but later than `SERVED_WITHIN`.
    slow: usize,
}

/// A window opens at the start of a request that was not served (it
/// failed, or took longer than `within`) and closes at the end of the
/// first request served after it; the windows are summed. One left open at
/// the end closes at the last request's end.
fn unavailability(probes: &[Probe], within: Duration) -> Unavailability {
    let mut seen = Unavailability {
        requests: probes.len(),
        ..Default::default()
    };
    let mut open: Option<Duration> = None;
    for probe in probes {
        let took = probe.end.saturating_sub(probe.start);
        seen.longest_request = seen.longest_request.max(took.as_secs_f64());
        let served = probe.ok && took <= within;
        if !probe.ok {
            seen.failed += 1;
        } else if !served {
            seen.slow += 1;
        }
        match (served, open) {
            (false, None) => open = Some(probe.start),
            (true, Some(start)) => {
                let window = (probe.end - start).as_secs_f64();
                seen.longest = seen.longest.max(window);
                seen.total += window;
                seen.windows += 1;
                open = None;
            }
            _ => {}
        }
    }
    if let (Some(start), Some(last)) = (open, probes.last()) {
        let window = (last.end - start).as_secs_f64();
        seen.longest = seen.longest.max(window);
        seen.total += window;
        seen.windows += 1;
    }
    seen
}

/// Polls until GitLab has answered `/-/health` 10 times in a row (within
/// `STALLED`: on a loaded machine the stand-in's shell answers take
/// up to half a second), for up to 10 minutes.
fn wait_served(address: std::net::SocketAddr) {
    let start = Instant::now();
    let mut streak = 0;
    while streak < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "GitLab on {address} did not answer for 10 minutes"
        );
        let began = Instant::now();
        if health(address) && began.elapsed() <= STALLED {
            streak += 1;
        } else {
            streak = 0;
        }
        std::thread::sleep(PROBE_INTERVAL);
    }
}

/// Rewrites about 1% of the files of the data volume while GitLab runs
/// (but the stand-in's own database, `changeable_files`).
fn change_one_percent_live(data: &Path, seed: u64) -> usize {
    let mut random = Random(seed);
    let files = changeable_files(data);
    let wanted = (files.len() / 100).max(1);
    for _ in 0..wanted {
        let path = &files[(random.next() % files.len() as u64) as usize];
        let length = fs::metadata(path).unwrap().len() as usize;
        let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
        let mut page = vec![0u8; 8_192.min(length)];
        random.fill(&mut page);
        file.write_all(&page).unwrap();
    }
    wanted
}

/// One backup of `consistency` measured by a client loop: what it saw,
/// the backup's wall time and its MANIFEST's own account.
struct Unavailable {
    consistency: &'static str,
    changed: usize,
    /// Within `SERVED_WITHIN`, and within `STALLED`.
    seen: [Unavailability; 2],
    backup: f64,
    /// MANIFEST: `stop_window_ms`, `frozen_ms`, `fallback`, `second_pass_walked`.
    window: String,
    frozen: String,
    fallback: String,
    walked: String,
}

/// `--sections unavailable` (issue 21): for `pause` and for `stop`, 1% of
/// the files changed since the previous backup, the time GitLab did not
/// answer a client loop during `girofle-backup 1 --consistency X`.
fn unavailable(
    options: &Options,
    home: &Path,
    volumes: &Path,
    backups: &Path,
    files: u64,
    bytes: u64,
) -> String {
    let address: std::net::SocketAddr = format!("{}:18777", instance_ip()).parse().unwrap();
    let load = || {
        fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let load_before = load();
    eprintln!(
        "== unavailable: waiting for GitLab to answer (boot delay {} s)",
        options.boot_delay
    );
    wait_served(address);
    // A control: the same loop with no backup running, for what this
    // machine's load alone costs the stand-in's answers.
    let origin = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probes = client_loop(address, origin, stop.clone());
    std::thread::sleep(Duration::from_secs(10));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let control = probes.join().unwrap();
    let control = [SERVED_WITHIN, STALLED].map(|within| unavailability(&control, within));
    let mut measured = Vec::new();
    for (turn, consistency) in ["pause", "stop"].into_iter().enumerate() {
        eprintln!("== unavailable: --consistency {consistency}, 1% changed");
        let changed =
            change_one_percent_live(&volumes.join("data"), options.seed + 200 + turn as u64);
        // SAFETY: sync(2) takes no argument and cannot fail.
        unsafe { nix::libc::sync() };
        wait_served(address);
        let origin = Instant::now();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let probes = client_loop(address, origin, stop.clone());
        std::thread::sleep(Duration::from_secs(2));
        let began = Instant::now();
        let id = output_of(girofle("girofle-backup", home).args([
            "1",
            "--keep-last",
            "1000",
            "--consistency",
            consistency,
        ]));
        let backup = began.elapsed().as_secs_f64();
        // Until GitLab has answered again (the backup waits for healthy,
        // which the stand-in's check says within a second of answering).
        wait_served(address);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let probes = probes.join().unwrap();
        let seen = [SERVED_WITHIN, STALLED].map(|within| unavailability(&probes, within));
        let value = |key: &str| header_value(backups, &id, key);
        eprintln!(
            "   {consistency}: unavailable {:.3} s in {} windows, longest request {:.3} s, backup {backup:.1} s, MANIFEST stop_window_ms {}",
            seen[0].total,
            seen[0].windows,
            seen[0].longest_request,
            value("stop_window_ms")
        );
        measured.push(Unavailable {
            consistency,
            changed,
            seen,
            backup,
            window: value("stop_window_ms"),
            frozen: value("frozen_ms"),
            fallback: value("fallback"),
            walked: value("second_pass_walked"),
        });
    }
    let load_after = load();
    let mut table = format!(
        "\nUnavailable as a client sees it (issue 21): a loop sends `GET /-/health` every {} ms (one at a time, a new connection each, given up after {} s); a request is served when it is answered `200 GitLab OK` within {} ms (or, second figures, within {} s). Unavailable = from the start of a request not served (refused, reset, error, given up, or answered later) to the end of the first request served after it, summed over such windows. Stand-in boot delay {} s; {files} files, {} MiB, 1% changed before each backup; load average {load_before} before, {load_after} after.\n\n\
         | consistency | files changed | unavailable, served within {} ms (windows; longest) | unavailable, served within {} s (windows; longest) | longest request | requests: failed / slower than {} ms | Girofle's own window (MANIFEST `stop_window_ms`) | `frozen_ms` | `fallback` | second pass walked | whole backup |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        PROBE_INTERVAL.as_millis(),
        PROBE_TIMEOUT.as_secs(),
        SERVED_WITHIN.as_millis(),
        STALLED.as_secs(),
        options.boot_delay,
        bytes >> 20,
        SERVED_WITHIN.as_millis(),
        STALLED.as_secs(),
        SERVED_WITHIN.as_millis(),
    );
    let cells = |seen: &[Unavailability; 2]| {
        format!(
            "{:.3} s ({}; {:.3} s) | {:.3} s ({}; {:.3} s) | {:.3} s | {}: {} / {}",
            seen[0].total,
            seen[0].windows,
            seen[0].longest,
            seen[1].total,
            seen[1].windows,
            seen[1].longest,
            seen[0].longest_request,
            seen[0].requests,
            seen[0].failed,
            seen[0].slow
        )
    };
    table.push_str(&format!(
        "| none (control: 10 s, no backup) | - | {} | - | - | - | - | - |\n",
        cells(&control)
    ));
    for row in &measured {
        table.push_str(&format!(
            "| {} | {} | {} | {} ms | {} | {} | {} | {:.1} s |\n",
            row.consistency,
            row.changed,
            cells(&row.seen),
            row.window,
            row.frozen,
            row.fallback,
            row.walked,
            row.backup,
        ));
    }
    if let [pause, stop] = &measured[..] {
        table.push_str(&format!(
            "\npause / stop: {:.2}% served within {} ms, {:.2}% within {} s (goal: pause under 1 s, and under 1% of stop)\n",
            100.0 * pause.seen[0].total / stop.seen[0].total.max(f64::MIN_POSITIVE),
            SERVED_WITHIN.as_millis(),
            100.0 * pause.seen[1].total / stop.seen[1].total.max(f64::MIN_POSITIVE),
            STALLED.as_secs()
        ));
    }
    table
}

/// `--sections restore` (issue 26, not among the default sections): a restore of the newest backup, to
/// GitLab healthy again, against `cp -a` of the same backup, caches dropped
/// before each, with peak memory. The data each restore sets aside becomes
/// a backup of its own: removed after each round, so that the disk holds
/// one extra copy at most.
fn restore_section(
    home: &Path,
    container: &str,
    instance: &Path,
    rounds: usize,
    rows: &mut Vec<Measure>,
) {
    eprintln!("== 5. restore to healthy, cold caches");
    let backups = instance.join("bckups");
    let newest = girofle::home::InstanceDir::new(instance.to_path_buf())
        .latest_backup()
        .unwrap();
    let backup = backups.join(newest.as_str());
    let scratch = home.parent().unwrap().join("cp-a-of-the-backup");
    let drop_caches = || {
        // SAFETY: sync(2) takes no argument and cannot fail.
        unsafe { nix::libc::sync() };
        fs::write("/proc/sys/vm/drop_caches", "3").unwrap();
    };
    let (mut ours, mut cp) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for turn in order {
            remove(&scratch);
            drop_caches();
            if turn == 0 {
                let before: Vec<String> = sorted_names(&backups);
                ours.push(measured(girofle("girofle-restore", home).args([
                    container,
                    instance.to_str().unwrap(),
                    "--backup",
                    newest.as_str(),
                ])));
                for set_aside in sorted_names(&backups) {
                    if !before.contains(&set_aside) {
                        remove(&backups.join(set_aside));
                    }
                }
            } else {
                cp.push(measured(
                    Command::new("cp").arg("-a").arg(&backup).arg(&scratch),
                ));
            }
        }
    }
    remove(&scratch);
    rows.push(Measure {
        what: "restore to healthy (cold caches)".into(),
        ours: medians(&ours),
        other_name: "cp -a of the backup (cold caches)".into(),
        other: medians(&cp),
        unit: "s",
    });
}

/// The names in `directory`, sorted.
fn sorted_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
