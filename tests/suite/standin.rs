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

#[test]
fn the_api_wants_a_personal_access_token_and_knows_the_users_given_at_start() {
    let gitlab = Instance::start(Some(USERS));
    let unauthorized = serde_json::json!({"message": "401 Unauthorized"});

    let anonymous = gitlab.api("GET", "/user", None, None);
    assert_eq!((anonymous.status, &anonymous.json), (401, &unauthorized));
    let wrong = gitlab.api("GET", "/user", Some("glpat-wrong"), None);
    assert_eq!((wrong.status, &wrong.json), (401, &unauthorized));
    // A wrong token is refused even where no token is needed.
    let wrong = gitlab.api("GET", "/users?username=bob", Some("glpat-wrong"), None);
    assert_eq!(wrong.status, 401);

    let alice = gitlab.api("GET", "/user", Some(ALICE), None);
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json["id"], 1);
    assert_eq!(alice.json["username"], "alice");
    assert_eq!(alice.json["name"], "Alice");
    let bearer = gitlab.api_with(
        "GET",
        "/user",
        Some(format!("Authorization: Bearer {CAROL}")),
        None,
    );
    assert_eq!(
        (bearer.status, &bearer.json["id"]),
        (200, &serde_json::json!(3))
    );

    let bob = gitlab.api("GET", "/users?username=bob", Some(ALICE), None);
    assert_eq!(bob.status, 200);
    assert_eq!(bob.json.as_array().unwrap().len(), 1, "{}", bob.json);
    assert_eq!(bob.json[0]["id"], 2);
    assert_eq!(bob.json[0]["username"], "bob");
    let nobody = gitlab.api("GET", "/users?username=dave", Some(ALICE), None);
    assert_eq!(nobody.json, serde_json::json!([]));

    // Users and tokens are data of the instance, kept with its database and
    // owned as GitLab's are; tokens are kept as digests only.
    let users = gitlab.data.path().join("postgresql/data/api/users");
    let meta = std::fs::metadata(&users).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (996, 996, 0o600)
    );
    assert!(
        !std::fs::read_to_string(&users).unwrap().contains(ALICE),
        "tokens are stored as digests"
    );

    // A new container on the same data, given one more user and a new token
    // for Bob, keeps the ids and the projects, and takes the new token.
    gitlab.create(ALICE, "kept");
    gitlab.run(Some("bob:glpat-bob-new dave:glpat-dave-0004"));
    let dave = gitlab.api("GET", "/user", Some("glpat-dave-0004"), None);
    assert_eq!(
        (dave.status, &dave.json["id"]),
        (200, &serde_json::json!(4))
    );
    assert_eq!(gitlab.api("GET", "/user", Some(BOB), None).status, 401);
    assert_eq!(
        gitlab.api("GET", "/user", Some("glpat-bob-new"), None).json["id"],
        2
    );
    let kept = gitlab.api("GET", "/projects/alice%2Fkept", Some(ALICE), None);
    assert_eq!(kept.status, 200, "{}", kept.json);

    // Started without STANDIN_USERS (as a restored copy might be), the data
    // still decides: tokens are still wanted and still work.
    gitlab.run(None);
    assert_eq!(gitlab.api("GET", "/user", None, None).status, 401);
    assert_eq!(gitlab.api("GET", "/user", Some(ALICE), None).json["id"], 1);
}

#[test]
fn projects_are_made_in_the_owners_namespace_listed_by_topic_and_shared_with_members() {
    let gitlab = Instance::start(Some(USERS));

    // Created in Alice's namespace, from JSON or from a form.
    let docs = gitlab.create(ALICE, "docs");
    assert_eq!(docs["path_with_namespace"], "alice/docs");
    assert_eq!(docs["name"], "docs");
    assert_eq!(docs["topics"], serde_json::json!(["girofle"]));
    assert_eq!(docs["visibility"], "private");
    assert_eq!(docs["default_branch"], "main");
    assert_eq!(docs["empty_repo"], true);
    assert_eq!(
        docs["http_url_to_repo"],
        format!("{}/alice/docs.git", gitlab.url)
    );
    assert_eq!(docs["web_url"], format!("{}/alice/docs", gitlab.url));
    assert_eq!(docs["namespace"]["kind"], "user");
    let form = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some((
            "application/x-www-form-urlencoded",
            "name=Budget+2027&topics[]=girofle&topics[]=finance",
        )),
    );
    assert_eq!(form.status, 201, "{}", form.json);
    assert_eq!(form.json["path"], "budget-2027");
    assert_eq!(form.json["name"], "Budget 2027");
    assert_eq!(
        form.json["topics"],
        serde_json::json!(["girofle", "finance"])
    );
    let untagged = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some(("application/json", r#"{"path":"scratch"}"#)),
    );
    assert_eq!(untagged.status, 201, "{}", untagged.json);
    let bobs = gitlab.create(BOB, "notes");
    assert_eq!(bobs["path_with_namespace"], "bob/notes");

    // A path taken in the namespace is a 400, as GitLab answers; another
    // namespace may use it.
    let taken = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some(("application/json", r#"{"name":"docs","path":"docs"}"#)),
    );
    assert_eq!(taken.status, 400);
    assert_eq!(
        taken.json,
        serde_json::json!({"message": {"name": ["has already been taken"], "path": ["has already been taken"]}})
    );
    gitlab.create(BOB, "docs");
    let anonymous = gitlab.api(
        "POST",
        "/projects",
        None,
        Some(("application/json", r#"{"path":"x"}"#)),
    );
    assert_eq!(anonymous.status, 401);

    // The inventory: projects with the topic that one is a member of, newest first.
    let list = "/projects?topic=girofle&membership=true";
    let alices = gitlab.api("GET", list, Some(ALICE), None);
    assert_eq!(alices.status, 200);
    assert_eq!(paths(&alices.json), ["alice/budget-2027", "alice/docs"]);
    assert_eq!(
        paths(&gitlab.api("GET", list, Some(BOB), None).json),
        ["bob/docs", "bob/notes"]
    );
    assert_eq!(
        paths(&gitlab.api("GET", list, Some(CAROL), None).json),
        Vec::<String>::new()
    );
    // Ordered as asked; `simple` gives GitLab's short form, without owner or visibility.
    let oldest_first = gitlab.api(
        "GET",
        &format!("{list}&order_by=id&sort=asc&simple=true"),
        Some(ALICE),
        None,
    );
    assert_eq!(
        paths(&oldest_first.json),
        ["alice/docs", "alice/budget-2027"]
    );
    assert_eq!(
        oldest_first.json[0]["http_url_to_repo"],
        docs["http_url_to_repo"]
    );
    assert!(
        oldest_first.json[0].get("visibility").is_none(),
        "{}",
        oldest_first.json
    );
    assert!(oldest_first.json[0].get("owner").is_none());

    // Paginated as GitLab: follow X-Next-Page.
    let first = gitlab.api("GET", &format!("{list}&per_page=1"), Some(ALICE), None);
    assert_eq!(paths(&first.json), ["alice/budget-2027"]);
    assert_eq!(first.header("X-Total").as_deref(), Some("2"));
    assert_eq!(first.header("X-Next-Page").as_deref(), Some("2"));
    let second = gitlab.api(
        "GET",
        &format!("{list}&per_page=1&page=2"),
        Some(ALICE),
        None,
    );
    assert_eq!(paths(&second.json), ["alice/docs"]);
    assert_eq!(second.header("X-Next-Page").as_deref(), Some(""));

    // Creations at the same instant get projects and ids of their own.
    let ids: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|n| {
                let gitlab = &gitlab;
                scope.spawn(move || {
                    gitlab.create(CAROL, &format!("c{n}"))["id"]
                        .as_u64()
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "{ids:?}");
    let carols = gitlab.api("GET", &format!("{list}&per_page=100"), Some(CAROL), None);
    assert_eq!(carols.json.as_array().unwrap().len(), 6, "{}", carols.json);

    // One project by id or by its URL-encoded path; 404 to a non-member.
    let id = docs["id"].as_u64().unwrap();
    let by_id = gitlab.api("GET", &format!("/projects/{id}"), Some(ALICE), None);
    assert_eq!(by_id.json["path_with_namespace"], "alice/docs");
    let by_path = gitlab.api("GET", "/projects/alice%2Fdocs", Some(ALICE), None);
    assert_eq!(by_path.json["id"], id);
    assert_eq!(
        by_path.json["permissions"]["project_access"]["access_level"],
        50
    );
    let hidden = gitlab.api("GET", "/projects/alice%2Fdocs", Some(BOB), None);
    assert_eq!(hidden.status, 404);
    assert_eq!(
        hidden.json,
        serde_json::json!({"message": "404 Project Not Found"})
    );
    assert_eq!(
        gitlab
            .api("GET", "/projects/alice%2Fdocs", None, None)
            .status,
        404
    );

    // Sharing is membership: only a Maintainer or the Owner adds members.
    let members = format!("/projects/{id}/members");
    let by_stranger = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some((
            "application/x-www-form-urlencoded",
            "user_id=2&access_level=40",
        )),
    );
    assert_eq!(by_stranger.status, 404);
    let added = gitlab.api(
        "POST",
        &members,
        Some(ALICE),
        Some(("application/json", r#"{"user_id":2,"access_level":30}"#)),
    );
    assert_eq!(added.status, 201, "{}", added.json);
    assert_eq!(added.json["username"], "bob");
    assert_eq!(added.json["access_level"], 30);
    let again = gitlab.api(
        "POST",
        &members,
        Some(ALICE),
        Some(("application/json", r#"{"user_id":2,"access_level":30}"#)),
    );
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json,
        serde_json::json!({"message": "Member already exists"})
    );
    let by_developer = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some(("application/json", r#"{"user_id":3,"access_level":30}"#)),
    );
    assert_eq!(by_developer.status, 403);
    let no_such_user = gitlab.api(
        "POST",
        &members,
        Some(ALICE),
        Some(("application/json", r#"{"user_id":99,"access_level":30}"#)),
    );
    assert_eq!(no_such_user.status, 404);
    let all = gitlab.api("GET", &format!("{members}/all"), Some(BOB), None);
    let levels: Vec<(String, u64)> = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_string(),
                m["access_level"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(levels, [("alice".to_string(), 50), ("bob".to_string(), 30)]);
    // Bob now has Alice's folder in his inventory.
    assert_eq!(
        paths(&gitlab.api("GET", list, Some(BOB), None).json),
        ["bob/docs", "bob/notes", "alice/docs"]
    );
}

#[test]
fn git_over_http_wants_a_token_and_membership_and_keeps_gitlabs_refs() {
    let gitlab = Instance::start(Some(USERS));
    let work = tempfile::tempdir().unwrap();
    let here = work.path();
    let folder = here.join("folder");
    make_repository(&folder, 1);
    let docs = gitlab.create(ALICE, "docs");
    let id = docs["id"].as_u64().unwrap();

    // Without a token, or with a wrong one: 401, git asks for credentials.
    let (pushed, said) = git_try(
        &folder,
        &["push", &gitlab.git_url(None, "alice/docs"), "main"],
    );
    assert!(
        !pushed && said.contains("could not read Username"),
        "{said}"
    );
    let (pushed, said) = git_try(
        &folder,
        &[
            "push",
            &gitlab.git_url(Some("glpat-wrong"), "alice/docs"),
            "main",
        ],
    );
    assert!(!pushed && said.contains("Authentication failed"), "{said}");
    let (cloned, said) = git_try(
        here,
        &["clone", &gitlab.git_url(None, "alice/docs"), "anonymous"],
    );
    assert!(
        !cloned && said.contains("could not read Username"),
        "{said}"
    );

    // The owner pushes, with any user name and the token as password.
    let alice = gitlab.git_url(Some(ALICE), "alice/docs");
    let (pushed, said) = git_try(&folder, &["push", &alice, "main"]);
    assert!(pushed, "{said}");
    let first = commit(&folder, "a.txt", "first");
    git(&folder, &["push", "--quiet", &alice, "main"]);

    // Not a member: the project is not found, for clone and push alike.
    let (cloned, said) = git_try(
        here,
        &["clone", &gitlab.git_url(Some(CAROL), "alice/docs"), "carol"],
    );
    assert!(!cloned && said.contains("could not be found"), "{said}");
    let (pushed, said) = git_try(
        &folder,
        &[
            "push",
            &gitlab.git_url(Some(CAROL), "alice/docs"),
            "main:refs/heads/other",
        ],
    );
    assert!(!pushed && said.contains("could not be found"), "{said}");

    // A Reporter (20) fetches but does not push; a Developer (30) pushes.
    let share = |user: u32, level: u32| {
        let body = format!(r#"{{"user_id":{user},"access_level":{level}}}"#);
        let answer = gitlab.api(
            "POST",
            &format!("/projects/{id}/members"),
            Some(ALICE),
            Some(("application/json", &body)),
        );
        assert_eq!(answer.status, 201, "{}", answer.json);
    };
    share(3, 20);
    let carol = gitlab.git_url(Some(CAROL), "alice/docs");
    git(here, &["clone", "--quiet", &carol, "carol"]);
    assert_eq!(
        git(&here.join("carol"), &["rev-parse", "HEAD"]).trim(),
        first
    );
    let (pushed, said) = git_try(
        &here.join("carol"),
        &["push", &carol, "main:refs/heads/carol"],
    );
    assert!(
        !pushed && said.contains("You are not allowed to push code to this project"),
        "{said}"
    );
    share(2, 30);
    let bob = gitlab.git_url(Some(BOB), "alice/docs");
    git(here, &["clone", "--quiet", &bob, "bob"]);
    let bobs = here.join("bob");
    let second = commit(&bobs, "b.txt", "second");

    // The default branch is protected as on GitLab: a Developer cannot push
    // to it; nobody force-pushes it; other branches and ref namespaces are free.
    let (pushed, said) = git_try(&bobs, &["push", &bob, "main"]);
    assert!(
        !pushed && said.contains("You are not allowed to push code to protected branches"),
        "{said}"
    );
    git(&bobs, &["push", "--quiet", &bob, "main:refs/heads/bob"]);
    git(
        &bobs,
        &[
            "push",
            "--quiet",
            &bob,
            "HEAD:refs/girofle/machines/laptop-2",
        ],
    );
    let lease = format!("--force-with-lease=refs/girofle/machines/laptop-2:{first}");
    let (pushed, said) = git_try(
        &bobs,
        &[
            "push",
            &lease,
            &bob,
            &format!("{first}:refs/girofle/machines/laptop-2"),
        ],
    );
    assert!(
        !pushed && said.contains("stale info"),
        "a lost compare-and-swap is refused: {said}"
    );
    let lease = format!("--force-with-lease=refs/girofle/machines/laptop-2:{second}");
    let (pushed, said) = git_try(
        &bobs,
        &[
            "push",
            &lease,
            &bob,
            &format!("{first}:refs/girofle/machines/laptop-2"),
        ],
    );
    assert!(pushed, "a won compare-and-swap is accepted: {said}");
    let (pushed, said) = git_try(&bobs, &["push", "--force", &alice, "HEAD~2:main"]);
    assert!(
        !pushed && said.contains("You are not allowed to force push code to a protected branch"),
        "{said}"
    );

    // The wiki's branches are not protected: a Developer edits it.
    git(
        &bobs,
        &[
            "push",
            "--quiet",
            &gitlab.git_url(Some(BOB), "alice/docs.wiki"),
            "main",
        ],
    );

    // GitLab's internal refs cannot be pushed; others are listed to members.
    for hidden in [
        "refs/keep-around/x",
        "refs/merge-requests/1/head",
        "refs/pipelines/1",
        "refs/environments/prod",
        "refs/tmp/x",
    ] {
        let (pushed, said) = git_try(&bobs, &["push", &bob, &format!("HEAD:{hidden}")]);
        assert!(
            !pushed && said.contains("deny updating a hidden ref"),
            "{hidden}: {said}"
        );
    }
    let refs = git(here, &["ls-remote", &carol]);
    assert!(
        refs.contains(&format!("{first}\trefs/girofle/machines/laptop-2")),
        "{refs}"
    );
    assert!(
        refs.contains(&format!("{first}\trefs/heads/main")),
        "{refs}"
    );
    assert!(!refs.contains("keep-around"), "{refs}");

    // Push-to-create in one's own namespace only.
    git(
        &folder,
        &[
            "push",
            "--quiet",
            &gitlab.git_url(Some(BOB), "bob/fresh"),
            "main",
        ],
    );
    let fresh = gitlab.api("GET", "/projects/bob%2Ffresh", Some(BOB), None);
    assert_eq!(fresh.status, 200, "{}", fresh.json);
    assert_eq!(fresh.json["visibility"], "private");
    assert_eq!(fresh.json["empty_repo"], false);
    let (pushed, said) = git_try(
        &folder,
        &["push", &gitlab.git_url(Some(BOB), "alice/fresh"), "main"],
    );
    assert!(!pushed && said.contains("could not be found"), "{said}");
    let repository = gitlab
        .data
        .path()
        .join("git-data/repositories/alice/docs.git");
    assert_eq!(std::fs::metadata(&repository).unwrap().uid(), 998);
}

#[test]
fn without_users_git_stays_anonymous_with_push_to_create() {
    let gitlab = Instance::start(None);
    let work = tempfile::tempdir().unwrap();
    let head = make_repository(&work.path().join("app"), 2);
    let url = gitlab.git_url(None, "grp/app");
    git(&work.path().join("app"), &["push", "--quiet", &url, "main"]);
    git(work.path(), &["clone", "--quiet", &url, "copy"]);
    assert_eq!(
        git(&work.path().join("copy"), &["rev-parse", "HEAD"]).trim(),
        head
    );
    // GitLab's internal refs are refused here too.
    let (pushed, said) = git_try(
        &work.path().join("app"),
        &["push", &url, "HEAD:refs/keep-around/x"],
    );
    assert!(
        !pushed && said.contains("deny updating a hidden ref"),
        "{said}"
    );
    // No user exists: the API knows nobody, and nothing of it is written.
    let me = gitlab.api("GET", "/user", None, None);
    assert_eq!(me.status, 401);
    let me = gitlab.api("GET", "/user", Some(ALICE), None);
    assert_eq!(me.status, 401);
    assert!(!gitlab.data.path().join("postgresql/data/api").exists());
}

// ---- A crash image recovers, a torn copy does not (issue 21) ----------------

/// A copy of the database's directory of `data` into `into`, in path order
/// as a backup walks it (`rsync -a`). While the database writes, a file may
/// vanish between the listing and its copy (rsync's exit 24): that is
/// allowed when `live`.
fn copy_database(data: &Path, into: &Path, live: bool) {
    let rsync = |what: &[&str]| {
        let status = Command::new("rsync")
            .arg("-a")
            .args(what)
            .arg(format!("{}/", data.join("postgresql/data").display()))
            .arg(format!("{}/", into.display()))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        // A live copy reads files as they are rewritten: rsync says so with
        // 24 (a file vanished) or 23 (a file changed while it was read, its
        // update discarded). Either is a torn copy, which is the point.
        assert!(
            status.success() || (live && matches!(status.code(), Some(23 | 24))),
            "rsync: {status:?}"
        );
    };
    if !live {
        rsync(&[]);
        return;
    }
    // A live copy of a big tree reads its files seconds apart: here the
    // segments first, the WAL once the database has written two more
    // generations, whatever the machine's load, so that each live copy is
    // truly from two instants (one generation apart could be a crash image).
    rsync(&["--exclude", "pg_wal"]);
    let copied_at = wal_generation(data);
    assert!(
        common::eventually(Duration::from_secs(60), || wal_generation(data)
            >= copied_at + 2),
        "the database stopped writing"
    );
    rsync(&["--include", "/pg_wal/***", "--exclude", "*"]);
}

/// The last generation the live database's WAL names.
fn wal_generation(data: &Path) -> usize {
    std::fs::read_to_string(data.join("postgresql/data/pg_wal/log"))
        .unwrap()
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("gen ")?.parse::<usize>().ok())
        .unwrap()
}

/// The stand-in's own start-time check (`database recover`) run on each
/// copy under `trials`, in one throwaway container: each name with its verdict.
fn recover_each(trials: &Path, names: &[String]) -> Vec<(String, Result<String, String>)> {
    let script = "for name in \"$@\"; do \
                  if out=$(/opt/standin/database recover \"/trials/$name\" 2>&1); \
                  then echo \"$name ok $(echo \"$out\" | tr '\\n' ' ')\"; \
                  else echo \"$name refused $(echo \"$out\" | tail -n 1)\"; fi; done";
    let volume = format!("{}:/trials", trials.display());
    let mut args = vec!["run", "--rm", "-v", &volume, "--entrypoint", "/bin/sh"];
    let image = image();
    args.extend([image.as_str(), "-c", script, "recover"]);
    args.extend(names.iter().map(String::as_str));
    docker(&args)
        .lines()
        .map(|line| {
            let (name, rest) = line.split_once(' ').unwrap();
            let verdict = match rest.split_once(' ') {
                Some(("ok", out)) => Ok(out.to_string()),
                Some((_, why)) => Err(why.to_string()),
                None => Err(rest.to_string()),
            };
            (name.to_string(), verdict)
        })
        .collect()
}

/// `docker pause`, tried again when the freezer gives up (runc's "unable to
/// freeze" while a process forks or sits in the kernel), as Girofle does.
fn pause(container: &str) {
    for attempt in 1..=5 {
        let output = Command::new("docker")
            .args(["pause", container])
            .output()
            .unwrap();
        if output.status.success() {
            return;
        }
        assert!(
            attempt < 5,
            "docker pause: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_frozen_copy_recovers_like_a_crash_image_and_a_live_copy_is_refused() {
    const TRIALS: usize = 20;
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip, "--image", &image()]);
    let container = format!("{}-gitlab-1", world.prefix);
    let volumes = world.home.join("noeud-gitlab-1/mapping-volumes");
    let data = volumes.join("data");
    // The database writes as fast as it can.
    std::fs::write(volumes.join("config/standin-db-interval-us"), "0\n").unwrap();
    docker(&["restart", "--time", "60", &container]);
    wait_for_health(&container, "healthy");
    let generation = || wal_generation(&data);
    let started_at = generation();

    let trials = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    let copying = Instant::now();
    for trial in 0..TRIALS {
        pause(&container);
        copy_database(&data, &trials.path().join(format!("frozen-{trial}")), false);
        docker(&["unpause", &container]);
        copy_database(&data, &trials.path().join(format!("live-{trial}")), true);
        names.push(format!("frozen-{trial}"));
        names.push(format!("live-{trial}"));
    }
    // One frozen copy kept whole, to boot from.
    let boot_from = tempfile::tempdir().unwrap();
    pause(&container);
    copy_database(&data, boot_from.path(), false);
    docker(&["unpause", &container]);
    assert!(
        generation() > started_at + 2 * TRIALS,
        "the database did not write all along"
    );

    eprintln!("{TRIALS} frozen and live copies in {:?}", copying.elapsed());
    let checking = Instant::now();
    let verdicts = recover_each(trials.path(), &names);
    eprintln!("checked in {:?}", checking.elapsed());
    assert_eq!(verdicts.len(), 2 * TRIALS, "{verdicts:?}");
    let mut refused = 0;
    for (name, verdict) in &verdicts {
        if name.starts_with("frozen") {
            // Every frozen copy is a crash image: replayed, never refused.
            let out = verdict
                .as_ref()
                .unwrap_or_else(|why| panic!("{name}, copied frozen, was refused: {why}"));
            assert!(
                out.contains("not properly shut down; automatic recovery in progress")
                    && out.contains("redo done"),
                "{name}: {out}"
            );
        } else if verdict.is_err() {
            refused += 1;
        }
    }
    eprintln!("{refused} of {TRIALS} live copies were refused as torn: {verdicts:?}");
    assert_eq!(
        refused, TRIALS,
        "only {refused} of {TRIALS} live copies, each spanning two writes, were refused: the detector misses tears"
    );

    // A frozen copy boots healthy, after replaying its log.
    docker(&["stop", "--time", "60", &container]);
    std::fs::remove_dir_all(data.join("postgresql/data")).unwrap();
    let status = Command::new("cp")
        .args([
            "-a",
            boot_from.path().to_str().unwrap(),
            data.join("postgresql/data").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let log = volumes.join("log/postgresql/current");
    let before = std::fs::read_to_string(&log).unwrap().len();
    docker(&["start", &container]);
    wait_for_health(&container, "healthy");
    let booted = std::fs::read_to_string(&log).unwrap()[before..].to_string();
    assert!(
        booted.contains("automatic recovery in progress") && booted.contains("redo done"),
        "{booted}"
    );
    // A clean stop leaves nothing to replay.
    docker(&["stop", "--time", "60", &container]);
    let before = std::fs::read_to_string(&log).unwrap().len();
    docker(&["start", &container]);
    wait_for_health(&container, "healthy");
    let booted = std::fs::read_to_string(&log).unwrap()[before..].to_string();
    assert!(
        booted.contains("database system was shut down") && !booted.contains("automatic recovery"),
        "{booted}"
    );
}

/// POSTs a project as Alice from JSON; returns the status and the body.
fn create_json(gitlab: &Instance, body: serde_json::Value) -> (u16, serde_json::Value) {
    let answer = gitlab.api(
        "POST",
        "/projects",
        Some(ALICE),
        Some(("application/json", &body.to_string())),
    );
    (answer.status, answer.json)
}

// GitLab's own examples, from its specs (spec/lib/gitlab/regex_spec.rb,
// spec/lib/gitlab/path_regex_spec.rb), and the folder names of issue 20.
const NAMES_GITLAB_TAKES: [&str; 7] = [
    "gitlab-ce",
    "GitLab CE",
    "100 lines",
    "gitlab.git",
    "Český název",
    "Dash – is this",
    "Gitlab++",
];
const NAMES_GITLAB_REFUSES: [&str; 9] = [
    "?gitlab",
    "Users's something",
    "users/something",
    "Rapport d'activité",
    "Budget (2024)",
    "Q&A",
    "Documents d'équipe",
    "(Invalid Group name)",
    "🫠 melting",
];
const PATHS_GITLAB_TAKES: [&str; 7] = [
    "gitlab-ce",
    "gitlab_git",
    "100px.com",
    "my_project",
    "admin",
    "activity",
    "subgroups",
];
/// With the words GitLab's answer holds for each.
const PATHS_GITLAB_REFUSES: [(&str, &str); 17] = [
    ("?gitlab", "can contain only letters"),
    ("git lab", "can contain only letters"),
    ("gitlab.git", "end in '.git'"),
    (
        "_underscore.js",
        "must not start or end with a special character",
    ),
    (
        "_myproject",
        "must not start or end with a special character",
    ),
    (
        "myproject_",
        "must not start or end with a special character",
    ),
    (
        "_myproject_",
        "must not start or end with a special character",
    ),
    ("blob", "blob is a reserved name"),
    ("Blob", "Blob is a reserved name"),
    ("edit", "edit is a reserved name"),
    ("wikis", "wikis is a reserved name"),
    ("files", "files is a reserved name"),
    ("new", "new is a reserved name"),
    (
        "mr.-smith",
        "must not contain consecutive special characters",
    ),
    (
        "notes__2024",
        "must not contain consecutive special characters",
    ),
    (
        "report-final-.docs",
        "must not contain consecutive special characters",
    ),
    (
        ".well-known",
        "must not start or end with a special character",
    ),
];

#[test]
fn project_names_and_paths_follow_gitlabs_own_rules_and_examples() {
    let gitlab = Instance::start(Some(USERS));
    for (n, name) in NAMES_GITLAB_TAKES.iter().enumerate() {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": name, "path": format!("taken-{n}")}),
        );
        assert_eq!(status, 201, "{name:?}: {json}");
        assert_eq!(json["name"], *name);
    }
    let name_rule = "can contain only letters, digits, emoji, '_', '.', '+', dashes, or spaces. \
                     It must start with a letter, digit, emoji, or '_'.";
    for (n, name) in NAMES_GITLAB_REFUSES.iter().enumerate() {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": name, "path": format!("refused-{n}")}),
        );
        assert_eq!(
            (status, json),
            (400, serde_json::json!({"message": {"name": [name_rule]}})),
            "{name:?}"
        );
    }
    for path in PATHS_GITLAB_TAKES {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": format!("Path {path}"), "path": path}),
        );
        assert_eq!(status, 201, "{path:?}: {json}");
        assert_eq!(json["path"], path);
    }
    for (n, (path, words)) in PATHS_GITLAB_REFUSES.iter().enumerate() {
        let (status, json) = create_json(
            &gitlab,
            serde_json::json!({"name": format!("Refused {n}"), "path": path}),
        );
        assert_eq!(status, 400, "{path:?}: {json}");
        let said = json["message"]["path"].to_string();
        assert!(said.contains(words), "{path:?}: {json}");
        assert!(json["message"].get("name").is_none(), "{path:?}: {json}");
    }
    // Both rules at once, as GitLab lists them.
    let (status, json) = create_json(&gitlab, serde_json::json!({"name": "Q&A", "path": "-qa"}));
    assert_eq!(status, 400);
    assert_eq!(
        json,
        serde_json::json!({"message": {
            "name": [name_rule],
            "path": [
                "can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'",
                "must not start or end with a special character and must not contain consecutive special characters."
            ]
        }})
    );
    // A path is taken whatever its case; the name is the project's own.
    let (status, json) = create_json(
        &gitlab,
        serde_json::json!({"name": "Another", "path": "GITLAB-CE"}),
    );
    assert_eq!(
        (status, json),
        (
            400,
            serde_json::json!({"message": {"path": ["has already been taken"]}})
        )
    );
    // Without a path, the name is the path when it may be, else it is
    // parameterized (Projects::CreateService).
    let (status, json) = create_json(&gitlab, serde_json::json!({"name": "Plain"}));
    assert_eq!((status, &json["path"]), (201, &serde_json::json!("Plain")));
    let (status, json) = create_json(&gitlab, serde_json::json!({"name": "Two  words"}));
    assert_eq!(
        (status, &json["path"]),
        (201, &serde_json::json!("two-words"))
    );
}

#[test]
fn members_are_raised_topics_keep_their_first_case_and_objects_are_checked() {
    let gitlab = Instance::start(Some(USERS));
    // The first to use a topic sets its case; later uses get it back, and
    // the listing by topic ignores the case.
    let (status, bobs) = create_json(
        &gitlab,
        serde_json::json!({"name": "Alpha", "path": "alpha", "topics": ["Girofle"]}),
    );
    assert_eq!(status, 201, "{bobs}");
    let answer = gitlab.api(
        "POST",
        "/projects",
        Some(BOB),
        Some((
            "application/json",
            r#"{"name":"Beta","path":"beta","topics":["girofle"],"description":"Béta (draft)"}"#,
        )),
    );
    assert_eq!(answer.status, 201, "{}", answer.json);
    assert_eq!(answer.json["topics"], serde_json::json!(["Girofle"]));
    assert_eq!(answer.json["description"], "Béta (draft)");
    // Listed by topic only as stored: GitLab finds the topic by its exact name.
    let listed = gitlab.api("GET", "/projects?topic=Girofle", Some(BOB), None);
    assert_eq!(paths(&listed.json), ["bob/beta"]);
    let listed = gitlab.api("GET", "/projects?topic=girofle", Some(BOB), None);
    assert_eq!(paths(&listed.json), Vec::<String>::new());
    let id = answer.json["id"].as_u64().unwrap();

    // A Developer is raised to Maintainer with PUT, by a Maintainer or Owner only.
    let members = format!("/projects/{id}/members");
    let form = "application/x-www-form-urlencoded";
    let added = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some((form, "user_id=1&access_level=30")),
    );
    assert_eq!(added.status, 201, "{}", added.json);
    let again = gitlab.api(
        "POST",
        &members,
        Some(BOB),
        Some((form, "user_id=1&access_level=40")),
    );
    assert_eq!(
        (again.status, &again.json),
        (
            409,
            &serde_json::json!({"message": "Member already exists"})
        )
    );
    let by_developer = gitlab.api(
        "PUT",
        &format!("{members}/1"),
        Some(ALICE),
        Some((form, "access_level=40")),
    );
    assert_eq!(by_developer.status, 403);
    let raised = gitlab.api(
        "PUT",
        &format!("{members}/1"),
        Some(BOB),
        Some((form, "access_level=40")),
    );
    assert_eq!(raised.status, 200, "{}", raised.json);
    assert_eq!(raised.json["access_level"], 40);
    assert_eq!(
        gitlab
            .api("GET", &format!("{members}/1"), Some(BOB), None)
            .json["access_level"],
        40
    );
    let nobody = gitlab.api(
        "PUT",
        &format!("{members}/3"),
        Some(BOB),
        Some((form, "access_level=40")),
    );
    assert_eq!(
        (nobody.status, &nobody.json),
        (404, &serde_json::json!({"message": "404 Member Not Found"}))
    );

    // Objects are checked as Gitaly checks them: a tree holding `.git` is refused.
    let work = tempfile::tempdir().unwrap();
    let folder = work.path().join("folder");
    make_repository(&folder, 1);
    let script = "blob=$(echo owned | git hash-object -w --stdin)
        inner=$(printf '100644 blob %s\\tconfig\\n' $blob | git mktree)
        tree=$( (git ls-tree HEAD; printf '040000 tree %s\\t.GIT\\n' $inner) | git mktree)
        git commit-tree $tree -p HEAD -m dotgit";
    let output = Command::new("sh")
        .args(["-c", script])
        .current_dir(&folder)
        .env("GIT_AUTHOR_NAME", "bob")
        .env("GIT_AUTHOR_EMAIL", "bob@example.org")
        .env("GIT_COMMITTER_NAME", "bob")
        .env("GIT_COMMITTER_EMAIL", "bob@example.org")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bad = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let url = gitlab.git_url(Some(BOB), "bob/beta");
    let (pushed, said) = git_try(&folder, &["push", &url, "main"]);
    assert!(pushed, "{said}");
    let (pushed, said) = git_try(&folder, &["push", &url, &format!("{bad}:refs/heads/main")]);
    assert!(!pushed && said.contains("hasDotgit"), "{said}");
}
