//! Issue 10 §2, §4 and §6 (decommission): GitLab is never left down by a
//! dying Girofle, a backup ends when GitLab serves again, and decommission
//! stops GitLab once and for all under one lock. Real engine, real signals.

use crate::common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{
    Scenario, docker, eventually, fresh_ip, health, manifest_value, send_signal, status,
    wait_healthy,
};
use nix::sys::signal::Signal;

/// The promise: back in its prior state within this long, with no other command.
const BACK_WITHIN: Duration = Duration::from_secs(10);

/// How long GitLab, started again on its own data, may take to answer
/// healthy on a loaded host.
const BOOTED_WITHIN: Duration = Duration::from_secs(60);

/// Files under the data volume: each pass walks them, so the stop window
/// (second pass) is long enough for random instants to land in it.
const FILLER: u32 = 5_000;

fn world_with_instance() -> (Scenario, String) {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    world.fill_data(1, FILLER);
    (world, container)
}

fn spawn_backup(world: &Scenario, args: &[&str]) -> Child {
    world
        .command("girofle-backup")
        .arg("1")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn running_and_healthy(container: &str) -> bool {
    status(container) == "running" && health(container) == "healthy"
}

fn hidden_names(world: &Scenario) -> Vec<String> {
    world
        .backup_names(1)
        .into_iter()
        .filter(|name| name.starts_with('.'))
        .collect()
}

/// Every name that looks complete verifies against its MANIFEST.
fn assert_complete_backups_verify(world: &Scenario, names: &[String], what: &str) {
    for name in names {
        if !name.starts_with('.') {
            let run = world.run("girofle-backup", &["--verify", "1", "--backup", name]);
            assert_eq!(run.code, 0, "{what}: {name} is not whole: {}", run.stdout);
        }
    }
}

/// Signals a backup at 20 random instants of a run; returns how many landed
/// while GitLab was stopped (the log says it was started again).
fn random_interruptions(world: &Scenario, container: &str, signal: Signal, seed: u64) -> u32 {
    // Timed on an incremental backup, as the interrupted ones are: the first
    // copies every file and lasts longer, which would aim past their end.
    world.backup(1, &["--consistency", "stop"]);
    let (full_run, stop_window) = {
        let start = Instant::now();
        let id = world.backup(1, &["--consistency", "stop"]);
        let manifest = std::fs::read_to_string(
            world
                .instance_dir(1)
                .join("bckups")
                .join(&id)
                .join("MANIFEST"),
        )
        .unwrap();
        let window: u64 = manifest_value(&manifest, "stop_window_ms")
            .unwrap()
            .parse()
            .unwrap();
        (start.elapsed(), Duration::from_millis(window))
    };
    eprintln!("a full backup run takes {full_run:?}, its stop window {stop_window:?}");
    let mut seed = seed ^ std::process::id() as u64;
    let mut landed = 0;
    let mut recorded = 0;
    for round in 0..20 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Even rounds: any instant of the run.
        let delay = Duration::from_micros(seed % (full_run.as_micros() as u64 + 1));
        let what = format!("{signal} round {round} at {delay:?} of {full_run:?}");
        let before = world.log_text().len();
        let names_before = world.backup_names(1);
        let mut child = spawn_backup(world, &["--consistency", "stop"]);
        if round % 2 == 0 {
            std::thread::sleep(delay);
        } else {
            // Odd rounds aim into the stop itself: from the moment it is
            // recorded, a random instant within its first half.
            eventually(full_run * 4, || {
                world.container_record(1).exists() || child.try_wait().unwrap().is_some()
            });
            std::thread::sleep(Duration::from_micros(
                seed % (stop_window.as_micros() as u64 / 2 + 1),
            ));
        }
        // GitLab is being stopped, is stopped, or is being started.
        let out_of_service = world.container_record(1).exists();
        let sent = Instant::now();
        send_signal(child.id(), signal);
        if out_of_service {
            recorded += 1;
        }
        let output = child.wait_with_output().unwrap();
        if signal == Signal::SIGTERM {
            // Handled (143), finished before the signal (0), or killed
            // within the first milliseconds, before its mask was set (nothing
            // touched yet).
            use std::os::unix::process::ExitStatusExt;
            assert!(
                matches!(output.status.code(), Some(143) | Some(0))
                    || output.status.signal() == Some(15),
                "{what}: {:?}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let left = BACK_WITHIN.saturating_sub(sent.elapsed());
        assert!(
            eventually(left, || running_and_healthy(container)),
            "{what}: {container} is {} {} {BACK_WITHIN:?} after the signal\nlog:\n{}",
            status(container),
            health(container),
            &world.log_text()[before..]
        );
        let left = BACK_WITHIN.saturating_sub(sent.elapsed());
        assert!(
            eventually(left, || hidden_names(world).is_empty()),
            "{what}: partial copies left: {:?}",
            hidden_names(world)
        );
        let new: Vec<String> = world
            .backup_names(1)
            .into_iter()
            .filter(|name| !names_before.contains(name))
            .collect();
        assert_complete_backups_verify(world, &new, &what);
        let log = world.log_text()[before..].to_string();
        if log.contains(&format!("started {container} again")) {
            landed += 1;
        }
        assert!(
            !world.container_record(1).exists(),
            "{what}: the container record is left"
        );
        // And the next backup succeeds.
        world.backup(1, &[]);
    }
    eprintln!(
        "{signal}: {recorded} of 20 sent while the stop was recorded, \
         {landed} of 20 found GitLab stopped and started it again"
    );
    landed
}

#[test]
fn twenty_sigterms_at_random_instants_of_a_stop_backup_leave_gitlab_running() {
    let (world, container) = world_with_instance();
    let landed = random_interruptions(&world, &container, Signal::SIGTERM, 0x9e37_79b9_7f4a_7c15);
    eprintln!("SIGTERM: {landed} of 20 landed while GitLab was out of service");
    let log = world.log_text();
    assert!(
        log.contains("interrupted by SIGTERM"),
        "no interruption logged:\n{log}"
    );
    assert!(landed > 0, "no SIGTERM landed in a stop window:\n{log}");
}

#[test]
fn twenty_kill_9s_at_random_instants_of_a_stop_backup_leave_gitlab_running() {
    let (world, container) = world_with_instance();
    let landed = random_interruptions(&world, &container, Signal::SIGKILL, 0x2545_f491_4f6c_dd1d);
    eprintln!("kill -9: {landed} of 20 landed while GitLab was out of service");
    let log = world.log_text();
    assert!(log.contains("guardian"), "the guardian never acted:\n{log}");
    assert!(landed > 0, "no kill -9 landed in a stop window:\n{log}");
}

/// Sends `signal` to a backup the moment it records that it takes GitLab
/// out of service; GitLab is back before the process exits 128+signo.
fn interrupted_in_the_stop_window(signal: Signal) {
    let (world, container) = world_with_instance();
    world.backup(1, &[]);
    let mut child = spawn_backup(&world, &["--consistency", "stop"]);
    assert!(
        eventually(Duration::from_secs(120), || {
            world.container_record(1).exists() || child.try_wait().unwrap().is_some()
        }),
        "the backup never took GitLab out of service"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the backup ended before its stop window"
    );
    send_signal(child.id(), signal);
    let output = child.wait_with_output().unwrap();
    // At exit, GitLab was already started again (not left to the guardian).
    let state_at_exit = status(&container);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(128 + signal as i32),
        "{signal}: {:?}\n{stderr}",
        output.status
    );
    assert_eq!(state_at_exit, "running", "{signal}: not started at exit");
    assert!(
        output.stdout.is_empty(),
        "an interrupted backup printed an ID"
    );
    let log = world.log_text();
    assert!(
        log.contains(&format!("interrupted by {}: put back", signal.as_str()))
            && log.contains(&format!("started {container} again")),
        "the log does not say GitLab was put back:\n{log}"
    );
    assert!(stderr.contains("interrupted by"), "{stderr}");
    assert!(eventually(BACK_WITHIN, || running_and_healthy(&container)));
    assert!(eventually(BACK_WITHIN, || hidden_names(&world).is_empty()));
    world.backup(1, &[]);
}

#[test]
fn sigint_in_the_stop_window_starts_gitlab_before_exiting_130() {
    interrupted_in_the_stop_window(Signal::SIGINT);
}

#[test]
fn sighup_in_the_stop_window_starts_gitlab_before_exiting_129() {
    interrupted_in_the_stop_window(Signal::SIGHUP);
}

#[test]
fn sigterm_in_the_stop_window_starts_gitlab_before_exiting_143() {
    interrupted_in_the_stop_window(Signal::SIGTERM);
}

/// Interrupts a backup of an instance put in a state by hand
/// (`state_command`), while it copies; the instance is left in that state
/// (`expected` as docker says it, `prior` as the MANIFEST does).
fn interrupted_leaves(state_command: &str, expected: &str, prior: &str) {
    let (world, container) = world_with_instance();
    docker(&[state_command, &container]);
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        let mut child = spawn_backup(&world, &[]);
        assert!(
            eventually(Duration::from_secs(60), || !hidden_names(&world).is_empty()
                || child.try_wait().unwrap().is_some()),
            "no partial copy ever started"
        );
        std::thread::sleep(Duration::from_millis(300));
        send_signal(child.id(), signal);
        let _ = child.wait();
        assert!(
            eventually(BACK_WITHIN, || hidden_names(&world).is_empty()),
            "{signal}: partial copies left: {:?}",
            hidden_names(&world)
        );
        assert_eq!(status(&container), expected, "{signal}");
        assert!(!world.container_record(1).exists());
    }
    let id = world.backup(1, &[]);
    assert_eq!(status(&container), expected);
    let manifest = std::fs::read_to_string(
        world
            .instance_dir(1)
            .join("bckups")
            .join(&id)
            .join("MANIFEST"),
    )
    .unwrap();
    assert_eq!(
        manifest_value(&manifest, "prior_state").as_deref(),
        Some(prior)
    );
}

#[test]
fn a_paused_instance_is_left_paused_by_an_interrupted_backup() {
    interrupted_leaves("pause", "paused", "paused");
}

#[test]
fn a_stopped_instance_stays_stopped_through_an_interrupted_backup() {
    interrupted_leaves("stop", "exited", "stopped");
}

#[test]
fn a_stop_backup_ends_only_once_gitlab_is_healthy_again() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    for consistency in ["stop", "pause"] {
        wait_healthy(&container);
        let id = world.backup(1, &["--consistency", consistency]);
        // Asked right after the exit: no waiting here.
        assert_eq!(
            (status(&container), health(&container)),
            ("running".to_string(), "healthy".to_string()),
            "{consistency}: the backup ended before GitLab served again"
        );
        let manifest = std::fs::read_to_string(
            world
                .instance_dir(1)
                .join("bckups")
                .join(&id)
                .join("MANIFEST"),
        )
        .unwrap();
        let value = |key: &str| -> u128 {
            manifest_value(&manifest, key)
                .unwrap_or_else(|| panic!("no {key} in\n{manifest}"))
                .parse()
                .unwrap()
        };
        // The window users felt holds GitLab's shutdown and the second pass.
        assert!(
            value("stop_window_ms") >= value("shutdown_ms") + value("second_pass_ms"),
            "{consistency}:\n{manifest}"
        );
        let logged = format!("stop window {} ms", value("stop_window_ms"));
        assert!(world.log_text().contains(&logged), "{logged} not logged");
    }
}

#[test]
fn decommission_stops_gitlab_once_backs_up_the_stopped_instance_and_removes_it() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    wait_healthy(&container);
    let since = docker(&["system", "info", "--format", "{{.SystemTime}}"])
        .trim()
        .to_string();
    let run = world.run("girofle-decommission", &["1"]).expect_code(0);
    let until = docker(&["system", "info", "--format", "{{.SystemTime}}"])
        .trim()
        .to_string();
    let id = run.stdout.trim();
    let manifest = std::fs::read_to_string(
        world
            .instance_dir(1)
            .join("bckups")
            .join(id)
            .join("MANIFEST"),
    )
    .unwrap();
    for (key, value) in [
        ("prior_state", "stopped"),
        ("consistency", "stop"),
        ("consistent", "yes"),
        ("stop_window_ms", "0"),
    ] {
        assert_eq!(
            manifest_value(&manifest, key).as_deref(),
            Some(value),
            "{key}:\n{manifest}"
        );
    }
    let events = docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        &format!("container={container}"),
        "--format",
        "{{.Action}}",
    ]);
    let actions: Vec<&str> = events.lines().collect();
    assert!(actions.contains(&"destroy"), "no removal seen: {actions:?}");
    assert!(
        !actions
            .iter()
            .any(|a| *a == "start" || a.starts_with("unpause")),
        "GitLab was started again for nothing: {actions:?}"
    );
    let stop = actions.iter().position(|a| *a == "stop" || *a == "die");
    let destroy = actions.iter().position(|a| *a == "destroy");
    assert!(stop < destroy, "{actions:?}");
    assert!(world.containers().is_empty());
}

#[test]
fn a_restore_interrupted_after_its_swap_puts_the_previous_data_and_gitlab_back() {
    let (world, container) = world_with_instance();
    world.backup(1, &[]);
    wait_healthy(&container);
    // Written after the backup: it is in the data the restore replaces.
    let marker = world
        .instance_dir(1)
        .join("mapping-volumes/data/written-after-the-backup");
    std::fs::write(&marker, "current\n").unwrap();
    let dir = world.instance_dir(1).display().to_string();
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        let mut child = world
            .command("girofle-restore")
            .args([container.as_str(), dir.as_str()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(
            eventually(Duration::from_secs(120), || {
                world.container_record(1).exists() || child.try_wait().unwrap().is_some()
            }),
            "{signal}: the restore never took GitLab out of service"
        );
        assert!(child.try_wait().unwrap().is_none(), "{signal}: ended first");
        let sent = Instant::now();
        send_signal(child.id(), signal);
        let output = child.wait_with_output().unwrap();
        if signal == Signal::SIGTERM {
            assert_eq!(
                output.status.code(),
                Some(143),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(status(&container), "running", "not put back at exit");
        }
        // Put back and started within the promise; healthy once GitLab has
        // booted on its own data again, which on a loaded host is GitLab's
        // time, not Girofle's.
        let left = BACK_WITHIN.saturating_sub(sent.elapsed());
        assert!(
            eventually(left, || status(&container) == "running"),
            "{signal}: {container} is {}\n{}",
            status(&container),
            world.log_text()
        );
        assert!(
            eventually(BOOTED_WITHIN, || running_and_healthy(&container)),
            "{signal}: {container} is {} {}\n{}",
            status(&container),
            health(&container),
            world.log_text()
        );
        assert!(
            eventually(BACK_WITHIN, || {
                !world.instance_dir(1).join(".girofle-restore").exists()
                    && !world.container_record(1).exists()
            }),
            "{signal}: the restore was not rolled back"
        );
        assert!(marker.exists(), "{signal}: the replaced data is not back");
        assert!(
            !world
                .instance_dir(1)
                .join("mapping-volumes.restoring")
                .exists()
        );
    }
}

#[test]
fn a_decommission_interrupted_during_its_final_backup_leaves_gitlab_running_and_commissioned() {
    let (world, container) = world_with_instance();
    for signal in [Signal::SIGTERM, Signal::SIGKILL] {
        wait_healthy(&container);
        let mut child = world
            .command("girofle-decommission")
            .arg("1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The final backup's partial copy: GitLab was stopped before it began.
        assert!(
            eventually(Duration::from_secs(120), || !hidden_names(&world)
                .is_empty()
                || child.try_wait().unwrap().is_some()),
            "{signal}: no final backup began"
        );
        assert!(child.try_wait().unwrap().is_none(), "{signal}: ended first");
        let sent = Instant::now();
        send_signal(child.id(), signal);
        let output = child.wait_with_output().unwrap();
        if signal == Signal::SIGTERM {
            assert_eq!(
                output.status.code(),
                Some(143),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(status(&container), "running", "not put back at exit");
        }
        let left = BACK_WITHIN.saturating_sub(sent.elapsed());
        assert!(
            eventually(left, || running_and_healthy(&container)),
            "{signal}: {container} is {} {}\n{}",
            status(&container),
            health(&container),
            world.log_text()
        );
        assert!(eventually(BACK_WITHIN, || hidden_names(&world).is_empty()));
        assert_eq!(world.entry(1)["state"], "commissioned", "{signal}");
    }
    world.run("girofle-decommission", &["1"]).expect_code(0);
    assert!(world.containers().is_empty());
}

#[test]
fn a_backup_after_which_gitlab_is_not_healthy_in_time_exits_1_and_says_so_first() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    wait_healthy(&container);
    // A started container's health is `starting` until its first check:
    // with no time to wait, GitLab is not healthy again when the backup ends.
    let run = world
        .run("girofle-backup", &["1", "--wait-timeout", "0"])
        .expect_code(1);
    assert!(run.stdout.is_empty(), "an ID was printed: {}", run.stdout);
    let first_line = run.stderr.lines().next().unwrap_or_default();
    assert!(
        first_line.contains(&format!("{container} is not healthy again")),
        "{}",
        run.stderr
    );
    assert!(
        world.backup_names(1).is_empty(),
        "{:?}",
        world.backup_names(1)
    );
    assert_eq!(status(&container), "running");
    assert!(world.log_text().contains("is not healthy again"));
}
