//! The stand-in GitLab image keeps the parts of the omnibus contract the
//! other tests rely on: push-to-create and clone, and a database that
//! notices a torn copy. Given users at start, it also keeps the part of
//! GitLab the client needs: personal access tokens, the REST API's users,
//! projects with topics and members, and git over HTTP behind tokens and
//! membership. `GIROFLE_TEST_STANDIN_IMAGE` names another build to test.

use crate::common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::{Scenario, docker, fresh_ip, git, http_get, make_repository, wait_healthy};

fn health(container: &str) -> String {
    docker(&["inspect", "--format", "{{.State.Health.Status}}", container])
        .trim()
        .to_string()
}

fn wait_for_health(container: &str, wanted: &str) {
    let start = Instant::now();
    while health(container) != wanted {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{container} never became {wanted}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The stand-in image under test.
fn image() -> String {
    std::env::var("GIROFLE_TEST_STANDIN_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| common::STANDIN_IMAGE.to_string())
}

fn segment_generation(data: &Path, segment: u32) -> String {
    let text =
        std::fs::read_to_string(data.join(format!("postgresql/data/base/{segment}"))).unwrap();
    text.lines().next().unwrap().to_string()
}

#[test]
fn push_creates_a_project_and_a_clone_brings_it_back_with_its_wiki() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip, "--image", &image()]);
    let work = tempfile::tempdir().unwrap();
    let head = make_repository(&work.path().join("app"), 2);
    // More than git's 1 MiB post buffer, so the push is sent chunked.
    let blob: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(work.path().join("app/blob.bin"), blob).unwrap();
    git(&work.path().join("app"), &["add", "blob.bin"]);
    git(
        &work.path().join("app"),
        &["commit", "--quiet", "-m", "big"],
    );
    let head_big = git(&work.path().join("app"), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    assert_ne!(head, head_big);
    for path in ["grp/app.git", "grp/app.wiki.git"] {
        git(
            &work.path().join("app"),
            &["push", "--quiet", &format!("{url}/{path}"), "main"],
        );
        let clone = work.path().join(path.replace('/', "-"));
        git(
            work.path(),
            &[
                "clone",
                "--quiet",
                &format!("{url}/{path}"),
                clone.to_str().unwrap(),
            ],
        );
        assert_eq!(git(&clone, &["rev-parse", "HEAD"]).trim(), head_big);
    }
    let repository = world
        .home
        .join("noeud-gitlab-1/mapping-volumes/data/git-data/repositories/grp/app.git");
    assert_eq!(std::fs::metadata(&repository).unwrap().uid(), 998);
    // An unknown project is a 404, as on GitLab.
    let (status, _) = http_get(
        &ip,
        &format!("{url}/grp/none.git/info/refs?service=git-upload-pack"),
    );
    assert_eq!(status, 404);
}

#[test]
fn a_torn_database_is_detected_at_start_and_reported_unhealthy() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip, "--image", &image()]);
    let container = format!("{}-gitlab-1", world.prefix);
    let data = world.home.join("noeud-gitlab-1/mapping-volumes/data");

    // A clean stop flushes: every segment written, then the WAL's shutdown
    // record; the next start is healthy.
    docker(&["stop", "--time", "60", &container]);
    let wal = std::fs::read_to_string(data.join("postgresql/data/pg_wal/log")).unwrap();
    assert_eq!(wal.lines().last(), Some("shutdown"), "{wal}");
    for segment in 1..=8 {
        assert!(segment_generation(&data, segment).starts_with("gen "));
    }
    docker(&["start", &container]);
    wait_for_health(&container, "healthy");

    // A frozen container is crash-consistent: a copy taken while paused recovers.
    docker(&["pause", &container]);
    let frozen = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("cp")
        .args([
            "-a",
            data.join("postgresql").to_str().unwrap(),
            frozen.path().to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    docker(&["unpause", &container]);

    // A copy whose segments come from different moments is torn: here segment
    // 5 comes from a later generation than the WAL that was copied.
    docker(&["stop", "--time", "60", &container]);
    let segment = data.join("postgresql/data/base/5");
    std::fs::write(&segment, "gen 999999\nxxxx\nend 999999\n").unwrap();
    docker(&["start", &container]);
    wait_for_health(&container, "unhealthy");
    let (status, body) = http_get(&ip, &format!("{url}/-/health"));
    assert_eq!(status, 503, "{body}");
    let log = std::fs::read_to_string(
        world
            .home
            .join("noeud-gitlab-1/mapping-volumes/log/postgresql/current"),
    )
    .unwrap();
    assert!(log.contains("segment 5"), "{log}");

    // Putting the frozen copy back gives a healthy instance again.
    docker(&["stop", "--time", "60", &container]);
    std::fs::remove_dir_all(data.join("postgresql")).unwrap();
    let status = std::process::Command::new("cp")
        .args([
            "-a",
            frozen.path().join("postgresql").to_str().unwrap(),
            data.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    docker(&["start", &container]);
    wait_for_health(&container, "healthy");
}

#[test]
fn first_boot_files_are_written_once_and_the_port_follows_external_url() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&[
        "--ip",
        &ip,
        "--hostname",
        &ip,
        "--http-port",
        "18321",
        "--image",
        &image(),
    ]);
    assert!(url.ends_with(":18321"));
    let config = world.home.join("noeud-gitlab-1/mapping-volumes/config");
    let secrets = std::fs::read_to_string(config.join("gitlab-secrets.json")).unwrap();
    assert!(secrets.contains("db_key_base"));
    assert_eq!(
        std::fs::metadata(config.join("gitlab-secrets.json"))
            .unwrap()
            .mode()
            & 0o777,
        0o600
    );
    let version = world
        .home
        .join("noeud-gitlab-1/mapping-volumes/data/gitlab-rails/VERSION");
    assert_eq!(std::fs::read_to_string(version).unwrap().trim(), "17.5.1");
    docker(&[
        "restart",
        "--time",
        "60",
        &format!("{}-gitlab-1", world.prefix),
    ]);
    assert_eq!(
        std::fs::read_to_string(config.join("gitlab-secrets.json")).unwrap(),
        secrets
    );

    // Another instance gets secrets of its own.
    world.commission(&["--ip", &ip, "--hostname", &ip, "--image", &image()]);
    let other = std::fs::read_to_string(
        world
            .home
            .join("noeud-gitlab-2/mapping-volumes/config/gitlab-secrets.json"),
    )
    .unwrap();
    assert_ne!(other, secrets);
}

// ---- The part of GitLab the client needs (users given at start) -------------

static CONTAINERS: AtomicU32 = AtomicU32::new(0);

const USERS: &str = "alice:glpat-alice-0001 bob:glpat-bob-0002 carol:glpat-carol-0003";
const ALICE: &str = "glpat-alice-0001";
const BOB: &str = "glpat-bob-0002";
const CAROL: &str = "glpat-carol-0003";

/// A stand-in container of this test, its data volume bind-mounted from a
/// temporary directory, removed when dropped.
struct Instance {
    name: String,
    url: String,
    address: String,
    data: tempfile::TempDir,
}

/// What the REST API answered.
struct Answer {
    status: u16,
    headers: String,
    json: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }
}

impl Instance {
    /// Starts the image, with `users` as STANDIN_USERS when given.
    fn start(users: Option<&str>) -> Instance {
        let ip = fresh_ip();
        let port = 18480;
        let name = format!(
            "girofle-standin-test-{}-{}",
            std::process::id(),
            CONTAINERS.fetch_add(1, Ordering::SeqCst)
        );
        let instance = Instance {
            url: format!("http://{ip}:{port}"),
            address: format!("{ip}:{port}"),
            name,
            data: tempfile::tempdir().unwrap(),
        };
        instance.run(users);
        instance
    }

    /// Runs the container (again, on the same data) with `users`.
    fn run(&self, users: Option<&str>) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
        let config = format!("external_url '{}'", self.url);
        let publish = format!(
            "{}:{}",
            self.address,
            self.address.rsplit(':').next().unwrap()
        );
        let volume = format!("{}:/var/opt/gitlab", self.data.path().display());
        let mut args = vec![
            "run",
            "-d",
            "--name",
            &self.name,
            "-e",
            "GITLAB_OMNIBUS_CONFIG",
            "-p",
            &publish,
            "-v",
            &volume,
        ];
        let users_env = users.map(|users| format!("STANDIN_USERS={users}"));
        if let Some(users_env) = &users_env {
            args.extend(["-e", users_env.as_str()]);
        }
        let image = image();
        args.push(&image);
        let output = Command::new("docker")
            .args(&args)
            .env("GITLAB_OMNIBUS_CONFIG", &config)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        wait_healthy(&self.name);
    }

    /// A REST call; `body` is (content type, body).
    fn api(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &str)>,
    ) -> Answer {
        self.api_with(
            method,
            path,
            token.map(|t| format!("PRIVATE-TOKEN: {t}")),
            body,
        )
    }

    fn api_with(
        &self,
        method: &str,
        path: &str,
        header: Option<String>,
        body: Option<(&str, &str)>,
    ) -> Answer {
        let mut command = Command::new("curl");
        command.args(["-s", "-S", "-i", "-X", method, "--max-time", "30"]);
        if let Some(header) = header {
            command.args(["-H", &header]);
        }
        if let Some((content_type, body)) = body {
            command.args([
                "-H",
                &format!("Content-Type: {content_type}"),
                "--data-binary",
                body,
            ]);
        }
        command.arg(format!("{}/api/v4{path}", self.url));
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "curl {method} {path}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (headers, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
        let status = headers
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap();
        let json = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
        Answer {
            status,
            headers: headers.to_string(),
            json,
        }
    }

    /// The git URL of `project`, with a token as the basic-auth password.
    fn git_url(&self, token: Option<&str>, project: &str) -> String {
        match token {
            Some(token) => format!("http://oauth2:{token}@{}/{project}.git", self.address),
            None => format!("{}/{project}.git", self.url),
        }
    }

    /// Creates a project as `token`'s owner, with the topic girofle.
    fn create(&self, token: &str, path: &str) -> serde_json::Value {
        let body = format!(r#"{{"name":"{path}","path":"{path}","topics":["girofle"]}}"#);
        let answer = self.api(
            "POST",
            "/projects",
            Some(token),
            Some(("application/json", &body)),
        );
        assert_eq!(answer.status, 201, "{}", answer.json);
        answer.json
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

/// Runs git; returns whether it succeeded and what it printed (both streams).
fn git_try(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Girofle Test",
            "-c",
            "user.email=test@girofle.invalid",
        ])
        .args(["-c", "init.defaultBranch=main", "-c", "credential.helper="])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn commit(dir: &Path, file: &str, text: &str) -> String {
    std::fs::write(dir.join(file), text).unwrap();
    git(dir, &["add", file]);
    git(dir, &["commit", "--quiet", "-m", text]);
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

fn paths(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|p| p["path_with_namespace"].as_str().unwrap().to_string())
        .collect()
}

mod projects;
mod rules;
mod wal;
