//! Running and timing commands, medians, the rows of the table, the instances the runs use.

use super::*;

pub(crate) fn run(command: &mut Command) -> Duration {
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
pub(crate) fn measured(command: &mut Command) -> (Duration, u64) {
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

pub(crate) fn output_of(command: &mut Command) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
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
pub(crate) fn remove(path: &Path) {
    if path.exists() {
        fs::remove_dir_all(path).unwrap();
    }
    // SAFETY: sync(2) takes no argument and cannot fail.
    unsafe { nix::libc::sync() };
}

pub(crate) fn girofle(binary: &str, home: &Path) -> Command {
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

pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) girofle: f64,
    pub(crate) other: f64,
    pub(crate) other_name: String,
    pub(crate) unit: &'static str,
    pub(crate) goal: String,
}

pub(crate) fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

pub(crate) fn cleanup_containers() {
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

pub(crate) fn inventory_worker(home: &Path, worker: u32, changes: u32) {
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
            acme_url: String::new(),
            acme_email: String::new(),
        });
        locked.commit().unwrap();
    }
}

/// Commissions the benchmark's instance under `home` on `image`; returns
/// its container.
pub(crate) fn commission(home: &Path, image: &str) -> String {
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
