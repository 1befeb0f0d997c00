//! `girofle-ntp-fix`: the seed's annex, made safe. When the clock is so wrong
//! that the package manager refuses its TLS certificates, an NTP client is
//! installed with certificate verification switched off for that install
//! only, switched back on before anything else (also when the install fails
//! or the process is interrupted; a marker lets the next run remove a
//! leftover if it was killed), then the clock is synchronised, the hardware
//! clock written and the NTP service enabled.

use fs_err as fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

use crate::error::{Error, Result};
use crate::home::Home;

/// The server used when none is given.
pub const DEFAULT_SERVER: &str = "0.pool.ntp.org";
/// What marks every line or file Girofle adds to switch verification off.
pub const MARKER: &str = "girofle-ntp-fix: temporary";
const APT_DROP_IN: &str = "etc/apt/apt.conf.d/99girofle-ntp-fix";
const CLIENTS: [&str; 3] = ["chronyd", "ntpdate", "sntp"];

/// Synchronise the clock; install an NTP client first if needed (TLS verification is switched off for
/// that install only, and back on before anything else)
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// NTP server, HOST or HOST:PORT
    #[arg(long, value_name = "HOST[:PORT]", default_value = DEFAULT_SERVER, value_parser = parse_server)]
    pub server: String,
    /// Only measure the offset; change nothing
    #[arg(long)]
    pub check: bool,
    /// Do not write the hardware clock
    #[arg(long)]
    pub no_hwclock: bool,
    /// The root whose package-manager files are changed (a chroot; tests)
    #[arg(long, value_name = "DIR", default_value = "/", hide = true)]
    pub root: PathBuf,
    /// The package that brings the NTP client
    #[arg(long, value_name = "NAME", default_value = "chrony", hide = true)]
    pub client_package: String,
}

/// What was done.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outcome {
    /// The measured offset in seconds (positive: the clock is ahead).
    pub offset: Option<f64>,
    /// One line per step, for the log and the terminal.
    pub steps: Vec<String>,
    /// Things that could not be done but do not fail the run.
    pub warnings: Vec<String>,
}

/// Which package manager the root has, and where its TLS switch lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// apt: a drop-in file with `Acquire::https::Verify-Peer "false";`.
    Apt,
    /// dnf: `sslverify=false` in `/etc/dnf/dnf.conf`.
    Dnf,
    /// yum: `sslverify=false` in `/etc/yum.conf`.
    Yum,
}

impl Manager {
    /// Detects the manager from the root's files.
    pub fn detect(root: &Path) -> Option<Manager> {
        if root.join("etc/apt").is_dir() {
            Some(Manager::Apt)
        } else if root.join("etc/dnf/dnf.conf").is_file() {
            Some(Manager::Dnf)
        } else if root.join("etc/yum.conf").is_file() {
            Some(Manager::Yum)
        } else {
            None
        }
    }

    fn main_config(&self, root: &Path) -> PathBuf {
        match self {
            Manager::Apt => root.join(APT_DROP_IN),
            Manager::Dnf => root.join("etc/dnf/dnf.conf"),
            Manager::Yum => root.join("etc/yum.conf"),
        }
    }

    /// Switches certificate verification off, with the marker.
    pub fn verification_off(&self, root: &Path) -> Result<()> {
        let path = self.main_config(root);
        match self {
            Manager::Apt => {
                let text = format!(
                    "// {MARKER}: removed as soon as the NTP client is installed\nAcquire::https::Verify-Peer \"false\";\n"
                );
                crate::atomic::write(&path, text.as_bytes(), 0o644)?;
            }
            Manager::Dnf | Manager::Yum => {
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let mut out = String::new();
                let mut added = false;
                for line in text.lines() {
                    out.push_str(line);
                    out.push('\n');
                    if !added && line.trim() == "[main]" {
                        out.push_str(&format!("# {MARKER} (the next line)\nsslverify=false\n"));
                        added = true;
                    }
                }
                if !added {
                    out.push_str(&format!(
                        "[main]\n# {MARKER} (the next line)\nsslverify=false\n"
                    ));
                }
                crate::atomic::write(&path, out.as_bytes(), 0o644)?;
            }
        }
        Ok(())
    }

    /// Switches it back on; returns whether anything was there to remove.
    pub fn verification_on(&self, root: &Path) -> Result<bool> {
        let path = self.main_config(root);
        match self {
            Manager::Apt => match fs::remove_file(&path) {
                Ok(()) => {
                    crate::atomic::sync_directory(path.parent().unwrap_or(root))?;
                    Ok(true)
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(error) => Err(error.into()),
            },
            Manager::Dnf | Manager::Yum => {
                let Ok(text) = fs::read_to_string(&path) else {
                    return Ok(false);
                };
                let mut out = String::new();
                let mut skip_next = false;
                let mut removed = false;
                for line in text.lines() {
                    if skip_next {
                        skip_next = false;
                        if line.trim().starts_with("sslverify") {
                            continue;
                        }
                    }
                    if line.contains(MARKER) {
                        skip_next = true;
                        removed = true;
                        continue;
                    }
                    out.push_str(line);
                    out.push('\n');
                }
                if removed {
                    crate::atomic::write(&path, out.as_bytes(), 0o644)?;
                }
                Ok(removed)
            }
        }
    }

    fn install_command(&self, root: &Path, package: &str) -> Command {
        let mut command = match self {
            Manager::Apt => {
                let mut c = Command::new("apt-get");
                if root != Path::new("/") {
                    c.arg("-o").arg(format!(
                        "Dir::Etc::Parts={}",
                        root.join("etc/apt/apt.conf.d").display()
                    ));
                }
                c.args(["install", "-y", "-q", package]);
                c.env("DEBIAN_FRONTEND", "noninteractive");
                c
            }
            Manager::Dnf | Manager::Yum => {
                let mut c = Command::new(if *self == Manager::Dnf { "dnf" } else { "yum" });
                if root != Path::new("/") {
                    c.arg("-c").arg(self.main_config(root));
                }
                c.args(["install", "-y", package]);
                c
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }
}

/// Removes what a killed run left: returns what was removed.
pub fn remove_leftovers(root: &Path) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for manager in [Manager::Apt, Manager::Dnf, Manager::Yum] {
        let path = manager.main_config(root);
        let leftover = fs::read_to_string(&path)
            .map(|text| text.contains(MARKER))
            .unwrap_or(false);
        if leftover && manager.verification_on(root)? {
            removed.push(format!(
                "switched TLS verification back on in {} (left off by a killed run)",
                path.display()
            ));
        }
    }
    Ok(removed)
}

/// Where an NTP client of `root` is, if any.
fn find_client(root: &Path) -> Option<PathBuf> {
    let directories = [
        "usr/sbin",
        "usr/bin",
        "sbin",
        "bin",
        "usr/local/sbin",
        "usr/local/bin",
    ];
    if root == Path::new("/") {
        let mut path = std::env::var("PATH").unwrap_or_default();
        for directory in directories {
            path.push_str(&format!(":/{directory}"));
        }
        CLIENTS
            .iter()
            .find_map(|client| which::which_in(client, Some(&path), "/").ok())
    } else {
        CLIENTS.iter().find_map(|client| {
            directories
                .iter()
                .map(|d| root.join(d).join(client))
                .find(|candidate| candidate.is_file())
        })
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_interruption(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Runs the install with verification off, and switches it back on whatever
/// happens: success, failure, or SIGINT/SIGTERM/SIGHUP (the child is stopped
/// first). Only SIGKILL can skip this; the marker covers that.
fn install_with_verification_off(manager: &Manager, root: &Path, package: &str) -> Result<()> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(note_interruption),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let mut previous = Vec::new();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        previous.push((
            signal,
            unsafe { sigaction(signal, &action) }.context("cannot install a signal handler")?,
        ));
    }
    manager.verification_off(root)?;
    let result = (|| -> Result<()> {
        let mut child = manager
            .install_command(root, package)
            .spawn()
            .context("cannot run the package manager")?;
        loop {
            if INTERRUPTED.load(Ordering::SeqCst) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::failed("interrupted during the install"));
            }
            if let Some(status) = child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                return Err(Error::failed(format!(
                    "installing {package} failed ({status}): {}",
                    stderr.trim().lines().last().unwrap_or("")
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })();
    // Before anything else, whatever happened.
    let restored = manager.verification_on(root);
    for (signal, action) in previous {
        // SAFETY: restores the handlers that were in place.
        let _ = unsafe { sigaction(signal, &action) };
    }
    restored?;
    result
}

/// `--server`: a host name, an IPv4 address or an IPv6 address, and an
/// optional `:PORT` (IPv6 with a port: `[ADDR]:PORT`). Anything else (a
/// space, a newline, a quote...) is refused: the value goes into chronyd's
/// configuration file, one directive a line.
fn parse_server(text: &str) -> std::result::Result<String, String> {
    let refuse = || {
        format!(
            "`{}` is not HOST or HOST:PORT (a host name or an address, and an optional port)",
            text.escape_debug()
        )
    };
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(text.to_string());
    }
    let (host, port): (&str, Option<&str>) = if let Some(rest) = text.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or_else(refuse)?;
        address
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| refuse())?;
        (address, Some(after.strip_prefix(':').ok_or_else(refuse)?))
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    if let Some(port) = port
        && !matches!(port.parse::<u16>(), Ok(1..))
    {
        return Err(refuse());
    }
    let host_name = |host: &str| {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && label
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
            })
    };
    if text.starts_with('[') || host_name(host) {
        Ok(text.to_string())
    } else {
        Err(refuse())
    }
}

fn server_and_port(server: &str) -> Result<(String, u16)> {
    match server.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            let port = port
                .parse()
                .map_err(|_| Error::usage(format!("--server {server}: `{port}` is not a port")))?;
            Ok((host.to_string(), port))
        }
        _ => Ok((server.to_string(), 123)),
    }
}

/// Asks the server for the offset (`set`: and steps the clock) with chronyd.
fn chronyd(server: &str, set: bool) -> Result<f64> {
    let (host, port) = server_and_port(server)?;
    let work = tempfile::tempdir()?;
    let config = work.path().join("chrony.conf");
    fs::write(
        &config,
        format!(
            "server {host} port {port} iburst maxsamples 4\npidfile {}\ncmdport 0\n",
            work.path().join("chronyd.pid").display()
        ),
    )?;
    let output = Command::new(
        find_client(Path::new("/"))
            .filter(|p| p.ends_with("chronyd"))
            .unwrap_or_else(|| PathBuf::from("chronyd")),
    )
    .arg(if set { "-q" } else { "-Q" })
    .args(["-u", "root", "-t", "20", "-f"])
    .arg(&config)
    .stdin(Stdio::null())
    .output()
    .context("cannot run chronyd")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let offset = text
        .lines()
        .find_map(|line| line.split("System clock wrong by ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse::<f64>().ok());
    match (output.status.success(), offset) {
        (true, Some(offset)) => Ok(-offset),
        _ => Err(Error::failed(format!(
            "no answer from the NTP server {host}:{port}: {}",
            text.trim().lines().last().unwrap_or("")
        ))),
    }
}

fn now_text() -> String {
    crate::timefmt::now_rfc3339()
}

/// Runs the fix (or, with `check`, only measures).
pub fn run(home: &Home, args: &Args) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    // Only root cleans up (`--check` may run as anyone and changes nothing).
    if nix::unistd::geteuid().is_root() {
        for line in remove_leftovers(&args.root)? {
            home.log("ntp-fix", &line);
            outcome.steps.push(line);
        }
    }
    if args.check {
        let offset = chronyd(&args.server, false)?;
        home.log(
            "ntp-fix",
            &format!(
                "offset against {}: {offset:+.6} s (check only)",
                args.server
            ),
        );
        outcome.offset = Some(offset);
        return Ok(outcome);
    }
    ensure_client(home, args, &mut outcome)?;
    let before = now_text();
    let offset = chronyd(&args.server, true)?;
    let after = now_text();
    let line = format!(
        "clock synchronised with {}: it was {before}, off by {offset:+.6} s; now {after}",
        args.server
    );
    home.log("ntp-fix", &line);
    outcome.steps.push(line);
    outcome.offset = Some(offset);
    if !args.no_hwclock {
        write_hardware_clock(&mut outcome);
    }
    if args.root == Path::new("/") {
        enable_service(&mut outcome);
    } else {
        outcome.warnings.push(format!(
            "{} is another root: its NTP service is not started from here",
            args.root.display()
        ));
    }
    for warning in &outcome.warnings {
        home.log("ntp-fix", &format!("warning: {warning}"));
    }
    Ok(outcome)
}

/// An NTP client, installed with TLS verification off for the install only
/// when there is none.
fn ensure_client(home: &Home, args: &Args, outcome: &mut Outcome) -> Result<()> {
    if let Some(client) = find_client(&args.root) {
        outcome.steps.push(format!(
            "an NTP client is installed ({}): TLS settings left alone",
            client.display()
        ));
        return Ok(());
    }
    let manager = Manager::detect(&args.root).ok_or_else(|| {
        Error::failed(format!(
            "no NTP client and no apt, dnf or yum configuration under {}",
            args.root.display()
        ))
    })?;
    let result = install_with_verification_off(&manager, &args.root, &args.client_package);
    let line = match &result {
        Ok(()) => format!(
            "installed {} with TLS verification off for the install only; it is back on",
            args.client_package
        ),
        Err(error) => {
            format!("TLS verification is back on after a failed install: {error}")
        }
    };
    home.log("ntp-fix", &line);
    outcome.steps.push(line);
    result
}

/// `hwclock --systohc`, when the host has a hardware clock.
fn write_hardware_clock(outcome: &mut Outcome) {
    let has_rtc = fs::read_dir("/dev")
        .map(|e| {
            e.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("rtc"))
        })
        .unwrap_or(false);
    if has_rtc
        && Command::new("hwclock")
            .arg("--systohc")
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    {
        outcome.steps.push("hardware clock written".into());
    } else {
        outcome
            .warnings
            .push("this host has no usable hardware clock: not written".into());
    }
}

/// The NTP service enabled and started, so that the clock stays right.
fn enable_service(outcome: &mut Outcome) {
    let enabled = ["chrony", "chronyd"].iter().any(|service| {
        Command::new("systemctl")
            .args(["enable", "--now", service])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
            || Command::new("service")
                .args([*service, "start"])
                .stderr(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
    });
    if enabled {
        outcome
            .steps
            .push("the NTP service is enabled, so the clock stays right".into());
    } else {
        outcome
            .warnings
            .push("could not enable the NTP service: the clock may drift again".into());
    }
}

#[cfg(test)]
mod tests;
