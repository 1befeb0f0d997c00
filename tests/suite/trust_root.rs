//! Issue 10 §1 and §7: nobody but root can make root run or write something,
//! and secrets stay secret, inputs stay inputs. Each test is the `girofle`
//! user (a member of the group, as install.sh makes it) trying to break in.

use crate::common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Scenario, docker, ensure_girofle_user, fresh_ip, wait_healthy};

fn gid_of_girofle() -> u32 {
    let output = std::process::Command::new("getent")
        .args(["group", "girofle"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .split(':')
        .nth(2)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// (uid, gid, mode) of a path, not following a link.
fn owner(path: &Path) -> (u32, u32, u32) {
    let metadata = fs::symlink_metadata(path).unwrap();
    (metadata.uid(), metadata.gid(), metadata.mode() & 0o7777)
}

/// A world with one commissioned instance, reachable by the `girofle` user.
fn world_with_an_instance() -> (Scenario, String) {
    ensure_girofle_user();
    let world = Scenario::new();
    world.open_to_others();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    (world, ip)
}

#[test]
fn the_home_is_root_s_and_the_group_may_only_read_the_inventory() {
    let (world, _ip) = world_with_an_instance();
    let group = gid_of_girofle();
    assert_eq!(owner(&world.home), (0, group, 0o750));
    assert_eq!(owner(&world.inventory()), (0, group, 0o640));
    assert_eq!(
        owner(&world.home.join(".auto-increment.girofle")),
        (0, 0, 0o600)
    );
    let log = owner(&world.home.join("girofle.log"));
    assert_eq!(log.0, 0);
    assert_eq!(log.2 & 0o022, 0, "girofle.log is writable by others");
    // A backup and a state backup: 0700, docker inspect (environments) 0600.
    let id = world.backup(1, &[]);
    assert_eq!(
        owner(&world.instance_dir(1).join("bckups")).2 & 0o777,
        0o700
    );
    assert!(!id.is_empty());
    let state = world
        .run("girofle-backup", &["--state"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    let state_dir = world.home.join("sauvegardes").join(&state);
    assert_eq!(owner(&world.home.join("sauvegardes")).2 & 0o777, 0o700);
    assert_eq!(owner(&state_dir).2 & 0o777, 0o700);
    assert_eq!(owner(&state_dir.join("docker-inspect.json")), (0, 0, 0o600));
}

#[test]
fn a_member_of_the_group_lists_and_every_other_binary_refuses_it() {
    let (world, ip) = world_with_an_instance();
    let container = world.entry(1)["container"].as_str().unwrap().to_string();
    let log_before = fs::read(world.home.join("girofle.log")).unwrap();
    let inventory_before = world.inventory_bytes();
    let entries_before = world.home_entries();

    // The group reads the inventory. The Docker engine is root's (its socket
    // is root:docker): without it the live state is `unknown`, exit 1, said so.
    let listed = world.run_as_girofle("girofle-list", &["--all", "--format", "json"]);
    let entries: serde_json::Value = serde_json::from_str(&listed.stdout)
        .unwrap_or_else(|_| panic!("{}\n{}", listed.stdout, listed.stderr));
    assert_eq!(entries[0]["container"], container.as_str());
    assert_eq!(entries[0]["state"], "commissioned");
    match listed.code {
        0 => assert_eq!(entries[0]["health"], "healthy"),
        1 => assert!(
            listed.stderr.contains("the Docker engine did not answer")
                && !listed.stderr.contains("inventory"),
            "{}",
            listed.stderr
        ),
        code => panic!("exit {code}: {}", listed.stderr),
    }

    let dir = world.instance_dir(1).display().to_string();
    for (binary, args) in [
        ("girofle-commission", vec!["--ip", ip.as_str()]),
        ("girofle-backup", vec!["1"]),
        ("girofle-backup", vec!["--state"]),
        ("girofle-backup", vec!["--all"]),
        ("girofle-restore", vec![container.as_str(), dir.as_str()]),
        ("girofle-decommission", vec!["1"]),
        ("girofle-ntp-fix", vec!["--server", "127.0.0.1"]),
    ] {
        let run = world.run_as_girofle(binary, &args).expect_code(2);
        assert!(
            run.stderr.contains(&format!(
                "{binary} must run as root; members of the girofle group may only run girofle-list"
            )),
            "{binary}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{binary}: {}", run.stdout);
    }
    // Nothing was touched: not the log, not the inventory, not the home.
    assert_eq!(
        fs::read(world.home.join("girofle.log")).unwrap(),
        log_before
    );
    assert_eq!(world.inventory_bytes(), inventory_before);
    assert_eq!(world.home_entries(), entries_before);
    assert_eq!(world.backup_names(1), Vec::<String>::new());
    assert_eq!(world.entry(1)["state"], "commissioned");
    assert_eq!(common::status(&container), "running");
}

#[test]
fn the_group_cannot_replace_or_redirect_what_root_runs_or_writes() {
    let (world, _ip) = world_with_an_instance();
    world.backup(1, &[]);
    world.run("girofle-backup", &["--state"]).expect_code(0);
    // What install.sh puts in the home: root's binaries in root's directory.
    let operations = world.home.join("operations-std");
    fs::create_dir(&operations).unwrap();
    fs::set_permissions(&operations, fs::Permissions::from_mode(0o755)).unwrap();
    let installed = operations.join("girofle-backup");
    fs::copy(common::binary_path("girofle-backup"), &installed).unwrap();
    let installed_bytes = fs::read(&installed).unwrap();
    // What an attacker would like root to write into.
    let victim_dir = tempfile::tempdir().unwrap();
    fs::set_permissions(victim_dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let victim = victim_dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o666)).unwrap();
    let log_before = fs::read(world.home.join("girofle.log")).unwrap();
    let inventory_before = world.inventory_bytes();

    let v = victim.display().to_string();
    let row_outside = format!(
        "2,,evil,commissioned,127.0.0.1,1,2,3,h,img,{}/noeud-gitlab-2,,,\n",
        victim_dir.path().display()
    );
    let attempts: Vec<(&str, String)> = vec![
        ("replace a binary", "cp /bin/sh \"$HOME_DIR/operations-std/girofle-backup\"".into()),
        ("rename a binary", "mv \"$HOME_DIR/operations-std/girofle-backup\" \"$HOME_DIR/operations-std/x\"".into()),
        ("link over a binary", format!("ln -sf {v} \"$HOME_DIR/operations-std/girofle-backup\"")),
        ("rename operations-std", "mv \"$HOME_DIR/operations-std\" \"$HOME_DIR/old\"".into()),
        ("add a binary", "cp /bin/sh \"$HOME_DIR/operations-std/girofle-list2\"".into()),
        ("write the inventory", "echo x >> \"$HOME_DIR/inventory.girofle\"".into()),
        ("add a row outside the home", format!("printf '{row_outside}' >> \"$HOME_DIR/inventory.girofle\"")),
        ("replace the inventory", "cp \"$HOME_DIR/inventory.girofle\" /tmp/inv.$$ && mv /tmp/inv.$$ \"$HOME_DIR/inventory.girofle\"".into()),
        ("link at girofle.log", format!("ln -sf {v} \"$HOME_DIR/girofle.log\"")),
        ("rename girofle.log", "mv \"$HOME_DIR/girofle.log\" \"$HOME_DIR/girofle.log.old\"".into()),
        ("link at the inventory lock", format!("ln -sf {v} \"$HOME_DIR/inventory.girofle.lock\"")),
        ("link at the counter", format!("ln -sf {v} \"$HOME_DIR/.auto-increment.girofle\"")),
        ("link at a temp name", format!("ln -s {v} \"$HOME_DIR/.inventory.girofle.tmp-1\"")),
        ("link at the instance lock", format!("ln -sf {v} \"$HOME_DIR/noeud-gitlab-1/.girofle.lock\"")),
        ("link at a partial backup", format!("ln -s {} \"$HOME_DIR/noeud-gitlab-1/bckups/.partial-2030-01-01T00-00-00Z\"", victim_dir.path().display())),
        ("link at the instance directory", format!("ln -s {} \"$HOME_DIR/noeud-gitlab-2\"", victim_dir.path().display())),
        ("read a backup", "ls \"$HOME_DIR/noeud-gitlab-1/bckups\"".into()),
        ("read a state file", "cat \"$HOME_DIR/.auto-increment.girofle\"".into()),
        ("make a state backup folder", "mkdir \"$HOME_DIR/sauvegardes/x\"".into()),
    ];
    for (what, script) in &attempts {
        let run = world.sh_as_girofle(script);
        assert_ne!(run.code, 0, "{what}: the girofle user could: {script}");
        assert!(
            run.stderr.contains("Permission denied"),
            "{what}: {}",
            run.stderr
        );
    }
    assert_eq!(fs::read(&installed).unwrap(), installed_bytes);
    assert_eq!(owner(&installed).0, 0);
    assert_eq!(world.inventory_bytes(), inventory_before);
    assert_eq!(
        fs::read(world.home.join("girofle.log")).unwrap(),
        log_before
    );
    assert!(!world.home.join("noeud-gitlab-2").exists());

    // Root's next runs go on as if nothing had been tried, and the victim is intact.
    world.backup(1, &[]);
    world.run("girofle-backup", &["--state"]).expect_code(0);
    assert_eq!(world.backup_names(1).len(), 2);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert_eq!(fs::read_dir(victim_dir.path()).unwrap().count(), 1);
}

#[test]
fn root_follows_no_link_left_in_the_home_and_no_row_pointing_outside_it() {
    // The previous version gave the home to the girofle user, who could plant
    // links and rows before the upgrade: root's code follows none of them.
    let (world, ip) = world_with_an_instance();
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let link = |at: &Path| {
        let _ = fs::remove_file(at);
        std::os::unix::fs::symlink(&victim, at).unwrap();
    };

    // girofle.log: the operation runs, the log line is lost, the victim untouched.
    link(&world.home.join("girofle.log"));
    world.backup(1, &[]);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        fs::symlink_metadata(world.home.join("girofle.log"))
            .unwrap()
            .is_symlink()
    );
    fs::remove_file(world.home.join("girofle.log")).unwrap();

    // The instance lock: refused, the victim untouched.
    let lock = world.instance_dir(1).join(".girofle.lock");
    link(&lock);
    let run = world.run("girofle-backup", &["1"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains(".girofle.lock"), "{}", run.stderr);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    fs::remove_file(&lock).unwrap();

    // The inventory lock: refused, the victim untouched.
    let lock = world.home.join("inventory.girofle.lock");
    link(&lock);
    let run = world.run(
        "girofle-commission",
        &["--ip", &ip, "--hostname", &ip, "--no-wait"],
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("inventory.girofle.lock"),
        "{}",
        run.stderr
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    fs::remove_file(&lock).unwrap();

    // The counter and the inventory: neither read nor written through a link.
    for name in [".auto-increment.girofle", "inventory.girofle"] {
        let path = world.home.join(name);
        let kept = world.home.join(format!("{name}.kept"));
        fs::rename(&path, &kept).unwrap();
        link(&path);
        let run = world.run("girofle-commission", &["--ip", &ip, "--hostname", &ip]);
        assert_ne!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains(name), "{}", run.stderr);
        assert!(!run.stderr.contains("precious"), "{}", run.stderr);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        fs::remove_file(&path).unwrap();
        fs::rename(&kept, &path).unwrap();
    }
    world.commission(&["--ip", &ip, "--hostname", &ip]);

    // A row whose directory is outside the home: every operation refuses it.
    let good = world.inventory_bytes();
    let outside = victim_dir.path().join("noeud-gitlab-3");
    let text = String::from_utf8(good.clone()).unwrap();
    let row = text.lines().nth(2).unwrap().replace(
        &world.instance_dir(2).display().to_string(),
        &outside.display().to_string(),
    );
    let mut evil = text.lines().take(2).collect::<Vec<_>>().join("\n");
    evil.push('\n');
    evil.push_str(&row.replacen("2,", "3,", 1));
    evil.push('\n');
    fs::write(world.inventory(), &evil).unwrap();
    for (binary, args) in [
        ("girofle-backup", vec!["3"]),
        ("girofle-backup", vec!["--all"]),
        ("girofle-decommission", vec!["3"]),
        ("girofle-list", vec![]),
    ] {
        let run = world.run(binary, &args).expect_code(1);
        assert!(
            run.stderr.contains("is not") && run.stderr.contains("noeud-gitlab-3"),
            "{binary}: {}",
            run.stderr
        );
    }
    assert_eq!(fs::read_dir(victim_dir.path()).unwrap().count(), 1);

    // The home's own directory name, but a link to elsewhere: refused too.
    fs::write(world.inventory(), &good).unwrap();
    let moved = world.home.join("noeud-gitlab-2.real");
    fs::rename(world.instance_dir(2), &moved).unwrap();
    std::os::unix::fs::symlink(victim_dir.path(), world.instance_dir(2)).unwrap();
    let run = world.run("girofle-backup", &["2"]).expect_code(1);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert_eq!(fs::read_dir(victim_dir.path()).unwrap().count(), 1);
    fs::remove_file(world.instance_dir(2)).unwrap();
    fs::rename(&moved, world.instance_dir(2)).unwrap();
    world.backup(2, &[]);
}

#[test]
fn passwords_in_a_container_environment_stay_out_of_the_log_and_messages() {
    ensure_girofle_user();
    let world = Scenario::new();
    let ip = fresh_ip();
    let password = "Sup3r-S3cret-pw";
    let token = "glrt-T0ken-value";
    // A container started the old scripts' way, with secrets in its omnibus config.
    let dir = world.instance_dir(1);
    for volume in ["config", "data", "log"] {
        fs::create_dir_all(dir.join("mapping-volumes").join(volume)).unwrap();
    }
    let container = format!("{}-conteneur-1", world.prefix);
    let omnibus = format!(
        "external_url 'http://{ip}:18481'; gitlab_rails['initial_root_password'] = '{password}'; \
         gitlab_rails['initial_shared_runners_registration_token'] = \"{token}\""
    );
    let volume = |name: &str| {
        format!(
            "{}:{}",
            dir.join("mapping-volumes").join(name).display(),
            match name {
                "config" => "/etc/gitlab",
                "data" => "/var/opt/gitlab",
                _ => "/var/log/gitlab",
            }
        )
    };
    docker(&[
        "run",
        "--detach",
        "--name",
        &container,
        "--label",
        &format!("girofle.home={}", world.home.display()),
        "--env",
        &format!("GITLAB_OMNIBUS_CONFIG={omnibus}"),
        "--publish",
        &format!("{ip}:18481:80"),
        "--volume",
        &volume("config"),
        "--volume",
        &volume("data"),
        "--volume",
        &volume("log"),
        common::STANDIN_IMAGE,
    ]);
    wait_healthy(&container);
    fs::write(
        world.inventory(),
        format!(
            " +girofle+ INSTANCE GITLAB no. [1] + [ADRESSE_IP_SRV_GITLAB={ip}] +[NO_PORT_IP_SRV_GITLAB=18481] + \
             [REP_GIROFLE_INSTANCE_GITLAB={}] + [NOM_DU_CONTENEUR_CREE={container}]\n",
            dir.display()
        ),
    )
    .unwrap();

    let mut said = String::new();
    let backup = world.run("girofle-backup", &["1"]).expect_code(0);
    said += &backup.stdout;
    said += &backup.stderr;
    let state = world.run("girofle-backup", &["--state"]).expect_code(0);
    said += &state.stdout;
    said += &state.stderr;
    // A secret given on the command line is not echoed back either.
    let given = format!("gitlab_rails['db_password']='{password}'");
    let refused = world.run("girofle-backup", &[&given]).expect_code(2);
    assert!(refused.stderr.contains("[REDACTED]"), "{}", refused.stderr);
    said += &refused.stderr;
    let failed = world.run("girofle-restore", &[&given, "/nonexistent"]);
    assert_ne!(failed.code, 0);
    said += &failed.stdout;
    said += &failed.stderr;

    let state_dir = world.home.join("sauvegardes").join(state.stdout.trim());
    let inspect = state_dir.join("docker-inspect.json");
    assert!(
        fs::read_to_string(&inspect).unwrap().contains(password),
        "the state backup keeps the environment"
    );
    assert_eq!(owner(&inspect).2 & 0o777, 0o600);
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    let tail = fs::read_to_string(state_dir.join("girofle.log.tail")).unwrap();
    for secret in [password, token] {
        assert!(!log.contains(secret), "{secret} in girofle.log:\n{log}");
        assert!(!tail.contains(secret), "{secret} in the log tail");
        assert!(!said.contains(secret), "{secret} said:\n{said}");
    }
}

#[test]
fn an_ntp_server_is_a_host_and_a_port_only() {
    let world = Scenario::new();
    let root = tempfile::tempdir().unwrap();
    for bad in [
        "pool.ntp.org\nallow all",
        "pool.ntp.org allow",
        "host;touch /tmp/x",
        "host:notaport",
        "",
    ] {
        let run = world
            .run(
                "girofle-ntp-fix",
                &["--server", bad, "--root", root.path().to_str().unwrap()],
            )
            .expect_code(2);
        assert!(run.stderr.contains("--server"), "{bad:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    // Nothing written: no home, no log, nothing under the root given.
    assert!(!world.home.exists());
    assert_eq!(fs::read_dir(root.path()).unwrap().count(), 0);
}

#[test]
fn root_works_in_no_home_another_user_can_change() {
    // A home left as the previous version made it: the girofle user's.
    let (world, _ip) = world_with_an_instance();
    let log_before = fs::read(world.home.join("girofle.log")).unwrap();
    let chown = std::process::Command::new("chown")
        .args(["girofle:girofle", world.home.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    for args in [vec!["1"], vec!["--state"]] {
        let run = world.run("girofle-backup", &args).expect_code(1);
        assert!(
            run.stderr.contains("run install.sh again"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(world.backup_names(1), Vec::<String>::new());
    assert!(!world.home.join("sauvegardes").exists());
    assert_eq!(
        fs::read(world.home.join("girofle.log")).unwrap(),
        log_before
    );
    // Writable by the group: refused as well.
    let chown = std::process::Command::new("chown")
        .args(["root:girofle", world.home.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(chown.success());
    fs::set_permissions(&world.home, fs::Permissions::from_mode(0o770)).unwrap();
    world.run("girofle-decommission", &["1"]).expect_code(1);
    assert_eq!(world.entry(1)["state"], "commissioned");
    fs::set_permissions(&world.home, fs::Permissions::from_mode(0o750)).unwrap();
    world.backup(1, &[]);
}
