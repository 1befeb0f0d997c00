//! `girofle-commission --tls`: HTTPS served with a certificate of the home's
//! own authority or one brought, checked by a real TLS client (curl), kept by
//! backups and restores with its modes.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{Scenario, fresh_ip};

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

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn openssl(dir: &Path, args: &[&str]) {
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
}

/// A test authority in `dir` (`ca.crt`), and `<name>.crt` signed by it for
/// `san`, with `<name>.key`.
fn test_certificate(dir: &Path, name: &str, san: &str) {
    if !dir.join("ca.crt").exists() {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "30",
                "-subj",
                "/CN=test authority",
            ],
        );
    }
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            "/CN=test",
            "-addext",
            &format!("subjectAltName={san}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "0x2a",
            "-days",
            "30",
            "-copy_extensions",
            "copyall",
            "-out",
            &crt,
        ],
    );
}

/// Signs `<name>.csr` again as it would have been signed 40 days ago for
/// 30 days: `<name>.crt` has expired.
fn expire(dir: &Path, name: &str) {
    let output = Command::new("faketime")
        .current_dir(dir)
        .args(["-f", "-40d", "openssl", "x509", "-req", "-in"])
        .arg(format!("{name}.csr"))
        .args(["-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "0x2b"])
        .args(["-days", "30", "-copy_extensions", "copyall", "-out"])
        .arg(format!("{name}.crt"))
        .output()
        .expect("faketime runs (apt-get install faketime)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// git trusting `ca` alone (the variable, since it outranks `http.sslCAInfo`).
fn git_trusting(dir: &Path, ca: &Path, args: &[&str]) {
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
}

fn commission_tls(world: &Scenario, args: &[&str]) -> common::Run {
    let mut all = vec!["--wait-timeout", "120"];
    all.extend_from_slice(args);
    world.run("girofle-commission", &all).expect_code(0)
}

#[test]
fn girofle_ca_serves_verified_https_redirects_http_and_survives_backup_and_restore() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let dry = world
        .run(
            "girofle-commission",
            &[
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--tls",
                "girofle-ca",
                "--dry-run",
            ],
        )
        .expect_code(0);
    assert!(
        dry.stdout
            .contains("TLS (girofle-ca): make Girofle's certificate authority"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("external_url 'https://"),
        "{}",
        dry.stdout
    );
    assert!(!world.home.join("tls").exists(), "a dry run makes nothing");
    let run = commission_tls(
        &world,
        &["--ip", &ip, "--hostname", &ip, "--tls", "girofle-ca"],
    );
    let url = run.stdout.trim().to_string();
    assert_eq!(run.stdout.lines().count(), 1, "stdout holds the URL alone");
    assert!(
        run.stderr.contains("update-ca-certificates"),
        "{}",
        run.stderr
    );
    let entry = world.entry(1);
    let https_port = entry["https_port"].as_u64().unwrap();
    let http_port = entry["http_port"].as_u64().unwrap();
    assert_eq!(url, format!("https://{ip}:{https_port}"));
    assert_eq!(entry["url"], url.as_str());
    assert_eq!(entry["health"], "healthy");

    let ca = world.home.join("tls/ca.crt");
    assert_eq!(mode(&world.home.join("tls/ca.key")), 0o600);
    let ca_text = ca.display().to_string();
    let health = format!("{url}/-/health");
    assert_eq!(
        curl(&["--cacert", &ca_text, &health]),
        (0, "GitLab OK\n".to_string())
    );
    // Git's smart HTTP, push then clone, through the TLS of the instance.
    let work = tempfile::tempdir().unwrap();
    let head = common::make_repository(&work.path().join("app"), 2);
    let project = format!("{url}/grp/app.git");
    git_trusting(
        &work.path().join("app"),
        &ca,
        &["push", "--quiet", &project, "main"],
    );
    git_trusting(work.path(), &ca, &["clone", "--quiet", &project, "clone"]);
    let cloned = common::git(&work.path().join("clone"), &["rev-parse", "HEAD"]);
    assert_eq!(cloned.trim(), head);

    let (code, _) = curl(&[&health]);
    assert_eq!(
        code, 60,
        "curl without the authority must not trust the instance"
    );

    let (code, answer) = curl(&[
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code} %{redirect_url}",
        &format!("http://{ip}:{http_port}/grp/app.git/info/refs?service=git-upload-pack"),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        answer,
        format!("301 {url}/grp/app.git/info/refs?service=git-upload-pack")
    );

    let ssl = world.instance_dir(1).join("mapping-volumes/config/ssl");
    let (cert, key) = (ssl.join(format!("{ip}.crt")), ssl.join(format!("{ip}.key")));
    assert_eq!(mode(&key), 0o600);
    let (cert_then, key_then) = (std::fs::read(&cert).unwrap(), std::fs::read(&key).unwrap());
    // The key never enters the container's environment.
    let container = entry["container"].as_str().unwrap().to_string();
    let env = common::docker(&[
        "inspect",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &container,
    ]);
    assert!(
        env.contains("nginx['redirect_http_to_https'] = true"),
        "{env}"
    );
    assert!(!env.contains("PRIVATE KEY"), "{env}");

    let id = world.backup(1, &[]);
    let saved = world
        .instance_dir(1)
        .join(format!("bckups/{id}/config/ssl"));
    assert_eq!(mode(&saved.join(format!("{ip}.key"))), 0o600);
    std::fs::remove_dir_all(&ssl).unwrap();

    let dir = entry["dir"].as_str().unwrap();
    world
        .run(
            "girofle-restore",
            &[&container, dir, "--backup", &id, "--wait-timeout", "120"],
        )
        .expect_code(0);
    assert_eq!(mode(&key), 0o600);
    assert_eq!(std::fs::read(&cert).unwrap(), cert_then);
    assert_eq!(std::fs::read(&key).unwrap(), key_then);
    assert_eq!(
        curl(&["--cacert", &ca_text, &health]),
        (0, "GitLab OK\n".to_string())
    );
}

#[test]
fn own_certificates_are_checked_before_anything_is_made_then_served() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let files = tempfile::tempdir().unwrap();
    test_certificate(files.path(), "right", &format!("IP:{ip}"));
    test_certificate(files.path(), "other", "DNS:elsewhere.girofle.test");
    test_certificate(files.path(), "old", &format!("IP:{ip}"));
    expire(files.path(), "old");
    let path = |name: &str| files.path().join(name).display().to_string();

    for (cert, key, problem) in [
        (
            "right.crt",
            "other.key",
            "does not belong to the certificate",
        ),
        ("other.crt", "other.key", "does not name the host"),
        ("right.key", "right.key", "not a PEM certificate"),
        ("old.crt", "old.key", "has expired"),
    ] {
        let run = world
            .run(
                "girofle-commission",
                &[
                    "--ip",
                    &ip,
                    "--hostname",
                    &ip,
                    "--tls",
                    "own",
                    "--cert",
                    &path(cert),
                    "--key",
                    &path(key),
                ],
            )
            .expect_code(2);
        assert!(run.stderr.contains(problem), "{problem}: {}", run.stderr);
        assert!(world.containers().is_empty());
        assert!(
            world
                .home_entries()
                .iter()
                .all(|e| !e.starts_with("noeud-gitlab")),
            "{:?}",
            world.home_entries()
        );
        assert!(!world.home.join("tls").exists());
        assert!(!String::from_utf8_lossy(&world.inventory_bytes()).contains("own"));
    }

    let run = commission_tls(
        &world,
        &[
            "--ip",
            &ip,
            "--hostname",
            &ip,
            "--tls",
            "own",
            "--cert",
            &path("right.crt"),
            "--key",
            &path("right.key"),
        ],
    );
    let url = run.stdout.trim().to_string();
    assert!(url.starts_with(&format!("https://{ip}:")), "{url}");
    assert!(
        !run.stderr.contains("certificate authority"),
        "{}",
        run.stderr
    );
    let ssl = world.instance_dir(1).join("mapping-volumes/config/ssl");
    assert_eq!(mode(&ssl.join(format!("{ip}.key"))), 0o600);
    assert_eq!(
        curl(&["--cacert", &path("ca.crt"), &format!("{url}/-/health")]),
        (0, "GitLab OK\n".to_string())
    );
    assert!(!world.home.join("tls").exists(), "own makes no authority");
}
