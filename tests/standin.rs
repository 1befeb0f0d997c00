//! The stand-in GitLab image keeps the parts of the omnibus contract the
//! other tests rely on: push-to-create and clone, and a database that
//! notices a torn copy.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Scenario, docker, fresh_ip, git, http_get, make_repository};

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

fn segment_generation(data: &Path, segment: u32) -> String {
    let text =
        std::fs::read_to_string(data.join(format!("postgresql/data/base/{segment}"))).unwrap();
    text.lines().next().unwrap().to_string()
}

#[test]
fn push_creates_a_project_and_a_clone_brings_it_back_with_its_wiki() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
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
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    let data = world.home.join("noeud-gitlab-1/mapping-volumes/data");

    // A clean stop flushes: every segment holds the same generation, and the
    // next start is healthy.
    docker(&["stop", "--time", "60", &container]);
    let flushed = segment_generation(&data, 1);
    for segment in 2..=8 {
        assert_eq!(segment_generation(&data, segment), flushed);
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
    let url = world.commission(&["--ip", &ip, "--hostname", &ip, "--http-port", "18321"]);
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
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let other = std::fs::read_to_string(
        world
            .home
            .join("noeud-gitlab-2/mapping-volumes/config/gitlab-secrets.json"),
    )
    .unwrap();
    assert_ne!(other, secrets);
}
