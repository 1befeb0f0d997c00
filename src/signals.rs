//! SIGINT, SIGTERM and SIGHUP never leave GitLab out of service: they are
//! blocked in every thread from the start of `cli::main`, and one thread
//! waits for them. On a signal it takes the transition lock (so it never
//! acts in the middle of the main thread's own stop or start), runs the
//! recovery the next command would run on every instance this process is
//! working on, logs what it did, and exits 128 + the signal's number.
//! What it could not finish (a partial copy still being written) is left to
//! the guardian, which runs the same recovery once this process is gone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use nix::sys::signal::{SigSet, Signal};

use crate::docker::Docker;
use crate::home::{Home, InstanceDir};

/// The instances this process holds the lock of, with the operation.
static ACTIVE: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

static HOME: OnceLock<(Home, &'static str)> = OnceLock::new();

/// Set as soon as a signal arrives: the operation no longer ends on its own.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// The binaries whose signals are handled here: those that take GitLab out
/// of service.
pub const GUARDED: [&str; 3] = ["girofle-backup", "girofle-restore", "girofle-decommission"];

/// The signals that end an operation with its container put back.
pub const HANDLED: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

fn handled() -> SigSet {
    let mut set = SigSet::empty();
    for signal in HANDLED {
        set.add(signal);
    }
    set
}

/// Blocks [`HANDLED`] in this thread (and so in every thread started after:
/// call it first thing in `main`) when `program` is one of [`GUARDED`]; a
/// signal that arrives from then on waits for [`install`]'s thread. Child
/// processes start with no signal blocked (the standard library resets the
/// mask), so `docker` and `rsync` still die on Ctrl-C as before.
pub fn block(program: &str) {
    if GUARDED.contains(&program) {
        let _ = handled().thread_block();
    }
}

/// Starts the thread that waits for the signals [`block`] blocked, which
/// logs into `home`'s log as `program`.
pub fn install(program: &'static str, home: &Home) {
    let set = handled();
    match nix::sys::signal::SigSet::thread_get_mask() {
        Ok(mask) if HANDLED.iter().all(|signal| mask.contains(*signal)) => {}
        _ => return,
    }
    let _ = HOME.set((home.clone(), program));
    let spawned = std::thread::Builder::new()
        .name(THREAD.into())
        .spawn(move || {
            loop {
                if let Ok(signal) = set.wait() {
                    on_signal(signal);
                }
            }
        });
    if spawned.is_err() {
        // Nobody would wait for them: let them kill the process as before.
        let _ = set.thread_unblock();
    }
}

/// An instance this process holds the lock of; a signal recovers it.
pub struct Active {
    root: PathBuf,
}

/// Registers `instance` (whose lock is held) for the signal thread, until the
/// returned value is dropped.
pub fn activate(instance: &InstanceDir, operation: &str) -> Active {
    let root = instance.root().to_path_buf();
    lock_active().push((root.clone(), operation.to_string()));
    Active { root }
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut active = lock_active();
        if let Some(at) = active.iter().position(|(root, _)| *root == self.root) {
            active.remove(at);
        }
    }
}

fn lock_active() -> MutexGuard<'static, Vec<(PathBuf, String)>> {
    ACTIVE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Called when the operation returns: if a signal is being acted on, the
/// signal thread ends the process (with 128 + its number, once GitLab is
/// back); the operation's own outcome (often an error caused by the
/// recovery removing its partial copy) is neither printed nor returned.
pub fn settle() {
    if SIGNALLED.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}

const THREAD: &str = "girofle-signals";

fn on_signal(signal: Signal) -> ! {
    SIGNALLED.store(true, Ordering::SeqCst);
    // From here on, the main thread cannot stop or start a container...
    let held = crate::lock::transition();
    std::mem::forget(held);
    // ... nor run any docker command, and the ones it ran have ended.
    crate::docker::close_gate();
    wait_for_own_docker_commands(std::time::Duration::from_secs(180));
    let active = lock_active().clone();
    let code = 128 + signal as i32;
    let Some((home, program)) = HOME.get() else {
        std::process::exit(code);
    };
    if active.is_empty() {
        home.log(program, &format!("interrupted by {}", signal.as_str()));
        std::process::exit(code);
    }
    let docker = Docker::new();
    for (root, operation) in active {
        let instance = InstanceDir::new(root);
        let said = match &docker {
            Ok(docker) => match crate::recovery::recover(home, docker, &instance) {
                Ok(done) if done.is_empty() => "nothing to put back".to_string(),
                Ok(done) => format!("put back: {}", done.join("; ")),
                Err(error) => format!(
                    "recovery not finished ({error}); the guardian finishes it once this process is gone"
                ),
            },
            Err(error) => format!("cannot run docker ({error}); the guardian retries"),
        };
        let line = format!(
            "{operation} of {} interrupted by {}: {said}",
            instance.root().display(),
            signal.as_str()
        );
        home.log(program, &line);
        eprintln!("{program}: {line}");
    }
    std::process::exit(code);
}

/// Waits (bounded) until no `docker` command started by this process runs.
fn wait_for_own_docker_commands(limit: std::time::Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit && own_docker_command_running() {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn own_docker_command_running() -> bool {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            return false;
        };
        let field = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .map(str::trim)
        };
        field("PPid:") == Some(me.as_str()) && field("Name:") == Some("docker")
    })
}
