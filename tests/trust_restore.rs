//! Issue 10, §3: a restore cannot destroy what it replaces. Each test tries
//! to break one promise against the real engine.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    Scenario, docker, fresh_ip, make_repository, push_commit, remote_head, status, wait_healthy,
};

struct Instance {
    world: Scenario,
    url: String,
    container: String,
    work: tempfile::TempDir,
}

fn instance(world: Scenario, extra: &[&str]) -> Instance {
    let ip = fresh_ip();
    let mut args = vec!["--ip", ip.as_str(), "--hostname", ip.as_str()];
    args.extend_from_slice(extra);
    let url = world.commission(&args);
    let container = format!("{}-gitlab-1", world.prefix);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 1);
    Instance {
        world,
        url,
        container,
        work,
    }
}

impl Instance {
    /// A backup; then GitLab is serving again (a backup may return before it is).
    fn backup(&self) -> String {
        let id = self.world.backup(1, &[]);
        wait_healthy(&self.container);
        id
    }
    fn project(&self) -> String {
        format!("{}/grp/app.git", self.url)
    }
    fn push(&self, message: &str) -> String {
        push_commit(&self.work.path().join("app"), &self.project(), message)
    }
    fn dir(&self) -> String {
        self.world.instance_dir(1).display().to_string()
    }
    fn volumes(&self) -> PathBuf {
        self.world.instance_dir(1).join("mapping-volumes")
    }
    fn secrets(&self) -> Vec<u8> {
        fs::read(self.volumes().join("config/gitlab-secrets.json")).unwrap()
    }
    fn started(&self) -> String {
        docker(&[
            "inspect",
            "--format",
            "{{.State.StartedAt}}",
            &self.container,
        ])
    }
    fn restore(&self, extra: &[&str]) -> common::Run {
        let dir = self.dir();
        let mut args = vec![
            self.container.as_str(),
            dir.as_str(),
            "--wait-timeout",
            "90",
        ];
        args.extend_from_slice(extra);
        self.world.run("girofle-restore", &args)
    }
    /// The backups whose MANIFEST says they were taken before a restore, with the backup restored.
    fn taken_before_restore(&self) -> Vec<(String, String)> {
        self.world
            .backup_names(1)
            .into_iter()
            .filter_map(|name| {
                let manifest = fs::read_to_string(
                    self.world
                        .instance_dir(1)
                        .join("bckups")
                        .join(&name)
                        .join("MANIFEST"),
                )
                .ok()?;
                let restored = header(&manifest, "taken_before_restore")?;
                Some((name, restored))
            })
            .collect()
    }
}

fn header(manifest: &str, key: &str) -> Option<String> {
    manifest
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix(&format!("{key}: ")))
        .map(str::to_string)
}

/// Every entry under `root` (MANIFEST left out): its kind, mode, owner,
/// size, mtime and content.
fn tree(root: &Path) -> BTreeMap<PathBuf, (u32, u32, u32, i64, Vec<u8>)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let metadata = fs::symlink_metadata(&path).unwrap();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        if relative == Path::new("MANIFEST") {
            continue;
        }
        let content = if metadata.is_file() {
            fs::read(&path).unwrap()
        } else if metadata.is_symlink() {
            fs::read_link(&path)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else {
            Vec::new()
        };
        let mtime = if metadata.is_dir() {
            0
        } else {
            metadata.mtime()
        };
        if relative != Path::new("") {
            found.insert(
                relative,
                (
                    metadata.mode(),
                    metadata.uid(),
                    metadata.gid(),
                    mtime,
                    content,
                ),
            );
        }
        if metadata.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    found
}

#[test]
fn a_directory_that_the_container_does_not_mount_is_refused_and_both_instances_stay_untouched() {
    let mine = instance(Scenario::new(), &[]);
    let other = instance(Scenario::new(), &[]);
    mine.push("mine");
    let others_head = other.push("other's");
    other.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let others_newer = other.push("other's, after its backup");
    assert_ne!(others_newer, others_head);
    let (mine_started, other_started) = (mine.started(), other.started());
    let (mine_secrets, other_secrets) = (mine.secrets(), other.secrets());
    let other_backups = other.world.backup_names(1);
    // The other home's directory: this home's inventory does not know it;
    // only the container's mounts tell that it is not this container's.
    let dir = other.dir();
    for extra in [vec![], vec!["--yes"]] {
        let mut args = vec![mine.container.as_str(), dir.as_str()];
        args.extend(extra);
        let run = mine.world.run("girofle-restore", &args);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("does not mount") && run.stderr.contains(&dir),
            "{}",
            run.stderr
        );
    }
    assert_eq!(mine.started(), mine_started);
    assert_eq!(other.started(), other_started);
    assert_eq!(mine.secrets(), mine_secrets);
    assert_eq!(other.secrets(), other_secrets);
    assert_eq!(other.world.backup_names(1), other_backups);
    assert!(mine.world.backup_names(1).is_empty());
    assert_eq!(remote_head(&other.project()), others_newer);
    assert!(
        !other
            .world
            .instance_dir(1)
            .join("mapping-volumes.restoring")
            .exists()
    );
    // Another instance of the same home is refused as well.
    let ip = fresh_ip();
    mine.world
        .commission(&["second", "--ip", &ip, "--hostname", &ip]);
    mine.world.backup(2, &[]);
    let second = mine.world.instance_dir(2).display().to_string();
    let run = mine
        .world
        .run("girofle-restore", &[&mine.container, &second]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(mine.started(), mine_started);
}

/// A tmpfs mounted on the home for the test's life; lazily unmounted at the end.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=750")])
            .arg("tmpfs")
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
        Tmpfs(path.to_path_buf())
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&self.0)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Fills the file system until `left` bytes are free.
    fn fill_until(&self, left: u64) {
        let filler = self.0.join("filler");
        let _ = fs::remove_file(&filler);
        let size = self.free().saturating_sub(left);
        let ok = Command::new("fallocate")
            .args(["-l", &size.to_string()])
            .arg(&filler)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn without_room_for_the_staged_copy_the_restore_exits_1_before_gitlab_is_touched() {
    let world = Scenario::new();
    let disk = Tmpfs::mount(&world.home, "512m");
    let it = instance(world, &[]);
    it.push("backed up");
    let id = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let newer = it.push("after the backup");
    let backup = it.world.instance_dir(1).join("bckups").join(&id);
    let du = Command::new("du")
        .args(["-s", "--block-size=1"])
        .arg(&backup)
        .output()
        .unwrap();
    let copy: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let started = it.started();
    let backups = it.world.backup_names(1);
    // No room for the copy at all; then room for the copy itself, but not
    // for GitLab to keep writing beside it: both refused.
    for left in [copy / 2, copy + (6 << 20)] {
        disk.fill_until(left);
        let run = it.restore(&["--backup", &id]);
        assert_eq!(run.code, 1, "{left}: {}", run.stderr);
        assert!(run.stderr.contains("not enough space"), "{}", run.stderr);
        assert_eq!(it.started(), started, "GitLab was touched");
        assert_eq!(status(&it.container), "running");
        assert_eq!(remote_head(&it.project()), newer);
        assert_eq!(it.world.backup_names(1), backups);
        assert!(
            !it.world
                .instance_dir(1)
                .join("mapping-volumes.restoring")
                .exists()
        );
    }
    // With room, the same restore goes through.
    fs::remove_file(disk.0.join("filler")).unwrap();
    it.restore(&["--backup", &id]).expect_code(0);
    assert_ne!(remote_head(&it.project()), newer);
    drop(it);
    drop(disk);
}

#[test]
fn the_replaced_data_becomes_a_backup_whose_restore_brings_it_back_exactly() {
    let it = instance(Scenario::new(), &[]);
    let old = it.push("in backup B");
    let b = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let newer = it.push("pushed after backup B");
    let newest = it.push("and another");
    assert_ne!(newer, newest);
    // Stopped, the data stays as it is: what it is must come back exactly.
    docker(&["stop", &it.container]);
    let before = tree(&it.volumes());
    let secrets = it.secrets();
    let run = it.restore(&["--backup", &b]).expect_code(0);
    assert_eq!(run.stdout.trim(), b);
    assert_eq!(
        status(&it.container),
        "exited",
        "the prior state was stopped"
    );
    let kept = it.taken_before_restore();
    assert_eq!(kept.len(), 1, "{:?}", it.world.backup_names(1));
    let (kept_id, restored) = &kept[0];
    assert_eq!(restored, &b);
    assert!(run.stderr.contains(kept_id.as_str()), "{}", run.stderr);
    let kept_dir = it.world.instance_dir(1).join("bckups").join(kept_id);
    assert_eq!(
        tree(&kept_dir),
        before,
        "the kept data differs from the replaced data"
    );
    let manifest = fs::read_to_string(kept_dir.join("MANIFEST")).unwrap();
    assert_eq!(header(&manifest, "consistency").as_deref(), Some("stop"));
    assert_eq!(header(&manifest, "prior_state").as_deref(), Some("stopped"));
    assert_eq!(header(&manifest, "id").as_deref(), Some(kept_id.as_str()));
    assert_eq!(
        fs::metadata(&kept_dir).unwrap().mode() & 0o777,
        0o700,
        "a backup is root's alone"
    );
    it.world
        .run("girofle-backup", &["--verify", "1", "--backup", kept_id])
        .expect_code(0);
    let beside = common::sorted_names(&it.world.instance_dir(1));
    assert!(
        !beside.iter().any(|name| name.contains("mapping-volumes.")),
        "{beside:?}"
    );
    // Restoring it undoes the restore: the commits pushed after B are back.
    docker(&["start", &it.container]);
    wait_healthy(&it.container);
    assert_eq!(remote_head(&it.project()), old);
    it.restore(&["--backup", kept_id]).expect_code(0);
    assert_eq!(remote_head(&it.project()), newest);
    assert_eq!(it.secrets(), secrets);
    // And the data of B that this second restore replaced is kept too.
    let kept = it.taken_before_restore();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(&kept[1].1, kept_id);
}

#[test]
fn retention_counts_the_backup_taken_before_a_restore() {
    let it = instance(Scenario::new(), &[]);
    it.push("first");
    let a = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.push("second");
    let b = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.restore(&["--backup", &a]).expect_code(0);
    let kept = it.taken_before_restore();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        it.world.backup_names(1),
        [a.clone(), b.clone(), kept[0].0.clone()]
    );
    fs::write(
        it.world.home.join("girofle.conf"),
        "[retention]\nkeep_last = 2\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let c = it.backup();
    assert_eq!(it.world.backup_names(1), [kept[0].0.clone(), c]);
    assert_eq!(it.world.entry(1)["last_backup"], c_last(&it));
}

/// The kept data is newer by its ID, older by its content: the listing's last
/// backup, the next backup's hard links, and what a target receives (and so
/// what a restore from it takes by default) are the backups made, not it.
#[test]
fn the_backup_taken_before_a_restore_is_never_taken_for_the_newest() {
    let it = instance(Scenario::new(), &[]);
    it.push("first");
    let a = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.push("second");
    let b = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    it.restore(&["--backup", &a]).expect_code(0);
    let kept = it.taken_before_restore()[0].0.clone();
    assert!(kept > b, "{kept} {b}");
    assert_eq!(it.world.entry(1)["last_backup"], b.as_str());

    let offsite = tempfile::tempdir().unwrap();
    fs::write(
        it.world.home.join("girofle.conf"),
        format!(
            "[targets.off-site]\nurl = \"{}\"\n",
            offsite.path().display()
        ),
    )
    .unwrap();
    it.world
        .run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    std::thread::sleep(Duration::from_millis(1100));
    let c = it
        .world
        .run("girofle-backup", &["1", "--to", "off-site"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    wait_healthy(&it.container);
    let manifest = fs::read_to_string(
        it.world
            .instance_dir(1)
            .join("bckups")
            .join(&c)
            .join("MANIFEST"),
    )
    .unwrap();
    assert_eq!(header(&manifest, "previous").as_deref(), Some(b.as_str()));
    let host = fs::read_dir(offsite.path())
        .unwrap()
        .flatten()
        .find(|entry| entry.path().is_dir())
        .unwrap()
        .path();
    let shipped = common::sorted_names(&host.join("noeud-gitlab-1").join("bckups"));
    assert!(shipped.contains(&c), "{shipped:?}");
    assert!(!shipped.contains(&kept), "{shipped:?}");
}

fn c_last(it: &Instance) -> String {
    it.world.backup_names(1).pop().unwrap()
}

/// Runs girofle-restore on a terminal (`script`), answering `answers`.
fn on_a_terminal(it: &Instance, args: &str, answers: &str) -> (i32, String) {
    let binary = common::binary_path("girofle-restore");
    let mut child = it
        .world
        .command("script")
        .args([
            "-qec",
            &format!("{} {args} --wait-timeout 90", binary.display()),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), answers.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn on_a_terminal_restore_says_what_it_replaces_and_acts_only_on_yes() {
    let it = instance(Scenario::new(), &[]);
    let old = it.push("in the backup");
    let id = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let newer = it.push("after the backup");
    let started = it.started();
    let backups = it.world.backup_names(1);
    let args = format!("{} {} --backup {id}", it.container, it.dir());
    let (code, screen) = on_a_terminal(&it, &args, "no\n");
    assert_ne!(code, 0, "{screen}");
    for told in [
        id.as_str(),
        "ago",
        "last changed",
        it.volumes().to_str().unwrap(),
        "Restore?",
    ] {
        assert!(
            screen.contains(told),
            "`{told}` not on the screen: {screen}"
        );
    }
    assert!(screen.contains("nothing was changed"), "{screen}");
    assert_eq!(it.started(), started);
    assert_eq!(remote_head(&it.project()), newer);
    assert_eq!(it.world.backup_names(1), backups);
    // An empty answer is no as well.
    let (code, _) = on_a_terminal(&it, &args, "\n");
    assert_ne!(code, 0);
    assert_eq!(remote_head(&it.project()), newer);
    let (code, screen) = on_a_terminal(&it, &args, "yes\n");
    assert_eq!(code, 0, "{screen}");
    assert_eq!(remote_head(&it.project()), old);
    // --yes on a terminal: no question.
    let (code, screen) = on_a_terminal(&it, &format!("{args} --yes"), "");
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("Restore?"), "{screen}");
}

#[test]
fn a_rollback_after_image_recreates_the_container_from_the_image_it_ran() {
    let it = instance(
        Scenario::new(),
        &["--image", "girofle-gitlab-standin:17.6.0"],
    );
    let head = it.push("on 17.6.0");
    let id = it.backup();
    // A legacy backup (no MANIFEST) whose database is torn: the restored
    // GitLab never becomes healthy.
    let backups = it.world.instance_dir(1).join("bckups");
    let legacy = "25-11-2025-time-14h-30m-00s";
    fs::rename(backups.join(&id), backups.join(legacy)).unwrap();
    fs::remove_file(backups.join(legacy).join("MANIFEST")).unwrap();
    fs::write(
        backups.join(legacy).join("data/postgresql/data/base/4"),
        "gen 999999\nx\nend 999999\n",
    )
    .unwrap();
    // The inventory names another image than the one the container runs
    // (a row written by hand, or an image changed outside Girofle).
    let inventory = fs::read_to_string(it.world.inventory()).unwrap();
    assert!(inventory.contains("girofle-gitlab-standin:17.6.0"));
    fs::write(
        it.world.inventory(),
        inventory.replace("girofle-gitlab-standin:17.6.0", common::STANDIN_IMAGE),
    )
    .unwrap();
    let dir = it.dir();
    let run = it.world.run(
        "girofle-restore",
        &[
            &it.container,
            &dir,
            "--backup",
            legacy,
            "--image",
            common::STANDIN_IMAGE,
            "--wait-timeout",
            "8",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("put back"), "{}", run.stderr);
    let image = docker(&["inspect", "--format", "{{.Config.Image}}", &it.container]);
    assert_eq!(image.trim(), "girofle-gitlab-standin:17.6.0");
    wait_healthy(&it.container);
    assert_eq!(remote_head(&it.project()), head);
    assert!(it.taken_before_restore().is_empty());
}

/// The `main` of the test repository in a tree holding `data/`.
fn head_in(tree: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["-c", "safe.directory=*", "--git-dir"])
        .arg(tree.join("data/git-data/repositories/grp/app.git"))
        .args(["rev-parse", "refs/heads/main"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn a_restore_killed_at_any_instant_never_loses_the_data_it_replaces() {
    let it = instance(Scenario::new(), &[]);
    let old = it.push("in the backup");
    let id = it.backup();
    let full = {
        let start = std::time::Instant::now();
        it.restore(&["--backup", &id]).expect_code(0);
        start.elapsed()
    };
    let backups = it.world.instance_dir(1).join("bckups");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64;
    for round in 0..6 {
        wait_healthy(&it.container);
        let live = it.push(&format!("round {round}"));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % (full.as_micros() as u64 + 1));
        let mut child = it
            .world
            .command("girofle-restore")
            .args([&it.container, &it.dir(), "--backup", &id])
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        // The guardian, or else the next command, finishes what the killed
        // restore left: wait until nothing hidden remains.
        common::eventually(Duration::from_secs(30), || {
            it.world.run("girofle-list", &[]).expect_code(0);
            let hidden = it.world.backup_names(1).iter().any(|n| n.starts_with('.'));
            let beside = common::sorted_names(&it.world.instance_dir(1))
                .iter()
                .any(|name| name.starts_with("mapping-volumes."));
            !hidden && !beside
        });
        wait_healthy(&it.container);
        let now = remote_head(&it.project());
        assert!(now == live || now == old, "round {round}: unknown history");
        if now == old {
            let kept: Vec<String> = it
                .taken_before_restore()
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| head_in(&backups.join(name)).as_deref() == Some(live.as_str()))
                .collect();
            assert_eq!(
                kept.len(),
                1,
                "round {round} ({delay:?}): the replaced data (at {live}) is not kept: {:?}",
                it.world.backup_names(1)
            );
            it.world
                .run("girofle-backup", &["--verify", "1", "--backup", &kept[0]])
                .expect_code(0);
        }
        let hidden: Vec<String> = it
            .world
            .backup_names(1)
            .into_iter()
            .filter(|name| name.starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "round {round}: {hidden:?}");
        let beside = common::sorted_names(&it.world.instance_dir(1));
        assert!(
            !beside
                .iter()
                .any(|name| name.starts_with("mapping-volumes.")),
            "round {round}: {beside:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Issue 19 §3: a copy fetched from a target is data, never instructions for
// root. Host A ships its state off-site and burns; what an attacker who can
// write on the target changes there is refused, or neutralised, by
// `girofle-restore --all` on host B.

/// Host A, burnt: one instance backed up, its state shipped to `offsite`.
struct Burnt {
    /// A's scenario (its home is gone; its prefix names the container).
    a: Scenario,
    offsite: tempfile::TempDir,
    /// A's state key, kept off the host as the operator keeps it.
    key: PathBuf,
    /// The state backup on the target.
    state: PathBuf,
    _keep: tempfile::TempDir,
}

fn configure_offsite(world: &Scenario, host: Option<&str>, offsite: &Path) {
    fs::create_dir_all(&world.home).unwrap();
    let host = host
        .map(|h| format!("[girofle]\nhost = \"{h}\"\n\n"))
        .unwrap_or_default();
    fs::write(
        world.home.join("girofle.conf"),
        format!(
            "{host}[targets.off-site]\nurl = \"{}\"\n",
            offsite.display()
        ),
    )
    .unwrap();
}

fn burnt_host() -> Burnt {
    let offsite = tempfile::tempdir().unwrap();
    let a = Scenario::new();
    configure_offsite(&a, Some("host-a"), offsite.path());
    let ip = fresh_ip();
    a.commission(&["--ip", &ip, "--hostname", &ip]);
    a.run("girofle-backup", &["--all"]).expect_code(0);
    a.run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    a.run("girofle-backup", &["--state", "--to", "off-site"])
        .expect_code(0);
    let keep = tempfile::tempdir().unwrap();
    let key = keep.path().join("host-a.key");
    assert!(
        a.home.join("state.key").is_file(),
        "the state backup made no key"
    );
    fs::copy(a.home.join("state.key"), &key).unwrap();
    let states = offsite.path().join("host-a/sauvegardes");
    let id = common::sorted_names(&states)
        .into_iter()
        .rfind(|name| !name.starts_with('.'))
        .expect("a state backup on the target");
    docker(&["rm", "--force", &format!("{}-gitlab-1", a.prefix)]);
    fs::remove_dir_all(&a.home).unwrap();
    let _ = fs::remove_dir_all(&a.cron_dir);
    Burnt {
        a,
        state: states.join(id),
        offsite,
        key,
        _keep: keep,
    }
}

impl Burnt {
    /// Host B: a fresh home that knows the target.
    fn new_host(&self) -> Scenario {
        let b = Scenario::new();
        configure_offsite(&b, None, self.offsite.path());
        b
    }

    fn restore_all(&self, b: &Scenario, extra: &[&str]) -> common::Run {
        let key = self.key.display().to_string();
        let mut args = vec![
            "--all",
            "--wait-timeout",
            "120",
            "--from",
            "off-site",
            "--source",
            "host-a",
            "--state-key",
            key.as_str(),
        ];
        args.extend_from_slice(extra);
        b.run("girofle-restore", &args)
    }

    /// What an attacker who can write on the target can do: rewrite the
    /// MANIFEST to match the files changed, leaving the MAC as it was.
    fn rehash(&self) {
        let mac = self.state.join("MANIFEST.mac");
        let aside = self.state.with_extension("mac-aside");
        let had_mac = mac.exists();
        if had_mac {
            fs::rename(&mac, &aside).unwrap();
        }
        let manifest = self.state.join("MANIFEST");
        let header = girofle::snapshot::Manifest::read(&manifest).unwrap().header;
        fs::remove_file(&manifest).unwrap();
        let entries = girofle::snapshot::describe(&self.state).unwrap();
        girofle::snapshot::write_manifest(
            &self.state,
            &girofle::snapshot::Manifest { header, entries },
        )
        .unwrap();
        if had_mac {
            fs::rename(&aside, &mac).unwrap();
        }
    }

    /// What only the key's holder can do (a compromised host A, say): sign it.
    /// The MAC is BLAKE3 keyed with the 32 bytes the key file spells in hex.
    fn sign(&self) {
        let hex = fs::read_to_string(&self.key).unwrap();
        let hex = hex.trim();
        let mut key = [0u8; 32];
        for (index, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16).unwrap();
        }
        let manifest = fs::read(self.state.join("MANIFEST")).unwrap();
        fs::write(
            self.state.join("MANIFEST.mac"),
            format!(
                "blake3-keyed {}\n",
                blake3::keyed_hash(&key, &manifest).to_hex()
            ),
        )
        .unwrap();
    }

    fn edit(&self, file: &str, change: impl FnOnce(String) -> String) {
        let path = self.state.join(file);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, change(text)).unwrap();
    }

    fn cron_file(&self, suffix: &str) -> String {
        common::sorted_names(&self.state.join("cron.d"))
            .into_iter()
            .find(|name| name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no cron entry *{suffix} in the state backup"))
    }
}

/// Nothing of the state was written on host B: no inventory, counter, cron
/// entry, container or state backup; girofle.conf as it was.
fn nothing_written(b: &Scenario, conf_before: &[u8]) {
    assert!(b.inventory_bytes().is_empty(), "an inventory was written");
    assert!(!b.home.join(".auto-increment.girofle").exists());
    assert!(!b.home.join("sauvegardes").exists());
    assert!(common::sorted_names(&b.cron_dir).is_empty());
    assert!(b.containers().is_empty());
    assert_eq!(fs::read(b.home.join("girofle.conf")).unwrap(), conf_before);
    assert!(!b.home.join("state.key").exists());
}

#[test]
fn a_state_backup_changed_on_the_target_and_re_hashed_without_the_key_is_refused() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let conf_before = fs::read(b.home.join("girofle.conf")).unwrap();
    // The attacker adds an alert that runs their program, and re-hashes the
    // MANIFEST so that it matches: only the MAC, made with A's key, is left.
    burnt.edit("girofle.conf", |text| {
        format!("{text}\n[notify]\ncommand = [\"/bin/sh\", \"-c\", \"id\"]\non = [\"success\", \"failure\"]\n")
    });
    burnt.rehash();
    let run = burnt.restore_all(&b, &[]).expect_code(1);
    assert!(
        run.stderr.contains("does not match its MAC") && run.stderr.contains("Nothing was changed"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    nothing_written(&b, &conf_before);

    // Without the key (a new host, the operator forgot it): told what to give.
    let run = b
        .run(
            "girofle-restore",
            &["--all", "--from", "off-site", "--source", "host-a"],
        )
        .expect_code(1);
    assert!(run.stderr.contains("--state-key FILE"), "{}", run.stderr);
    nothing_written(&b, &conf_before);

    // The MAC removed, as if the copy came from an older Girofle: refused
    // unless the operator accepts an unauthenticated copy, explicitly.
    fs::remove_file(burnt.state.join("MANIFEST.mac")).unwrap();
    let run = burnt.restore_all(&b, &[]).expect_code(1);
    assert!(
        run.stderr.contains("carries no MANIFEST.mac")
            && run.stderr.contains("--accept-unauthenticated-state"),
        "{}",
        run.stderr
    );
    nothing_written(&b, &conf_before);
}

#[test]
fn a_cron_entry_of_a_fetched_state_backup_never_runs_a_program_shipped_inside_it() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let conf_before = fs::read(b.home.join("girofle.conf")).unwrap();
    let id = burnt
        .state
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // A script shipped inside the state backup, which lands in B's
    // sauvegardes/, and instance 1's cron entry edited to run it as root.
    let payload = b.home.join("sauvegardes").join(&id).join("payload.sh");
    let marker = b.home.with_file_name("pwned");
    fs::write(
        burnt.state.join("payload.sh"),
        format!("#!/bin/sh\ntouch {}\n", marker.display()),
    )
    .unwrap();
    fs::set_permissions(
        burnt.state.join("payload.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let entry = burnt.cron_file("-gitlab-1");
    burnt.edit(&format!("cron.d/{entry}"), |text| {
        text.lines()
            .map(|line| match line.split_once(" root ") {
                Some((schedule, command)) => {
                    let rest = command.split_once(" --home ").unwrap().1;
                    format!("{schedule} root {} --home {rest}\n", payload.display())
                }
                None => format!("{line}\n"),
            })
            .collect()
    });
    burnt.rehash();

    // Changed on the target: refused, nothing written.
    burnt.restore_all(&b, &[]).expect_code(1);
    nothing_written(&b, &conf_before);

    // Signed by the key's holder (host A itself compromised): the entry is
    // rebuilt from the inventory by this host's girofle-backup.
    burnt.sign();
    let run = burnt.restore_all(&b, &[]).expect_code(0);
    assert!(payload.exists(), "the payload was not shipped along");
    let names = common::sorted_names(&b.cron_dir);
    assert!(!names.is_empty());
    for name in &names {
        let text = fs::read_to_string(b.cron_dir.join(name)).unwrap();
        assert!(!text.contains("payload"), "{name}: {text}");
    }
    let text = fs::read_to_string(b.cron_dir.join(format!("{}-gitlab-1", b.prefix))).unwrap();
    let backup = common::binary_path("girofle-backup").display().to_string();
    assert!(
        text.contains(&format!(
            "0 */4 * * * root {backup} --home {} 1 >/dev/null",
            b.home.display()
        )),
        "{text}"
    );
    assert!(
        run.stderr.contains(&format!("cron entry {entry}"))
            && run.stderr.contains("rebuilt as Girofle writes it"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists());
}

#[test]
fn settings_of_a_fetched_girofle_conf_that_run_or_send_something_wait_for_yes() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let marker = b.home.with_file_name("pwned");
    let victim = b.home.with_file_name("victim.prom");
    burnt.edit("girofle.conf", |text| {
        format!(
            "{text}\n[notify]\ncommand = [\"/bin/sh\", \"-c\", \"touch {}\"]\non = [\"success\", \"failure\"]\n\n\
             [metrics]\ntextfile = \"{}\"\n\n[targets.elsewhere]\nurl = \"/srv/attacker\"\n",
            marker.display(),
            victim.display()
        )
    });
    burnt.rehash();
    burnt.sign();
    let run = burnt.restore_all(&b, &[]).expect_code(0);

    // girofle.conf is A's, root's alone, without what runs or sends.
    let conf = fs::read_to_string(b.home.join("girofle.conf")).unwrap();
    assert!(conf.contains("host = \"host-a\""), "{conf}");
    assert!(conf.contains("[targets.off-site]"), "{conf}");
    for left_out in ["[notify]", "[metrics]", "elsewhere"] {
        assert!(!conf.contains(left_out), "{left_out}: {conf}");
    }
    let metadata = fs::metadata(b.home.join("girofle.conf")).unwrap();
    assert_eq!((metadata.uid(), metadata.mode() & 0o777), (0, 0o600));
    // The whole file is set aside, and the operator is shown what was left out.
    let aside = b.home.join(format!(
        "girofle.conf.from-state-{}",
        burnt.state.file_name().unwrap().to_string_lossy()
    ));
    assert!(
        fs::read_to_string(&aside).unwrap().contains("[notify]"),
        "{}",
        aside.display()
    );
    assert_eq!(fs::metadata(&aside).unwrap().mode() & 0o777, 0o600);
    for shown in [
        "[notify] command",
        "[metrics] textfile",
        "[targets.elsewhere]",
        "--yes",
    ] {
        assert!(run.stderr.contains(shown), "{shown}: {}", run.stderr);
    }
    assert!(
        run.stderr.contains(&aside.display().to_string()),
        "{}",
        run.stderr
    );

    // The next backups run nothing of it.
    b.run("girofle-backup", &["1"]).expect_code(0);
    assert!(!marker.exists(), "the fetched [notify] command ran as root");
    assert!(
        !victim.exists(),
        "root wrote the fetched [metrics] textfile"
    );
}

#[test]
fn an_inventory_field_with_a_line_break_is_refused_wherever_it_comes_from() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let conf_before = fs::read(b.home.join("girofle.conf")).unwrap();
    // A quoted line break in backup_schedule: a second cron line, run as root.
    burnt.edit("inventory.girofle", |text| {
        assert!(text.contains(",0 */4 * * *,"), "{text}");
        text.replace(
            ",0 */4 * * *,",
            ",\"0 */4 * * *\n* * * * * root touch /tmp/girofle-pwned\",",
        )
    });
    burnt.rehash();
    burnt.sign();
    let run = burnt.restore_all(&b, &[]).expect_code(1);
    assert!(
        run.stderr.contains("line 2")
            && run.stderr.contains("backup_schedule")
            && run.stderr.contains("control character")
            && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
    nothing_written(&b, &conf_before);

    // The same row in this host's own inventory: named by its line, refused.
    fs::copy(burnt.state.join("inventory.girofle"), b.inventory()).unwrap();
    let run = b.run("girofle-list", &[]).expect_code(1);
    assert!(
        run.stderr.contains("inventory.girofle line 2") && run.stderr.contains("backup_schedule"),
        "{}",
        run.stderr
    );
    let _ = &burnt.a;
}

/// The path (relative to the backup) of the last regular file its MANIFEST
/// lists, and so the last one a restore copies (path order).
fn last_file_listed(backup: &Path) -> PathBuf {
    let manifest = fs::read_to_string(backup.join("MANIFEST")).unwrap();
    let line = manifest
        .lines()
        .rev()
        .find(|line| line.starts_with("file\t"))
        .expect("a file in the backup");
    PathBuf::from(line.rsplit('\t').next().unwrap())
}

/// Issue 26: the backup is checked as the staged copy is made, while GitLab
/// runs; a mismatch found only at the very end (the last file copied) still
/// stops the restore before anything of the running instance is touched.
#[test]
fn a_backup_whose_last_file_copied_is_corrupt_is_refused_with_gitlab_never_stopped() {
    let it = instance(Scenario::new(), &[]);
    it.push("backed up");
    let id = it.backup();
    std::thread::sleep(Duration::from_millis(1100));
    let newer = it.push("after the backup");
    let backup = it.world.instance_dir(1).join("bckups").join(&id);
    let last = last_file_listed(&backup);
    let mut bytes = fs::read(backup.join(&last)).unwrap();
    bytes.push(b'!');
    fs::write(backup.join(&last), bytes).unwrap();
    let started = it.started();
    let secrets = it.secrets();
    let backups = it.world.backup_names(1);
    let run = it.restore(&["--backup", &id]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not match its MANIFEST")
            && run.stderr.contains(&last.display().to_string())
            && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
    assert_eq!(it.started(), started, "GitLab was stopped or restarted");
    assert_eq!(status(&it.container), "running");
    assert_eq!(remote_head(&it.project()), newer);
    assert_eq!(it.secrets(), secrets);
    assert_eq!(it.world.backup_names(1), backups, "nothing was set aside");
    let instance_dir = it.world.instance_dir(1);
    assert!(!instance_dir.join("mapping-volumes.restoring").exists());
    let leftovers: Vec<String> = fs::read_dir(&instance_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("mapping-volumes") && name != "mapping-volumes")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Issue 26: what a restore puts in place is the very bytes it checked. A
/// backup changed after it was read once (between a check and a copy, when
/// they were two reads) must not reach the instance: the file is changed
/// the moment its first reader closes it, and the restored file must be
/// the one the MANIFEST describes.
#[test]
fn a_backup_changed_after_it_was_read_never_reaches_the_instance() {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let it = instance(Scenario::new(), &[]);
    it.push("backed up");
    let id = it.backup();
    let backup = it.world.instance_dir(1).join("bckups").join(&id);
    let manifest = fs::read_to_string(backup.join("MANIFEST")).unwrap();
    // The last git object, which a check reads late and GitLab never rewrites.
    let line = manifest
        .lines()
        .rev()
        .find(|line| line.starts_with("file\t") && line.contains("/objects/"))
        .expect("a file with content");
    let relative = PathBuf::from(line.rsplit('\t').next().unwrap());
    let path = backup.join(&relative);
    let original = fs::read(&path).unwrap();
    let inotify = Inotify::init(InitFlags::empty()).unwrap();
    inotify
        .add_watch(&path, AddWatchFlags::IN_CLOSE_NOWRITE)
        .unwrap();
    let changer = {
        let path = path.clone();
        let original = original.clone();
        std::thread::spawn(move || {
            inotify.read_events().unwrap();
            let mtime = fs::metadata(&path).unwrap().modified().unwrap();
            let mut changed = original;
            changed[0] ^= 0x20;
            let file = fs::File::options().write(true).open(&path).unwrap();
            std::io::Write::write_all(&mut &file, &changed).unwrap();
            file.set_modified(mtime).unwrap();
        })
    };
    let run = it.restore(&["--backup", &id]);
    changer.join().unwrap();
    assert_ne!(fs::read(&path).unwrap(), original, "the backup was changed");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        fs::read(it.volumes().join(&relative)).unwrap(),
        original,
        "{} was restored with bytes that were never checked",
        relative.display()
    );
}
