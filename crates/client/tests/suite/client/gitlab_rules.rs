//! GitLab's own rules: folder names, members raised, refused sendings explained, old git.

use super::*;

/// No JSON, no HTTP status: sentences.
fn sentences(run: &Run) {
    plain(run);
    for sign in ["{", "}", "\"message\"", "answered 400"] {
        assert!(
            !run.stderr.contains(sign),
            "{sign:?} shown:\n{}",
            run.stderr
        );
    }
}

#[test]
fn any_folder_name_makes_a_folder_gitlab_takes_and_keeps_its_name() {
    let server = Server::with_users();
    // Someone used the topic first, spelled otherwise: GitLab gives it back so.
    let (status, json) = server.api(
        "carol",
        "POST",
        "/projects",
        "name=Elsewhere&path=elsewhere&topics[]=Girofle",
    );
    assert_eq!(status, 201, "{json}");
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let names = [
        ("Rapport d'activité", "alice/rapport-d-activite"),
        ("Budget (2024)", "alice/budget-2024"),
        ("Q&A", "alice/q-a"),
        ("Mr. Smith", "alice/mr-smith"),
        ("Files", "alice/files-folder"),
        ("Bilan été 2026", "alice/bilan-ete-2026"),
        ("🫠 notes__2024", "alice/notes-2024"),
    ];
    for (name, _) in names {
        write(&laptop1.folder(name), "a.txt", name);
        let run = laptop1.run(&["new", name]).expect_code(0);
        sentences(&run);
    }
    // Another folder of the same name elsewhere: numbered on the server.
    let work = laptop1.home.join("Work");
    write(&work.join("Files"), "b.txt", "work files\n");
    let run = laptop1.run_in(&work, &["new", "Files"]).expect_code(0);
    sentences(&run);
    assert!(
        run.stderr.contains(
            "You already have a folder named \"Files\" on the server: this one is alice/files-folder-2 there."
        ),
        "{}",
        run.stderr
    );
    let listed = laptop2.run(&["get"]).expect_code(0);
    for (name, path) in names {
        assert!(
            listed.stdout.contains(&format!("{path} ({name})\n")),
            "{path} ({name}) not in:\n{}",
            listed.stdout
        );
    }
    // Brought to another machine under the name it had.
    laptop2.run(&["get", "Rapport d'activité"]).expect_code(0);
    assert_eq!(
        read(&laptop2.folder("Rapport d'activité"), "a.txt"),
        "Rapport d'activité"
    );
    laptop2.run(&["get", "alice/bilan-ete-2026"]).expect_code(0);
    assert!(laptop2.folder("Bilan été 2026").join("a.txt").is_file());
}

#[test]
fn share_raises_a_developer_and_a_refused_sending_is_explained() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let desk = server.machine("bob", "desk");
    let plan = laptop1.folder("Plan");
    write(&plan, "plan.txt", "alice's plan\n");
    laptop1.run(&["new", "Plan"]).expect_code(0);
    // alice added bob as Developer on GitLab's own page.
    let (status, json) = server.api("alice", "GET", "/projects/alice%2Fplan", "");
    assert_eq!(status, 200, "{json}");
    let id = json["id"].as_u64().unwrap();
    let (status, json) = server.api(
        "alice",
        "POST",
        &format!("/projects/{id}/members"),
        "user_id=2&access_level=30",
    );
    assert_eq!(status, 201, "{json}");

    desk.run(&["get", "plan"]).expect_code(0);
    write(&desk.folder("Plan"), "plan.txt", "bob's plan\n");
    let refused = desk.run_in(&desk.folder("Plan"), &["sync"]).expect_code(1);
    sentences(&refused);
    assert!(
        refused.stderr.contains(
            "the server refused your new versions of alice/plan: your rights on this folder are \
             too low to send versions to it (you may only read it). alice, who owns it, can raise \
             them by sharing the folder with you (bob) again."
        ),
        "{}",
        refused.stderr
    );

    let shared = laptop1.run(&["share", "Plan", "bob"]).expect_code(0);
    sentences(&shared);
    assert!(
        shared.stderr.contains(
            "bob could already get alice/plan but not send versions to it; \
             bob is now a Maintainer of it and may."
        ),
        "{}",
        shared.stderr
    );
    desk.run_in(&desk.folder("Plan"), &["sync"]).expect_code(0);
    laptop1.run_in(&plan, &["sync"]).expect_code(0);
    assert_eq!(read(&plan, "plan.txt"), "bob's plan\n");
    let again = laptop1.run(&["share", "Plan", "bob"]).expect_code(0);
    assert!(
        again.stderr.contains("bob could already get alice/plan."),
        "{}",
        again.stderr
    );
}

/// A `git` that behaves as one older than 2.31: `GIT_CONFIG_COUNT` and its
/// pairs never reach it.
fn old_git(dir: &Path) -> PathBuf {
    let bin = dir.join("old-git");
    std::fs::create_dir_all(&bin).unwrap();
    let script = "#!/bin/sh\n\
        unset GIT_CONFIG_COUNT\n\
        for i in 0 1 2 3 4 5 6 7 8 9; do unset GIT_CONFIG_KEY_$i GIT_CONFIG_VALUE_$i; done\n\
        exec /usr/bin/git \"$@\"\n";
    std::fs::write(bin.join("git"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn a_git_older_than_2_31_still_sends_the_token_and_one_too_old_is_refused() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let bin = old_git(&laptop1.home);
    let notes = laptop1.folder("Notes");
    write(&notes, "n.txt", "first\n");
    let run = laptop1.run_with_git(&bin, &laptop1.documents, &["new", "Notes"]);
    let run = run.expect_code(0);
    sentences(&run);
    write(&notes, "n.txt", "second\n");
    laptop1.run_with_git(&bin, &notes, &["sync"]).expect_code(0);
    // The versions are on the server: another machine gets them.
    let laptop2 = server.machine("alice", "laptop-2");
    laptop2.run(&["get", "notes"]).expect_code(0);
    assert_eq!(read(&laptop2.folder("Notes"), "n.txt"), "second\n");
    // The token never went into the person's credential store.
    assert!(!laptop1.home.join(".git-credentials").exists());

    // A git older than 2.20 is named and refused at setup, nothing written.
    let ancient = laptop1.home.join("ancient");
    std::fs::create_dir_all(&ancient).unwrap();
    std::fs::write(
        ancient.join("git"),
        "#!/bin/sh\necho 'git version 2.19.1'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(ancient.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = laptop1.home.join("other.toml");
    let mut child = laptop1
        .command(&laptop1.documents)
        .env("PATH", format!("{}:/usr/bin:/bin", ancient.display()))
        .args([
            "--config",
            config.to_str().unwrap(),
            "setup",
            "--server",
            &server.url,
        ])
        .args(["--token-stdin", "--machine", "laptop-9"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"glpat-alice-0001\n")
        .unwrap();
    let run = Run::from(child.wait_with_output().unwrap()).expect_code(1);
    assert!(
        run.stderr
            .contains("git 2.19.1 is too old: girofle-client needs git 2.20 or newer"),
        "{}",
        run.stderr
    );
    assert!(!config.exists());
}

#[test]
fn a_user_name_git_refuses_in_a_ref_still_keeps_folders() {
    let server = Server::with_users();
    let laptop = server.machine("eve.lock", "laptop");
    let notes = laptop.folder("Notes");
    write(&notes, "n.txt", "first\n");
    sentences(&laptop.run(&["new", "Notes"]).expect_code(0));
    write(&notes, "n.txt", "second\n");
    laptop.run_in(&notes, &["sync"]).expect_code(0);
    let desk = server.machine("eve.lock", "desk");
    desk.run(&["get", "notes"]).expect_code(0);
    assert_eq!(read(&desk.folder("Notes"), "n.txt"), "second\n");
    // Each machine's state is known to the other: desk's unsent change blocks laptop's get.
    write(&desk.folder("Notes"), "n.txt", "desk's\n");
    desk.run_in(&desk.folder("Notes"), &["status"])
        .expect_code(0);
    let status = laptop.run_in(&notes, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains("Not sent yet: your changes on desk"),
        "{}",
        status.stdout
    );
}

#[test]
fn keep_after_a_stopped_sync_brings_the_two_together_itself() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let plan = laptop1.folder("Plan");
    write(&plan, "plan.odt", "first\n");
    laptop1.run(&["new", "Plan"]).expect_code(0);
    laptop2.run(&["get", "plan"]).expect_code(0);
    let there = laptop2.folder("Plan");
    write(&plan, "plan.odt", "laptop-1's\n");
    laptop1.run_in(&plan, &["sync"]).expect_code(0);
    write(&there, "plan.odt", "laptop-2's\n");
    laptop2.run_in(&there, &["save"]).expect_code(0);
    let stopped = laptop2.run_in(&there, &["sync"]).expect_code(1);
    assert!(
        stopped.stderr.contains("run `girofle-client resolve`"),
        "{}",
        stopped.stderr
    );

    // As the README says, straight away.
    let kept = laptop2
        .run_in(&there, &["resolve", "--keep", "both", "plan.odt"])
        .expect_code(0);
    sentences(&kept);
    assert!(
        kept.stderr.contains("1 file differs from the server's"),
        "{}",
        kept.stderr
    );
    assert!(
        kept.stderr.contains("plan.odt: kept both"),
        "{}",
        kept.stderr
    );
    assert_eq!(read(&there, "plan.odt"), "laptop-1's\n");
    assert_eq!(read(&there, "plan (from laptop-2).odt"), "laptop-2's\n");
    laptop2.run_in(&there, &["sync"]).expect_code(0);
}

#[test]
fn install_client_refuses_a_git_too_old_and_installs_nothing() {
    let root = tempfile::tempdir().unwrap();
    let kit = root.path().join("kit");
    std::fs::create_dir_all(kit.join("dist")).unwrap();
    let script = kit.join("install-client.sh");
    std::fs::copy(project().join("install-client.sh"), &script).unwrap();
    std::fs::copy(client_binary(), kit.join("dist/girofle-client")).unwrap();
    let ancient = root.path().join("ancient");
    std::fs::create_dir_all(&ancient).unwrap();
    std::fs::write(
        ancient.join("git"),
        "#!/bin/sh\necho 'git version 2.19.1'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(ancient.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = root.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let run = Run::from(
        Command::new("sh")
            .arg(&script)
            .args(["--server", "https://gitlab.example.org", "--token-stdin"])
            .env("HOME", &home)
            .env("PATH", format!("{}:/usr/bin:/bin", ancient.display()))
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    )
    .expect_code(1);
    assert!(
        run.stderr.contains(
            "git 2.19.1 is too old: girofle-client needs git 2.20 or newer. Install a newer git, \
             then run this again. Nothing was installed."
        ),
        "{}",
        run.stderr
    );
    assert!(!home.join(".local/bin/girofle-client").exists());
}

#[test]
fn folders_are_found_whatever_the_case_their_topic_was_first_given() {
    let server = Server::with_users();
    // carol used the topic first, spelled `Girofle`: GitLab keeps that
    // spelling for everyone's projects, and finds the topic by it only.
    let (status, json) = server.api(
        "carol",
        "POST",
        "/projects",
        "name=Hers&path=hers&topics[]=Girofle",
    );
    assert_eq!(status, 201, "{json}");
    let laptop1 = server.machine("alice", "laptop-1");
    write(&laptop1.folder("Report"), "a.txt", "a\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    let laptop2 = server.machine("alice", "laptop-2");
    let listed = laptop2.run(&["get"]).expect_code(0);
    assert_eq!(listed.stdout.trim(), "alice/report");
    laptop2.run(&["get", "report"]).expect_code(0);
    assert_eq!(read(&laptop2.folder("Report"), "a.txt"), "a\n");
}

#[test]
fn a_description_a_collaborator_wrote_never_drives_the_terminal_nor_names_a_folder() {
    // bob's project, shared with alice, whose description (the folder's
    // name, for the client) holds an escape sequence that retitles a
    // terminal; the project's name is what the client would make of it.
    let server = Server::with_users();
    let (status, json) = server.api(
        "bob",
        "POST",
        "/projects",
        "name=Evil%200%20pwned&path=evil&topics[]=girofle&description=Evil%1B%5D0%3Bpwned%07",
    );
    assert_eq!(status, 201, "{json}");
    let id = json["id"].as_u64().unwrap();
    let (status, json) = server.api(
        "bob",
        "POST",
        &format!("/projects/{id}/members"),
        "user_id=1&access_level=40",
    );
    assert_eq!(status, 201, "{json}");

    let laptop = server.machine("alice", "laptop-1");
    let listed = laptop.run(&["get"]).expect_code(0);
    assert!(
        !listed.stdout.contains('\u{1b}') && !listed.stderr.contains('\u{1b}'),
        "an escape sequence reached the terminal: {:?} {:?}",
        listed.stdout,
        listed.stderr
    );
    assert!(
        listed.stdout.contains("bob/evil (Evil 0 pwned)"),
        "{}",
        listed.stdout
    );
    laptop.run(&["get", "bob/evil"]).expect_code(0);
    assert!(laptop.folder("Evil 0 pwned").is_dir());
    let names: Vec<String> = std::fs::read_dir(&laptop.documents)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.contains(char::is_control)),
        "{names:?}"
    );
}
