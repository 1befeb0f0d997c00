//! The second pass of a stop backup (GitLab stopped) visits only what the
//! kernel saw change since the first pass began, and what it makes is the
//! same as a walk of everything would make: what GitLab writes while it
//! stops (files written, made, removed, renamed, moved in, their modes and
//! owners changed) is in the backup as the stopped volume holds it.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::{Scenario, fresh_ip, manifest_value};

/// Every entry under `root`, one line each, in path order: kind, mode,
/// owner, mtime, size and content (or link target).
fn describe(root: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let metadata = fs::symlink_metadata(&path).unwrap();
        let relative = path.strip_prefix(root).unwrap().display().to_string();
        let what = if metadata.is_dir() {
            let mut children: Vec<_> = fs::read_dir(&path)
                .unwrap()
                .map(|child| child.unwrap().path())
                .collect();
            children.sort();
            stack.extend(children.into_iter().rev());
            "dir".to_string()
        } else if metadata.file_type().is_symlink() {
            format!("link -> {}", fs::read_link(&path).unwrap().display())
        } else {
            format!(
                "file {} {:?}",
                metadata.size(),
                String::from_utf8_lossy(&fs::read(&path).unwrap())
            )
        };
        lines.push(format!(
            "{relative:30} {what} mode {:o} owner {}:{} mtime {}.{:09}",
            metadata.mode() & 0o7777,
            metadata.uid(),
            metadata.gid(),
            metadata.mtime(),
            metadata.mtime_nsec()
        ));
    }
    lines
}

/// A scenario with one instance, and its directory.
fn commissioned() -> (Scenario, PathBuf) {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let instance = world.instance_dir(1);
    (world, instance)
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn what_gitlab_writes_while_it_stops_is_in_the_backup_and_only_that_is_visited() {
    let (world, instance) = commissioned();
    let data = instance.join("mapping-volumes/data");
    let probe = data.join("probe");
    for name in [
        "edited",
        "truncated",
        "modes",
        "owned",
        "removed",
        "became-dir",
        "kept",
    ] {
        write(&probe.join(name), &format!("{name} before the backup\n"));
    }
    write(
        &probe.join("gone-dir/a/file"),
        "a whole directory removed\n",
    );
    write(&probe.join("moving/file"), "a directory renamed\n");
    write(&probe.join("sub/kept"), "untouched\n");
    // Made before the watch began, then moved under the probe: its files
    // were never named by an event.
    write(&data.join("stash/deep/file"), "moved in whole\n");
    write(&data.join("stash/other"), "moved in whole too\n");
    world.backup(1, &["--consistency", "live"]);

    let on_stop = instance.join("mapping-volumes/config/standin-on-stop.sh");
    fs::write(
        &on_stop,
        "set -e\n\
         echo 'written while stopping' >> probe/edited\n\
         truncate -s 3 probe/truncated\n\
         chmod 0640 probe/modes\n\
         chown 998:998 probe/owned\n\
         rm probe/removed\n\
         rm -r probe/gone-dir\n\
         mv probe/moving probe/sub/moved\n\
         mkdir -p probe/new/deeper\n\
         echo new > probe/new/deeper/file\n\
         rm probe/became-dir\n\
         mkdir probe/became-dir\n\
         echo inside > probe/became-dir/inside\n\
         ln -s ../edited probe/sub/link\n\
         mv stash probe/moved-in\n\
         touch -d '2020-01-02 03:04:05' probe/sub\n",
    )
    .unwrap();
    let id = world.backup(1, &["--consistency", "stop"]);
    assert!(
        probe.join("new/deeper/file").is_file() && !data.join("stash").exists(),
        "the stand-in did not run the on-stop script:\n{}",
        fs::read_to_string(instance.join("mapping-volumes/log/standin/current"))
            .unwrap_or_default()
    );
    let backup = instance.join("bckups").join(&id);
    let manifest = fs::read_to_string(backup.join("MANIFEST")).unwrap();
    let walked = manifest_value(&manifest, "second_pass_walked").unwrap();
    assert!(
        walked.starts_with("changes only"),
        "the second pass walked {walked}"
    );
    assert_eq!(describe(&backup.join("data/probe")), describe(&probe));
    assert!(!backup.join("data/stash").exists());
    world
        .run("girofle-backup", &["--verify", "1", "--backup", &id])
        .expect_code(0);

    // A file with several names changed in place: its other names in the
    // copy would keep the old content, so the second pass walks everything.
    fs::write(
        &on_stop,
        "set -e\n\
         ln probe/kept probe/kept-too\n\
         echo 'both names' >> probe/kept\n",
    )
    .unwrap();
    let id = world.backup(1, &["--consistency", "stop"]);
    let backup = instance.join("bckups").join(&id);
    let manifest = fs::read_to_string(backup.join("MANIFEST")).unwrap();
    let walked = manifest_value(&manifest, "second_pass_walked").unwrap();
    assert!(
        walked.starts_with("every entry") && walked.contains("several names"),
        "the second pass walked {walked}"
    );
    assert_eq!(describe(&backup.join("data/probe")), describe(&probe));
    let kept = fs::metadata(backup.join("data/probe/kept")).unwrap();
    let kept_too = fs::metadata(backup.join("data/probe/kept-too")).unwrap();
    assert_eq!(
        kept.ino(),
        kept_too.ino(),
        "one file, two names, as in GitLab's volume"
    );
    world
        .run("girofle-backup", &["--verify", "1", "--backup", &id])
        .expect_code(0);
}

/// A file system mounted inside a volume is not under the kernel's mark:
/// what is written there would go unseen, so the second pass walks
/// everything, and says why.
#[test]
fn a_file_system_mounted_inside_a_volume_makes_the_second_pass_walk_everything() {
    let (world, instance) = commissioned();
    let mounted = instance.join("mapping-volumes/data/mounted");
    fs::create_dir_all(&mounted).unwrap();
    let mount = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&mounted)
        .status()
        .unwrap();
    assert!(mount.success(), "mount -t tmpfs failed");
    // Unmounted whatever the assertions say.
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mounted);
    // Written by the host: the container's bind mount does not receive
    // mounts made after it started (private propagation).
    write(&mounted.join("file"), "on another file system\n");

    let id = world.backup(1, &["--consistency", "stop"]);
    let backup = instance.join("bckups").join(&id);
    let manifest = fs::read_to_string(backup.join("MANIFEST")).unwrap();
    let walked = manifest_value(&manifest, "second_pass_walked").unwrap();
    assert!(
        walked.starts_with("every entry") && walked.contains("mounted"),
        "the second pass walked {walked}"
    );
    assert_eq!(
        fs::read_to_string(backup.join("data/mounted/file")).unwrap(),
        "on another file system\n"
    );
}

/// What GitLab (or anything else) does between the first pass and the stop,
/// in the attack of issue 19: a second name for a file, a write through it,
/// the second name removed. The kernel names only `b/y`, gone by the stop;
/// `a/x` is changed in the volume and named by no event.
const WRITTEN_THROUGH_A_NAME_GONE: &str = "set -e\n\
     ln probe/a/x probe/b/y\n\
     echo 'written through another name' >> probe/b/y\n\
     rm probe/b/y\n";

/// The backup `id` of instance 1 walked everything in its second pass, says
/// why, and holds the probe as the volume does.
fn walked_everything_and_holds_the_volume(world: &Scenario, instance: &Path, id: &str) {
    let probe = instance.join("mapping-volumes/data/probe");
    assert!(
        fs::read_to_string(probe.join("a/x"))
            .unwrap()
            .contains("written through another name")
            && !probe.join("b/y").exists(),
        "the attack did not run:\n{}",
        fs::read_to_string(instance.join("mapping-volumes/log/standin/current"))
            .unwrap_or_default()
    );
    let backup = instance.join("bckups").join(id);
    let manifest = fs::read_to_string(backup.join("MANIFEST")).unwrap();
    let walked = manifest_value(&manifest, "second_pass_walked").unwrap();
    assert_eq!(describe(&backup.join("data/probe")), describe(&probe));
    assert!(
        walked.starts_with("every entry") && walked.contains("probe/a/x"),
        "the second pass walked {walked}"
    );
    world
        .run("girofle-backup", &["--verify", "1", "--backup", id])
        .expect_code(0);
}

#[test]
fn a_file_written_through_a_name_gone_by_the_stop_makes_the_second_pass_walk_everything() {
    let (world, instance) = commissioned();
    let probe = instance.join("mapping-volumes/data/probe");
    write(&probe.join("a/x"), "before the backup\n");
    fs::create_dir_all(probe.join("b")).unwrap();
    let on_stop = instance.join("mapping-volumes/config/standin-on-stop.sh");
    fs::write(&on_stop, WRITTEN_THROUGH_A_NAME_GONE).unwrap();
    let id = world.backup(1, &["--consistency", "stop"]);
    walked_everything_and_holds_the_volume(&world, &instance, &id);

    // What GitLab does all the time stays cheap: a file written then
    // renamed into place, an object written under a temporary name then
    // linked to its own and the temporary name removed (as git does), a
    // scratch file made and removed. Every name of each is known.
    write(&probe.join("gone-soon"), "scratch\n");
    fs::write(
        &on_stop,
        "set -e\n\
         echo 'renamed into place' > probe/tmp-1\n\
         mv probe/tmp-1 probe/final\n\
         echo 'an object' > probe/tmp-obj\n\
         ln probe/tmp-obj probe/object\n\
         rm probe/tmp-obj\n\
         echo 'made and removed' > probe/scratch\n\
         rm probe/scratch probe/gone-soon\n",
    )
    .unwrap();
    let id = world.backup(1, &["--consistency", "stop"]);
    let backup = instance.join("bckups").join(&id);
    let manifest = fs::read_to_string(backup.join("MANIFEST")).unwrap();
    let walked = manifest_value(&manifest, "second_pass_walked").unwrap();
    assert!(
        probe.join("object").is_file(),
        "the on-stop script did not run"
    );
    assert!(
        walked.starts_with("changes only"),
        "the second pass walked {walked}"
    );
    assert_eq!(describe(&backup.join("data/probe")), describe(&probe));
}

/// In the pause mode the second pass uses the same record: the attack played
/// just before the container is frozen (a `docker` on the `PATH` that plays
/// it, then hands over to the real one).
#[test]
fn in_the_pause_mode_a_file_written_through_a_name_gone_makes_the_second_pass_walk_everything() {
    let (world, instance) = commissioned();
    let data = instance.join("mapping-volumes/data");
    write(&data.join("probe/a/x"), "before the backup\n");
    fs::create_dir_all(data.join("probe/b")).unwrap();
    let bin = instance.parent().unwrap().with_file_name("bin");
    fs::create_dir_all(&bin).unwrap();
    let attack = bin.join("attack.sh");
    fs::write(&attack, WRITTEN_THROUGH_A_NAME_GONE).unwrap();
    let real = which_docker();
    let shim = bin.join("docker");
    fs::write(
        &shim,
        format!(
            "#!/bin/sh\n\
             if [ \"$1\" = pause ]; then (cd '{}' && sh '{}') || exit 1; fi\n\
             exec '{}' \"$@\"\n",
            data.display(),
            attack.display(),
            real.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = world
        .command("girofle-backup")
        .args(["1", "--consistency", "pause"])
        .env("PATH", path)
        .output()
        .unwrap();
    let run = common::Run::from(run).expect_code(0);
    let id = run.stdout.trim().to_string();
    walked_everything_and_holds_the_volume(&world, &instance, &id);
}

/// The real `docker`, found on the `PATH`.
fn which_docker() -> PathBuf {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| Path::new(dir).join("docker"))
        .find(|candidate| candidate.is_file())
        .expect("docker is on the PATH")
}
