//! `--sections restore` (issue 26): a restore to healthy against cp -a of the backup, cold caches.

use super::*;

/// `--sections restore` (issue 26, not among the default sections): a restore of a fresh `pause` backup, to
/// GitLab healthy again (and to the command's end), against `cp -a` of the
/// same backup, caches dropped before each, with peak memory. The data each restore sets aside becomes
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
    let (mut ours, mut whole, mut cp) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for turn in order {
            remove(&scratch);
            drop_caches();
            if turn == 0 {
                let before: Vec<String> = sorted_names(&backups);
                let watch = HealthWatch::start(container);
                let (elapsed, peak) = measured(girofle("girofle-restore", home).args([
                    container,
                    instance.to_str().unwrap(),
                    "--backup",
                    newest.as_str(),
                ]));
                let healthy = watch.healthy_again();
                eprintln!(
                    "   GitLab healthy again after {:.3} s; the command ended after {:.3} s",
                    seconds(healthy),
                    seconds(elapsed)
                );
                ours.push((healthy, peak));
                whole.push((elapsed, peak));
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
    rows.push(Measure {
        what:
            "restore, the whole command (then the replaced data described as a backup, GitLab up)"
                .into(),
        ours: medians(&whole),
        other_name: "cp -a of the backup (cold caches)".into(),
        other: medians(&cp),
        unit: "s",
    });
}

/// Watches a container's health from before a restore: the moment it is
/// healthy again after having been stopped (what the people waiting for
/// GitLab see), measured from the watch's start. A restore goes on after
/// that moment: it describes the data it replaced as a backup of its own.
struct HealthWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Option<Duration>>,
}

impl HealthWatch {
    fn start(container: &str) -> HealthWatch {
        let container = container.to_string();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            let mut went_down = false;
            // Once more after the command ended: it may end within a look
            // of GitLab being healthy again.
            let mut last_look = false;
            while !last_look {
                last_look = stopped.load(std::sync::atomic::Ordering::Relaxed);
                // An answer the engine could not give is no sign of a stop.
                let state = Command::new("docker")
                    .args([
                        "inspect",
                        "-f",
                        "{{.State.Status}} {{.State.Health.Status}}",
                    ])
                    .arg(&container)
                    .output()
                    .ok()
                    .filter(|output| output.status.success())
                    .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
                    .unwrap_or_default();
                match state.as_str() {
                    "" => {}
                    "running healthy" if went_down => return Some(start.elapsed()),
                    "running healthy" => {}
                    _ => went_down = true,
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            None
        });
        HealthWatch { stop, thread }
    }

    /// When GitLab was healthy again (the command has ended).
    fn healthy_again(self) -> Duration {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .join()
            .unwrap()
            .expect("GitLab was never seen healthy again after the restore stopped it")
    }
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
