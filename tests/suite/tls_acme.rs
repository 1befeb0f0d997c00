//! `girofle-commission --tls acme`: GitLab takes its certificate from a real
//! ACME server, Debian's `pebble`, started here for each test.
//!
//! Networking: the instance's container sits on Docker's default bridge and
//! cannot reach the host's loopback, so pebble listens on the bridge's
//! gateway address (the host's `docker0`, which the host reaches too), on
//! ports free there. Pebble's HTTPS certificate is made here for that
//! address, by an authority of this test: the one given as `--acme-ca`.

use crate::common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scenario, fresh_ip};

/// A pebble server on the bridge's gateway, killed when dropped.
struct Pebble {
    /// The ACME directory, `https://<gateway>:<port>/dir`.
    directory: String,
    /// Its management endpoint, `https://<gateway>:<port>`.
    management: String,
    /// The authority of its HTTPS certificate (not the one it issues with).
    https_ca: PathBuf,
    files: tempfile::TempDir,
    child: Child,
}

impl Pebble {
    fn start() -> Pebble {
        let gateway = common::docker(&[
            "network",
            "inspect",
            "bridge",
            "--format",
            "{{(index .IPAM.Config 0).Gateway}}",
        ])
        .trim()
        .to_string();
        let files = tempfile::tempdir().unwrap();
        let dir = files.path();
        authority(dir, "https-ca");
        sign(dir, "https-ca", "pebble", &format!("IP:{gateway}"));
        let [listen, management, http, tls] = free_ports(&gateway);
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("{gateway}:{listen}"),
                "managementListenAddress": format!("{gateway}:{management}"),
                "certificate": dir.join("pebble.crt"),
                "privateKey": dir.join("pebble.key"),
                "httpPort": http,
                "tlsPort": tls,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let log = std::fs::File::create(dir.join("pebble.log")).unwrap();
        let child = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            // Pebble's validation would fetch the HTTP-01 challenge from the
            // instance's port 80 under its host name, which resolves nowhere
            // here: it is skipped, and every authorization is valid. What is
            // tested is GitLab's side: asking, receiving, serving.
            .env("PEBBLE_VA_ALWAYS_VALID", "1")
            // No random sleeps before validations: the test stays short.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("pebble runs (apt-get install pebble)");
        let pebble = Pebble {
            directory: format!("https://{gateway}:{listen}/dir"),
            management: format!("https://{gateway}:{management}"),
            https_ca: dir.join("https-ca.crt"),
            files,
            child,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect((gateway.as_str(), listen)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "pebble does not listen: {}",
                std::fs::read_to_string(pebble.files.path().join("pebble.log")).unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        pebble
    }

    /// Pebble's issuing root, from its management endpoint (made anew at
    /// each start: only this server's certificates chain to it).
    fn root(&self) -> PathBuf {
        let path = self.files.path().join("root.pem");
        let (code, pem) = curl(&[
            "--cacert",
            &self.https_ca.display().to_string(),
            &format!("{}/roots/0", self.management),
        ]);
        assert_eq!(code, 0, "GET /roots/0");
        assert!(pem.contains("BEGIN CERTIFICATE"), "{pem}");
        std::fs::write(&path, pem).unwrap();
        path
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ports nothing listens on at `address`, distinct.
fn free_ports<const N: usize>(address: &str) -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind((address, 0)).unwrap())
        .collect();
    std::array::from_fn(|index| listeners[index].local_addr().unwrap().port())
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

/// `<name>.crt` and `.key` in `dir`: a test authority.
fn authority(dir: &Path, name: &str) {
    let subject = format!("/CN={name}");
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
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
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            &subject,
        ],
    );
}

/// `<name>.crt` and `.key` in `dir`, for `san`, signed by the authority `ca`.
fn sign(dir: &Path, ca: &str, name: &str, san: &str) {
    let (key, csr, crt) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
    );
    let san = format!("subjectAltName={san}");
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
            "/CN=pebble",
            "-addext",
            &san,
        ],
    );
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-days",
            "2",
            "-copy_extensions",
            "copyall",
            "-out",
            &crt,
        ],
    );
}

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

/// git trusting `ca` alone, with `host:port` resolved to `ip` (the host
/// name is in no DNS).
fn git(dir: &Path, ca: &Path, resolve: &str, args: &[&str]) {
    let output = Command::new("git")
        .current_dir(dir)
        .args(["-c", &format!("http.curloptResolve={resolve}")])
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

/// A DNS name of this test's own (ACME certificates name DNS names).
fn host_name() -> String {
    format!("git-{}.girofle.test", std::process::id())
}

#[test]
fn acme_takes_a_certificate_from_the_acme_server_and_serves_it_to_curl_and_git() {
    let pebble = Pebble::start();
    let world = Scenario::new();
    let ip = fresh_ip();
    let host = host_name();
    let https_ca = pebble.https_ca.display().to_string();
    let args = [
        "--ip",
        &ip,
        "--hostname",
        &host,
        "--tls",
        "acme",
        "--acme-url",
        &pebble.directory,
        "--acme-ca",
        &https_ca,
        "--email",
        "ops@example.org",
    ];
    let dry = world
        .run("girofle-commission", &[&args[..], &["--dry-run"]].concat())
        .expect_code(0);
    assert!(
        dry.stdout.contains(&format!(
            "TLS (acme): GitLab asks {} for a certificate",
            pebble.directory
        )),
        "{}",
        dry.stdout
    );
    let run = world
        .run(
            "girofle-commission",
            &[&args[..], &["--wait-timeout", "120"]].concat(),
        )
        .expect_code(0);
    let entry = world.entry(1);
    let port = entry["https_port"].as_u64().unwrap();
    let url = format!("https://{host}:{port}");
    assert_eq!(run.stdout.trim(), url);
    assert_eq!(entry["url"], url.as_str());
    assert_eq!(entry["health"], "healthy");

    // GitLab was told what omnibus' documentation says, and trusts the server.
    let container = entry["container"].as_str().unwrap().to_string();
    let env = common::docker(&[
        "inspect",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &container,
    ]);
    for expected in [
        format!("external_url '{url}'"),
        "letsencrypt['enable'] = true".to_string(),
        "letsencrypt['contact_emails'] = ['ops@example.org']".to_string(),
        format!(
            "letsencrypt['acme_production_endpoint'] = '{}'",
            pebble.directory
        ),
        format!(
            "letsencrypt['acme_staging_endpoint'] = '{}'",
            pebble.directory
        ),
        "nginx['redirect_http_to_https'] = true".to_string(),
    ] {
        assert!(env.contains(&expected), "{expected} not in {env}");
    }
    let config = world.instance_dir(1).join("mapping-volumes/config");
    assert_eq!(
        std::fs::read(config.join("trusted-certs/acme-ca.crt")).unwrap(),
        std::fs::read(&pebble.https_ca).unwrap()
    );

    // A client trusting pebble's issuing root alone verifies the chain and
    // the name; without it the certificate is refused.
    let root = pebble.root();
    let root_text = root.display().to_string();
    let resolve = format!("{host}:{port}:{ip}");
    let health = format!("{url}/-/health");
    assert_eq!(
        curl(&["--cacert", &root_text, "--resolve", &resolve, &health]),
        (0, "GitLab OK\n".to_string())
    );
    let (code, _) = curl(&["--cacert", &https_ca, "--resolve", &resolve, &health]);
    assert_eq!(code, 60, "another authority must not verify the instance");

    let work = tempfile::tempdir().unwrap();
    let head = common::make_repository(&work.path().join("app"), 2);
    let project = format!("{url}/grp/app.git");
    git(
        &work.path().join("app"),
        &root,
        &resolve,
        &["push", "--quiet", &project, "main"],
    );
    git(
        work.path(),
        &root,
        &resolve,
        &["clone", "--quiet", &project, "clone"],
    );
    let cloned = common::git(&work.path().join("clone"), &["rev-parse", "HEAD"]);
    assert_eq!(cloned.trim(), head);

    // The certificate is in the config volume, where backups take it, its
    // key root's alone; a restart renews nothing that is not due (within
    // 30 days of its expiry, as omnibus) and serves the same certificate.
    let (cert, key) = (
        config.join(format!("ssl/{host}.crt")),
        config.join(format!("ssl/{host}.key")),
    );
    let mode = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    };
    assert_eq!(mode(&key), 0o600);
    let issued = std::fs::read(&cert).unwrap();
    common::docker(&["restart", &container]);
    common::wait_healthy(&container);
    assert_eq!(std::fs::read(&cert).unwrap(), issued);
    assert_eq!(
        curl(&["--cacert", &root_text, "--resolve", &resolve, &health]),
        (0, "GitLab OK\n".to_string())
    );
}

#[test]
fn acme_refuses_bad_input_with_nothing_made_and_a_failed_issuance_is_unhealthy() {
    let pebble = Pebble::start();
    let world = Scenario::new();
    let ip = fresh_ip();
    let host = host_name();
    let https_ca = pebble.https_ca.display().to_string();
    // An authority that did not sign pebble's HTTPS certificate.
    let other = tempfile::tempdir().unwrap();
    authority(other.path(), "other");
    let other_ca = other.path().join("other.crt").display().to_string();
    let closed = {
        let gateway = pebble
            .directory
            .split(':')
            .nth(1)
            .unwrap()
            .trim_start_matches('/');
        let [port] = free_ports(gateway);
        format!("https://{gateway}:{port}/dir")
    };
    let plain = pebble.directory.replacen("https://", "http://", 1);
    let base = ["--ip", &ip, "--hostname", &host];
    for (extra, problem) in [
        (
            vec!["--tls", "acme", "--acme-url", &plain],
            "not an https:// URL",
        ),
        (
            vec!["--tls", "acme", "--email", "ops at example.org"],
            "not an email address",
        ),
        (
            vec!["--tls", "acme", "--email", "o'p@example.org"],
            "not an email address",
        ),
        (
            vec!["--tls", "girofle-ca", "--email", "ops@example.org"],
            "go with --tls acme only",
        ),
        (
            vec!["--tls", "acme", "--acme-ca", &https_ca],
            "--acme-ca goes with --acme-url",
        ),
        (
            vec![
                "--tls",
                "acme",
                "--acme-url",
                &pebble.directory,
                "--acme-ca",
                &other_ca,
            ],
            "does not answer as an ACME directory",
        ),
        (
            vec![
                "--tls",
                "acme",
                "--acme-url",
                &closed,
                "--acme-ca",
                &https_ca,
            ],
            "does not answer as an ACME directory",
        ),
    ] {
        let run = world
            .run("girofle-commission", &[&base[..], &extra[..]].concat())
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
    }
    let run = world
        .run(
            "girofle-commission",
            &["--ip", &ip, "--tls", "acme", "--hostname", &ip],
        )
        .expect_code(2);
    assert!(run.stderr.contains("an IP address"), "{}", run.stderr);

    // Without --acme-ca, GitLab does not trust pebble's HTTPS: no
    // certificate, the instance never becomes healthy, and the log says why.
    let run = world
        .run(
            "girofle-commission",
            &[
                &base[..],
                &[
                    "--tls",
                    "acme",
                    "--acme-url",
                    &pebble.directory,
                    "--wait-timeout",
                    "20",
                ],
            ]
            .concat(),
        )
        .expect_code(1);
    assert!(
        run.stderr
            .contains("FATAL: letsencrypt: no certificate for"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&pebble.directory), "{}", run.stderr);
    assert_eq!(world.entry(1)["health"], "unhealthy");
}
