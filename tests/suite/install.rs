//! install.sh, the legacy wrappers, a home made by the old scripts, cron for
//! real, and the statically linked binaries.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    BINARIES, Scenario, binary_path, docker, fresh_ip, make_repository, push_commit, remote_head,
    wait_healthy,
};

/// A copy of the project as a host receives it: install.sh, the wrappers,
/// and prebuilt binaries in dist/ (so that no build runs in the test).
fn release_tree() -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(project.join("install.sh"), tree.path().join("install.sh")).unwrap();
    fs::create_dir_all(tree.path().join("operations-std/serveur")).unwrap();
    for entry in fs::read_dir(project.join("operations-std/serveur"))
        .unwrap()
        .flatten()
    {
        fs::copy(
            entry.path(),
            tree.path()
                .join("operations-std/serveur")
                .join(entry.file_name()),
        )
        .unwrap();
    }
    fs::create_dir(tree.path().join("dist")).unwrap();
    for binary in BINARIES {
        fs::copy(binary_path(binary), tree.path().join("dist").join(binary)).unwrap();
    }
    tree
}

fn install(world: &Scenario, tree: &Path, bin_dir: &Path, ip: &str) -> common::Run {
    let output = world
        .command("sh")
        .arg(tree.join("install.sh"))
        .args([
            "--home",
            world.home.to_str().unwrap(),
            "--bin-dir",
            bin_dir.to_str().unwrap(),
            "--yes",
        ])
        .args([
            "--image",
            common::STANDIN_IMAGE,
            "--ip",
            ip,
            "--hostname",
            ip,
        ])
        .output()
        .unwrap();
    common::Run::from(output)
}

fn wrapper(world: &Scenario, name: &str, args: &[&str]) -> common::Run {
    let path = world.home.join("operations-std/serveur").join(name);
    let output = world
        .command(path.to_str().unwrap())
        .args(args)
        .output()
        .unwrap();
    common::Run::from(output)
}

#[test]
fn install_provisions_a_host_and_a_second_run_changes_nothing() {
    let world = Scenario::new();
    let tree = release_tree();
    let bin_dir = tree.path().join("bin");
    let ip = fresh_ip();
    let http = common::default_ports(&ip, 8080, 1)[0];
    let first = install(&world, tree.path(), &bin_dir, &ip).expect_code(0);
    assert_eq!(
        first.stdout.trim(),
        format!("http://{ip}:{http}"),
        "{}",
        first.stderr
    );
    for binary in BINARIES {
        let installed = world.home.join("operations-std").join(binary);
        assert!(installed.exists(), "{binary} not installed");
        assert_eq!(fs::read_link(bin_dir.join(binary)).unwrap(), installed);
    }
    assert!(world.home.join("operations-std/serveur/backup.sh").exists());
    let owner = |path: &Path| {
        let metadata = fs::metadata(path).unwrap();
        (metadata.uid(), metadata.gid(), metadata.mode() & 0o777)
    };
    let girofle_uid: u32 = String::from_utf8(
        Command::new("id")
            .args(["-u", "girofle"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    // Root owns the home and what it runs; the girofle group reads the inventory.
    let girofle_gid = fs::metadata(&world.home).unwrap().gid();
    assert_ne!(girofle_gid, 0);
    assert_eq!(owner(&world.home), (0, girofle_gid, 0o750));
    assert_eq!(
        owner(&world.inventory()),
        (0, girofle_gid, 0o640),
        "the commission's rewrite lost the group or the mode"
    );
    assert_eq!(
        owner(&world.home.join(".auto-increment.girofle")),
        (0, 0, 0o600)
    );
    for binary in BINARIES {
        assert_eq!(
            owner(&world.home.join("operations-std").join(binary)),
            (0, 0, 0o755)
        );
    }
    assert_eq!(owner(&world.home.join("operations-std")), (0, 0, 0o755));
    assert!(girofle_uid != 0);
    assert_eq!(world.entry(1)["health"], "healthy");
    // Issue 19 §3: the key that authenticates state backups is made once,
    // root's alone, and printed this once for the operator's safe place.
    let key_file = world.home.join("state.key");
    assert_eq!(owner(&key_file), (0, 0, 0o600));
    let key = fs::read_to_string(&key_file).unwrap();
    let key = key.trim_end_matches('\n');
    assert!(
        key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{key:?}"
    );
    assert_eq!(first.stderr.matches(key).count(), 1, "{}", first.stderr);
    assert!(
        first.stderr.contains("--state-key FILE"),
        "{}",
        first.stderr
    );

    let snapshot = |home: &Path| -> Vec<(PathBuf, i64, u64)> {
        let mut all = Vec::new();
        for dir in [
            home.to_path_buf(),
            home.join("operations-std"),
            home.join("operations-std/serveur"),
        ] {
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                let metadata = entry.metadata().unwrap();
                if metadata.is_file() && entry.file_name() != "girofle.log" {
                    all.push((entry.path(), metadata.mtime(), metadata.ino()));
                }
            }
        }
        all.sort();
        all
    };
    let before = snapshot(&world.home);
    let second = install(&world, tree.path(), &bin_dir, &ip).expect_code(0);
    assert!(second.stdout.is_empty(), "{}", second.stdout);
    assert!(second.stderr.contains("nothing to do"), "{}", second.stderr);
    assert!(
        !second.stderr.contains(key),
        "the key printed again: {}",
        second.stderr
    );
    assert_eq!(
        snapshot(&world.home),
        before,
        "the second run changed files"
    );
    assert_eq!(world.containers().len(), 1);
}

#[test]
fn the_legacy_wrappers_take_the_old_positional_arguments() {
    let world = Scenario::new();
    let tree = release_tree();
    let ip = fresh_ip();
    let http = common::default_ports(&ip, 8080, 2);
    install(&world, tree.path(), &tree.path().join("bin"), &ip).expect_code(0);
    let list = wrapper(&world, "lister-instances-gitlab.sh", &[]).expect_code(0);
    assert!(
        list.stdout.contains(&format!("{}-gitlab-1", world.prefix)),
        "{}",
        list.stdout
    );
    let url = wrapper(
        &world,
        "comissioner-instance-gitlab.sh",
        &["second", "--ip", &ip, "--hostname", &ip],
    )
    .expect_code(0)
    .stdout;
    assert_eq!(url.trim(), format!("http://{ip}:{}", http[1]));
    let one = wrapper(&world, "backup.sh", &["1"]).expect_code(0).stdout;
    assert_eq!(one.lines().count(), 1);
    std::thread::sleep(Duration::from_millis(1100));
    let all = wrapper(&world, "backup.sh", &[]).expect_code(0).stdout;
    assert_eq!(
        all.lines().count(),
        2,
        "backup.sh without a number backs up every instance"
    );
    let container = format!("{}-gitlab-2-second", world.prefix);
    let dir = world.instance_dir(2).display().to_string();
    wrapper(&world, "restore.sh", &[&container, &dir]).expect_code(0);
    let run = wrapper(&world, "restore.sh", &[&container]).expect_code(2);
    assert!(run.stderr.contains("Usage:"), "{}", run.stderr);
    wrapper(&world, "decomissioner-instance-gitlab.sh", &["2"]).expect_code(0);
    assert_eq!(world.entry(2)["state"], "decommissioned");
}

#[test]
fn a_home_made_by_the_old_scripts_is_listed_backed_up_and_restored() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let dir = world.instance_dir(1);
    let volumes = dir.join("mapping-volumes");
    for volume in ["config", "data", "log"] {
        fs::create_dir_all(volumes.join(volume)).unwrap();
    }
    // The old scripts: a plain docker run, no labels of Girofle's, GitLab on port 80 inside.
    let container = format!("{}-conteneur-kytes.io.gitlab.1", world.prefix);
    docker(&[
        "run",
        "--detach",
        "--name",
        &container,
        "--restart",
        "always",
        "--label",
        &format!("girofle.home={}", world.home.display()),
        "--publish",
        &format!("{ip}:18480:80"),
        "--volume",
        &format!("{}:/etc/gitlab", volumes.join("config").display()),
        "--volume",
        &format!("{}:/var/opt/gitlab", volumes.join("data").display()),
        "--volume",
        &format!("{}:/var/log/gitlab", volumes.join("log").display()),
        common::STANDIN_IMAGE,
    ]);
    wait_healthy(&container);
    fs::write(
        world.inventory(),
        format!(
            " +girofle+ INSTANCE GITLAB no. [1] + [ADRESSE_IP_SRV_GITLAB={ip}] +[NO_PORT_IP_SRV_GITLAB=18480] + \
             [REP_GIROFLE_INSTANCE_GITLAB={}] + [NOM_DU_CONTENEUR_CREE={container}]\n",
            dir.display()
        ),
    )
    .unwrap();
    let url = format!("http://{ip}:18480");
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 1);
    let old = push_commit(
        &work.path().join("app"),
        &format!("{url}/grp/app.git"),
        "legacy era",
    );
    // A backup the old way: a copy in a legacy-named folder.
    docker(&["stop", &container]);
    let legacy = dir.join("bckups/25-11-2025-time-14h-30m-00s");
    fs::create_dir_all(&legacy).unwrap();
    for volume in ["config", "data", "log"] {
        assert!(
            Command::new("cp")
                .args(["-a"])
                .arg(volumes.join(volume))
                .arg(&legacy)
                .status()
                .unwrap()
                .success()
        );
    }
    docker(&["start", &container]);
    wait_healthy(&container);
    push_commit(
        &work.path().join("app"),
        &format!("{url}/grp/app.git"),
        "later",
    );

    let listed = world.entry(1);
    assert_eq!(
        (listed["status"].as_str(), listed["last_backup"].as_str()),
        (Some("running"), Some("25-11-2025-time-14h-30m-00s"))
    );
    let id = world.backup(1, &[]);
    assert!(
        world
            .instance_dir(1)
            .join("bckups")
            .join(&id)
            .join("MANIFEST")
            .exists()
    );
    let dir_text = dir.display().to_string();
    world
        .run(
            "girofle-restore",
            &[
                &container,
                &dir_text,
                "--backup",
                "25-11-2025-time-14h-30m-00s",
                "--wait-timeout",
                "60",
            ],
        )
        .expect_code(0);
    assert_eq!(remote_head(&format!("{url}/grp/app.git")), old);
    assert_eq!(world.entry(1)["health"], "healthy");
}

/// Removes the cron files this test put in the real /etc/cron.d, even on failure.
struct CronFiles(Vec<PathBuf>);

impl Drop for CronFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

#[test]
fn the_real_cron_daemon_runs_the_backup_schedule() {
    let running = |name: &str| {
        fs::read_dir("/proc").unwrap().flatten().any(|entry| {
            fs::read_to_string(entry.path().join("comm"))
                .map(|comm| comm.trim() == name)
                .unwrap_or(false)
        })
    };
    if !running("cron") {
        assert!(
            Command::new("cron")
                .status()
                .expect("cron is installed")
                .success()
        );
    }
    let world = Scenario::new();
    let ip = fresh_ip();
    let cron_dir = Path::new("/etc/cron.d");
    // A number no real home on this machine has, so that its entry is ours alone.
    let number = 900_000 + std::process::id() % 90_000;
    fs::create_dir_all(&world.home).unwrap();
    fs::write(
        world.home.join(".auto-increment.girofle"),
        format!("{}\n", number - 1),
    )
    .unwrap();
    let entry_path = cron_dir.join(format!("{}-gitlab-{number}", world.prefix));
    let _cleanup = CronFiles(vec![
        entry_path.clone(),
        cron_dir.join(format!("{}-state", world.prefix)),
        cron_dir.join(format!("{}-drill-{number}", world.prefix)),
    ]);
    let run = world
        .command("girofle-commission")
        .env("GIROFLE_CRON_DIR", cron_dir)
        .args([
            "--ip",
            &ip,
            "--hostname",
            &ip,
            "--backup-schedule",
            "* * * * *",
            "--wait-timeout",
            "120",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let entry = fs::read_to_string(&entry_path).unwrap();
    assert!(entry.contains("* * * * * root "), "{entry}");
    let start = Instant::now();
    while world
        .backup_names(number)
        .iter()
        .all(|n| n.starts_with('.'))
    {
        assert!(
            start.elapsed() < Duration::from_secs(150),
            "no backup appeared within two minutes and a half"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(log.contains("backed up as"), "{log}");
    let decommissioned = world
        .command("girofle-decommission")
        .env("GIROFLE_CRON_DIR", cron_dir)
        .args([&number.to_string(), "--no-backup"])
        .output()
        .unwrap();
    assert!(decommissioned.status.success());
    assert!(!entry_path.exists());
}

#[test]
fn the_static_binaries_run_where_there_is_no_c_library() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .unwrap();
    let status = Command::new("cargo")
        .current_dir(project)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args([
            "build",
            "--quiet",
            "--bin",
            "girofle-list",
            "--target",
            &target,
            "--target-dir",
        ])
        .arg(project.join("target/static"))
        .status()
        .unwrap();
    assert!(status.success());
    let binary = project
        .join("target/static")
        .join(&target)
        .join("debug/girofle-list");
    // A root filesystem with the binary alone: no loader, no libc.
    let root = tempfile::tempdir().unwrap();
    fs::copy(&binary, root.path().join("girofle-list")).unwrap();
    fs::create_dir(root.path().join("tmp")).unwrap();
    let tag = format!("girofle-static-test:{}", std::process::id());
    let tar = Command::new("tar")
        .args(["-C", root.path().to_str().unwrap(), "-cf", "-", "."])
        .output()
        .unwrap();
    let mut import = Command::new("docker")
        .args(["import", "-", &tag])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(import.stdin.as_mut().unwrap(), &tar.stdout).unwrap();
    assert!(import.wait().unwrap().success());
    let run = Command::new("docker")
        .args(["run", "--rm", &tag, "/girofle-list", "--version"])
        .output()
        .unwrap();
    let listed = Command::new("docker")
        .args([
            "run",
            "--rm",
            &tag,
            "/girofle-list",
            "--home",
            "/tmp/home",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rmi", &tag]).output();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains(env!("CARGO_PKG_VERSION")));
    // No docker CLI in there: the listing says so, and exits 1, without crashing.
    assert_eq!(
        listed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");
}

#[test]
fn install_moves_a_home_of_the_previous_version_to_root_s_ownership() {
    use std::os::unix::fs::PermissionsExt;
    let world = Scenario::new();
    let tree = release_tree();
    let bin_dir = tree.path().join("bin");
    let ip = fresh_ip();
    // The previous version's home: the girofle user's, its inventory 0600.
    common::ensure_girofle_user();
    fs::create_dir_all(world.home.join("operations-std")).unwrap();
    fs::write(
        world.inventory(),
        "number,name,container,state,ip,http_port,https_port,ssh_port,hostname,image,dir,backup_schedule,created,note\n",
    )
    .unwrap();
    fs::write(world.home.join(".auto-increment.girofle"), "0\n").unwrap();
    fs::set_permissions(world.inventory(), fs::Permissions::from_mode(0o600)).unwrap();
    // What the girofle user could plant while the home was its own: a
    // binary of its own where root runs one, a link where root writes its log.
    fs::write(
        world.home.join("operations-std/girofle-backup"),
        "#!/bin/sh\necho owned\n",
    )
    .unwrap();
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, world.home.join("girofle.log")).unwrap();
    let chown = Command::new("chown")
        .args(["-R", "-h", "girofle:girofle", world.home.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    fs::set_permissions(&world.home, fs::Permissions::from_mode(0o750)).unwrap();

    let first = install(&world, tree.path(), &bin_dir, &ip).expect_code(0);
    let girofle_gid = fs::metadata(&world.home).unwrap().gid();
    let owner = |path: &Path| {
        let metadata = fs::symlink_metadata(path).unwrap();
        (metadata.uid(), metadata.gid(), metadata.mode() & 0o777)
    };
    for said in [
        format!(
            "gave {} (was girofle:girofle) to root:girofle",
            world.home.display()
        ),
        format!(
            "gave {} (was girofle:girofle) to root:girofle",
            world.inventory().display()
        ),
        format!("made {} mode 640 (was 600)", world.inventory().display()),
        format!(
            "removed the symbolic link planted at {}",
            world.home.join("girofle.log").display()
        ),
        format!(
            "removed {}: it was not root's",
            world.home.join("operations-std").display()
        ),
    ] {
        assert!(
            first.stderr.contains(&said),
            "{said} not in:\n{}",
            first.stderr
        );
    }
    assert_eq!(owner(&world.home), (0, girofle_gid, 0o750));
    assert_eq!(owner(&world.inventory()), (0, girofle_gid, 0o640));
    assert_eq!(
        owner(&world.home.join(".auto-increment.girofle")),
        (0, 0, 0o600)
    );
    assert_eq!(owner(&world.home.join("operations-std")), (0, 0, 0o755));
    let backup = world.home.join("operations-std/girofle-backup");
    assert_eq!(owner(&backup), (0, 0, 0o755));
    assert_eq!(
        fs::read(&backup).unwrap(),
        fs::read(binary_path("girofle-backup")).unwrap()
    );
    assert!(
        fs::symlink_metadata(world.home.join("girofle.log"))
            .unwrap()
            .is_file()
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(world.entry(1)["health"], "healthy");

    let second = install(&world, tree.path(), &bin_dir, &ip).expect_code(0);
    assert!(second.stderr.contains("nothing to do"), "{}", second.stderr);
}
