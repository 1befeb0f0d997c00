//! The harness of the client's tests: a stand-in GitLab with people and
//! their tokens, and machines, each a home of its own on this host with the
//! real client binary. Beneath it, the one scenario helper every test of
//! the project shares (tests/common at the top).

// The project's harness is the server suite's, where each piece is used; the
// client's tests take the few they need.
#[allow(dead_code)]
#[path = "../../../../tests/common/mod.rs"]
pub mod project;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use project::Run;
use project::{STANDIN_IMAGE, binary_path, fresh_ip, wait_healthy};

/// The client under test: the one cargo built, or `GIROFLE_TEST_CLIENT_BIN`
/// (to test another build, such as the static one install-client.sh makes).
pub fn client_binary() -> PathBuf {
    std::env::var_os("GIROFLE_TEST_CLIENT_BIN")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| binary_path("girofle-client"))
}

/// The stand-in image the server runs: `GIROFLE_TEST_STANDIN_IMAGE`, or the
/// one the test command builds.
pub fn image() -> String {
    std::env::var("GIROFLE_TEST_STANDIN_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| STANDIN_IMAGE.to_string())
}

/// A stand-in GitLab with people; removed when dropped.
pub struct Server {
    /// Its address, `http://IP:PORT`.
    pub url: String,
    /// Its container's name.
    pub container: String,
    users: &'static [(&'static str, &'static str)],
    _data: tempfile::TempDir,
}

impl Server {
    /// A stand-in whose container is named after `tag`, with `users` (name
    /// and token each), healthy.
    pub fn start(tag: &str, users: &'static [(&'static str, &'static str)]) -> Server {
        let ip = fresh_ip();
        let port = std::net::TcpListener::bind(format!("{ip}:0"))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = tempfile::tempdir().unwrap();
        let container = format!(
            "{tag}-{}-{}",
            std::process::id(),
            data.path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_lowercase()
        );
        let url = format!("http://{ip}:{port}");
        let names: Vec<String> = users.iter().map(|(u, t)| format!("{u}:{t}")).collect();
        let output = Command::new("docker")
            .args(["run", "-d", "--name", &container, "--label"])
            .arg(format!("girofle.home={}", data.path().display()))
            .args(["-e", "GITLAB_OMNIBUS_CONFIG", "-e", "STANDIN_USERS", "-p"])
            .arg(format!("{ip}:{port}:{port}"))
            .arg(image())
            .env("GITLAB_OMNIBUS_CONFIG", format!("external_url '{url}'"))
            .env("STANDIN_USERS", names.join(" "))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let server = Server {
            url,
            container,
            users,
            _data: data,
        };
        wait_healthy(&server.container);
        server
    }

    /// `machine`, set up with the client as `person`'s, named `name`.
    pub fn set_up(&self, machine: Machine, person: &str, name: &str) -> Machine {
        let token = self.users.iter().find(|(u, _)| *u == person).unwrap().1;
        let run = machine.run_with_input(
            &[
                "setup",
                "--server",
                &self.url,
                "--token-stdin",
                "--machine",
                name,
            ],
            &format!("{token}\n"),
        );
        assert_eq!(
            run.code,
            0,
            "setup failed ({}); is {} built from the current tests/standin (users and REST API)?",
            run.stderr.trim(),
            image()
        );
        machine
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.container])
            .output();
    }
}

/// One machine: a home of its own, with `~/Documents` to work in.
pub struct Machine {
    /// `~`.
    pub home: PathBuf,
    /// `~/Documents`.
    pub documents: PathBuf,
    _root: tempfile::TempDir,
}

impl Machine {
    /// A machine whose `~` is `home`, inside `root` (removed with it).
    pub fn at(root: tempfile::TempDir, home: PathBuf) -> Machine {
        let documents = home.join("Documents");
        std::fs::create_dir_all(&documents).unwrap();
        Machine {
            home,
            documents,
            _root: root,
        }
    }

    /// A command for the client, in `dir`, in this machine's world.
    pub fn command(&self, dir: &Path) -> Command {
        self.command_for(&client_binary(), dir)
    }

    /// A command for `program`, in this machine's world.
    pub fn command_for(&self, program: &Path, dir: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(dir)
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("GIROFLE_CLIENT_CONFIG")
            .env("TZ", "UTC")
            // English, whatever the locale of whoever runs the tests: the
            // assertions quote the English sentences (french.rs asks for French).
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null());
        command
    }

    /// Runs the client in `~/Documents`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(&self.documents, args)
    }

    /// Runs the client in `dir`.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(self.command(dir).args(args).output().unwrap())
    }

    /// Runs the client in `~/Documents` with `input` on its stdin.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .command(&self.documents)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// `~/Documents/NAME`.
    pub fn folder(&self, name: &str) -> PathBuf {
        self.documents.join(name)
    }
}

/// Writes `text` to `dir/file`, making its directories.
pub fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The text of `dir/file`; panics naming it when it cannot be read.
pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

/// Every file under `dir` with its contents, sorted.
pub fn contents(dir: &Path) -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((relative, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// No git word reaches the person in `text`.
pub fn plain(text: &str) {
    let lower = text.to_lowercase();
    for word in ["commit", "push", "branch", "merge", "repository", "clone"] {
        assert!(
            !lower.contains(word),
            "{word:?} shown to the person:\n{text}"
        );
    }
}

/// The English catalogue's sentences long enough to be told apart from a
/// name or a number: their fixed words, cut at each variable.
pub fn english_sentences() -> Vec<String> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/i18n/en"));
    let mut pieces = vec![];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for line in text.lines() {
            // A message's first line, or a variant's text: the words after `=` or `]`.
            let words = match line.split_once(" = ") {
                Some((key, value)) if !key.starts_with(' ') && !key.starts_with('#') => value,
                _ => match line.trim_start().split_once("] ") {
                    Some((_, value)) => value,
                    None => continue,
                },
            };
            for piece in words.split(['{', '}']) {
                let piece = piece.trim();
                // A run of at least three words, with no variable inside.
                if piece.split_whitespace().count() >= 3 && !piece.contains('$') {
                    pieces.push(piece.to_string());
                }
            }
        }
    }
    assert!(pieces.len() > 30, "the English catalogue is read");
    pieces
}
