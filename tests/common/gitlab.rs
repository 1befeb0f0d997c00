//! A GitLab container's health and status, and git pushes against it.

use super::*;

/// The health of a container, as docker reports it.
pub fn health(container: &str) -> String {
    docker(&[
        "inspect",
        "--format",
        "{{if .State.Health}}{{.State.Health.Status}}{{end}}",
        container,
    ])
    .trim()
    .to_string()
}

/// The run state of a container.
pub fn status(container: &str) -> String {
    docker(&["inspect", "--format", "{{.State.Status}}", container])
        .trim()
        .to_string()
}

/// Waits (up to two minutes) until the container is healthy.
pub fn wait_healthy(container: &str) {
    let start = std::time::Instant::now();
    while health(container) != "healthy" {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{container} never became healthy: {} {}",
            status(container),
            health(container)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Adds a commit to the repository in `dir` and pushes it to `remote`; returns its ID.
pub fn push_commit(dir: &Path, remote: &str, message: &str) -> String {
    std::fs::write(dir.join("README.md"), format!("{message}\n")).unwrap();
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "--quiet", "-m", message]);
    push_retrying_transport(dir, remote);
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// `git push REMOTE main`, tried again (up to 5 times) only when the
/// connection itself failed: the stand-in answers one request at a time, and
/// a push that meets its health probe can be reset. A push the server
/// refuses still fails the test.
fn push_retrying_transport(dir: &Path, remote: &str) {
    for _ in 0..4 {
        let output = Command::new("git")
            .current_dir(dir)
            .args([
                "-c",
                "protocol.version=2",
                "push",
                "--quiet",
                remote,
                "main",
            ])
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .expect("git runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || !is_transport_failure(&stderr) {
            assert!(output.status.success(), "git push failed: {stderr}");
            return;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    git(dir, &["push", "--quiet", remote, "main"]);
}

/// Whether git's stderr says the connection itself failed (not the server
/// refusing): the stand-in answers one request at a time, so a request that
/// meets its health probe can be reset or get an empty reply.
fn is_transport_failure(stderr: &str) -> bool {
    stderr.contains("Connection reset")
        || stderr.contains("Recv failure")
        || stderr.contains("Failed to connect")
        || stderr.contains("Empty reply from server")
}

/// The HEAD commit of `remote`'s main branch, read through a fresh clone
/// (tried again, up to 5 times, when the connection itself failed).
pub fn remote_head(remote: &str) -> String {
    let ls_remote = || {
        Command::new("git")
            .args(["ls-remote", remote, "refs/heads/main"])
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .unwrap()
    };
    let mut out = ls_remote();
    for _ in 0..4 {
        if out.status.success() || !is_transport_failure(&String::from_utf8_lossy(&out.stderr)) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        out = ls_remote();
    }
    assert!(
        out.status.success(),
        "git ls-remote {remote}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}
