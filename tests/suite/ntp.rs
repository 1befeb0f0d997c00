//! girofle-ntp-fix against a real chronyd serving time on loopback, with the
//! package-manager files in a root of the test's own (never this machine's).

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scenario, fresh_ip};

/// A chronyd serving time on loopback: this machine's own clock, or (for
/// measurements only: a sync would step this machine's clock) one that runs
/// `ahead` seconds in front of it, through faketime.
struct TimeServer {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

const AHEAD: f64 = 30.0;

impl TimeServer {
    fn start(ahead: f64) -> TimeServer {
        let dir = tempfile::tempdir().unwrap();
        let ip = fresh_ip();
        let port = {
            let socket = std::net::UdpSocket::bind(format!("{ip}:0")).unwrap();
            socket.local_addr().unwrap().port()
        };
        fs::write(
            dir.path().join("chrony.conf"),
            format!(
                "port {port}\nbindaddress {ip}\nallow 127.0.0.0/8\nlocal stratum 1\ncmdport 0\npidfile {}/chronyd.pid\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let mut command = if ahead == 0.0 {
            Command::new("chronyd")
        } else {
            let mut faked = Command::new("faketime");
            faked.args(["-f", &format!("+{ahead}s"), "chronyd"]);
            faked
        };
        let child = command
            .args(["-x", "-u", "root", "-d", "-f"])
            .arg(dir.path().join("chrony.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("faketime and chrony are installed");
        // Ready when it holds its port.
        let start = Instant::now();
        while std::net::UdpSocket::bind(format!("{ip}:{port}")).is_ok() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chronyd did not bind {ip}:{port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TimeServer {
            child,
            address: format!("{ip}:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for TimeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a run, watching whether verification was switched off meanwhile.
fn watch(mut child: Child, drop_in: &Path) -> (bool, std::process::Output) {
    let mut seen = false;
    while child.try_wait().unwrap().is_none() {
        seen |= fs::read_to_string(drop_in)
            .map(|t| t.contains("Verify-Peer \"false\""))
            .unwrap_or(false);
        std::thread::sleep(Duration::from_millis(2));
    }
    (seen, child.wait_with_output().unwrap())
}

/// A root with apt's configuration directory and nothing else.
fn apt_root() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let parts = root.path().join("etc/apt/apt.conf.d");
    fs::create_dir_all(&parts).unwrap();
    (root, parts.join("99girofle-ntp-fix"))
}

fn ntp_fix(world: &Scenario, root: &Path, server: &TimeServer, extra: &[&str]) -> Command {
    let mut command = world.command("girofle-ntp-fix");
    command
        .args([
            "--root",
            root.to_str().unwrap(),
            "--server",
            &server.address,
            "--no-hwclock",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[test]
fn check_measures_the_offset_and_changes_nothing() {
    let world = Scenario::new();
    fs::create_dir_all(&world.home).unwrap();
    let server = TimeServer::start(AHEAD);
    let (root, drop_in) = apt_root();
    let output = ntp_fix(&world, root.path(), &server, &["--check"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let offset: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(
        (offset + AHEAD).abs() < 1.0,
        "this clock is {AHEAD} s behind the server, measured {offset}"
    );
    assert!(!drop_in.exists());
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap_or_default();
    assert!(log.contains("check only"), "{log}");
}

#[test]
fn with_a_client_installed_tls_settings_are_never_touched() {
    let world = Scenario::new();
    fs::create_dir_all(&world.home).unwrap();
    let server = TimeServer::start(0.0);
    let (root, drop_in) = apt_root();
    fs::create_dir_all(root.path().join("usr/sbin")).unwrap();
    fs::write(root.path().join("usr/sbin/chronyd"), "").unwrap();
    let (seen, output) = watch(
        ntp_fix(&world, root.path(), &server, &[]).spawn().unwrap(),
        &drop_in,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !seen && !drop_in.exists(),
        "verification was switched off although a client is installed"
    );
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(log.contains("clock synchronised with"), "{log}");
}

/// One test for the three installs: apt takes one lock for the whole machine.
#[test]
fn verification_is_switched_back_on_after_an_install_that_succeeds_fails_or_is_killed() {
    let world = Scenario::new();
    fs::create_dir_all(&world.home).unwrap();
    let server = TimeServer::start(0.0);
    let (root, drop_in) = apt_root();

    // Succeeds: chrony is this machine's own package (already installed, so apt does not download).
    let (seen, output) = watch(
        ntp_fix(&world, root.path(), &server, &[]).spawn().unwrap(),
        &drop_in,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        seen,
        "verification was never switched off during the install"
    );
    assert!(
        !drop_in.exists(),
        "verification is still off after a successful install"
    );
    let offset: f64 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(offset.abs() < 1.0, "{offset}");

    // Fails: no such package.
    let (seen, output) = watch(
        ntp_fix(
            &world,
            root.path(),
            &server,
            &["--client-package", "girofle-no-such-package"],
        )
        .spawn()
        .unwrap(),
        &drop_in,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(seen);
    assert!(
        !drop_in.exists(),
        "verification is still off after a failed install"
    );
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("installing girofle-no-such-package failed")
    );

    // Killed while verification is off: the marker lets the next run clean up.
    let mut child = ntp_fix(&world, root.path(), &server, &[]).spawn().unwrap();
    let start = Instant::now();
    while !drop_in.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "verification never went off"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        fs::read_to_string(&drop_in)
            .unwrap()
            .contains("girofle-ntp-fix: temporary")
    );
    let output = ntp_fix(&world, root.path(), &server, &["--check"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!drop_in.exists(), "the next run left the leftover in place");
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(log.contains("left off by a killed run"), "{log}");
    // Let the killed run's apt-get finish before the machine's apt is used again.
    let start = Instant::now();
    while Command::new("fuser")
        .arg("/var/lib/dpkg/lock-frontend")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(200));
    }
}
