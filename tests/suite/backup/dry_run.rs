//! Issue 22: a dry run prints the plan and changes nothing.

use super::*;

/// Every path under the home but the volumes GitLab writes to, with its
/// size and modification time: what a dry run must leave as it found it.
fn home_tree(world: &Scenario) -> Vec<(std::path::PathBuf, u64, i64)> {
    let mut tree: Vec<_> = walk(&world.home)
        .into_iter()
        .filter(|path| {
            !path
                .components()
                .any(|part| part.as_os_str() == "mapping-volumes")
        })
        .map(|path| {
            let metadata = fs::symlink_metadata(&path).unwrap();
            let size = if metadata.is_dir() { 0 } else { metadata.len() };
            (path, size, metadata.mtime())
        })
        .collect();
    tree.sort();
    tree
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    let first = world.backup(1, &[]);
    let before = home_tree(&world);
    let inventory = world.inventory_bytes();
    let log = world.log_text();

    let run = world
        .run("girofle-backup", &["1", "--dry-run", "--keep-last", "1"])
        .expect_code(0);
    assert!(run.stdout.contains(&container), "{}", run.stdout);
    assert!(
        run.stdout.contains("1. back up instance 1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("remove {first}")),
        "{}",
        run.stdout
    );

    let run = world
        .run("girofle-backup", &["1", "--dry-run", "--format", "json"])
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["operation"], "backup");
    assert_eq!(document["dry_run"], true);
    let planned = &document["plan"]["instances"][0];
    assert_eq!(planned["number"], 1);
    assert_eq!(planned["container"], container.as_str());
    assert_eq!(planned["status"], "running");
    assert_eq!(planned["hold"], "freeze");
    assert_eq!(planned["linked_to"], first.as_str());

    let run = world
        .run(
            "girofle-decommission",
            &["1", "--dry-run", "--format", "json"],
        )
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["operation"], "decommission");
    assert_eq!(document["plan"]["stop"], true);
    assert_eq!(document["plan"]["inventory"]["to"], "decommissioned");

    assert_eq!(home_tree(&world), before);
    assert_eq!(world.inventory_bytes(), inventory);
    assert_eq!(world.log_text(), log);
    assert_eq!(world.backup_names(1), [first.as_str()]);
    assert_eq!(status(&container), "running");
    assert_eq!(world.entry(1)["state"], "commissioned");

    // Refused exactly as a run would refuse it (the refusal logged, as a run's is).
    let run = world.run("girofle-backup", &["7", "--dry-run"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = world.run("girofle-backup", &["1", "--dry-run", "--to", "moon"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(world.backup_names(1), [first]);
}
