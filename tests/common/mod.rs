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

/// The health of a container, as docker reports it.
pub fn health(container: &str) -> String {
    docker(&[
        "inspect",
        "--format",
        "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
        container,
    ])
    .trim()
    .to_string()
}

/// The run state of a container.
pub fn status(container: &str) -> String {
    docker(&["inspect", "--format", "{{.State.Status}}", container])
        .trim()
        .to_string()
}

/// Waits (up to two minutes) until the container is healthy.
pub fn wait_healthy(container: &str) {
    let start = std::time::Instant::now();
    while health(container) != "healthy" {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{container} never became healthy: {} {}",
            status(container),
            health(container)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Adds a commit to the repository in `dir` and pushes it to `remote`; returns its ID.
pub fn push_commit(dir: &Path, remote: &str, message: &str) -> String {
    std::fs::write(dir.join("README.md"), format!("{message}\n")).unwrap();
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "--quiet", "-m", message]);
    push_retrying_transport(dir, remote);
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// `git push REMOTE main`, tried again (up to 5 times) only when the
/// connection itself failed: the stand-in answers one request at a time, and
/// a push that meets its health probe can be reset. A push the server
/// refuses still fails the test.
fn push_retrying_transport(dir: &Path, remote: &str) {
    for _ in 0..4 {
        let output = Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "protocol.version=2",
                "push",
                "--quiet",
                remote,
                "main",
            ])
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .expect("git runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || !is_transport_failure(&stderr) {
            assert!(output.status.success(), "git push failed: {stderr}");
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    git(dir, &["push", "--quiet", remote, "main"]);
}

/// Whether git's stderr says the connection itself failed (not the server
/// refusing): the stand-in answers one request at a time, so a request that
/// meets its health probe can be reset or get an empty reply.
fn is_transport_failure(stderr: &str) -> bool {
    stderr.contains("Connection reset")
        || stderr.contains("Recv failure")
        || stderr.contains("Failed to connect")
        || stderr.contains("Empty reply from server")
}

/// The HEAD commit of `remote`'s main branch, read through a fresh clone
/// (tried again, up to 5 times, when the connection itself failed).
pub fn remote_head(remote: &str) -> String {
    let ls_remote = || {
        Command::new("git")
            .args(["ls-remote", remote, "refs/heads/main"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .unwrap()
    };
    let mut out = ls_remote();
    for _ in 0..4 {
        if out.status.success() || !is_transport_failure(&String::from_utf8_lossy(&out.stderr)) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        out = ls_remote();
    }
    assert!(
        out.status.success(),
        "git ls-remote {remote}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// A real OpenSSH server on a loopback address and port of its own, key
/// authentication only, standing for another machine. Its files live in a
/// temp directory; it is stopped when dropped.
pub struct Sshd {
    child: std::process::Child,
    pub ip: String,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let ip = fresh_ip();
        let port = {
            let listener = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
            listener.local_addr().unwrap().port()
        };
        for key in ["host_key", "client_key", "other_host_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(key))
                .status()
                .unwrap();
            assert!(status.success());
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let config = format!(
            "ListenAddress {ip}:{port}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile none\n",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("sshd_config"), config).unwrap();
        let host_key = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
        std::fs::write(
            dir.path().join("known_hosts"),
            format!("[{ip}]:{port} {host_key}"),
        )
        .unwrap();
        let other = std::fs::read_to_string(dir.path().join("other_host_key.pub")).unwrap();
        std::fs::write(
            dir.path().join("wrong_known_hosts"),
            format!("[{ip}]:{port} {other}"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("storage")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(dir.path().join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts (apt-get install openssh-server)");
        let start = std::time::Instant::now();
        while TcpStream::connect(format!("{ip}:{port}")).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            ip,
            port,
            dir,
        }
    }

    /// The storage directory the target points at (on this machine).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The `[targets.NAME]` table for this server.
    pub fn target(&self, name: &str, known_hosts: &str) -> String {
        format!(
            "[targets.{name}]\nurl = \"root@{ip}:{storage}\"\nport = {port}\nidentity = \"{d}/client_key\"\nknown_hosts = \"{d}/{known_hosts}\"\n",
            ip = self.ip,
            port = self.port,
            storage = self.storage().display(),
            d = self.dir.path().display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Scenario {
    /// The drill containers the engine has under this scenario's home.
    pub fn drill_containers(&self) -> Vec<String> {
        let home = format!("label=girofle.home={}", self.home.display());
        let out = docker(&[
            "ps",
            "--all",
            "--filter",
            &home,
            "--filter",
            "label=girofle.drill",
            "--format",
            "{{.Names}}",
        ]);
        out.lines().map(str::to_string).collect()
    }

    /// The drill scratch copies in instance `number`'s directory.
    pub fn drill_scratch_dirs(&self, number: u32) -> Vec<String> {
        sorted_names(&self.instance_dir(number))
            .into_iter()
            .filter(|name| name.starts_with(".drill-"))
            .collect()
    }

    /// The names in the cron directory.
    pub fn cron_names(&self) -> Vec<String> {
        sorted_names(&self.cron_dir)
    }

    /// The drill record of backup `id` of instance `number`.
    pub fn drill_record(&self, number: u32, id: &str) -> String {
        let path = self
            .instance_dir(number)
            .join("bckups")
            .join(format!("{id}.DRILL"));
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no drill record {}: {e}", path.display()))
    }
}

/// Tears the stand-in's database in instance `number`'s live volume (its
/// container stopped): segment 5 from a generation the WAL never reached, as
/// a copy made while the database writes can be.
pub fn tear_database(world: &Scenario, number: u32) {
    let container = format!("{}-gitlab-{number}", world.prefix);
    docker(&["stop", "--time", "60", &container]);
    let segment = world
        .instance_dir(number)
        .join("mapping-volumes/data/postgresql/data/base/5");
    std::fs::write(&segment, "gen 999999\nxxxx\nend 999999\n").unwrap();
}
// ------------------------------------------------------------ trust (issue 10 §1, §7)

/// Creates the `girofle` group and system user the way install.sh does, if missing.
pub fn ensure_girofle_user() {
    let exists = |args: &[&str]| {
        Command::new("getent")
            .args(args)
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false)
    };
    if !exists(&["group", "girofle"]) {
        let _ = Command::new("groupadd")
            .args(["--system", "girofle"])
            .status();
    }
    if !exists(&["passwd", "girofle"]) {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--gid",
                "girofle",
                "--no-create-home",
                "--shell",
                "/bin/false",
                "girofle",
            ])
            .status();
    }
}

impl Scenario {
    /// Lets other users reach the home (the scenario's temp root is 0700);
    /// what they may do in it is then up to the home's own modes.
    pub fn open_to_others(&self) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self._root.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }

    /// Runs a binary of the crate (or any program) as the `girofle` user,
    /// member of the `girofle` group only, in this scenario's world.
    pub fn run_as_girofle(&self, binary: &str, args: &[&str]) -> Run {
        let program = self.command(binary).get_program().to_owned();
        let mut command = self.command("setpriv");
        command
            .args(["--reuid=girofle", "--regid=girofle", "--init-groups", "--"])
            .arg(program)
            .args(args);
        Run::from(command.output().unwrap())
    }

    /// Runs `sh -c script` as the `girofle` user, `$HOME_DIR` naming the home.
    pub fn sh_as_girofle(&self, script: &str) -> Run {
        let mut command = self.command("setpriv");
        command
            .args(["--reuid=girofle", "--regid=girofle", "--init-groups", "--"])
            .args(["sh", "-c", script])
            .env("HOME_DIR", &self.home);
        Run::from(command.output().unwrap())
    }
}

/// A copy of the project as a host receives it: install.sh, the wrappers,
/// and the prebuilt binaries in dist/ (so that no build runs in the test).
pub fn release_tree() -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(project.join("install.sh"), tree.path().join("install.sh")).unwrap();
    let wrappers = tree.path().join("operations-std/serveur");
    std::fs::create_dir_all(&wrappers).unwrap();
    for entry in std::fs::read_dir(project.join("operations-std/serveur"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), wrappers.join(entry.file_name())).unwrap();
    }
    std::fs::create_dir(tree.path().join("dist")).unwrap();
    for binary in BINARIES {
        std::fs::copy(binary_path(binary), tree.path().join("dist").join(binary)).unwrap();
    }
    tree
}
// ---- Signals and the guardian (issue 10 §2, §4, §6) ----

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
