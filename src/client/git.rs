//! The `git` program, run with an argument list (no shell). A folder's history
//! lives apart from the folder (`--git-dir` in the client's data, `--work-tree`
//! the person's folder), so the folder holds only their files.
//!
//! The token reaches git as an `Authorization` header through the
//! environment (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0`):
//! never on a command line, where other users could read it, nor in a URL
//! that git would print.
//!
//! Git follows no redirect (`http.followRedirects=false`): the header would
//! go wherever the server points.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;

use crate::error::Result;

/// What a git run did.
#[derive(Debug)]
pub struct Output {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// One folder's history, and how to reach the server.
#[derive(Debug, Clone)]
pub struct Git {
    /// The history (a bare-style git directory).
    pub git_dir: PathBuf,
    /// The person's folder.
    pub work_tree: PathBuf,
    /// The `Authorization` header value for the server.
    auth: Option<String>,
    ca_file: Option<PathBuf>,
    name: String,
    email: String,
}

impl Git {
    /// A history at `git_dir` for the folder `work_tree`.
    pub fn new(git_dir: &Path, work_tree: &Path, name: &str, email: &str) -> Git {
        Git {
            git_dir: git_dir.to_path_buf(),
            work_tree: work_tree.to_path_buf(),
            auth: None,
            ca_file: None,
            name: name.to_string(),
            email: email.to_string(),
        }
    }

    /// The same, sending `token` to the server (GitLab takes a personal access
    /// token as the password of HTTP basic authentication, user `oauth2`).
    pub fn with_token(mut self, token: &str) -> Git {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("oauth2:{token}"));
        self.auth = Some(format!("Authorization: Basic {pair}"));
        self
    }

    /// The same, trusting the certificate authority in `ca_file` (PEM) for
    /// the server, when given.
    pub fn with_ca_file(mut self, ca_file: Option<&Path>) -> Git {
        self.ca_file = ca_file.map(Path::to_path_buf);
        self
    }

    /// Runs git with `args`; never fails for a non-zero exit (see [`Output::ok`]).
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        let mut all: Vec<String> = vec![
            "-c".into(),
            format!("user.name={}", self.name),
            "-c".into(),
            format!("user.email={}", self.email),
            "-c".into(),
            "core.quotePath=false".into(),
            "-c".into(),
            "core.autocrlf=false".into(),
            "-c".into(),
            "init.defaultBranch=main".into(),
            "-c".into(),
            "commit.gpgSign=false".into(),
            "-c".into(),
            "http.followRedirects=false".into(),
            "--git-dir".into(),
            self.git_dir.display().to_string(),
            "--work-tree".into(),
            self.work_tree.display().to_string(),
        ];
        all.extend(args.iter().map(|arg| arg.to_string()));
        let mut command = duct::cmd("git", &all)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "true")
            .env("LC_ALL", "C")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        if let Some(ca_file) = &self.ca_file {
            // The variable, not `http.sslCAInfo`, which it would override.
            command = command.env("GIT_SSL_CAINFO", ca_file);
        }
        command = match &self.auth {
            Some(header) => command
                .env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env("GIT_CONFIG_VALUE_0", header),
            None => command.env_remove("GIT_CONFIG_COUNT"),
        };
        let output = command
            .run()
            .with_context(|| "cannot run git: is it installed?".to_string())?;
        Ok(Output {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs git; a non-zero exit is an error carrying its message.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let output = self.output(args)?;
        if output.ok {
            Ok(output.stdout)
        } else {
            Err(anyhow::anyhow!(
                "git {} failed: {}",
                args.first().copied().unwrap_or(""),
                output.stderr.trim()
            )
            .into())
        }
    }

    /// The commit a ref names, if it exists.
    pub fn resolve(&self, reference: &str) -> Result<Option<String>> {
        let output = self.output(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{reference}^{{commit}}"),
        ])?;
        Ok(if output.ok {
            Some(output.stdout.trim().to_string())
        } else {
            None
        })
    }
}

/// Whether git's message says the server could not be reached at all (as
/// opposed to refusing).
pub fn is_unreachable(stderr: &str) -> bool {
    let text = stderr.to_ascii_lowercase();
    [
        "could not resolve host",
        "failed to connect",
        "connection refused",
        "couldn't connect",
        "connection timed out",
        "network is unreachable",
        "no route to host",
        "operation timed out",
        "empty reply from server",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// Whether git's message says the server refused the credentials or access.
pub fn is_refused(stderr: &str) -> bool {
    let text = stderr.to_ascii_lowercase();
    [
        "authentication failed",
        "403",
        "401",
        "404",
        "not found",
        "could not read username",
        "permission",
        "denied",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}
