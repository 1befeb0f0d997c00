//! Servers that redirect, speak plain HTTP or TLS under a private authority, or moved: the token never leaves.

use super::*;

/// A small HTTP server on this machine: it records the head of every
/// request and answers what `answer` makes of it (status, extra header
/// lines, body).
struct Listener {
    port: u16,
    heard: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Listener {
    fn start(
        address: &str,
        answer: impl Fn(&str) -> (u16, String, String) + Send + 'static,
    ) -> Listener {
        use std::io::Read;
        let listener = std::net::TcpListener::bind(address).unwrap();
        let port = listener.local_addr().unwrap().port();
        let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&heard);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                // The body, if any, is not needed; it is read so that closing
                // does not reset the connection.
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                let _ = stream.read_exact(&mut body);
                let (status, headers, body) = answer(&head);
                record.lock().unwrap().push(head);
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\n{headers}Content-Type: application/json\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                );
            }
        });
        Listener { port, heard }
    }

    fn heard(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }
}

/// The path a request head asks for.
fn asked(head: &str) -> String {
    head.split(' ').nth(1).unwrap_or("").to_string()
}

/// What a GitLab answers to the calls `setup` and `share` make.
fn gitlab_answer(head: &str) -> (u16, String, String) {
    let path = asked(head);
    let body = if path.starts_with("/api/v4/user") && !path.starts_with("/api/v4/users") {
        r#"{"id": 9, "username": "mallory", "name": "Mallory"}"#
    } else if path.starts_with("/api/v4/users?") {
        r#"[{"id": 2, "username": "bob", "name": "Bob"}]"#
    } else if path.starts_with("/api/v4/projects/alice%2Freport") {
        r#"{"id": 1, "name": "Report", "path": "report", "path_with_namespace": "alice/report", "topics": ["girofle"]}"#
    } else {
        "[]"
    };
    (200, String::new(), body.to_string())
}

#[test]
fn a_server_that_sends_the_client_elsewhere_is_not_followed_and_the_token_stays() {
    // Where the redirects point: it answers as a GitLab would.
    let elsewhere = Listener::start("127.0.0.1:0", gitlab_answer);
    let new = format!("http://127.0.0.1:{}", elsewhere.port);
    let to = new.clone();
    let moving = Listener::start("127.0.0.1:0", move |head| {
        // 302 for setup's question, 301 (as from http to https) for the rest.
        let status = if asked(head) == "/api/v4/user" {
            302
        } else {
            301
        };
        (
            status,
            format!("Location: {to}{}\r\n", asked(head)),
            String::new(),
        )
    });
    let old = format!("http://127.0.0.1:{}", moving.port);
    let machine = Machine::fresh();
    let home = machine.home.clone();
    let moved = format!("the server moved to {new}; run `girofle-client setup --server {new}`");

    let run = machine.run_with_input(
        &["setup", "--server", &old, "--token-stdin", "--machine", "m"],
        "glpat-secret-4242\n",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&moved), "{}", run.stderr);
    assert!(
        !home.join(".config/girofle/client.toml").exists(),
        "nothing set up"
    );

    // A machine set up before the server moved: sharing is not reported
    // done when the server was never asked.
    std::fs::create_dir_all(home.join(".config/girofle")).unwrap();
    std::fs::write(home.join(".config/girofle/token"), "glpat-secret-4242\n").unwrap();
    std::fs::write(
        home.join(".config/girofle/client.toml"),
        format!(
            "server = \"{old}\"\ntoken_file = \"{}\"\nmachine = \"m\"\nperson = \"alice\"\n",
            home.join(".config/girofle/token").display()
        ),
    )
    .unwrap();
    let run = machine.run(&["share", "alice/report", "bob"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&moved), "{}", run.stderr);
    assert!(!run.stderr.contains("may now get"), "{}", run.stderr);
    let run = machine.run(&["get"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&moved), "{}", run.stderr);

    let heard = elsewhere.heard();
    assert!(
        heard.iter().all(|head| !head.contains("glpat-secret-4242")),
        "the token went to the new address: {heard:?}"
    );
    assert!(heard.is_empty(), "the client followed: {heard:?}");
    assert_eq!(moving.heard().len(), 3, "{:?}", moving.heard());
}

#[test]
fn setup_refuses_plain_http_to_another_machine_unless_told() {
    // A server at an address that is not loopback (0.0.0.0 reaches this
    // machine, yet is no loopback address).
    let server = Listener::start("0.0.0.0:0", gitlab_answer);
    let url = format!("http://0.0.0.0:{}", server.port);
    let machine = Machine::fresh();
    let home = machine.home.clone();
    let config = home.join(".config/girofle/client.toml");
    // The token in a file: the refusal comes before any is read.
    let token = home.join("token");
    std::fs::write(&token, "glpat-secret-4242\n").unwrap();
    let token = token.display().to_string();
    for far in [url.as_str(), "http://gitlab.example.org"] {
        let run = machine.run(&[
            "setup",
            "--server",
            far,
            "--token-file",
            &token,
            "--machine",
            "m",
        ]);
        assert_eq!(run.code, 2, "{far}: {}", run.stderr);
        assert!(
            run.stderr.contains("is not encrypted") && run.stderr.contains("--insecure-http"),
            "{}",
            run.stderr
        );
        assert!(!config.exists(), "nothing set up");
    }
    assert!(server.heard().is_empty(), "the token was not sent");

    let run = machine.run_with_input(
        &[
            "setup",
            "--server",
            &url,
            "--token-stdin",
            "--machine",
            "m",
            "--insecure-http",
        ],
        "glpat-secret-4242\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::read_to_string(&config).unwrap().contains(&url));
}

/// A TLS front for `backend` on 127.0.0.1, with the certificate and key
/// given (PEM): a server behind an organisation's own authority.
fn tls_front(cert: &Path, key: &Path, backend: String) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{ErrorKind, Read};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let config = std::sync::Arc::clone(&config);
            let backend = backend.clone();
            std::thread::spawn(move || {
                let Ok(mut plain) = std::net::TcpStream::connect(&backend) else {
                    return;
                };
                let tick = Some(std::time::Duration::from_millis(5));
                let _ = tcp.set_read_timeout(tick);
                let _ = plain.set_read_timeout(tick);
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, tcp);
                let mut buffer = [0u8; 16384];
                let idle = |e: &std::io::Error| {
                    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                };
                loop {
                    match tls.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => {
                            if plain.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => break,
                    }
                    match plain.read(&mut buffer) {
                        Ok(0) => {
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                            break;
                        }
                        Ok(n) => {
                            if tls
                                .write_all(&buffer[..n])
                                .and_then(|_| tls.flush())
                                .is_err()
                            {
                                break;
                            }
                        }
                        Err(e) if idle(&e) => {}
                        Err(_) => break,
                    }
                }
            });
        }
    });
    port
}

/// `server` behind a TLS front whose certificate an authority of its own
/// (made here with openssl, known to no system) signed: the front's
/// address, and the directory holding the authority's `ca.pem`.
fn behind_a_private_authority(server: &Server) -> (String, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(keys.path())
            .output()
            .expect("openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::write(
        keys.path().join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"],
            &["-subj", "/CN=Girofle test authority"],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
            &["-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    let backend = server.url.trim_start_matches("http://").to_string();
    let port = tls_front(
        &keys.path().join("server.pem"),
        &keys.path().join("server.key"),
        backend,
    );
    (format!("https://127.0.0.1:{port}"), keys)
}

#[test]
fn a_server_signed_by_a_private_authority_works_with_ca_file_for_the_api_and_git() {
    let server = Server::with_users();
    let (url, keys) = behind_a_private_authority(&server);
    let ca = keys.path().join("ca.pem").display().to_string();

    let machine = |name: &str| {
        let machine = Machine::fresh();
        // Not known to this system: refused, the authority unknown.
        let run = machine.run_with_input(
            &[
                "setup",
                "--server",
                &url,
                "--token-stdin",
                "--machine",
                name,
            ],
            "glpat-alice-0001\n",
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("signed by an authority this machine does not trust")
                && run.stderr.contains("--ca-file"),
            "{}",
            run.stderr
        );
        let run = machine.run_with_input(
            &[
                "setup",
                "--server",
                &url,
                "--token-stdin",
                "--machine",
                name,
                "--ca-file",
                &ca,
            ],
            "glpat-alice-0001\n",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        machine
    };
    let laptop1 = machine("laptop-1");
    let laptop2 = machine("laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "over https\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    laptop2.run(&["get", "report"]).expect_code(0);
    assert_eq!(read(&laptop2.folder("Report"), "plan.txt"), "over https\n");
    let status = laptop2
        .run_in(&laptop2.folder("Report"), &["status"])
        .expect_code(0);
    assert!(
        status
            .stdout
            .contains("The server has nothing this machine lacks."),
        "{}",
        status.stdout
    );
}

/// Runs the client as `machine` in `dir` with `input` on its stdin, seeing
/// `bundle` as the system's store of trusted authorities
/// (`/etc/ssl/certs/ca-certificates.crt`, which both rustls' native roots
/// and git's libcurl read): in a mount namespace of its own (root's
/// `unshare`), so that this machine's store is never changed, while git,
/// which the client starts, sees the same file.
fn run_trusting(machine: &Machine, bundle: &Path, dir: &Path, args: &[&str], input: &str) -> Run {
    let mut child = machine
        .command_for(Path::new("unshare"), dir)
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/ssl/certs/ca-certificates.crt && exec \"$@\"")
        .arg(bundle)
        .arg(client_binary())
        .args(args)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("GIT_SSL_CAINFO")
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

#[test]
fn a_server_signed_by_an_authority_the_system_trusts_works_for_the_api_and_git() {
    // Issue 19 §6: the API trusts the system's store, the one git uses, so
    // that a server behind an organisation's authority, added to the
    // system's store, works without --ca-file.
    let server = Server::with_users();
    let (url, keys) = behind_a_private_authority(&server);
    let bundle = keys.path().join("system-and-private.crt");
    let mut roots = std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    roots.extend(std::fs::read(keys.path().join("ca.pem")).unwrap());
    std::fs::write(&bundle, roots).unwrap();
    let setup = |machine: &Machine, name: &str| {
        run_trusting(
            machine,
            &bundle,
            &machine.documents,
            &[
                "setup",
                "--server",
                &url,
                "--token-stdin",
                "--machine",
                name,
            ],
            "glpat-alice-0001\n",
        )
    };

    let laptop1 = Machine::fresh();
    // The system's store as it is: the authority is unknown.
    let refused = laptop1.run_with_input(
        &[
            "setup",
            "--server",
            &url,
            "--token-stdin",
            "--machine",
            "laptop-1",
        ],
        "glpat-alice-0001\n",
    );
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("an authority this machine does not trust"),
        "{}",
        refused.stderr
    );
    // The authority in the system's store: the API trusts it, and so does git.
    setup(&laptop1, "laptop-1").expect_code(0);
    let config = std::fs::read_to_string(laptop1.home.join(".config/girofle/client.toml")).unwrap();
    assert!(!config.contains("ca_file"), "{config}");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "trusted by the system\n");
    run_trusting(
        &laptop1,
        &bundle,
        &laptop1.documents,
        &["new", "Report"],
        "",
    )
    .expect_code(0);
    let laptop2 = Machine::fresh();
    setup(&laptop2, "laptop-2").expect_code(0);
    run_trusting(
        &laptop2,
        &bundle,
        &laptop2.documents,
        &["get", "report"],
        "",
    )
    .expect_code(0);
    assert_eq!(
        read(&laptop2.folder("Report"), "plan.txt"),
        "trusted by the system\n"
    );
    // Outside that store again, git refuses the server too: nothing is sent.
    write(&report, "plan.txt", "second\n");
    let unsent = laptop1.run_in(&report, &["sync"]);
    assert_ne!(unsent.code, 0, "{}", unsent.stderr);
}

#[test]
fn git_does_not_follow_a_server_that_moved() {
    let elsewhere = Listener::start("127.0.0.1:0", gitlab_answer);
    let to = format!("http://127.0.0.1:{}", elsewhere.port);
    let moving = Listener::start("127.0.0.1:0", move |head| {
        (
            301,
            format!("Location: {to}{}\r\n", asked(head)),
            String::new(),
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let git = girofle_client::git::Git::new(
        &dir.path().join("history"),
        dir.path(),
        "Alice",
        "alice@example.org",
    )
    .with_token("glpat-secret-4242");
    let output = git
        .output(&[
            "ls-remote",
            &format!("http://127.0.0.1:{}/alice/report.git", moving.port),
        ])
        .unwrap();
    assert!(!output.ok, "{}", output.stderr);
    assert_eq!(moving.heard().len(), 1, "{:?}", moving.heard());
    assert!(
        moving.heard()[0].contains("Authorization: Basic"),
        "the token went to the server named"
    );
    let heard = elsewhere.heard();
    assert!(
        heard.is_empty(),
        "git followed the server elsewhere: {heard:?}"
    );
}
