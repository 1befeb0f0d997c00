//! The per-instance lock (backup, restore and decommission of one instance
//! never overlap) and the records that let the next run undo what a killed
//! run left: a stopped or frozen container, a partial backup, a half restore.

use std::fs::{self, File};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::home::InstanceDir;

/// How long to wait for another operation on the same instance by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(3600);

/// Held while a container is taken out of service or put back, and by the
/// signal thread from the moment it acts until the process exits.
static TRANSITION: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The transition lock: hold it while taking a container out of service or
/// putting it back, so that a signal is acted on before or after, never
/// during. Never poisoned for its users: a panic elsewhere does not matter.
/// It lives with the container record it protects, below the signal
/// thread that takes it for good.
pub fn transition() -> std::sync::MutexGuard<'static, ()> {
    TRANSITION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The lock file of an instance.
fn lock_path(instance: &InstanceDir) -> PathBuf {
    instance.root().join(".girofle.lock")
}

/// Held while an operation works on an instance; released on drop or death.
pub struct InstanceLock {
    _file: File,
}

/// Takes the instance's exclusive lock, waiting up to `timeout`; the error
/// names the holder.
pub fn lock_instance(
    instance: &InstanceDir,
    operation: &str,
    timeout: Duration,
) -> Result<InstanceLock> {
    let path = lock_path(instance);
    let mut file = crate::atomic::open_lock_file(&path)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= timeout {
                    let mut holder = String::new();
                    let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
                    return Err(Error::failed(format!(
                        "{} is busy: held by {}; gave up after {}s (--lock-timeout)",
                        instance.root().display(),
                        if holder.trim().is_empty() {
                            "another process"
                        } else {
                            holder.trim()
                        },
                        timeout.as_secs()
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(fs::TryLockError::Error(error)) => {
                return Err(anyhow::Error::new(error)
                    .context(format!("cannot lock {}", path.display()))
                    .into());
            }
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    write!(
        file,
        "{operation} (pid {}) since {}",
        std::process::id(),
        crate::timefmt::now_rfc3339()
    )?;
    Ok(InstanceLock { _file: file })
}

/// Takes the lock only if it is free now.
pub fn try_lock_instance(instance: &InstanceDir, operation: &str) -> Option<InstanceLock> {
    if !instance.root().is_dir() {
        return None;
    }
    lock_instance(instance, operation, Duration::ZERO).ok()
}

/// What a run records before it changes a container's state, so that the
/// next run can put it back if this one is killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    /// The process that changed it.
    pub pid: u32,
    /// What that process was doing.
    pub operation: String,
    /// The container.
    pub container: String,
    /// Its state before.
    pub prior: PriorState,
}

/// The state a container was in before a run took it out of service, and
/// goes back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorState {
    /// Running: it is started (or unpaused) again.
    Running,
    /// Paused: it is frozen again.
    Paused,
    /// Stopped: it stays stopped.
    Stopped,
}

impl PriorState {
    /// The word in the record.
    pub fn as_str(self) -> &'static str {
        match self {
            PriorState::Running => "running",
            PriorState::Paused => "paused",
            PriorState::Stopped => "stopped",
        }
    }

    /// The state a record's word names.
    pub fn parse(word: &str) -> Option<PriorState> {
        match word {
            "running" => Some(PriorState::Running),
            "paused" => Some(PriorState::Paused),
            "stopped" => Some(PriorState::Stopped),
            _ => None,
        }
    }
}

impl std::fmt::Display for PriorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn record_path(instance: &InstanceDir) -> PathBuf {
    instance.root().join(".girofle-container-state")
}

/// Records (durably) that `container` is about to leave state `prior`.
pub fn write_record(
    instance: &InstanceDir,
    operation: &str,
    container: &str,
    prior: PriorState,
) -> Result<()> {
    let text = format!(
        "pid={}\noperation={operation}\ncontainer={container}\nprior={}\nsince={}\n",
        std::process::id(),
        prior.as_str(),
        crate::timefmt::now_rfc3339()
    );
    crate::atomic::write(&record_path(instance), text.as_bytes(), 0o600)?;
    Ok(())
}

/// The record left by a run, if any.
pub fn read_record(instance: &InstanceDir) -> Option<ContainerRecord> {
    let text = fs::read_to_string(record_path(instance)).ok()?;
    let field = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
    };
    Some(ContainerRecord {
        pid: field("pid")?.parse().ok()?,
        operation: field("operation").unwrap_or_default(),
        container: field("container")?,
        prior: PriorState::parse(&field("prior")?)?,
    })
}

/// Removes the record once the container is back in its prior state.
pub fn clear_record(instance: &InstanceDir) -> Result<()> {
    match fs_err::remove_file(record_path(instance)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

/// How a running container is taken out of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// `docker stop`, giving GitLab this long to shut down.
    Stop(Duration),
    /// `docker pause`: frozen, crash-consistent.
    Pause,
}

/// A running container taken out of service (stopped or frozen), recorded
/// durably first so that the next run puts it back if this one is killed.
/// [`OutOfService::put_back`] starts (or unpauses) it and reports; dropping
/// the guard without it (an error, a panic) puts it back all the same.
pub struct OutOfService<'a> {
    docker: &'a Docker,
    instance: &'a InstanceDir,
    container: String,
    halt: Halt,
    /// How long the engine took to stop or freeze it.
    pub shutdown: Duration,
    back: bool,
}

impl<'a> OutOfService<'a> {
    /// Records that `container` (running) leaves service, then stops or
    /// pauses it. If that fails, it is put back and the record cleared.
    pub fn take(
        docker: &'a Docker,
        instance: &'a InstanceDir,
        operation: &str,
        container: &str,
        halt: Halt,
    ) -> Result<OutOfService<'a>> {
        // A signal is acted on before or after this, never in between.
        let _held = transition();
        write_record(instance, operation, container, PriorState::Running)?;
        let asked = Instant::now();
        let halted = match halt {
            Halt::Stop(timeout) => docker.stop(container, timeout),
            Halt::Pause => docker.pause(container),
        };
        let mut guard = OutOfService {
            docker,
            instance,
            container: container.to_string(),
            halt,
            shutdown: asked.elapsed(),
            back: false,
        };
        if let Err(error) = halted {
            guard.back = true;
            let _ = guard.resume();
            clear_record(instance)?;
            return Err(Error::Failed(error));
        }
        Ok(guard)
    }

    fn resume(&self) -> anyhow::Result<()> {
        match self.halt {
            Halt::Stop(_) => self.docker.start(&self.container),
            Halt::Pause => self.docker.unpause(&self.container),
        }
    }

    /// Starts (or unpauses) the container and clears the record. If the
    /// engine refuses, the record stays for the next run to retry.
    pub fn put_back(mut self) -> Result<()> {
        let _held = transition();
        self.back = true;
        self.resume()?;
        clear_record(self.instance)
    }

    /// Leaves the container out of service for good (decommission removes
    /// it): clears the record without starting it. `_held` is the
    /// transition lock, held until the removal is complete.
    pub fn keep_out(mut self, _held: &std::sync::MutexGuard<'static, ()>) -> Result<()> {
        self.back = true;
        clear_record(self.instance)
    }
}

impl Drop for OutOfService<'_> {
    fn drop(&mut self) {
        if !self.back {
            let _held = transition();
            if self.resume().is_ok() {
                let _ = clear_record(self.instance);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_state_is_recorded_and_read_back() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        assert_eq!(read_record(&instance), None);
        for prior in [PriorState::Running, PriorState::Paused, PriorState::Stopped] {
            assert_eq!(PriorState::parse(prior.as_str()), Some(prior));
            write_record(&instance, "girofle-backup", "girofle-gitlab-1", prior).unwrap();
            let record = read_record(&instance).unwrap();
            assert_eq!(record.prior, prior);
            assert_eq!(record.container, "girofle-gitlab-1");
            assert_eq!(record.operation, "girofle-backup");
            assert_eq!(record.pid, std::process::id());
        }
        clear_record(&instance).unwrap();
        assert_eq!(read_record(&instance), None);
        clear_record(&instance).unwrap();
        assert_eq!(PriorState::parse("frozen"), None);
    }

    #[test]
    fn a_held_lock_is_refused_with_its_holder() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        let held = lock_instance(&instance, "girofle-backup", Duration::ZERO).unwrap();
        let refused = lock_instance(&instance, "girofle-restore", Duration::ZERO);
        let message = refused.err().unwrap().to_string();
        assert!(message.contains("held by girofle-backup (pid"), "{message}");
        assert!(try_lock_instance(&instance, "girofle-list").is_none());
        drop(held);
        assert!(try_lock_instance(&instance, "girofle-list").is_some());
    }
}
