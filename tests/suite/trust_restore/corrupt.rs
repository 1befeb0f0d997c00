//! A backup corrupt in its last file, or changed after it was read, never reaches the instance.

use super::*;

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
