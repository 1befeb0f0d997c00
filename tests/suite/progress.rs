//! Progress on a terminal, and only there: a backup run through a real
//! pseudo-terminal (`script`) shows its phase, files, bytes and rate on
//! stderr; the same backup with stderr a pipe shows nothing of it.

use crate::common;

use common::{Scenario, binary_path, fresh_ip};

/// Runs `girofle-backup ARGS` in a pseudo-terminal; returns what the terminal showed.
fn on_a_terminal(world: &Scenario, args: &str) -> String {
    let output = world
        .command("script")
        .args([
            "-qec",
            &format!("{} {args}", binary_path("girofle-backup").display()),
            "/dev/null",
        ])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{screen}");
    screen
}

#[test]
fn a_backup_shows_progress_on_a_terminal_only() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    // Enough files for the copy to be seen counting.
    let many = world.instance_dir(1).join("mapping-volumes/data/many");
    std::fs::create_dir_all(&many).unwrap();
    for index in 0..3000 {
        std::fs::write(many.join(format!("file-{index}")), vec![b'x'; 4096]).unwrap();
    }

    let screen = on_a_terminal(&world, "1");
    // Each phase over leaves its line: what it counted, its rate, its time.
    let marker = "✓ instance 1: first pass, GitLab running: ";
    let first_pass = screen
        .split(marker)
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("no line for the first pass:\n{screen}"));
    let files: u64 = Some(first_pass)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{first_pass}"));
    assert!(files >= 3000, "{first_pass}");
    assert!(first_pass.contains("/s) in "), "{first_pass}");
    // The ID is still printed, as data.
    let backups: Vec<String> = world
        .backup_names(1)
        .into_iter()
        .filter(|name| !name.starts_with('.'))
        .collect();
    assert_eq!(backups.len(), 1);
    assert!(screen.contains(&backups[0]), "{screen}");

    let screen = on_a_terminal(&world, &format!("--verify 1 --backup {}", backups[0]));
    assert!(screen.contains("✓ verifying "), "{screen}");

    // Without a terminal: the ID on stdout, nothing at all on stderr.
    let run = world.run("girofle-backup", &["1"]).expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}
