//! What the next run does after a run was killed: the container goes back to
//! its prior state, partial backups and half-made staging trees go away, a
//! half-done restore is rolled back, a half-done `--reconfigure` undone (or
//! finished, when its new container was verified) from its journal. Called with the instance lock held, so
//! whoever left these things is gone.

use std::sync::Mutex;

use fs_err as fs;

use crate::docker::{Docker, Status};
use crate::error::Result;
use crate::home::{Home, InstanceDir, PARTIAL_PREFIX, REMOVING_PREFIX};
use crate::lock::{self, PriorState};

/// What an operation finishes, on recovery, of a restore that a killed run
/// left half done: it is given the instance and the restore journal's text
/// (once the volumes are back in place and the staging tree is gone), and
/// returns what it did, which recovery logs.
pub type JournalHook = fn(&InstanceDir, &str) -> Result<Vec<String>>;

/// The hooks registered by the operations, in the order they were.
static HOOKS: Mutex<Vec<JournalHook>> = Mutex::new(Vec::new());

/// Registers an operation's recovery hook. Recovery sits below the
/// operations and never names one: each operation that leaves something
/// only it knows how to finish registers here, once per process, before
/// anything may recover (`cli::main` does it first thing, through
/// `ops::register_recovery_hooks`).
pub fn register(hook: JournalHook) {
    HOOKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(hook);
}

/// Runs every registered hook on a killed restore's journal, in order; the
/// first error stops them (the journal stays, the next run tries again).
fn run_hooks(instance: &InstanceDir, journal: &str) -> Result<Vec<String>> {
    // A copy, so that no hook runs with the registry locked.
    let hooks = HOOKS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut done = Vec::new();
    for hook in hooks {
        done.extend(hook(instance, journal)?);
    }
    Ok(done)
}

/// Undoes what a killed run left in `instance`; returns what was done (also logged).
pub fn recover(home: &Home, docker: &Docker, instance: &InstanceDir) -> Result<Vec<String>> {
    let mut done = Vec::new();
    done.extend(roll_back_restore(docker, instance)?);
    // Before the container record: the old container must not be started
    // again with the new files a killed reconfiguration had written.
    if crate::reconfigure_journal::exists(instance) {
        wait_for_docker_commands(
            &reconfigured_container(instance),
            std::time::Duration::from_secs(180),
        );
        done.extend(crate::reconfigure_journal::recover(home, docker, instance)?);
    }
    if let Some(record) = lock::read_record(instance) {
        // The killed run's `docker stop` or `docker pause` may still be on its
        // way: acting before it lands would leave the container stopped.
        wait_for_docker_commands(&record.container, std::time::Duration::from_secs(180));
        let state = docker.inspect_state(&record.container)?;
        match (record.prior, state.as_ref().map(|s| s.status())) {
            (PriorState::Running, Some(Status::Paused)) => {
                docker.unpause(&record.container)?;
                done.push(format!("unpaused {}", record.container));
            }
            (PriorState::Running, Some(Status::Stopped)) => {
                docker.start(&record.container)?;
                done.push(format!("started {} again", record.container));
            }
            _ => {}
        }
        lock::clear_record(instance)?;
        done.push(format!(
            "{} (pid {}, dead) had left {} out of its prior state `{}`",
            record.operation, record.pid, record.container, record.prior
        ));
    }
    if let Ok(entries) = fs::read_dir(instance.backups()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(PARTIAL_PREFIX) || name.starts_with(REMOVING_PREFIX) {
                fs::remove_dir_all(entry.path())?;
                done.push(format!("removed the leftover {name}"));
            }
        }
    }
    remove_leftover_volumes(instance);
    done.extend(crate::drill_traces::clean_up(home, docker, instance)?);
    done.extend(crate::drill_traces::clean_up_from_target(instance)?);
    for line in &done {
        home.log(
            "recovery",
            &format!("{}: {line}", instance.root().display()),
        );
    }
    Ok(done)
}

/// Waits (bounded) until no `docker stop|pause|unpause|start ... CONTAINER`
/// process is left on this host.
fn wait_for_docker_commands(container: &str, limit: std::time::Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit && docker_command_running(container) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn docker_command_running(container: &str) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            return false;
        };
        let args: Vec<&[u8]> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .collect();
        args.len() >= 3
            && args[0].ends_with(b"docker")
            && (matches!(args[1], b"stop" | b"pause" | b"unpause" | b"start")
                && args.last() == Some(&container.as_bytes())
                // A killed reconfiguration's `docker rm` or `docker run
                // --name CONTAINER` may land after recovery's own.
                || matches!(args[1], b"rm" | b"run" | b"create")
                    && args.contains(&container.as_bytes()))
    })
}

/// The container a reconfiguration's journal names (empty if unreadable).
fn reconfigured_container(instance: &InstanceDir) -> String {
    crate::reconfigure_journal::Journal::read(instance)
        .ok()
        .flatten()
        .map(|journal| journal.old_row.container)
        .unwrap_or_default()
}

/// Whether a killed run may have left something in `instance` (cheap: no lock).
pub fn needs_recovery(instance: &InstanceDir) -> bool {
    lock::read_record(instance).is_some()
        || journal_path(instance).exists()
        || crate::reconfigure_journal::exists(instance)
        || crate::drill_traces::leftovers(instance)
        || crate::drill_traces::from_target_leftovers(instance)
        || fs::read_dir(instance.backups()).is_ok_and(|entries| {
            entries.flatten().any(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with(PARTIAL_PREFIX) || name.starts_with(REMOVING_PREFIX)
            })
        })
}

fn journal_path(instance: &InstanceDir) -> std::path::PathBuf {
    instance.root().join(".girofle-restore")
}

/// The staging tree of a restore, beside `mapping-volumes`.
pub fn staging_path(instance: &InstanceDir) -> std::path::PathBuf {
    instance.root().join("mapping-volumes.restoring")
}

/// Where the previous volumes go to be deleted after a successful restore:
/// out of the rollback's way first (a name of its own per run), then removed.
pub fn removing_path(instance: &InstanceDir) -> std::path::PathBuf {
    instance
        .root()
        .join(format!("{REMOVING_VOLUMES}{}", std::process::id()))
}

const REMOVING_VOLUMES: &str = "mapping-volumes.removing-";

/// Deletes previous volumes that a restore left to be deleted, if their
/// deletion did not finish. Best effort: a deletion still running in the
/// background may be removing them at the same time; the next run retries.
fn remove_leftover_volumes(instance: &InstanceDir) {
    let Ok(entries) = fs::read_dir(instance.root()) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(REMOVING_VOLUMES)
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The file that marks the restored tree, at its root (outside the three
/// mounted volumes): wherever it is after a crash tells which tree is new.
pub const RESTORED_MARK: &str = ".girofle-restored-from";

/// Records (durably) that a restore of `container` is under way, with the
/// MANIFEST header fields of the data it will set aside (`details`).
pub fn write_journal(
    instance: &InstanceDir,
    container: &str,
    details: &[(String, String)],
) -> Result<()> {
    let mut text = format!("pid={}\ncontainer={container}\n", std::process::id());
    for (key, value) in details {
        text.push_str(&format!("header.{key}={}\n", value.replace('\n', " ")));
    }
    crate::atomic::write(&journal_path(instance), text.as_bytes(), 0o600)?;
    Ok(())
}

/// Ends a restore's journal: what is in `mapping-volumes` now stays.
pub fn clear_journal(instance: &InstanceDir) -> Result<()> {
    match fs::remove_file(journal_path(instance)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    Ok(crate::atomic::sync_directory(instance.root())?)
}

/// Exchanges the staging tree and `mapping-volumes` in one atomic step.
pub fn exchange_volumes(instance: &InstanceDir) -> Result<()> {
    nix::fcntl::renameat2(
        None,
        &staging_path(instance),
        None,
        &instance.volumes(),
        nix::fcntl::RenameFlags::RENAME_EXCHANGE,
    )
    .map_err(|errno| {
        anyhow::anyhow!("cannot exchange the staging tree and mapping-volumes: {errno}")
    })?;
    crate::atomic::sync_directory(instance.root())?;
    Ok(())
}

/// Rolls back a restore that a killed run left half done: if the restored
/// tree (the one with the mark) is in `mapping-volumes` and the previous one
/// is still beside it, they are exchanged back; the staging tree goes away.
/// The container record then returns the container to its prior state.
fn roll_back_restore(docker: &Docker, instance: &InstanceDir) -> Result<Vec<String>> {
    let Ok(text) = fs::read_to_string(journal_path(instance)) else {
        return Ok(Vec::new());
    };
    let container = text
        .lines()
        .find_map(|l| l.strip_prefix("container="))
        .unwrap_or("")
        .to_string();
    let staging = staging_path(instance);
    let mut done = Vec::new();
    let swapped = instance.volumes().join(RESTORED_MARK).exists();
    if swapped && staging.is_dir() {
        if let Ok(Some(state)) = docker.inspect_state(&container)
            && state.status() != Status::Stopped
        {
            if state.status() == Status::Paused {
                docker.unpause(&container)?;
            }
            docker.stop(&container, crate::docker::DEFAULT_STOP_TIMEOUT)?;
        }
        exchange_volumes(instance)?;
        done.push(format!(
            "put the previous volumes of {container} back (an interrupted restore had swapped them)"
        ));
    } else if swapped {
        // The previous tree was already removed: the restore had succeeded.
        fs::remove_file(instance.volumes().join(RESTORED_MARK))?;
    }
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
        done.push("removed the staging tree of an interrupted restore".to_string());
    }
    // What the restore itself must finish (the data it replaced, kept as a
    // backup) is its own module's business: it registered a hook.
    done.extend(run_hooks(instance, &text)?);
    clear_journal(instance)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

    fn finishing(instance: &InstanceDir, journal: &str) -> Result<Vec<String>> {
        SEEN.lock().unwrap().push(journal.to_string());
        Ok(vec![format!("finished in {}", instance.root().display())])
    }

    #[test]
    fn a_killed_restore_s_journal_goes_to_the_hooks_its_operation_registered() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        let details = [("from".to_string(), "2026-01-01T00-00-00Z".to_string())];
        write_journal(&instance, "girofle-gitlab-1", &details).unwrap();
        let journal = fs::read_to_string(journal_path(&instance)).unwrap();
        register(finishing);
        let done = run_hooks(&instance, &journal).unwrap();
        assert!(
            done.contains(&format!("finished in {}", temp.path().display())),
            "{done:?}"
        );
        let seen = SEEN.lock().unwrap();
        assert!(
            seen.iter()
                .any(|text| text.contains("header.from=2026-01-01T00-00-00Z"))
        );
    }
}
