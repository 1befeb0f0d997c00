//! A decommission takes a final backup and keeps the data.

use super::*;

#[test]
fn decommission_takes_a_final_backup_and_keeps_the_data() {
    let it = instance_with_history();
    push_commit(&it.app(), &format!("{}/grp/app.git", it.url), "last words");
    let run = it.world.run("girofle-decommission", &["1"]).expect_code(0);
    let id = run.stdout.trim();
    assert!(
        it.world
            .instance_dir(1)
            .join("bckups")
            .join(id)
            .join("MANIFEST")
            .exists()
    );
    assert!(
        it.world.containers().is_empty(),
        "the container is still there"
    );
    assert!(
        !it.world
            .cron_dir
            .join(format!("{}-gitlab-1", it.world.prefix))
            .exists()
    );
    assert!(
        it.world
            .instance_dir(1)
            .join("mapping-volumes/data/git-data/repositories/grp/app.git")
            .is_dir()
    );
    let listed = it
        .world
        .run("girofle-list", &["--format", "json"])
        .expect_code(0);
    assert_eq!(listed.stdout.trim(), "[]");
    let entry = it.world.entry(1);
    assert_eq!(entry["state"], "decommissioned");
    assert_eq!(entry["last_backup"], id);
    assert!(entry["note"].as_str().unwrap().contains(&it.dir()));
    let run = it.world.run("girofle-decommission", &["1"]).expect_code(2);
    assert!(run.stderr.contains("decommissioned"));
}
