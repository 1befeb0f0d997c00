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

mod autosync;
mod folders;
mod french;
mod girofle_ca;
mod gitlab_rules;
mod links;
mod prepared;
mod servers;
