//! The `git` program, run with an argument list (no shell). A folder's history
//! lives apart from the folder (`--git-dir` in the client's data, `--work-tree`
//! the person's folder), so the folder holds only their files.
//!
//! The token reaches git as an `Authorization` header through the
//! environment (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0`):
//! never on a command line, where other users could read it, nor in a URL
//! that git would print. Git older than 2.31 ignores those variables: when
//! the server then asks for credentials, git asks `GIT_ASKPASS`, which is the
//! client itself: it answers from the token file (its path, not the token,
//! is in the environment), and only for the configured server. Credential
//! helpers are switched off, so the token is never stored by them.
//!
//! Git follows no redirect (`http.followRedirects=false`): the header would
//! go wherever the server points.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine;

use girofle_base::error::Result;

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
    /// The token's file and the server, for the client as `GIT_ASKPASS`.
    askpass: Option<(PathBuf, String)>,
    ca_file: Option<PathBuf>,
    /// Another index than the history's own (`GIT_INDEX_FILE`): versions
    /// are then built without touching the folder or the usual index.
    index: Option<PathBuf>,
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
            askpass: None,
            ca_file: None,
            index: None,
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

    /// The same, answering git's questions for credentials (older git, which
    /// does not send the header) from `token_file`, for `server` only.
    pub fn with_token_file(mut self, token_file: &Path, server: &str) -> Git {
        self.askpass = Some((token_file.to_path_buf(), server.to_string()));
        self
    }

    /// The same, trusting the certificate authority in `ca_file` (PEM) for
    /// the server, when given.
    pub fn with_ca_file(mut self, ca_file: Option<&Path>) -> Git {
        self.ca_file = ca_file.map(Path::to_path_buf);
        self
    }

    /// The same, with its own index file at `index` (made by git if missing).
    pub fn with_index(mut self, index: &Path) -> Git {
        self.index = Some(index.to_path_buf());
        self
    }

    /// Runs git with `args`; never fails for a non-zero exit (see [`Output::ok`]).
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        let (ok, stdout, stderr) = self.raw(args, None)?;
        Ok(Output {
            ok,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
        })
    }

    /// Runs git with `args` and `input` on its stdin; its output's bytes as
    /// they are (a file's content is not text). A non-zero exit is an error.
    pub fn bytes(&self, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>> {
        let (ok, stdout, stderr) = self.raw(args, input)?;
        if ok {
            Ok(stdout)
        } else {
            Err(anyhow::anyhow!(
                "git {} failed: {}",
                args.first().copied().unwrap_or(""),
                stderr.trim()
            )
            .into())
        }
    }

    fn raw(&self, args: &[&str], input: Option<&[u8]>) -> Result<(bool, Vec<u8>, String)> {
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
            // No helper stores or offers credentials for the server.
            "-c".into(),
            "credential.helper=".into(),
            "--git-dir".into(),
            self.git_dir.display().to_string(),
            "--work-tree".into(),
            self.work_tree.display().to_string(),
        ];
        all.extend(args.iter().map(|arg| arg.to_string()));
        let askpass = match (&self.askpass, std::env::current_exe()) {
            (Some((file, server)), Ok(exe)) => Some((exe, file, server)),
            _ => None,
        };
        let mut command = duct::cmd("git", &all)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("SSH_ASKPASS")
            .env("LC_ALL", "C")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdout_capture()
            .stderr_capture()
            .unchecked();
        command = match askpass {
            Some((exe, file, server)) => command
                .env("GIT_ASKPASS", exe)
                .env(ASKPASS_TOKEN_FILE, file)
                .env(ASKPASS_SERVER, server),
            None => command
                .env("GIT_ASKPASS", "true")
                .env_remove(ASKPASS_TOKEN_FILE)
                .env_remove(ASKPASS_SERVER),
        };
        command = match input {
            Some(bytes) => command.stdin_bytes(bytes.to_vec()),
            None => command.stdin_null(),
        };
        if let Some(index) = &self.index {
            command = command.env("GIT_INDEX_FILE", index);
        }
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
            .with_context(|| crate::tr!("git-cannot-run"))?;
        Ok((
            output.status.success(),
            output.stdout,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
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

/// Set for git's `GIT_ASKPASS` (the client itself): the path of the token's file.
pub const ASKPASS_TOKEN_FILE: &str = "GIROFLE_CLIENT_ASKPASS_TOKEN_FILE";
/// Set for git's `GIT_ASKPASS`: the server the token is for.
pub const ASKPASS_SERVER: &str = "GIROFLE_CLIENT_ASKPASS_SERVER";

/// The answer to git's question `prompt` when the client runs as its
/// `GIT_ASKPASS`, with `token_file` and `server` from the environment:
/// `oauth2` for the user name, the token for the password, and nothing for
/// any other server or question (git then gives up: no token leaves for
/// an address it was not made for).
pub fn askpass_answer(prompt: &str, token_file: &Path, server: &str) -> Option<String> {
    // "Username for 'http://host:port': ", "Password for 'http://oauth2@host:port': "
    let (question, rest) = prompt.split_once(" for '")?;
    let url = rest.trim_end().trim_end_matches(':').trim_end_matches('\'');
    let (scheme, after) = url.split_once("://")?;
    let host = after.rsplit('@').next()?.trim_end_matches('/');
    let (want_scheme, want) = server.trim_end_matches('/').split_once("://")?;
    let want_host = want.split('/').next()?;
    if !scheme.eq_ignore_ascii_case(want_scheme) || !host.eq_ignore_ascii_case(want_host) {
        return None;
    }
    match question.trim() {
        "Username" => Some("oauth2".into()),
        "Password" => {
            let token = std::fs::read_to_string(token_file).ok()?;
            let token = token.trim();
            (!token.is_empty()).then(|| token.to_string())
        }
        _ => None,
    }
}

/// The version of the `git` on the PATH: its numbers and its words
/// (`2.43.0`).
pub fn version() -> Result<((u32, u32), String)> {
    let output = duct::cmd!("git", "--version")
        .env("LC_ALL", "C")
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run()
        .map_err(|_| girofle_base::error::Error::failed(crate::tr!("git-missing")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let words = text
        .trim()
        .strip_prefix("git version ")
        .unwrap_or("")
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let mut numbers = words.split('.').map(|n| n.parse::<u32>().ok());
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => Ok(((major, minor), words)),
        _ => Err(girofle_base::error::Error::failed(crate::tr!(
            "git-version-unreadable",
            text = format!("{:?}", text.trim())
        ))),
    }
}

/// The oldest git the client works with.
pub const OLDEST_GIT: (u32, u32) = (2, 20);

/// Refuses a git older than [`OLDEST_GIT`]; its version otherwise.
pub fn check_version() -> Result<String> {
    let (numbers, words) = version()?;
    if numbers < OLDEST_GIT {
        return Err(girofle_base::error::Error::failed(crate::tr!(
            "git-too-old",
            version = words,
            oldest = format!("{}.{}", OLDEST_GIT.0, OLDEST_GIT.1)
        )));
    }
    Ok(words)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn askpass_answers_only_for_its_server() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "glpat-x\n").unwrap();
        let server = "http://127.0.0.1:8080";
        let ask = |prompt: &str| askpass_answer(prompt, &file, server);
        assert_eq!(
            ask("Username for 'http://127.0.0.1:8080': ").as_deref(),
            Some("oauth2")
        );
        assert_eq!(
            ask("Password for 'http://oauth2@127.0.0.1:8080': ").as_deref(),
            Some("glpat-x")
        );
        assert_eq!(ask("Password for 'http://oauth2@evil.example': "), None);
        assert_eq!(ask("Password for 'https://oauth2@127.0.0.1:8080': "), None);
        assert_eq!(ask("Are you sure? "), None);
    }
}
