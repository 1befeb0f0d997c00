//! The per-instance lock (backup, restore and decommission of one instance
//! never overlap) and the records that let the next run undo what a killed
//! run left: a stopped or frozen container, a partial backup, a half restore.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::error::{Error, Result};
use crate::home::InstanceDir;

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
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
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
    /// Its state before: `running`, `paused` or `stopped`.
    pub prior: String,
}

fn record_path(instance: &InstanceDir) -> PathBuf {
    instance.root().join(".girofle-container-state")
}

/// Records (durably) that `container` is about to leave state `prior`.
pub fn write_record(
    instance: &InstanceDir,
    operation: &str,
    container: &str,
    prior: &str,
) -> Result<()> {
    let text = format!(
        "pid={}\noperation={operation}\ncontainer={container}\nprior={prior}\nsince={}\n",
        std::process::id(),
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
        prior: field("prior")?,
    })
}

/// Removes the record once the container is back in its prior state.
pub fn clear_record(instance: &InstanceDir) -> Result<()> {
    match fs::remove_file(record_path(instance)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error.into()),
        _ => Ok(()),
    }
}

/// Whether a process with this pid is alive.
pub fn process_alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}
