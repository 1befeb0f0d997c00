//! Signals, waiting for a condition, and the small helpers several areas share.

use super::*;

/// Sends `signal` to the process `pid`; false when it is gone already.
pub fn send_signal(pid: u32, signal: nix::sys::signal::Signal) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).is_ok()
}

/// Polls `condition` every 100 ms until it holds or `limit` passes; whether it held.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of `key` in the header of a MANIFEST's text.
pub fn manifest_value(text: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}: ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(str::to_string)
}

impl Scenario {
    /// Writes `files` small files (in directories of 500) under the data
    /// volume of instance `number`, so that each pass of a backup walks them.
    pub fn fill_data(&self, number: u32, files: u32) {
        let root = self
            .instance_dir(number)
            .join("mapping-volumes/data/filler");
        for n in 0..files {
            let dir = root.join(format!("d{}", n / 500));
            if n % 500 == 0 {
                std::fs::create_dir_all(&dir).unwrap();
            }
            std::fs::write(dir.join(format!("f{n}")), format!("file {n}\n")).unwrap();
        }
    }

    /// The record a run leaves while it holds a container out of service.
    pub fn container_record(&self, number: u32) -> PathBuf {
        self.instance_dir(number).join(".girofle-container-state")
    }

    /// The text `girofle.log` holds now.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.home.join("girofle.log")).unwrap_or_default()
    }
}

/// The first `count` ports from `start` up that `ip` can still bind: the ports
/// a commission without port flags picks, even when an installed Girofle's
/// first instance already holds the defaults (8080, 8443, 2222) on every
/// address of the machine.
pub fn default_ports(ip: &str, start: u16, count: usize) -> Vec<u16> {
    (start..)
        .filter(|port| std::net::TcpListener::bind((ip, *port)).is_ok())
        .take(count)
        .collect()
}

/// Lines a failing GitLab (or the programs around it) may print, in its
/// container's logs or its alerts, each with
/// a secret of a shape the redactor must know (issue 19 §5), and the secret.
pub const LINES_WITH_SECRETS: [(&str, &str); 9] = [
    (
        "fetching http://deploy:Pa55-in-url@10.0.0.9/x",
        "Pa55-in-url",
    ),
    ("\"db_key_base\": \"d1b2k3e4y5\",", "d1b2k3e4y5"),
    ("otp_key_base: 0a7b1c2d3e4f", "0a7b1c2d3e4f"),
    ("secret_key_base = 5ecre7ba5e99", "5ecre7ba5e99"),
    (
        "Authorization: Bearer glpat-B3arerT0kenValue",
        "B3arerT0kenValue",
    ),
    (
        "remote: https://oauth2:glpat-0auth2T0kenValue@gitlab.example.org/g/a.git",
        "0auth2T0kenValue",
    ),
    ("access_key=AKIAEXAMPLEKEY123", "AKIAEXAMPLEKEY123"),
    ("pg_dump --password hunter2-flag", "hunter2-flag"),
    (
        "runner registered with glrt-RunnerT0kenValue",
        "RunnerT0kenValue",
    ),
];
