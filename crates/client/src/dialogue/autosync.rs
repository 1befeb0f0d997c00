//! `autosync on|off|run`: the user service set up, removed, and the loop it
//! runs, which says on stderr (the journal, under systemd) what it sent.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use girofle_base::error::{Error, Exit, Result};

use super::UsingArg;
use crate::autosync::{self, Choice, Files, Kind};
use crate::config::{Config, Location};
use crate::session::{Client, Notes};
use crate::tr;

/// Set by SIGTERM, SIGHUP or SIGINT: the person leaves (logout, shutdown).
static LEAVING: AtomicBool = AtomicBool::new(false);

extern "C" fn on_leaving(_: nix::libc::c_int) {
    LEAVING.store(true, Ordering::SeqCst);
}

pub(super) fn on(
    location: &Location,
    save_on_leave: bool,
    every: u64,
    using: Option<UsingArg>,
) -> Result<Exit> {
    if every == 0 {
        return Err(Error::usage(tr!("autosync-every-zero")));
    }
    // The service would fail at each start: the machine is set up first.
    Config::load(location)?;
    let kind = match using {
        Some(UsingArg::Systemd) => Kind::Systemd,
        Some(UsingArg::Autostart) => Kind::Autostart,
        None => Kind::detect(),
    };
    let program = std::env::current_exe()?;
    let files = Files::here()?;
    let choice = Choice {
        save_on_leave,
        every_minutes: every,
    };
    let config = location.explicit.then_some(location.file.as_path());
    let environment = autosync::session_environment();
    autosync::install(&files, kind, &program, (config, &environment), &choice)?;
    eprintln!(
        "{}",
        if save_on_leave {
            tr!("autosync-on-saving", minutes = every)
        } else {
            tr!("autosync-on", minutes = every)
        }
    );
    match kind {
        Kind::Systemd => {
            let started = systemctl(&["daemon-reload"])
                && systemctl(&["restart", autosync::SERVICE])
                && systemctl(&["restart", autosync::TIMER]);
            eprintln!(
                "{}",
                if started {
                    tr!("autosync-started")
                } else {
                    tr!("autosync-next-login")
                }
            );
        }
        Kind::Autostart => {
            let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
                .iter()
                .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
            // Started now for this session; the desktop starts it at the next.
            let started = desktop
                && std::process::Command::new(&program)
                    .args(autosync::loop_args(config, kind, &choice))
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .is_ok();
            eprintln!(
                "{}",
                if started {
                    tr!("autosync-started")
                } else {
                    tr!("autosync-next-login")
                }
            );
        }
    }
    Ok(Exit::Done)
}

pub(super) fn off() -> Result<Exit> {
    let files = Files::here()?;
    if files.installed() == Some(Kind::Systemd) {
        // Stopping it sends one last time, as a logout would.
        systemctl(&["stop", autosync::SERVICE, autosync::TIMER]);
    }
    let removed = autosync::remove(&files)?;
    if files.service.parent().is_some_and(Path::exists) {
        systemctl(&["daemon-reload"]);
    }
    eprintln!(
        "{}",
        if removed.is_empty() {
            tr!("autosync-was-off")
        } else {
            tr!("autosync-off")
        }
    );
    Ok(Exit::Done)
}

/// `systemctl --user ARGS`; whether it worked (there may be no user manager).
fn systemctl(args: &[&str]) -> bool {
    let Ok(program) = which::which("systemctl") else {
        return false;
    };
    std::process::Command::new(program)
        .arg("--user")
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// What the loop did, on stderr; a failure is said and the loop goes on.
fn say(notes: Result<Notes>) {
    match notes {
        Ok(notes) => {
            for line in notes.lines {
                eprintln!("{line}");
            }
        }
        Err(error) => eprintln!("{error}"),
    }
}

/// The loop: answers other machines' requests every `check_every` seconds,
/// sends every `every` minutes (0: never, a timer does), and sends when
/// signalled that the person leaves; with `once`, sends once and ends.
pub(super) fn run(
    location: Location,
    save_on_leave: bool,
    every: u64,
    check_every: u64,
    once: bool,
) -> Result<Exit> {
    let client = Client::open(location)?;
    if once {
        say(client.send_all(false));
        return Ok(Exit::Done);
    }
    // One loop per machine: the systemd service and a desktop's autostart
    // entry (or a second session) would otherwise both answer.
    let lock_path = client.data_dir.join("autosync.lock");
    std::fs::create_dir_all(&client.data_dir)?;
    let lock = girofle_base::atomic::open_lock_file(&lock_path)?;
    if lock.try_lock().is_err() {
        eprintln!("{}", tr!("autosync-already"));
        return Ok(Exit::Done);
    }
    for signal in [
        nix::sys::signal::Signal::SIGTERM,
        nix::sys::signal::Signal::SIGHUP,
        nix::sys::signal::Signal::SIGINT,
    ] {
        let action = nix::sys::signal::SigAction::new(
            nix::sys::signal::SigHandler::Handler(on_leaving),
            nix::sys::signal::SaFlags::empty(),
            nix::sys::signal::SigSet::empty(),
        );
        // SAFETY: the handler only stores to an atomic.
        unsafe { nix::sys::signal::sigaction(signal, &action) }
            .map_err(|error| Error::failed(error.to_string()))?;
    }
    let files = Files::here()?;
    let installed = files.installed().is_some();
    say(client.answer_requests(Some(true)));
    eprintln!("{}", tr!("autosync-running"));
    let check = Duration::from_secs(check_every.max(1));
    let regular = Duration::from_secs(every.saturating_mul(60));
    let mut last_sent = Instant::now();
    loop {
        let until = Instant::now() + check;
        while Instant::now() < until && !LEAVING.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(200));
        }
        if LEAVING.load(Ordering::SeqCst) {
            break;
        }
        // Turned off (or the machine's settings removed): end quietly.
        if (installed && files.installed().is_none()) || !client.location.file.exists() {
            let _ = client.answer_requests(Some(false));
            return Ok(Exit::Done);
        }
        say(client.answer_requests(Some(true)));
        if every > 0 && last_sent.elapsed() >= regular {
            say(client.send_all(false));
            last_sent = Instant::now();
        }
    }
    eprintln!("{}", tr!("autosync-leaving"));
    say(client.send_all(save_on_leave));
    say(client.answer_requests(Some(false)));
    Ok(Exit::Done)
}
