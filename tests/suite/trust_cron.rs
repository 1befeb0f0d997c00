//! Issue 10 §5: cron files named after the home's prefix (homes sharing a
//! cron directory never touch each other's; the previous version's files
//! migrate), schedules cron would ignore refused before anything is made,
//! and a cron line that prints nothing when all is well.

use crate::common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Run, Scenario, fresh_ip, sorted_names};

fn entry(world: &Scenario, name: &str) -> String {
    fs::read_to_string(world.cron_dir.join(name)).unwrap_or_else(|_| panic!("no cron file {name}"))
}

#[test]
fn schedules_cron_would_ignore_or_never_run_are_refused_before_anything_is_made() {
    let world = Scenario::new();
    let ip = fresh_ip();
    for schedule in [
        "99 99 * * *",
        "60 * * * *",
        "0 */4 * *",
        "0 0 * * * *",
        "0 0 31 2 *",
        "0 0 L * *",
        "@reboot",
        "@fortnightly",
        "* * * * * ; touch /tmp/girofle-pwned",
    ] {
        let run = world.run(
            "girofle-commission",
            &[
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--backup-schedule",
                schedule,
            ],
        );
        assert_eq!(run.code, 2, "{schedule}: {}", run.stderr);
        assert!(
            run.stderr.contains("--backup-schedule"),
            "{schedule}: {}",
            run.stderr
        );
        assert!(world.containers().is_empty(), "{schedule}: a container");
        assert!(sorted_names(&world.cron_dir).is_empty(), "{schedule}");
        assert!(
            !world.inventory().exists()
                && world
                    .home_entries()
                    .iter()
                    .all(|name| !name.starts_with("noeud-gitlab-")),
            "{schedule}: {:?}",
            world.home_entries()
        );
    }
    // What cron accepts is accepted, nicknames included.
    world.commission(&[
        "--ip",
        &ip,
        "--hostname",
        &ip,
        "--no-wait",
        "--backup-schedule",
        "@daily",
    ]);
    assert!(
        entry(&world, &format!("{}-gitlab-1", world.prefix)).contains("\n@daily root "),
        "{}",
        entry(&world, &format!("{}-gitlab-1", world.prefix))
    );
}

#[test]
fn homes_sharing_a_cron_directory_never_touch_each_others_entries() {
    let first = Scenario::new();
    let mut second = Scenario::new();
    // A prefix that starts like the first one's: the hostile case for names.
    second.prefix = format!("{}-b", first.prefix);
    second.cron_dir = first.cron_dir.clone();
    let ip = fresh_ip();
    first.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    second.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let (a, b) = (&first.prefix, &second.prefix);
    let mut expected = vec![
        format!("{a}-drill-1"),
        format!("{a}-gitlab-1"),
        format!("{a}-state"),
        format!("{b}-drill-1"),
        format!("{b}-gitlab-1"),
        format!("{b}-state"),
    ];
    expected.sort();
    assert_eq!(sorted_names(&first.cron_dir), expected);
    for (world, prefix) in [(&first, a), (&second, b)] {
        for name in [format!("{prefix}-gitlab-1"), format!("{prefix}-state")] {
            let text = entry(world, &name);
            assert!(
                text.contains(&format!("--home {} ", world.home.display()))
                    && text.contains(&format!("GIROFLE_PREFIX={prefix}\n")),
                "{name}: {text}"
            );
        }
    }
    let second_entries: Vec<(String, Vec<u8>)> = [
        format!("{b}-drill-1"),
        format!("{b}-gitlab-1"),
        format!("{b}-state"),
    ]
    .into_iter()
    .map(|name| {
        let bytes = fs::read(first.cron_dir.join(&name)).unwrap();
        (name, bytes)
    })
    .collect();

    // The first home's state backup holds its own entries only.
    let id = first
        .run("girofle-backup", &["--state"])
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    let saved = sorted_names(&first.home.join("sauvegardes").join(&id).join("cron.d"));
    assert_eq!(
        saved,
        [
            format!("{a}-drill-1"),
            format!("{a}-gitlab-1"),
            format!("{a}-state")
        ]
    );

    // Decommissioning the first home's instance 1 removes its entry only.
    first
        .run("girofle-decommission", &["1", "--no-backup"])
        .expect_code(0);
    assert!(!first.cron_dir.join(format!("{a}-gitlab-1")).exists());
    assert!(!first.cron_dir.join(format!("{a}-drill-1")).exists());
    for (name, bytes) in &second_entries {
        assert_eq!(
            &fs::read(first.cron_dir.join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }
    // And the second home's decommission leaves the first home's state entry.
    let first_state = fs::read(first.cron_dir.join(format!("{a}-state"))).unwrap();
    second
        .run("girofle-decommission", &["1", "--no-backup"])
        .expect_code(0);
    assert!(!first.cron_dir.join(format!("{b}-gitlab-1")).exists());
    assert_eq!(
        fs::read(first.cron_dir.join(format!("{a}-state"))).unwrap(),
        first_state
    );
}

/// A cron file as the previous version wrote it: `girofle-<what>`, a line
/// that prints the backup ID.
fn legacy_entry(cron_dir: &Path, name: &str, home: &Path, what: &str) {
    fs::create_dir_all(cron_dir).unwrap();
    fs::write(
        cron_dir.join(name),
        format!(
            "# Girofle: backups.\nSHELL=/bin/sh\nPATH=/usr/bin:/bin\n0 */4 * * * root /usr/local/bin/girofle-backup --home {} {what}\n",
            home.display()
        ),
    )
    .unwrap();
}

#[test]
fn the_previous_versions_entries_of_this_home_migrate_and_another_homes_stay() {
    let world = Scenario::new();
    let other_home = tempfile::tempdir().unwrap();
    legacy_entry(&world.cron_dir, "girofle-gitlab-7", &world.home, "7");
    legacy_entry(&world.cron_dir, "girofle-state", &world.home, "--state");
    legacy_entry(&world.cron_dir, "girofle-gitlab-8", other_home.path(), "8");
    let others = fs::read(world.cron_dir.join("girofle-gitlab-8")).unwrap();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let p = &world.prefix;
    let mut expected = vec![
        "girofle-gitlab-8".to_string(),
        format!("{p}-drill-1"),
        format!("{p}-gitlab-1"),
        format!("{p}-gitlab-7"),
        format!("{p}-state"),
    ];
    expected.sort();
    assert_eq!(sorted_names(&world.cron_dir), expected);
    assert_eq!(
        fs::read(world.cron_dir.join("girofle-gitlab-8")).unwrap(),
        others
    );
    let migrated = entry(&world, &format!("{p}-gitlab-7"));
    assert!(
        migrated.contains("0 */4 * * * root ")
            && migrated
                .trim_end()
                .ends_with(&format!("--home {} 7 >/dev/null", world.home.display())),
        "{migrated}"
    );
    assert!(
        entry(&world, &format!("{p}-state"))
            .trim_end()
            .ends_with("--state >/dev/null")
    );
}

/// Runs an entry's command line as cron does: `/bin/sh -c`, the file's
/// environment and nothing else.
fn run_as_cron(text: &str) -> Run {
    let mut command = Command::new("/bin/sh");
    command.env_clear();
    let mut line = None;
    for row in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        match row.split_once('=') {
            Some((name, value)) if !name.contains(' ') => {
                command.env(name, value);
            }
            _ => line = Some(row.split_once(" root ").expect("a cron line").1.to_string()),
        }
    }
    let line = line.expect("a command line");
    Run::from(command.arg("-c").arg(&line).output().unwrap())
}

#[test]
fn a_cron_run_prints_nothing_when_all_is_well_and_one_line_when_it_fails() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--no-wait"]);
    let instance = entry(&world, &format!("{}-gitlab-1", world.prefix));
    let state = entry(&world, &format!("{}-state", world.prefix));

    for text in [&instance, &state] {
        let run = run_as_cron(text);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            (run.stdout.as_str(), run.stderr.as_str()),
            ("", ""),
            "cron would mail this"
        );
    }
    assert_eq!(world.backup_names(1).len(), 1);
    let log = fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(
        log.contains(&format!("backed up as {}", world.backup_names(1)[0])),
        "{log}"
    );

    // The instance's volumes gone: one clear line, on stderr.
    let volumes = world.instance_dir(1).join("mapping-volumes");
    fs::rename(&volumes, world.instance_dir(1).join("moved-away")).unwrap();
    let run = run_as_cron(&instance);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("instance 1") && run.stderr.contains("mapping-volumes"),
        "{}",
        run.stderr
    );
}
