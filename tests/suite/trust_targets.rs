//! Issue 10 §6, targets and retention: a target is used only once marked
//! (`--init-target`), an unmarked one (an unmounted mount point) is never
//! written into; a target that hangs fails within its timeout; retention
//! failing after a good backup is exit 3 with the ID printed.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Run, Scenario, Sshd, fresh_ip, sorted_names};

fn configure(world: &Scenario, text: &str) {
    fs::create_dir_all(&world.home).unwrap();
    fs::write(world.home.join("girofle.conf"), text).unwrap();
}

fn log(world: &Scenario) -> String {
    fs::read_to_string(world.home.join("girofle.log")).unwrap_or_default()
}

/// A backup of instance 1 shipped to `target` that fails the shipping only:
/// exit 3, the new backup's ID on stdout and on disk. Returns the run.
fn partial_backup(world: &Scenario, target: &str) -> (String, Run) {
    let run = world.run("girofle-backup", &["1", "--to", target]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let id = run.stdout.trim().to_string();
    assert_eq!(id.len(), 20, "not a backup ID: {:?}", run.stdout);
    assert!(world.backup_names(1).contains(&id), "{id} not made");
    (id, run)
}

/// Unmounts on drop, pass or fail.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(at: &Path) -> Mounted {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "girofle-test", &at.display().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs {}", at.display());
        Mounted(at.to_path_buf())
    }

    fn unmount(&self) {
        let status = Command::new("umount").arg(&self.0).status().unwrap();
        assert!(status.success(), "umount {}", self.0.display());
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

#[test]
fn an_unmarked_path_target_such_as_an_unmounted_mount_point_is_never_written_into() {
    let world = Scenario::new();
    let mount_point = tempfile::tempdir().unwrap();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n[targets.off-site]\nurl = \"{}\"\n",
            mount_point.path().display()
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);

    // Never initialised: refused, nothing written there, the local backup made.
    let (_, run) = partial_backup(&world, "off-site");
    assert!(
        run.stderr.contains(".girofle-target") && run.stderr.contains("--init-target off-site"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one message per failure: {}",
        run.stderr
    );
    assert!(sorted_names(mount_point.path()).is_empty());
    assert!(
        log(&world).contains("shipping instance 1 to `off-site` FAILED"),
        "{}",
        log(&world)
    );

    // The file system mounted and initialised: backups go there.
    let mounted = Mounted::tmpfs(mount_point.path());
    world
        .run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    let marker = fs::read_to_string(mount_point.path().join(".girofle-target")).unwrap();
    assert!(marker.contains("host-a"), "{marker}");
    std::thread::sleep(Duration::from_millis(1100));
    let shipped = world.backup(1, &["--to", "off-site"]);
    let folder = mount_point.path().join("host-a/noeud-gitlab-1/bckups");
    assert_eq!(sorted_names(&folder), [shipped]);

    // Unmounted (the NFS server away): the empty mount point is refused.
    mounted.unmount();
    assert!(sorted_names(mount_point.path()).is_empty());
    std::thread::sleep(Duration::from_millis(1100));
    partial_backup(&world, "off-site");
    assert!(
        sorted_names(mount_point.path()).is_empty(),
        "written into the mount point: {:?}",
        sorted_names(mount_point.path())
    );
    // And so is it for the state's shipping with --state.
    let state = world.run("girofle-backup", &["--state", "--to", "off-site"]);
    assert_eq!(state.code, 3, "{}", state.stderr);
    assert!(sorted_names(mount_point.path()).is_empty());
}

#[test]
fn a_target_over_ssh_is_initialised_over_ssh_and_refused_before() {
    let sshd = Sshd::start();
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            sshd.target("same-site", "known_hosts")
        ),
    );
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let (_, run) = partial_backup(&world, "same-site");
    assert!(run.stderr.contains(".girofle-target"), "{}", run.stderr);
    assert!(sorted_names(&sshd.storage()).is_empty());
    // The state's cron line ships to same-site: refused the same way.
    let state = world.run("girofle-backup", &["--state"]);
    assert_eq!(state.code, 3, "{}", state.stderr);
    assert!(sorted_names(&sshd.storage()).is_empty());

    world
        .run("girofle-backup", &["--init-target", "same-site"])
        .expect_code(0);
    let marker = fs::read_to_string(sshd.storage().join(".girofle-target")).unwrap();
    assert!(
        marker.contains("initialised_by = host-a") && marker.contains("same-site"),
        "{marker}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let id = world.backup(1, &["--to", "same-site"]);
    assert!(
        sorted_names(&sshd.storage().join("host-a/noeud-gitlab-1/bckups")).contains(&id),
        "{id} not on the target"
    );
    // Initialising again keeps what is there.
    world
        .run("girofle-backup", &["--init-target", "same-site"])
        .expect_code(0);
    assert!(sorted_names(&sshd.storage().join("host-a/noeud-gitlab-1/bckups")).contains(&id));
    // An unknown target is a usage error.
    let unknown = world.run("girofle-backup", &["--init-target", "nowhere"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}

/// A TCP port that accepts connections and never says a word, as a host
/// whose network died after the handshake would.
fn silent_port(ip: &str) -> u16 {
    let listener = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// Runs the command to its end, or kills it (and fails) if it is still
/// running long after every timeout it should have honoured.
fn run_bounded(world: &Scenario, args: &[&str]) -> Run {
    let mut child = world
        .command("girofle-backup")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("girofle-backup {args:?} hung on a silent target");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn a_target_that_never_answers_fails_within_its_timeout() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let port = silent_port(&ip);
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n[targets.same-site]\nurl = \"root@{ip}:/srv/girofle\"\nport = {port}\ntimeout = 3\n"
        ),
    );
    let init = run_bounded(&world, &["--init-target", "same-site"]);
    assert_eq!(init.code, 1, "{}", init.stderr);
    assert!(init.stderr.contains("timed out"), "{}", init.stderr);

    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let run = run_bounded(&world, &["1", "--to", "same-site"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    assert!(
        world
            .backup_names(1)
            .contains(&run.stdout.trim().to_string())
    );
    assert!(log(&world).contains("FAILED"), "{}", log(&world));
}

/// Clears the immutable flag on drop, so that the scenario can be removed.
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Immutable {
        let status = Command::new("chattr").arg("+i").arg(path).status().unwrap();
        assert!(status.success(), "chattr +i {}", path.display());
        Immutable(path.to_path_buf())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).output();
    }
}

#[test]
fn retention_failing_after_a_good_backup_prints_its_id_and_exits_3() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let old = world.backup(1, &[]);
    let _stuck = Immutable::set(&world.instance_dir(1).join("bckups").join(&old));
    std::thread::sleep(Duration::from_millis(1100));
    let run = world.run("girofle-backup", &["1", "--keep-last", "1"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let new = run.stdout.trim().to_string();
    assert_eq!(new.len(), 20, "not a backup ID: {:?}", run.stdout);
    assert_ne!(new, old);
    assert!(
        run.stderr.contains("retention of instance 1") && run.stderr.contains(&new),
        "{}",
        run.stderr
    );
    assert_eq!(world.backup_names(1), [old.clone(), new.clone()]);
    assert!(log(&world).contains("retention FAILED"), "{}", log(&world));
    // The new backup is whole: it verifies.
    world
        .run("girofle-backup", &["--verify", "1", "--backup", &new])
        .expect_code(0);
}

/// The pids of the processes whose parent is `parent`, and theirs, and so on.
fn descendants(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent is the second field after the command's closing parenthesis.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|field| field.parse::<u32>().ok());
        if ppid == Some(parent) {
            found.push(pid);
            found.extend(descendants(pid));
        }
    }
    found
}

/// The listening sshd of `sshd` (started with its configuration) while it serves a session.
fn sshd_listener(sshd: &Sshd) -> u32 {
    let config = sshd.storage().parent().unwrap().join("sshd_config");
    let config = config.display().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            // sshd rewrites its title (`sshd: /usr/sbin/sshd -D -e -f CONFIG [listener]...`).
            (String::from_utf8_lossy(&cmdline).contains(&config) && !descendants(pid).is_empty())
                .then_some(pid)
        })
        .expect("the sshd of the test runs")
}

#[test]
fn a_network_that_dies_in_the_middle_of_a_transfer_fails_the_shipping_instead_of_hanging_it() {
    let sshd = Sshd::start();
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}bwlimit_kib = 200\ntimeout = 3\n",
            sshd.target("same-site", "known_hosts")
        ),
    );
    world
        .run("girofle-backup", &["--init-target", "same-site"])
        .expect_code(0);
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    fs::write(
        world
            .instance_dir(1)
            .join("mapping-volumes/data/uploads.bin"),
        bytes,
    )
    .unwrap();
    let mut child = world
        .command("girofle-backup")
        .args(["1", "--to", "same-site"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let folder = sshd.storage().join("host-a/noeud-gitlab-1/bckups");
    let start = Instant::now();
    while !sorted_names(&folder)
        .iter()
        .any(|name| name.starts_with(".partial-") && folder.join(name).join("data").exists())
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the transfer never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The other end stops answering, its connection still open: a dead network.
    let frozen = descendants(sshd_listener(&sshd));
    assert!(!frozen.is_empty(), "no sshd session to freeze");
    for pid in &frozen {
        let _ = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
    }
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for pid in &frozen {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(
        run.code, 3,
        "hung, or not a partial success: {}",
        run.stderr
    );
    let id = run.stdout.trim().to_string();
    assert!(world.backup_names(1).contains(&id), "{id}: {}", run.stderr);
    assert!(
        !sorted_names(&folder).contains(&id),
        "a complete-looking backup on the target"
    );
    assert!(log(&world).contains("shipping instance 1 to `same-site` FAILED"));
}

// Issue 19 §3: what root reads from girofle.conf runs and sends things.

#[test]
fn a_girofle_conf_another_user_can_write_is_refused_at_load() {
    let world = Scenario::new();
    let offsite = tempfile::tempdir().unwrap();
    configure(
        &world,
        &format!(
            "[targets.off-site]\nurl = \"{}\"\n",
            offsite.path().display()
        ),
    );
    let conf = world.home.join("girofle.conf");
    for mode in [0o666, 0o620] {
        fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        let run = world.run("girofle-backup", &["--init-target", "off-site"]);
        assert_eq!(run.code, 2, "{mode:o}: {}", run.stderr);
        assert!(
            run.stderr.contains("girofle.conf")
                && run.stderr.contains("can be written by another user")
                && run.stderr.contains("chmod 600"),
            "{}",
            run.stderr
        );
        assert!(
            sorted_names(offsite.path()).is_empty(),
            "the target was written"
        );
    }
    fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    world
        .run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
}

#[test]
fn a_target_host_that_ssh_would_read_as_an_option_is_refused_at_load() {
    let world = Scenario::new();
    let marker = world.home.with_file_name("proxy-command-ran");
    for url in [
        format!("-oProxyCommand=touch {}:/srv/girofle", marker.display()),
        format!(
            "girofle@-oProxyCommand=touch {}:/srv/girofle",
            marker.display()
        ),
        "girofle@host -oProxyCommand=x:/srv/girofle".to_string(),
    ] {
        configure(&world, &format!("[targets.evil]\nurl = \"{url}\"\n"));
        for args in [
            &["--init-target", "evil"][..],
            &["--state", "--to", "evil"][..],
        ] {
            let run = world.run("girofle-backup", args);
            assert_eq!(run.code, 2, "{url} {args:?}: {}", run.stderr);
            assert!(
                run.stderr.contains("girofle.conf") && run.stderr.contains("line 2"),
                "{}",
                run.stderr
            );
            assert!(!marker.exists(), "{url}: ssh ran the ProxyCommand");
        }
        assert!(!world.home.join("sauvegardes").exists());
    }
}
