//! The guardian: a small process that puts GitLab back when the operation
//! that took it out of service dies without a chance to do it (`kill -9`,
//! the OOM killer). It is this same binary, started again with
//! [`GUARDIAN_ENV`] set, in a session of its own (a signal sent to the
//! operation's process group does not reach it), with stdout and stderr on
//! /dev/null (cron and callers do not wait for it). Its stdin is the read end
//! of a pipe whose write end only the operation holds (close-on-exec, so no
//! `docker` child keeps it open). When the operation ends normally it writes
//! `done` and the guardian exits; when the pipe closes without `done`, the
//! operation is dead: the guardian takes the instance lock (free now: the
//! lock file is close-on-exec too, so only the dead process held it) and
//! runs the recovery the next command would run, then logs and exits.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use crate::docker::Docker;
use crate::home::{Home, InstanceDir};
use crate::signals::{self, Active};

/// Set (to the instance directory) in the guardian's environment.
pub const GUARDIAN_ENV: &str = "GIROFLE_GUARDIAN";
const HOME_ENV: &str = "GIROFLE_GUARDIAN_HOME";
const OPERATION_ENV: &str = "GIROFLE_GUARDIAN_OF";
const PID_ENV: &str = "GIROFLE_GUARDIAN_PID";

/// What the operation writes when it ends normally.
const DONE: &[u8] = b"done\n";

/// How long the guardian waits for the instance lock after its operation died.
const LOCK_TIMEOUT: Duration = Duration::from_secs(3600);

/// An instance watched while its operation holds its lock: registered for
/// the signal thread, and with a guardian process in case of a hard death.
/// Dropping it (the operation is over) tells the guardian to leave.
pub struct Watch {
    write: Option<std::fs::File>,
    child: Option<Child>,
    _active: Active,
}

/// Watches `instance`, whose lock this process has just taken for
/// `operation`. Best effort: if the guardian cannot be started, that is
/// logged and the operation goes on (the next command still recovers).
pub fn watch(home: &Home, instance: &InstanceDir, operation: &str) -> Watch {
    let active = signals::activate(instance, operation);
    match spawn(home, instance, operation) {
        Ok((write, child)) => Watch {
            write: Some(write),
            child: Some(child),
            _active: active,
        },
        Err(error) => {
            home.log(
                operation,
                &format!(
                    "cannot start the guardian of {}: {error}",
                    instance.root().display()
                ),
            );
            Watch {
                write: None,
                child: None,
                _active: active,
            }
        }
    }
}

fn spawn(
    home: &Home,
    instance: &InstanceDir,
    operation: &str,
) -> std::io::Result<(std::fs::File, Child)> {
    let (read, write): (OwnedFd, OwnedFd) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .env(GUARDIAN_ENV, instance.root())
        .env(HOME_ENV, home.root())
        .env(OPERATION_ENV, operation)
        .env(PID_ENV, std::process::id().to_string())
        .stdin(Stdio::from(read))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/");
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let child = command.spawn()?;
    Ok((std::fs::File::from(write), child))
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(mut write) = self.write.take() {
            let _ = write.write_all(DONE);
        }
        if let Some(mut child) = self.child.take() {
            // It reads `done` and exits at once: reap it.
            let _ = child.wait();
        }
    }
}

/// In the guardian's process (its environment says so): waits for the
/// operation to end, recovers after it if it died, and returns the exit
/// code. `None` in every other process.
pub fn run_if_guardian() -> Option<ExitCode> {
    let instance = std::env::var_os(GUARDIAN_ENV)?;
    let home = std::env::var_os(HOME_ENV).unwrap_or_default();
    let operation = env_string(OPERATION_ENV).unwrap_or_else(|| "girofle".into());
    let pid = env_string(PID_ENV).unwrap_or_default();
    // SAFETY: nothing else runs yet in this process.
    unsafe {
        for name in [GUARDIAN_ENV, HOME_ENV, OPERATION_ENV, PID_ENV] {
            std::env::remove_var(name);
        }
    }
    let mut said = Vec::new();
    let _ = std::io::stdin().lock().read_to_end(&mut said);
    if said.starts_with(DONE) {
        return Some(ExitCode::SUCCESS);
    }
    let home = Home::resolve(Some(&PathBuf::from(home)));
    let instance = InstanceDir::new(PathBuf::from(instance));
    Some(recover_after(&home, &instance, &operation, &pid))
}

fn env_string(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value: OsString| value.to_string_lossy().into_owned())
}

fn recover_after(home: &Home, instance: &InstanceDir, operation: &str, pid: &str) -> ExitCode {
    let result =
        crate::lock::lock_instance(instance, "girofle-guardian", LOCK_TIMEOUT).and_then(|lock| {
            let docker = Docker::new()?;
            let done = crate::recovery::recover(home, &docker, instance)?;
            drop(lock);
            Ok(done)
        });
    let (line, code) = match result {
        Ok(done) if done.is_empty() => (None, ExitCode::SUCCESS),
        Ok(done) => (
            Some(format!("put back: {}", done.join("; "))),
            ExitCode::SUCCESS,
        ),
        Err(error) => (
            Some(format!(
                "recovery failed ({error}); the next command retries"
            )),
            ExitCode::FAILURE,
        ),
    };
    if let Some(line) = line {
        home.log(
            "guardian",
            &format!(
                "{operation} (pid {pid}) on {} died without finishing; {line}",
                instance.root().display()
            ),
        );
    }
    code
}
