//! `--sections restore` (issue 26): a restore to healthy against cp -a of the backup, cold caches.

use super::*;

/// `--sections restore` (issue 26, not among the default sections): a restore of a fresh `pause` backup, to
/// GitLab healthy again, against `cp -a` of the same backup, caches dropped
/// before each, with peak memory. The data each restore sets aside becomes
/// a backup of its own: removed after each round, so that the disk holds
/// one extra copy at most.
pub(crate) fn restore_section(
    home: &Path,
    container: &str,
    instance: &Path,
    rounds: usize,
    rows: &mut Vec<Measure>,
) {
    eprintln!("== 5. restore to healthy, cold caches");
    // The sections before measure live backups, whose database GitLab (and
    // the stand-in) refuses as torn: the restored backup is a consistent one,
    // made now as an operator's would be (the default, `pause`).
    run(girofle("girofle-backup", home).args(["1", "--keep-last", "1000"]));
    let backups = instance.join("bckups");
    let newest = girofle::home::InstanceDir::new(instance.to_path_buf())
        .latest_backup()
        .unwrap();
    let backup = backups.join(newest.as_str());
    let scratch = home.parent().unwrap().join("cp-a-of-the-backup");
    let drop_caches = || {
        // SAFETY: sync(2) takes no argument and cannot fail.
        unsafe { nix::libc::sync() };
        fs::write("/proc/sys/vm/drop_caches", "3").unwrap();
    };
    let (mut ours, mut cp) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for turn in order {
            remove(&scratch);
            drop_caches();
            if turn == 0 {
                let before: Vec<String> = sorted_names(&backups);
                ours.push(measured(girofle("girofle-restore", home).args([
                    container,
                    instance.to_str().unwrap(),
                    "--backup",
                    newest.as_str(),
                ])));
                for set_aside in sorted_names(&backups) {
                    if !before.contains(&set_aside) {
                        remove(&backups.join(set_aside));
                    }
                }
            } else {
                cp.push(measured(
                    Command::new("cp").arg("-a").arg(&backup).arg(&scratch),
                ));
            }
        }
    }
    remove(&scratch);
    rows.push(Measure {
        what: "restore to healthy (cold caches)".into(),
        ours: medians(&ours),
        other_name: "cp -a of the backup (cold caches)".into(),
        other: medians(&cp),
        unit: "s",
    });
}

/// The names in `directory`, sorted.
pub(crate) fn sorted_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
