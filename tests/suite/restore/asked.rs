//! What a restore asks on a terminal, and what its dry run prints without changing anything.

use super::*;

#[test]
fn without_arguments_on_a_terminal_it_asks_for_container_directory_and_backup() {
    let it = instance_with_history();
    let project = format!("{}/grp/app.git", it.url);
    let first = push_commit(&it.app(), &project, "first");
    let id = it.world.backup(1, &[]);
    std::thread::sleep(Duration::from_millis(1100));
    push_commit(&it.app(), &project, "second");
    // `script` gives the binary a terminal; the answers come through it.
    let binary = common::binary_path("girofle-restore");
    // The last answer is to the question every restore on a terminal asks.
    let answers = format!("{}\n{}\n\nyes\n", it.container, it.dir());
    let mut child = it
        .world
        .command("script")
        .args([
            "-qec",
            &format!("{} --wait-timeout 60", binary.display()),
            "/dev/null",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), answers.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains("Container to restore into"), "{screen}");
    assert!(
        screen.contains(&format!("Backup to restore [{id}]")),
        "{screen}"
    );
    assert!(screen.contains("replaces the current data"), "{screen}");
    assert_eq!(remote_head(&project), first);
}

/// The names under `root`, but for the live volumes (GitLab writes there
/// all the time) and the log (a refusal is logged), with the content of
/// every file outside the backups.
fn everything_but_live_data(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            if name.ends_with("girofle.log") {
                continue;
            }
            let kind = entry.file_type().unwrap();
            let content = (kind.is_file() && !name.contains("bckups/"))
                .then(|| fs::read(&path).unwrap_or_default());
            found.push((name.clone(), content));
            if kind.is_dir() && !name.ends_with("mapping-volumes") && !name.ends_with("bckups") {
                stack.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let it = instance_with_history();
    let id = it.world.backup(1, &[]);
    let dir = it.dir();
    let before = everything_but_live_data(&it.world.home);
    let cron_before = everything_but_live_data(&it.world.cron_dir);
    let backups_before = it.world.backup_names(1);
    let started = docker(&["inspect", "--format", "{{.State.StartedAt}}", &it.container]);

    let text = it
        .world
        .run("girofle-restore", &[&it.container, &dir, "--dry-run"])
        .expect_code(0);
    assert!(
        text.stdout.contains("replaces the current data"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(&format!(" copy backup {id} into ")),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("(it is running)"), "{}", text.stdout);
    let json = it
        .world
        .run(
            "girofle-restore",
            &[&it.container, &dir, "--dry-run", "--format", "json"],
        )
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(document["operation"], "restore");
    assert_eq!(document["dry_run"], true);
    assert_eq!(document["plan"]["backup"], id.as_str());
    assert_eq!(document["plan"]["version"]["result"], "same_image");
    // Refused as a real run refuses it.
    let refused = it
        .world
        .run(
            "girofle-restore",
            &[
                &it.container,
                &dir,
                "--backup",
                "2001-01-01T00-00-00Z",
                "--dry-run",
            ],
        )
        .expect_code(2);
    assert!(
        refused
            .stderr
            .contains("no complete backup `2001-01-01T00-00-00Z`")
    );
    // --all: the instance's container is here, so it is left alone.
    let all = it
        .world
        .run(
            "girofle-restore",
            &["--all", "--dry-run", "--format", "json"],
        )
        .expect_code(0);
    let document: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(document["plan"]["instances"][0]["action"], "left_alone");
    assert_eq!(document["plan"]["state"], serde_json::Value::Null);
    let ip = fresh_ip();
    let planned = it
        .world
        .run(
            "girofle-commission",
            &["docs", "--ip", &ip, "--hostname", &ip, "--dry-run"],
        )
        .expect_code(0);
    assert!(
        planned.stdout.contains("hand out number 2"),
        "{}",
        planned.stdout
    );
    assert!(
        planned
            .stdout
            .contains(&format!("{}-gitlab-2-docs", it.world.prefix)),
        "{}",
        planned.stdout
    );

    assert_eq!(everything_but_live_data(&it.world.home), before);
    assert_eq!(everything_but_live_data(&it.world.cron_dir), cron_before);
    assert_eq!(it.world.backup_names(1), backups_before);
    assert_eq!(
        docker(&["inspect", "--format", "{{.State.StartedAt}}", &it.container]),
        started
    );
    assert_eq!(status(&it.container), "running");
    let containers = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={}-gitlab-2", it.world.prefix),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(containers.trim(), "");
}
