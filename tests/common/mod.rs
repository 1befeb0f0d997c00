//! The one scenario helper of the integration tests: a fresh Girofle home,
//! its own container prefix and cron directory, loopback addresses of its
//! own, the real binaries, and a real Docker engine. Containers made under
//! the home are removed by label when the scenario ends, pass or fail.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The stand-in image every test runs (built by the test command).
pub const STANDIN_IMAGE: &str = "girofle-gitlab-standin:latest";
/// A stand-in whose boot never ends within a test.
pub const SLOW_BOOT_IMAGE: &str = "girofle-gitlab-standin:slow-boot";

static ADDRESSES: AtomicU32 = AtomicU32::new(0);

/// A test's own Girofle world.
pub struct Scenario {
    _root: tempfile::TempDir,
    pub home: PathBuf,
    pub cron_dir: PathBuf,
    pub prefix: String,
}

/// What a binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// What a finished process did.
    pub fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics, showing everything, unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// A loopback address no other test process uses.
pub fn fresh_ip() -> String {
    let pid = std::process::id();
    let n = ADDRESSES.fetch_add(1, Ordering::SeqCst);
    format!(
        "127.{}.{}.{}",
        100 + (n % 100),
        (pid >> 8) % 256,
        pid % 250 + 2
    )
}

impl Scenario {
    pub fn new() -> Scenario {
        let parent = std::env::temp_dir().join("girofle-tests");
        std::fs::create_dir_all(&parent).unwrap();
        let root = tempfile::Builder::new()
            .prefix("t")
            .tempdir_in(&parent)
            .unwrap();
        let home = root.path().join("home");
        let cron_dir = root.path().join("cron.d");
        let tag = root
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase();
        let prefix = format!("gt{}", tag.trim_start_matches('.').replace(['_', '.'], ""));
        Scenario {
            home,
            cron_dir,
            prefix,
            _root: root,
        }
    }

    /// A command for one of the crate's binaries, in this scenario's world.
    pub fn command(&self, binary: &str) -> Command {
        let path = if binary.starts_with("girofle-") {
            binary_path(binary)
        } else {
            PathBuf::from(binary)
        };
        let mut command = Command::new(path);
        command
            .env("GIROFLE_HOME", &self.home)
            .env("GIROFLE_CRON_DIR", &self.cron_dir)
            .env("GIROFLE_PREFIX", &self.prefix)
            .env("GIROFLE_IMAGE", STANDIN_IMAGE)
            // install.sh puts completions, man pages and its logrotate file there, not in the host's /usr and /etc.
            .env("GIROFLE_SHARE_ROOT", self.home.with_file_name("share"))
            .env_remove("REPERTOIRE_GIROFLE")
            .stdin(Stdio::null());
        command
    }

    /// Runs a binary with arguments and waits for it.
    pub fn run(&self, binary: &str, args: &[&str]) -> Run {
        Run::from(self.command(binary).args(args).output().unwrap())
    }

    /// Commissions an instance and returns its URL; panics on failure.
    pub fn commission(&self, args: &[&str]) -> String {
        let mut all = vec!["--wait-timeout", "120"];
        all.extend_from_slice(args);
        let run = self.run("girofle-commission", &all).expect_code(0);
        let url = run.stdout.trim().to_string();
        assert!(url.starts_with("http://"), "not a URL on stdout: {url:?}");
        assert_eq!(
            run.stdout.lines().count(),
            1,
            "stdout holds more than the URL"
        );
        url
    }

    /// `girofle-list --all --format json`, parsed.
    pub fn list_json(&self) -> Vec<serde_json::Value> {
        let run = self
            .run("girofle-list", &["--all", "--format", "json"])
            .expect_code(0);
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", run.stdout))
    }

    /// The listed entry of instance `number`.
    pub fn entry(&self, number: u64) -> serde_json::Value {
        self.list_json()
            .into_iter()
            .find(|entry| entry["number"] == number)
            .unwrap_or_else(|| panic!("instance {number} is not listed"))
    }

    pub fn inventory(&self) -> PathBuf {
        self.home.join("inventory.girofle")
    }

    /// The inventory's bytes, or empty when it does not exist.
    pub fn inventory_bytes(&self) -> Vec<u8> {
        std::fs::read(self.inventory()).unwrap_or_default()
    }

    /// The containers the engine has under this scenario's home.
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("label=girofle.home={}", self.home.display());
        let out = docker(&["ps", "--all", "--filter", &filter, "--format", "{{.Names}}"]);
        out.lines().map(str::to_string).collect()
    }

    /// Names in the home directory (instance directories among them).
    pub fn home_entries(&self) -> Vec<String> {
        sorted_names(&self.home)
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let filter = format!("label=girofle.home={}", self.home.display());
        let ids = docker(&["ps", "--all", "--quiet", "--filter", &filter]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "--force", "--volumes"];
            args.extend(ids);
            let _ = Command::new("docker").args(&args).output();
        }
    }
}

/// The names in a directory, sorted; none when it does not exist.
pub fn sorted_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every binary of the crate.
pub const BINARIES: [&str; 6] = [
    "girofle-commission",
    "girofle-list",
    "girofle-backup",
    "girofle-restore",
    "girofle-decommission",
    "girofle-ntp-fix",
];

/// Where cargo built a binary of this crate.
pub fn binary_path(binary: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/<test> -> target/debug/<binary>
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join(binary)
}

/// Runs docker and returns its stdout; panics when it fails.
pub fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        output.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs git in `dir`; panics when it fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Girofle Test",
            "-c",
            "user.email=test@girofle.invalid",
        ])
        .args(["-c", "init.defaultBranch=main", "-c", "protocol.version=2"])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Makes a repository with `commits` commits in `dir`; returns the last commit ID.
pub fn make_repository(dir: &Path, commits: u32) -> String {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "--quiet"]);
    for n in 1..=commits {
        std::fs::write(dir.join("README.md"), format!("commit {n}\n")).unwrap();
        git(dir, &["add", "README.md"]);
        git(dir, &["commit", "--quiet", "-m", &format!("commit {n}")]);
    }
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// A plain HTTP GET of `url` (http://host:port/path), connecting to `ip`
/// whatever the URL's host name resolves to. Returns the status code and body.
pub fn http_get(ip: &str, url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host_port, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let port: u16 = host_port.rsplit(':').next().unwrap().parse().unwrap();
    let address: SocketAddr = format!("{ip}:{port}").parse().unwrap();
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("cannot connect to {address}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host_port}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("")
        .to_string();
    (status, body)
}

impl Scenario {
    /// `noeud-gitlab-<N>` of this scenario.
    pub fn instance_dir(&self, number: u32) -> PathBuf {
        self.home.join(format!("noeud-gitlab-{number}"))
    }

    /// The names under `bckups/` of instance `number`, sorted (partials included).
    pub fn backup_names(&self, number: u32) -> Vec<String> {
        sorted_names(&self.instance_dir(number).join("bckups"))
    }

    /// Backs up instance `number` with extra arguments; returns the new ID.
    pub fn backup(&self, number: u32, args: &[&str]) -> String {
        let number = number.to_string();
        let mut all = vec![number.as_str()];
        all.extend_from_slice(args);
        let run = self.run("girofle-backup", &all).expect_code(0);
        let id = run.stdout.trim().to_string();
        assert_eq!(id.len(), 20, "not a backup ID: {id:?}");
        id
    }
}

mod drills;
mod gitlab;
mod signals;
mod sshd;
mod trust;

// The client's tests take this harness too, and use only part of it.
#[allow(unused_imports)]
pub use {drills::*, gitlab::*, signals::*, sshd::*, trust::*};
