//! TLS for instances in service: `girofle-commission --reconfigure N --tls`
//! (backup first, rollback when the new container does not come), the daily
//! renewal of Girofle-made certificates, expiring certificates as
//! `girofle-list --check` problems with one alert, and drills of a TLS
//! instance's backups. Checked with real TLS clients (curl, openssl s_client).

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{Scenario, fresh_ip, git, make_repository};

/// curl's exit code and stdout.
fn curl(args: &[&str]) -> (i32, String) {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The certificate the instance serves on `ip:port`, as a TLS client gets it (PEM).
fn served_certificate(ip: &str, port: u64) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect {ip}:{port} -servername {ip} </dev/null 2>/dev/null | openssl x509"
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether the PEM certificate `pem` is still valid `days` from now.
fn valid_in(pem: &str, days: u64) -> bool {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pem).unwrap();
    Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-checkend",
            &(days * 86400).to_string(),
            "-in",
        ])
        .arg(file.path())
        .status()
        .unwrap()
        .success()
}

/// git trusting `ca` alone.
fn git_trusting(dir: &Path, ca: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_SSL_CAINFO", ca)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A plain instance on a fresh address with a pushed repository: (ip, url, head).
fn plain_instance_with_a_repository(world: &Scenario, work: &Path) -> (String, String, String) {
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip, "--image", &image()]);
    let app = work.join("app");
    let head = make_repository(&app, 3);
    git(
        &app,
        &["push", "--quiet", &format!("{url}/grp/app.git"), "main"],
    );
    (ip, url, head)
}

/// The stand-in image the instances run: `GIROFLE_TEST_STANDIN_IMAGE` names
/// another build to test (one with `gitlab-ctl hup nginx`, say).
fn image() -> String {
    std::env::var("GIROFLE_TEST_STANDIN_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| common::STANDIN_IMAGE.to_string())
}

fn started_at(container: &str) -> String {
    common::docker(&["inspect", "--format", "{{.State.StartedAt}}", container])
}

#[test]
fn a_plain_instance_reconfigured_to_girofle_ca_serves_verified_https_with_its_data() {
    let world = Scenario::new();
    let work = tempfile::tempdir().unwrap();
    let (ip, plain_url, head) = plain_instance_with_a_repository(&world, work.path());
    let inventory_before = world.inventory_bytes();

    let dry = world
        .run(
            "girofle-commission",
            &["--reconfigure", "1", "--tls", "girofle-ca", "--dry-run"],
        )
        .expect_code(0);
    for step in [
        "back up instance 1 while it is stopped",
        "TLS (girofle-ca): make Girofle's certificate authority",
        "external_url 'https://",
        "run the previous container again",
        "record `tls = girofle-ca`",
    ] {
        assert!(dry.stdout.contains(step), "{step}: {}", dry.stdout);
    }
    assert!(!world.home.join("tls").exists(), "a dry run makes nothing");
    assert!(world.backup_names(1).is_empty());
    assert_eq!(world.inventory_bytes(), inventory_before);

    // What is refused changes nothing, with exit 2.
    for (args, said) in [
        (&["--reconfigure", "1"][..], "needs what to change"),
        (
            &["--reconfigure", "7", "--tls", "girofle-ca"],
            "no instance in service",
        ),
        (
            &[
                "--reconfigure",
                "1",
                "--tls",
                "girofle-ca",
                "--http-port",
                "9999",
            ],
            "cannot be used with",
        ),
    ] {
        let run = world.run("girofle-commission", args).expect_code(2);
        assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
    }
    assert!(world.backup_names(1).is_empty());

    let run = world
        .run(
            "girofle-commission",
            &[
                "--reconfigure",
                "1",
                "--tls",
                "girofle-ca",
                "--wait-timeout",
                "120",
            ],
        )
        .expect_code(0);
    let entry = world.entry(1);
    let https_port = entry["https_port"].as_u64().unwrap();
    let url = format!("https://{ip}:{https_port}");
    assert_eq!(run.stdout.trim(), url);
    assert!(
        run.stderr.contains("update-ca-certificates"),
        "{}",
        run.stderr
    );
    assert_eq!(entry["url"], url.as_str());
    assert_eq!(entry["health"], "healthy");
    assert_eq!(
        world.backup_names(1).len(),
        1,
        "one backup before the change"
    );
    assert!(
        String::from_utf8_lossy(&world.inventory_bytes()).contains("girofle-ca"),
        "the tls column is recorded"
    );

    let ca = world.home.join("tls/ca.crt");
    let ca_text = ca.display().to_string();
    assert_eq!(
        curl(&["--cacert", &ca_text, &format!("{url}/-/health")]),
        (0, "GitLab OK\n".to_string())
    );
    let (code, answer) = curl(&[
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{redirect_url}",
        &format!("{plain_url}/-/health"),
    ]);
    assert_eq!((code, answer), (0, format!("301 {url}/-/health")));
    git_trusting(
        work.path(),
        &ca,
        &["clone", "--quiet", &format!("{url}/grp/app.git"), "clone"],
    );
    assert_eq!(
        git(&work.path().join("clone"), &["rev-parse", "HEAD"]).trim(),
        head
    );

    let renewal = world.cron_dir.join(format!("{}-tls-renew", world.prefix));
    let entry_text = std::fs::read_to_string(&renewal).unwrap();
    assert!(entry_text.contains("--renew-certificates"), "{entry_text}");
    assert_eq!(
        world
            .run("girofle-list", &["--check"])
            .expect_code(0)
            .stdout,
        ""
    );
}

#[test]
fn a_reconfigured_container_that_never_becomes_healthy_is_rolled_back() {
    let world = Scenario::new();
    let work = tempfile::tempdir().unwrap();
    let (ip, url, head) = plain_instance_with_a_repository(&world, work.path());
    let container = world.entry(1)["container"].as_str().unwrap().to_string();
    // A 512-bit RSA key: openssl reads it and it matches its certificate,
    // which names the host and has not expired, so the checks let it by;
    // but a TLS server on OpenSSL 3 refuses to load it ("ee key too
    // small"), as GitLab's nginx would: the new container never serves.
    let files = work.path();
    openssl(files, &["genrsa", "-out", "weak.key", "512"]);
    openssl(
        files,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "weak.key",
            "-out",
            "weak.crt",
            "-days",
            "30",
            "-subj",
            &format!("/CN={ip}"),
            "-addext",
            &format!("subjectAltName=IP:{ip}"),
        ],
    );
    let inventory_before = world.inventory_bytes();
    let run = world
        .run(
            "girofle-commission",
            &[
                "--reconfigure",
                "1",
                "--tls",
                "own",
                "--cert",
                &files.join("weak.crt").display().to_string(),
                "--key",
                &files.join("weak.key").display().to_string(),
                "--wait-timeout",
                "15",
            ],
        )
        .expect_code(1);
    assert!(run.stderr.contains("Rolled back"), "{}", run.stderr);
    assert!(
        run.stderr.contains("runs again as before"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    assert_eq!(
        world.inventory_bytes(),
        inventory_before,
        "the row is unchanged"
    );
    assert_eq!(
        world.backup_names(1).len(),
        1,
        "the backup made before stays"
    );
    let ssl = world.instance_dir(1).join("mapping-volumes/config/ssl");
    assert!(
        !ssl.join(format!("{ip}.key")).exists(),
        "the certificate files are as they were"
    );

    let entry = world.entry(1);
    assert_eq!(entry["url"], url.as_str());
    assert_eq!(entry["health"], "healthy");
    assert_eq!(entry["container"], container.as_str());
    assert_eq!(
        common::http_get(&ip, &format!("{url}/-/health")),
        (200, "GitLab OK\n".to_string())
    );
    git(
        work.path(),
        &["clone", "--quiet", &format!("{url}/grp/app.git"), "clone"],
    );
    assert_eq!(
        git(&work.path().join("clone"), &["rev-parse", "HEAD"]).trim(),
        head
    );
}

#[test]
fn a_certificate_about_to_expire_is_a_problem_alerted_once_then_renewed_by_the_cron_command() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let alerts = world.home.with_file_name("alerts.jsonl");
    let run = world
        .run(
            "girofle-commission",
            &[
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--tls",
                "girofle-ca",
                "--image",
                &image(),
                "--wait-timeout",
                "120",
            ],
        )
        .expect_code(0);
    let url = run.stdout.trim().to_string();
    std::fs::write(
        world.home.join("girofle.conf"),
        format!(
            "[notify]\ncommand = [\"/bin/sh\", \"-c\", \"cat >> {} && echo >> {}\"]\non = [\"failure\", \"success\"]\n",
            alerts.display(),
            alerts.display()
        ),
    )
    .unwrap();
    let entry = world.entry(1);
    let container = entry["container"].as_str().unwrap().to_string();
    let port = entry["https_port"].as_u64().unwrap();

    // The instance's certificate signed again by the home's authority for 5
    // days, the same key, and served (gitlab-ctl hup nginx, as omnibus).
    let ssl = world.instance_dir(1).join("mapping-volumes/config/ssl");
    let (cert, key) = (format!("{ip}.crt"), format!("{ip}.key"));
    openssl(
        &ssl,
        &[
            "x509",
            "-x509toreq",
            "-copy_extensions",
            "copyall",
            "-in",
            &cert,
            "-signkey",
            &key,
            "-out",
            "short.csr",
        ],
    );
    let tls = world.home.join("tls");
    openssl(
        &ssl,
        &[
            "x509",
            "-req",
            "-in",
            "short.csr",
            "-CA",
            &tls.join("ca.crt").display().to_string(),
            "-CAkey",
            &tls.join("ca.key").display().to_string(),
            "-set_serial",
            "0x77",
            "-days",
            "5",
            "-copy_extensions",
            "copyall",
            "-out",
            &cert,
        ],
    );
    std::fs::remove_file(ssl.join("short.csr")).unwrap();
    common::docker(&[
        "exec",
        &container,
        "/opt/gitlab/bin/gitlab-ctl",
        "hup",
        "nginx",
    ]);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let short = served_certificate(&ip, port);
    assert!(valid_in(&short, 4) && !valid_in(&short, 6), "{short}");

    for _ in 0..2 {
        let check = world.run("girofle-list", &["--check"]).expect_code(1);
        assert!(check.stdout.contains("instance 1"), "{}", check.stdout);
        assert!(check.stdout.contains("within 14 days"), "{}", check.stdout);
    }
    let sent = std::fs::read_to_string(&alerts).unwrap_or_default();
    let events: Vec<serde_json::Value> = sent
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "one alert for two checks: {sent}");
    assert_eq!(events[0]["kind"], "certificate");
    assert_eq!(events[0]["outcome"], "failure");
    assert_eq!(events[0]["instance"], 1);

    // The cron entry's own command line, run as cron runs it.
    let line = std::fs::read_to_string(world.cron_dir.join(format!("{}-tls-renew", world.prefix)))
        .unwrap()
        .lines()
        .find(|line| line.contains("--renew-certificates"))
        .unwrap()
        .to_string();
    let command = line.split_once(" root ").unwrap().1.to_string();
    let before = started_at(&container);
    let output = Command::new("sh").arg("-c").arg(&command).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "",
        "cron stays silent"
    );
    assert_eq!(started_at(&container), before, "GitLab was not restarted");

    let renewed = served_certificate(&ip, port);
    assert!(valid_in(&renewed, 300), "{renewed}");
    assert_eq!(
        curl(&[
            "--cacert",
            &tls.join("ca.crt").display().to_string(),
            &format!("{url}/-/health")
        ]),
        (0, "GitLab OK\n".to_string())
    );
    assert_eq!(
        world
            .run("girofle-list", &["--check"])
            .expect_code(0)
            .stdout,
        ""
    );
    // Nothing due: the second run renews nothing and says nothing.
    let again = Command::new("sh").arg("-c").arg(&command).output().unwrap();
    assert!(again.status.success());
    assert_eq!(again.stderr, b"");
    assert_eq!(served_certificate(&ip, port), renewed);
}

#[test]
fn a_tls_instances_backup_passes_its_drill() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world
        .run(
            "girofle-commission",
            &[
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--tls",
                "girofle-ca",
                "--image",
                &image(),
                "--wait-timeout",
                "120",
            ],
        )
        .expect_code(0);
    let id = world.backup(1, &[]);
    let run = world
        .run("girofle-backup", &["--drill", "1", "--wait-timeout", "120"])
        .expect_code(0);
    assert_eq!(run.stderr, "");
    let record = world.drill_record(1, &id);
    assert!(record.contains("result: ok\n"), "{record}");
    assert_eq!(world.entry(1)["last_drill"], "ok");
}

/// The engine's ID of `container`, or `None` when there is none.
fn container_id(container: &str) -> Option<String> {
    let output = Command::new("docker")
        .args([
            "inspect",
            "--type",
            "container",
            "--format",
            "{{.Id}}",
            container,
        ])
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `running healthy` when the container serves; what the engine says otherwise
/// (`missing` when it has no such container).
fn state_of(container: &str) -> String {
    let output = Command::new("docker")
        .args([
            "inspect",
            "--type",
            "container",
            "--format",
            "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
            container,
        ])
        .output()
        .unwrap();
    if output.status.success() {
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    } else {
        "missing".to_string()
    }
}

/// Where a reconfiguration is killed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KillAt {
    /// Its journal and the new key written, under the previous container
    /// (stopped, or just removed).
    JournalWritten,
    /// The previous container is gone (removed, or already replaced by the
    /// new one, not yet healthy).
    ContainerGone,
}

#[test]
fn a_reconfigure_killed_after_the_old_container_went_leaves_the_instance_serving_as_before() {
    killed_reconfigure(KillAt::ContainerGone);
}

#[test]
fn a_reconfigure_killed_while_it_writes_the_new_files_leaves_the_instance_serving_as_before() {
    killed_reconfigure(KillAt::JournalWritten);
}

/// Kills a reconfiguration to `girofle-ca` with a real SIGKILL (as the OOM
/// killer sends it, nothing caught) at `at`; with no command given, the
/// guardian puts the instance back as it was: container, files, row, data.
fn killed_reconfigure(at: KillAt) {
    use nix::sys::signal::Signal;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    let world = Scenario::new();
    let work = tempfile::tempdir().unwrap();
    let (ip, url, head) = plain_instance_with_a_repository(&world, work.path());
    let container = world.entry(1)["container"].as_str().unwrap().to_string();
    let old_id = container_id(&container).expect("the instance's container");
    let inventory_before = world.inventory_bytes();
    let ssl = world.instance_dir(1).join("mapping-volumes/config/ssl");
    let log_before = world.log_text().len();

    let mut child = world
        .command("girofle-commission")
        .args([
            "--reconfigure",
            "1",
            "--tls",
            "girofle-ca",
            "--wait-timeout",
            "120",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = world.instance_dir(1).join(".reconfigure");
    let mut seen = None;
    assert!(
        common::eventually(Duration::from_secs(180), || {
            if child.try_wait().unwrap().is_some() {
                return true;
            }
            if at == KillAt::JournalWritten {
                // It holds private keys: never readable by others. The
                // new key written: the kill lands before or around the
                // removal, never before the files changed.
                return std::fs::metadata(&journal)
                    .is_ok_and(|meta| meta.permissions().mode() & 0o077 == 0)
                    && ssl.join(format!("{ip}.key")).exists();
            }
            let id = container_id(&container);
            if id.as_deref() != Some(old_id.as_str()) {
                seen = Some(id);
                true
            } else {
                false
            }
        }),
        "{at:?}: never seen"
    );
    assert!(
        common::send_signal(child.id(), Signal::SIGKILL),
        "{at:?}: the reconfiguration ended before it was killed"
    );
    let _ = child.wait();

    // No command given: the guardian puts the previous container back.
    assert!(
        common::eventually(Duration::from_secs(120), || state_of(&container)
            == "running healthy"),
        "{at:?}: {container} is {} (killed when the container was {seen:?})\nlog:\n{}",
        state_of(&container),
        &world.log_text()[log_before..]
    );
    assert!(!journal.exists(), "the journal is gone once undone");
    let log = world.log_text()[log_before..].to_string();
    assert!(log.contains("files of"), "{log}");
    if at == KillAt::ContainerGone {
        assert!(log.contains("again from its row as it was"), "{log}");
    }
    assert_eq!(
        world.inventory_bytes(),
        inventory_before,
        "the row is unchanged"
    );
    assert!(
        !ssl.join(format!("{ip}.key")).exists() && !ssl.join(format!("{ip}.crt")).exists(),
        "the new certificate files are gone: the files are as they were"
    );

    // What a user sees: the listing, the plain URL, the repository.
    let entry = world.entry(1);
    assert_eq!(entry["url"], url.as_str());
    assert_eq!(entry["health"], "healthy");
    assert_eq!(
        common::http_get(&ip, &format!("{url}/-/health")),
        (200, "GitLab OK\n".to_string())
    );
    git(
        work.path(),
        &["clone", "--quiet", &format!("{url}/grp/app.git"), "clone"],
    );
    assert_eq!(
        git(&work.path().join("clone"), &["rev-parse", "HEAD"]).trim(),
        head
    );
}

#[test]
fn a_symbolic_link_planted_in_the_config_volume_is_refused_before_anything_changes() {
    let world = Scenario::new();
    let work = tempfile::tempdir().unwrap();
    let (ip, url, _head) = plain_instance_with_a_repository(&world, work.path());
    let container = world.entry(1)["container"].as_str().unwrap().to_string();
    // What a process inside the container could plant: the key Girofle
    // would keep (and put back) is a link to a file of the host.
    let secret = work.path().join("host-secret");
    std::fs::write(&secret, "host secret\n").unwrap();
    let ssl = world.instance_dir(1).join("mapping-volumes/config/ssl");
    std::fs::create_dir_all(&ssl).unwrap();
    let key = ssl.join(format!("{ip}.key"));
    std::os::unix::fs::symlink(&secret, &key).unwrap();
    let inventory_before = world.inventory_bytes();

    let run = world
        .run(
            "girofle-commission",
            &["--reconfigure", "1", "--tls", "girofle-ca"],
        )
        .expect_code(1);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&key.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(world.backup_names(1).is_empty(), "no backup was made");
    assert_eq!(world.inventory_bytes(), inventory_before);
    assert!(
        std::fs::symlink_metadata(&key)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is left for the administrator to see"
    );
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host secret\n");
    assert!(
        !world.instance_dir(1).join(".reconfigure").exists(),
        "no journal"
    );
    assert!(
        common::eventually(std::time::Duration::from_secs(120), || state_of(&container)
            == "running healthy"),
        "{container} is {}",
        state_of(&container)
    );
    assert_eq!(world.entry(1)["url"], url.as_str());
}
