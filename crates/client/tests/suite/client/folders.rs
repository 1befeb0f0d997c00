//! Getting, saving, sharing, discarding and resolving a folder, offline too, and installing the client.

use super::*;

#[test]
fn seed_scenario_get_is_refused_while_another_machine_has_changes_never_sent() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");

    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first plan\n");
    write(&report, "notes/monday.txt", "monday\n");
    let run = laptop1.run(&["new", "Report"]).expect_code(0);
    plain(&run);
    write(&report, "plan.txt", "second plan\n");
    let run = laptop1
        .run_in(&report, &["save", "Second plan"])
        .expect_code(0);
    plain(&run);
    let run = laptop1.run_in(&report, &["sync"]).expect_code(0);
    plain(&run);

    // A change saved but never sent; then laptop-1 is switched off.
    write(&report, "plan.txt", "third plan, never sent\n");
    laptop1.run_in(&report, &["save"]).expect_code(0);

    let listed = laptop2.run(&["get"]).expect_code(0);
    assert_eq!(listed.stdout.trim(), "alice/report");
    let refused = laptop2.run(&["get", "report"]).expect_code(1);
    plain(&refused);
    assert!(
        refused.stderr.contains("your changes on laptop-1 since ")
            && refused.stderr.contains("were never sent; sync there first"),
        "{}",
        refused.stderr
    );
    assert!(!laptop2.folder("Report").exists(), "nothing was brought");

    // Unsaved changes alone count too, once the client has run there.
    laptop1.run_in(&report, &["sync"]).expect_code(0);
    laptop2.run(&["get", "report"]).expect_code(0);
    let here = laptop2.folder("Report");
    assert_eq!(read(&here, "plan.txt"), "third plan, never sent\n");
    assert_eq!(read(&here, "notes/monday.txt"), "monday\n");
    assert_eq!(
        contents(&here),
        contents(&report),
        "the same folder on both"
    );
    write(&here, "notes/tuesday.txt", "tuesday\n");
    let status = laptop2.run_in(&here, &["status"]).expect_code(0);
    plain(&status);
    assert!(
        status.stdout.contains("new      notes/tuesday.txt"),
        "{}",
        status.stdout
    );
    let refused = laptop1
        .run(&["--folder", "Report", "status"])
        .expect_code(0);
    assert!(
        refused
            .stdout
            .contains("Not sent yet: your changes on laptop-2 since "),
        "{}",
        refused.stdout
    );
    laptop2.run_in(&here, &["sync"]).expect_code(0);
    let run = laptop1.run_in(&report, &["sync"]).expect_code(0);
    assert!(
        run.stderr.contains("Brought in 1 new version"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&report, "notes/tuesday.txt"), "tuesday\n");

    // The token is in its own file only: not in the client's data, not in
    // the folder.
    let token = USERS[0].1.as_bytes();
    for dir in [laptop1.home.join(".local/share/girofle"), report.clone()] {
        for file in files_under(&dir) {
            let bytes = std::fs::read(&file).unwrap();
            assert!(
                !bytes.windows(token.len()).any(|w| w == token),
                "the token is in {}",
                file.display()
            );
        }
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&path));
        } else if entry.file_type().unwrap().is_file() {
            out.push(path);
        }
    }
    out
}

#[test]
fn resolve_after_a_take_over_leaves_exactly_the_differing_files_and_loses_nothing() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");

    let report = laptop1.folder("Report");
    for name in ["a.txt", "b.txt", "c.txt", "same.txt"] {
        write(&report, name, &format!("{name} as first sent\n"));
    }
    laptop1.run(&["new", "Report"]).expect_code(0);

    // laptop-1 changes a and b, adds a file, and never sends.
    write(&report, "a.txt", "a.txt from laptop-1\n");
    write(&report, "b.txt", "b.txt from laptop-1\n");
    write(&report, "sub/only-mine.txt", "only on laptop-1\n");
    laptop1.run_in(&report, &["save"]).expect_code(0);
    let mine_before = contents(&report);

    let refused = laptop2
        .run(&["get", "report", "--take-over"])
        .expect_code(2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    let run = laptop2
        .run(&["get", "report", "--take-over", "--yes"])
        .expect_code(0);
    plain(&run);
    let here = laptop2.folder("Report");
    write(&here, "a.txt", "a.txt from laptop-2\n");
    write(&here, "c.txt", "c.txt from laptop-2\n");
    write(&here, "server-new.txt", "new on laptop-2\n");
    laptop2.run_in(&here, &["sync"]).expect_code(0);
    let server_files = contents(&here);

    // laptop-1 comes back: its work is kept aside, never lost.
    let run = laptop1.run_in(&report, &["save"]).expect_code(1);
    plain(&run);
    assert!(
        run.stderr.contains("laptop-2 took this folder over"),
        "{}",
        run.stderr
    );
    let asides = names_starting(&laptop1.documents, "Report (copy ");
    assert_eq!(asides.len(), 1, "one dated copy: {asides:?}");
    assert_eq!(
        contents(&asides[0]),
        mine_before,
        "the copy is the folder as it was"
    );

    let listed = laptop1.run_in(&report, &["resolve"]).expect_code(0);
    assert_eq!(
        listed.stdout.lines().collect::<Vec<_>>(),
        vec!["a.txt", "b.txt", "c.txt"],
        "exactly the files that differ\n{}",
        listed.stderr
    );
    // Files the server lacked came back; the server's new file is there.
    assert_eq!(read(&report, "sub/only-mine.txt"), "only on laptop-1\n");
    assert_eq!(read(&report, "server-new.txt"), "new on laptop-2\n");
    assert_eq!(read(&report, "a.txt"), "a.txt from laptop-2\n");
    // Nothing can be sent while choices remain.
    laptop1.run_in(&report, &["sync"]).expect_code(2);

    laptop1
        .run_in(&report, &["resolve", "--keep", "mine", "a.txt"])
        .expect_code(0);
    laptop1
        .run_in(&report, &["resolve", "--keep", "both", "b.txt"])
        .expect_code(0);
    let done = laptop1
        .run_in(&report, &["resolve", "--keep", "server", "c.txt"])
        .expect_code(0);
    plain(&done);
    laptop1
        .run_in(&report, &["resolve", "--keep", "mine", "c.txt"])
        .expect_code(2);
    laptop1.run_in(&report, &["sync"]).expect_code(0);

    let run = laptop2.run_in(&here, &["sync"]).expect_code(0);
    plain(&run);
    let expected: Vec<(String, String)> = [
        ("a.txt", "a.txt from laptop-1\n"),
        ("b (from laptop-1).txt", "b.txt from laptop-1\n"),
        ("b.txt", "b.txt as first sent\n"),
        ("c.txt", "c.txt from laptop-2\n"),
        ("same.txt", "same.txt as first sent\n"),
        ("server-new.txt", "new on laptop-2\n"),
        ("sub/only-mine.txt", "only on laptop-1\n"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(contents(&here), expected);
    assert_eq!(contents(&report), expected);
    // Nothing is lost: laptop-1's folder as it was is in the dated copy
    // (checked above), and laptop-2's versions are still on the server.
    laptop2
        .run_in(&here, &["discard", "--to", "2", "--yes"])
        .expect_code(0);
    assert_eq!(contents(&here), server_files);
}

#[test]
fn discard_remakes_the_folder_and_keeps_the_old_one_until_confirmed() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "version 1\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    write(&report, "plan.txt", "version 2\n");
    laptop1.run_in(&report, &["save"]).expect_code(0);
    laptop1.run_in(&report, &["sync"]).expect_code(0);

    write(&report, "plan.txt", "a mistake\n");
    write(&report, "stray.txt", "stray\n");
    let run = laptop1
        .run_in(&report, &["discard", "--yes"])
        .expect_code(0);
    plain(&run);
    assert_eq!(
        contents(&report),
        vec![("plan.txt".to_string(), "version 2\n".to_string())]
    );
    assert!(names_starting(&laptop1.documents, "Report (copy ").is_empty());

    // Without --yes and without a terminal, the old folder stays aside.
    write(&report, "plan.txt", "another mistake\n");
    let run = laptop1
        .run(&["--folder", "Report", "discard", "--to", "1"])
        .expect_code(0);
    plain(&run);
    assert_eq!(read(&report, "plan.txt"), "version 1\n");
    let asides = names_starting(&laptop1.documents, "Report (copy ");
    assert_eq!(asides.len(), 1);
    assert_eq!(read(&asides[0], "plan.txt"), "another mistake\n");
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(status.stdout.contains("version 3"), "{}", status.stdout);
    assert!(
        status.stdout.contains("     3  ")
            && status.stdout.contains("Back to version 1, on laptop-1"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("No unsaved changes."),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("1 saved version not sent"),
        "{}",
        status.stdout
    );
    laptop1
        .run_in(&report, &["discard", "--to", "9"])
        .expect_code(2);
}

#[test]
fn share_lets_another_person_get_the_folder_under_the_same_check() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let desk = server.machine("bob", "desk");
    let carol = server.machine("carol", "tablet");

    let plan = laptop1.folder("Plan");
    write(&plan, "plan.txt", "alice's plan\n");
    laptop1.run(&["new", "Plan"]).expect_code(0);

    // Not a member: the server refuses, and bob's list does not show it.
    let refused = desk.run(&["get", "alice/plan"]).expect_code(1);
    plain(&refused);
    assert!(
        refused.stderr.contains("the server refused"),
        "{}",
        refused.stderr
    );
    assert!(desk.run(&["get"]).expect_code(0).stdout.trim().is_empty());
    desk.run(&["get", "plan"]).expect_code(2);
    assert!(!desk.folder("Plan").exists());

    laptop1.run(&["share", "Plan", "nobody"]).expect_code(2);
    carol.run(&["share", "alice/plan", "carol"]).expect_code(1);
    let run = laptop1.run(&["share", "Plan", "bob"]).expect_code(0);
    plain(&run);

    // alice changes it without sending: bob is refused, naming her machine.
    write(&plan, "plan.txt", "alice's second plan\n");
    laptop1.run_in(&plan, &["status"]).expect_code(0);
    let refused = desk.run(&["get", "alice/plan"]).expect_code(1);
    assert!(
        refused
            .stderr
            .contains("alice's changes on laptop-1 since ")
            && refused.stderr.contains("were never sent"),
        "{}",
        refused.stderr
    );
    laptop1.run_in(&plan, &["sync"]).expect_code(0);
    assert_eq!(
        desk.run(&["get"]).expect_code(0).stdout.trim(),
        "alice/plan"
    );
    desk.run(&["get", "plan"]).expect_code(0);
    assert_eq!(
        read(&desk.folder("Plan"), "plan.txt"),
        "alice's second plan\n"
    );
    // bob may send versions in his turn.
    write(&desk.folder("Plan"), "plan.txt", "bob's plan\n");
    desk.run_in(&desk.folder("Plan"), &["sync"]).expect_code(0);
    laptop1.run_in(&plan, &["sync"]).expect_code(0);
    assert_eq!(read(&plan, "plan.txt"), "bob's plan\n");

    // A token the server no longer takes is said so, in plain words.
    let token_file = desk.home.join(".config/girofle/token");
    std::fs::write(&token_file, "glpat-revoked\n").unwrap();
    write(&desk.folder("Plan"), "plan.txt", "bob's second plan\n");
    let run = desk.run_in(&desk.folder("Plan"), &["sync"]).expect_code(1);
    plain(&run);
    assert!(
        run.stderr.contains("refused your access token"),
        "{}",
        run.stderr
    );
    assert_eq!(
        read(&desk.folder("Plan"), "plan.txt"),
        "bob's second plan\n"
    );
}

#[test]
fn one_folder_per_project_on_a_machine_and_only_the_persons_folders() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let carol = server.machine("carol", "tablet");
    let report = laptop1.folder("Report");
    write(&report, "a.txt", "a\n");
    laptop1.run(&["new", "Report"]).expect_code(0);

    let run = laptop1
        .run(&["get", "report", "Report-again"])
        .expect_code(2);
    plain(&run);
    assert!(
        run.stderr.contains("already on this machine"),
        "{}",
        run.stderr
    );
    assert!(!laptop1.folder("Report-again").exists());
    laptop1.run(&["new", "Report"]).expect_code(2);
    std::fs::create_dir_all(report.join("inner")).unwrap();
    laptop1.run(&["new", "Report/inner"]).expect_code(2);
    laptop1.run(&["new", "."]).expect_code(2);

    // The same name on another machine is the same folder: get it instead.
    let other = laptop2.folder("Report");
    write(&other, "b.txt", "b\n");
    let run = laptop2.run(&["new", "Report"]).expect_code(2);
    assert!(run.stderr.contains("get report"), "{}", run.stderr);

    let run = laptop1.run_in(&laptop1.home, &["new", "."]).expect_code(2);
    assert!(run.stderr.contains("too wide"), "{}", run.stderr);

    // Outside a saved folder, the actions say so.
    laptop1.run(&["save"]).expect_code(2);

    // A saved folder removed by hand is remade by `get`, from the versions
    // kept on this machine (the one saved and never sent included).
    write(&report, "a.txt", "a, second\n");
    laptop1.run_in(&report, &["save"]).expect_code(0);
    std::fs::remove_dir_all(&report).unwrap();
    laptop1.run(&["status"]).expect_code(2);
    let run = laptop1.run(&["get", "report"]).expect_code(0);
    plain(&run);
    assert_eq!(read(&report, "a.txt"), "a, second\n");
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains("1 saved version not sent"),
        "{}",
        status.stdout
    );
    laptop1.run_in(&report, &["sync"]).expect_code(0);

    // The client's data lost (a reinstalled machine): `get` again; the
    // state this machine had left on the server is replaced, then kept up.
    std::fs::remove_dir_all(laptop1.home.join(".local/share/girofle")).unwrap();
    std::fs::remove_dir_all(&report).unwrap();
    laptop1.run(&["get", "report", "Report"]).expect_code(0);
    write(&report, "a.txt", "a, third\n");
    laptop1.run_in(&report, &["status"]).expect_code(0);
    let refused = laptop2.run(&["get", "report", "elsewhere"]).expect_code(1);
    assert!(
        refused.stderr.contains("your changes on laptop-1 since "),
        "{}",
        refused.stderr
    );

    // carol has no such folder.
    carol.run(&["get", "report"]).expect_code(2);
    carol.run(&["get", "alice/report"]).expect_code(1);
}

#[test]
fn saving_works_offline_and_the_server_learns_of_it_when_the_machine_is_back() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first\n");
    laptop1.run(&["new", "Report"]).expect_code(0);

    common::project::docker(&["stop", "--time", "5", &server.container]);
    write(&report, "plan.txt", "written on the train\n");
    let run = laptop1.run_in(&report, &["save"]).expect_code(0);
    plain(&run);
    assert!(run.stderr.contains("cannot be reached"), "{}", run.stderr);
    let run = laptop1.run_in(&report, &["sync"]).expect_code(1);
    assert!(
        run.stderr.contains("your versions are safe here"),
        "{}",
        run.stderr
    );
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains("The server cannot be reached."),
        "{}",
        status.stdout
    );
    common::project::docker(&["start", &server.container]);
    wait_healthy(&server.container);

    // The server learns of the change made offline once laptop-1 runs the
    // client online again (any action; here `status`); from then on another
    // machine is stopped.
    laptop1.run_in(&report, &["status"]).expect_code(0);
    let refused = laptop2.run(&["get", "report"]).expect_code(1);
    assert!(
        refused.stderr.contains("your changes on laptop-1 since "),
        "{}",
        refused.stderr
    );
    laptop1.run_in(&report, &["sync"]).expect_code(0);
    laptop2.run(&["get", "report"]).expect_code(0);
    assert_eq!(
        read(&laptop2.folder("Report"), "plan.txt"),
        "written on the train\n"
    );
}

#[test]
fn install_client_puts_the_binary_in_place_and_sets_the_machine_up() {
    let server = Server::with_users();
    let root = tempfile::tempdir().unwrap();
    // The script as shipped, with a prebuilt binary beside it in dist/.
    let kit = root.path().join("kit");
    std::fs::create_dir_all(kit.join("dist")).unwrap();
    let script = kit.join("install-client.sh");
    std::fs::copy(project().join("install-client.sh"), &script).unwrap();
    std::fs::copy(client_binary(), kit.join("dist/girofle-client")).unwrap();
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let install = |machine: &str, stdin: &str| {
        let mut child = Command::new("sh")
            .arg(&script)
            .args([
                "--server",
                &server.url,
                "--token-stdin",
                "--machine",
                machine,
            ])
            .env("HOME", &home)
            .env("PATH", "/usr/bin:/bin")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("GIROFLE_CLIENT_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    };
    // A name with a space is not a machine name: nothing is set up.
    let run = install("home pc", "glpat-alice-0001\n").expect_code(2);
    assert!(
        run.stderr.contains("cannot be a machine name"),
        "{}",
        run.stderr
    );
    let installed = home.join(".local/bin/girofle-client");
    assert!(installed.is_file());
    assert!(run.stderr.contains("not in your PATH"), "{}", run.stderr);
    assert!(!home.join(".config/girofle/client.toml").exists());

    let run = install("home-pc", "glpat-alice-0001\n").expect_code(0);
    assert!(run.stderr.contains("already installed"), "{}", run.stderr);
    // Which git it found, said by the script and by setup.
    assert!(run.stderr.contains("Found git 2."), "{}", run.stderr);
    assert!(run.stderr.contains(", with git 2."), "{}", run.stderr);
    let config = std::fs::read_to_string(home.join(".config/girofle/client.toml")).unwrap();
    assert!(config.contains("machine = \"home-pc\""), "{config}");
    assert!(config.contains("person = \"alice\""), "{config}");
    use std::os::unix::fs::PermissionsExt;
    let token = home.join(".config/girofle/token");
    assert_eq!(
        std::fs::read_to_string(&token).unwrap(),
        "glpat-alice-0001\n"
    );
    assert_eq!(
        std::fs::metadata(&token).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let help = Run::from(Command::new(&installed).arg("--help").output().unwrap()).expect_code(0);
    for action in [
        "setup", "new", "save", "sync", "status", "get", "resolve", "discard", "share", "ui",
        "review", "prepare", "prepared",
    ] {
        assert!(
            help.stdout.contains(&format!("  {action} ")),
            "{action}: {}",
            help.stdout
        );
    }
    plain(&help);
    let version =
        Run::from(Command::new(&installed).arg("--version").output().unwrap()).expect_code(0);
    assert!(
        version.stdout.starts_with("girofle-client "),
        "{}",
        version.stdout
    );

    // A wrong token is refused by the server at setup.
    let mut child = Command::new(&installed)
        .args(["setup", "--server", &server.url, "--token-stdin"])
        .env("HOME", &home)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"glpat-wrong\n")
        .unwrap();
    let run = Run::from(child.wait_with_output().unwrap()).expect_code(1);
    assert!(
        run.stderr.contains("refused the access token"),
        "{}",
        run.stderr
    );
}
