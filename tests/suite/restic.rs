//! Issue 23: restic repositories as targets. A real repository in the
//! test's temp dir (and, served on loopback in append-only mode by
//! `rclone serve restic`, a REST one): initialised, shipped to, restored
//! from; a wrong password fails the shipping only; the password is never
//! shown; an append-only target is never pruned.

use crate::common;

mod fresh;
mod full;
mod locks;
mod records;
mod verify;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Run, Scenario, docker, fresh_ip};

/// A repository of the test's own and the file holding its password.
struct Vault {
    dir: tempfile::TempDir,
    password: String,
}

impl Vault {
    fn new() -> Vault {
        let dir = tempfile::tempdir().unwrap();
        let password = format!("vault-password-{}-never-shown", std::process::id());
        let vault = Vault { dir, password };
        vault.set_password(&vault.password.clone());
        vault
    }

    fn password_file(&self) -> PathBuf {
        self.dir.path().join("password")
    }

    fn repository(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn set_password(&self, password: &str) {
        fs::write(self.password_file(), format!("{password}\n")).unwrap();
        fs::set_permissions(self.password_file(), fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// `[targets.NAME]` for the repository at `url`.
    fn target(&self, name: &str, url: &str, extra: &str) -> String {
        format!(
            "[targets.{name}]\nkind = \"restic\"\nurl = \"{url}\"\npassword_file = \"{}\"\n{extra}",
            self.password_file().display()
        )
    }

    /// `restic ARGS` on the repository at `url`, as the test sees it.
    fn restic(&self, url: &str, args: &[&str]) -> Run {
        Run::from(
            Command::new("restic")
                .args(args)
                .env("RESTIC_REPOSITORY", url)
                .env("RESTIC_PASSWORD_FILE", self.password_file())
                .output()
                .unwrap(),
        )
    }

    /// The tag lists of the repository's snapshots carrying `tag`.
    fn tags(&self, url: &str, tag: &str) -> Vec<Vec<String>> {
        let run = self
            .restic(url, &["snapshots", "--json", "--tag", tag])
            .expect_code(0);
        let snapshots: Vec<serde_json::Value> = serde_json::from_str::<Option<_>>(&run.stdout)
            .unwrap()
            .unwrap_or_default();
        snapshots
            .iter()
            .map(|s| {
                let mut tags: Vec<String> = s["tags"]
                    .as_array()
                    .map(|t| t.iter().map(|t| t.as_str().unwrap().to_string()).collect())
                    .unwrap_or_default();
                tags.push(format!("hostname={}", s["hostname"].as_str().unwrap()));
                tags
            })
            .collect()
    }

    /// The backup IDs of the snapshots carrying `tag`, sorted.
    fn backups(&self, url: &str, tag: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .tags(url, tag)
            .iter()
            .flatten()
            .filter_map(|t| t.strip_prefix("backup=").map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// Panics if the password shows in `text`.
    fn never_in(&self, what: &str, text: &str) {
        assert!(
            !text.contains(&self.password),
            "the password shows in {what}: {text}"
        );
    }
}

fn configure(world: &Scenario, text: &str) {
    fs::create_dir_all(&world.home).unwrap();
    fs::write(world.home.join("girofle.conf"), text).unwrap();
}

/// Every entry under `root`: its path, owner, mode, and content or link
/// target, and which entries are hard links of one another.
fn tree(root: &Path) -> (BTreeMap<String, String>, Vec<Vec<String>>) {
    let mut entries = BTreeMap::new();
    let mut inodes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let what = if metadata.is_dir() {
                stack.push(path.clone());
                "dir".to_string()
            } else if metadata.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&path).unwrap().display())
            } else {
                inodes.entry(metadata.ino()).or_default().push(name.clone());
                format!("{:x?}", md5ish(&fs::read(&path).unwrap()))
            };
            entries.insert(
                name,
                format!(
                    "{}:{} {:o} {what}",
                    metadata.uid(),
                    metadata.gid(),
                    metadata.mode() & 0o7777
                ),
            );
        }
    }
    let mut links: Vec<Vec<String>> = inodes
        .into_values()
        .filter(|names| names.len() > 1)
        .map(|mut names| {
            names.sort();
            names
        })
        .collect();
    links.sort();
    (entries, links)
}

/// A cheap fingerprint of a file's bytes (its length and a rolling sum).
fn md5ish(bytes: &[u8]) -> (usize, u64) {
    let sum = bytes.iter().fold(0u64, |acc, b| {
        acc.wrapping_mul(1_099_511_628_211)
            .wrapping_add(u64::from(*b))
    });
    (bytes.len(), sum)
}

/// The bytes restic added for backup `id`, as the log records it.
fn bytes_added(world: &Scenario, id: &str) -> u64 {
    let log = world.log_text();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("{id} shipped to target `vault`")))
        .unwrap_or_else(|| panic!("no shipping of {id} in the log:\n{log}"));
    line.split(" bytes added")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bytes added in {line:?}"))
}

#[test]
fn a_restic_target_is_initialised_shipped_to_and_restored_from_on_another_host() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let host_a = Scenario::new();
    let conf = |host: &str| {
        format!(
            "[girofle]\nhost = \"{host}\"\n\n{}",
            vault.target("vault", &url, "")
        )
    };
    configure(&host_a, &conf("host-a"));
    let ip = fresh_ip();
    host_a.commission(&["--ip", &ip, "--hostname", &ip]);
    // Hard links, a symlink and an owner of GitLab's inside the data.
    let data = host_a.instance_dir(1).join("mapping-volumes/data");
    fs::write(data.join("linked-a"), "one content, two names\n").unwrap();
    fs::hard_link(data.join("linked-a"), data.join("linked-b")).unwrap();
    std::os::unix::fs::symlink("linked-a", data.join("a-symlink")).unwrap();
    host_a.fill_data(1, 300);
    let bytes: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
        .collect();
    fs::write(data.join("uploads.bin"), bytes).unwrap();
    docker(&["stop", &format!("{}-gitlab-1", host_a.prefix)]);
    let mut runs = Vec::new();

    // Not initialised: refused, the local backup kept.
    let refused = host_a.run("girofle-backup", &["1", "--to", "vault"]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("target `vault`"),
        "{}",
        refused.stderr
    );
    assert_eq!(host_a.backup_names(1).len(), 1);
    runs.push(refused);

    runs.push(
        host_a
            .run("girofle-backup", &["--init-target", "vault"])
            .expect_code(0),
    );
    // A second time: the existing repository opens with the password.
    runs.push(
        host_a
            .run("girofle-backup", &["--init-target", "vault"])
            .expect_code(0),
    );
    assert_eq!(vault.tags(&url, "girofle-marker").len(), 1);

    std::thread::sleep(Duration::from_millis(1100));
    let first = host_a.backup(1, &["--to", "vault"]);
    std::thread::sleep(Duration::from_millis(1100));
    let second = host_a.backup(1, &["--to", "vault"]);
    let tags = vault.tags(&url, "girofle");
    assert_eq!(tags.len(), 2, "{tags:?}");
    for (id, tags) in [&first, &second].iter().zip(&tags) {
        for tag in [
            "girofle".to_string(),
            "host=host-a".into(),
            "instance=noeud-gitlab-1".into(),
            format!("backup={id}"),
            "hostname=host-a".into(),
        ] {
            assert!(tags.contains(&tag), "{tag} missing: {tags:?}");
        }
    }
    // Deduplication: the second costs what changed, not the whole again.
    let (whole, increment) = (bytes_added(&host_a, &first), bytes_added(&host_a, &second));
    assert!(
        increment * 4 < whole,
        "the second backup added {increment} bytes, the first {whole}"
    );
    runs.push(host_a.run("girofle-list", &["--check"]));

    // Host B: the instance comes back from the repository.
    let host_b = Scenario::new();
    configure(&host_b, &conf("host-b"));
    let ip_b = fresh_ip();
    host_b.commission(&["--ip", &ip_b, "--hostname", &ip_b]);
    let container = format!("{}-gitlab-1", host_b.prefix);
    let dir = host_b.instance_dir(1).display().to_string();
    let restored = host_b
        .run(
            "girofle-restore",
            &[
                &container,
                &dir,
                "--from",
                "vault",
                "--source",
                "host-a/noeud-gitlab-1",
                "--wait-timeout",
                "60",
            ],
        )
        .expect_code(0);
    runs.push(restored);
    let fetched = host_b.instance_dir(1).join("bckups").join(&second);
    assert!(fetched.is_dir(), "{:?}", host_b.backup_names(1));
    let original = host_a.instance_dir(1).join("bckups").join(&second);
    let (want, want_links) = tree(&original);
    let (got, got_links) = tree(&fetched);
    assert_eq!(got, want, "the fetched backup differs from the original");
    assert_eq!(got_links, want_links);
    assert!(
        want_links
            .iter()
            .any(|group| group.len() == 2 && group[0].ends_with("linked-a")),
        "{want_links:?}"
    );
    assert_eq!(
        fs::read(host_b.instance_dir(1).join("mapping-volumes/data/linked-b")).unwrap(),
        b"one content, two names\n"
    );
    assert_eq!(host_b.entry(1)["health"], "healthy");

    for (n, run) in runs.iter().enumerate() {
        vault.never_in(&format!("run {n}'s stdout"), &run.stdout);
        vault.never_in(&format!("run {n}'s stderr"), &run.stderr);
    }
    vault.never_in("host A's log", &host_a.log_text());
    vault.never_in("host B's log", &host_b.log_text());
}

#[test]
fn a_wrong_password_fails_the_shipping_only_and_retention_spares_append_only_targets() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let world = Scenario::new();
    let ip = fresh_ip();
    let conf = |extra: &str| {
        format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            vault.target("vault", &url, extra)
        )
    };
    configure(&world, &conf(""));
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    world.run("girofle-list", &["--check"]).expect_code(0);

    // A password file others can read: refused by name, nothing made.
    fs::set_permissions(vault.password_file(), fs::Permissions::from_mode(0o644)).unwrap();
    let run = world.run("girofle-backup", &["1", "--to", "vault"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&vault.password_file().display().to_string()),
        "{}",
        run.stderr
    );
    vault.never_in("stderr", &run.stderr);
    assert!(world.backup_names(1).is_empty());

    // A wrong password: the backup is made and kept, the shipping fails.
    vault.set_password("not-the-right-password");
    let run = world.run("girofle-backup", &["1", "--to", "vault"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("target `vault`"), "{}", run.stderr);
    assert!(run.stderr.contains("wrong password"), "{}", run.stderr);
    let id = run.stdout.trim().to_string();
    assert_eq!(world.backup_names(1), vec![id]);
    assert!(
        !run.stderr.contains("not-the-right-password"),
        "{}",
        run.stderr
    );
    let check = world.run("girofle-list", &["--check"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    let said = format!("{}{}", check.stdout, check.stderr);
    assert!(said.contains("target `vault`"), "{said}");
    vault.never_in("girofle-list --check", &said);
    vault.set_password(&vault.password.clone());

    // Retention: keep_last = 1 forgets the older snapshots and prunes.
    configure(&world, &conf("keep_last = 1\n"));
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1100));
        world.backup(1, &["--to", "vault"]);
    }
    // The backups, not the shipping records beside them (`<ID>.SHIPPED`).
    let newest = world
        .backup_names(1)
        .into_iter()
        .rfind(|name| !name.ends_with(".SHIPPED"))
        .unwrap();
    assert_eq!(vault.backups(&url, "girofle"), vec![newest]);

    // append_only: never pruned, and the log says so.
    configure(&world, &conf("keep_last = 1\nappend_only = true\n"));
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(1100));
        world.backup(1, &["--to", "vault"]);
    }
    assert_eq!(vault.backups(&url, "girofle").len(), 3);
    assert!(
        world
            .log_text()
            .contains("target `vault` is append-only: Girofle never prunes it"),
        "{}",
        world.log_text()
    );
    // The state backup: the same target, its own tag.
    let state = world
        .run("girofle-backup", &["--state", "--to", "vault"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    assert_eq!(vault.backups(&url, "state"), vec![state.clone()]);
    assert!(
        vault.tags(&url, "state")[0].contains(&"host=host-a".to_string()),
        "{:?}",
        vault.tags(&url, "state")
    );
    assert!(
        !vault
            .backups(&url, "instance=noeud-gitlab-1")
            .contains(&state)
    );
    vault.never_in("the log", &world.log_text());
}

/// `rclone serve restic --append-only` on a loopback address, stopped on drop.
struct RestServer(Child);

impl Drop for RestServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn an_append_only_rest_server_refuses_forget_and_girofle_still_ships() {
    let vault = Vault::new();
    let ip = fresh_ip();
    let port = std::net::TcpListener::bind((ip.as_str(), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = vault.dir.path().join("served");
    fs::create_dir_all(&storage).unwrap();
    let _server = RestServer(
        Command::new("rclone")
            .args(["serve", "restic", "--append-only", "--addr"])
            .arg(format!("{ip}:{port}"))
            .arg(&storage)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        common::eventually(Duration::from_secs(20), || {
            std::net::TcpStream::connect((ip.as_str(), port)).is_ok()
        }),
        "rclone serve restic never listened"
    );
    let url = format!("rest:http://{ip}:{port}/");
    let world = Scenario::new();
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            vault.target("vault", &url, "keep_last = 1\nappend_only = true\n")
        ),
    );
    let ip_gitlab = fresh_ip();
    world.commission(&["--ip", &ip_gitlab, "--hostname", &ip_gitlab]);
    world
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    let first = world.backup(1, &["--to", "vault"]);
    std::thread::sleep(Duration::from_millis(1100));
    // While it ships, no process shows the password in its arguments.
    let mut child = world
        .command("girofle-backup")
        .args(["1", "--to", "vault"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut restic_seen = false;
    while child.try_wait().unwrap().is_none() {
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            vault.never_in("a process's arguments", &cmdline);
            restic_seen |= cmdline.starts_with("restic ");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let shipped = Run::from(child.wait_with_output().unwrap()).expect_code(0);
    let second = shipped.stdout.trim().to_string();
    assert!(restic_seen, "no restic process was ever seen running");
    assert_eq!(vault.backups(&url, "girofle"), vec![first.clone(), second]);
    // What a thief with this host's password would try: refused by the server.
    let forget = vault.restic(
        &url,
        &[
            "forget",
            "--tag",
            &format!("backup={first}"),
            "--keep-tag",
            "girofle-marker",
        ],
    );
    assert_ne!(
        forget.code, 0,
        "the append-only server let a forget through"
    );
    assert_eq!(vault.backups(&url, "girofle").len(), 2);
    // A target not marked append_only on such a server: shipped, but its
    // retention fails, exit 3 naming the target.
    configure(
        &world,
        &format!(
            "[girofle]\nhost = \"host-a\"\n\n{}",
            vault.target("vault", &url, "keep_last = 1\n")
        ),
    );
    std::thread::sleep(Duration::from_millis(1100));
    let run = world.run("girofle-backup", &["1", "--to", "vault"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("target `vault`"), "{}", run.stderr);
    vault.never_in("stderr", &run.stderr);
    assert_eq!(vault.backups(&url, "girofle").len(), 3);
}

#[test]
fn a_burnt_host_comes_back_on_a_new_one_from_a_restic_target() {
    let vault = Vault::new();
    let url = vault.repository().display().to_string();
    let conf = |host: &str| {
        format!(
            "[girofle]\nhost = \"{host}\"\n\n{}",
            vault.target("vault", &url, "")
        )
    };
    let host_a = Scenario::new();
    configure(&host_a, &conf("host-a"));
    let ip = fresh_ip();
    let url_a = host_a.commission(&["--ip", &ip, "--hostname", &ip]);
    let work = tempfile::tempdir().unwrap();
    common::make_repository(&work.path().join("app"), 2);
    let head = common::push_commit(
        &work.path().join("app"),
        &format!("{url_a}/grp/app.git"),
        "on host A",
    );
    host_a
        .run("girofle-backup", &["--init-target", "vault"])
        .expect_code(0);
    host_a.backup(1, &["--to", "vault"]);
    host_a
        .run("girofle-backup", &["--state", "--to", "vault"])
        .expect_code(0);
    let key = work.path().join("host-a.key");
    fs::copy(host_a.home.join("state.key"), &key).unwrap();
    let container = format!("{}-gitlab-1", host_a.prefix);
    // The fire.
    docker(&["rm", "--force", "--volumes", &container]);
    fs::remove_dir_all(&host_a.home).unwrap();
    let _ = fs::remove_dir_all(&host_a.cron_dir);

    let host_b = Scenario::new();
    configure(&host_b, &conf("host-b"));
    let run = host_b
        .run(
            "girofle-restore",
            &[
                "--all",
                "--wait-timeout",
                "120",
                "--from",
                "vault",
                "--source",
                "host-a",
                "--state-key",
                key.to_str().unwrap(),
            ],
        )
        .expect_code(0);
    assert!(run.stdout.contains("restored"), "{}", run.stdout);
    assert_eq!(common::remote_head(&format!("{url_a}/grp/app.git")), head);
    assert_eq!(host_b.entry(1)["health"], "healthy");
    vault.never_in("stdout", &run.stdout);
    vault.never_in("stderr", &run.stderr);
    vault.never_in("host B's log", &host_b.log_text());
}
