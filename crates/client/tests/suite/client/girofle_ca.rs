//! The client against an instance that `girofle-commission --tls girofle-ca`
//! made: the stand-in serving HTTPS with a certificate of the home's own
//! authority, as GitLab's nginx would. Without that authority the client
//! says what is wrong with the certificate; with `--ca-file` every step
//! (setup, new, save, sync, get on a second machine) goes over verified TLS.

use super::*;

use common::project::{Scenario, fresh_ip};

/// An instance commissioned with `--tls girofle-ca`, with `alice` given a
/// token the way the stand-in's own start gives one (STANDIN_USERS), since a
/// commission passes no users: its HTTPS URL and the authority's certificate.
fn commissioned(world: &Scenario) -> (String, PathBuf) {
    let ip = fresh_ip();
    let run = world
        .run(
            "girofle-commission",
            &[
                "--wait-timeout",
                "120",
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--tls",
                "girofle-ca",
            ],
        )
        .expect_code(0);
    let url = run.stdout.trim().to_string();
    assert!(url.starts_with("https://"), "{url}");
    let container = world.entry(1)["container"].as_str().unwrap().to_string();
    let output = Command::new("docker")
        .args(["exec", &container, "sh", "-c"])
        .arg(
            ". /opt/standin/common && mkdir -p \"$API\" && \
             touch \"$API/users\" \"$API/projects\" \"$API/members\" && \
             store_locked sync -v users='alice:glpat-alice-0001' && \
             chmod 0700 \"$API\" && chmod 0600 \"$API/users\" \"$API/projects\" \"$API/members\"",
        )
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "adding alice: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (url, world.home.join("tls/ca.crt"))
}

fn setup(machine: &Machine, url: &str, name: &str, ca: Option<&Path>) -> Run {
    let mut args = vec!["setup", "--server", url, "--token-stdin", "--machine", name];
    let ca_text = ca.map(|ca| ca.display().to_string());
    if let Some(ca) = &ca_text {
        args.extend(["--ca-file", ca.as_str()]);
    }
    machine.run_with_input(&args, "glpat-alice-0001\n")
}

#[test]
fn an_instance_of_girofle_ca_is_refused_with_a_plain_sentence_then_works_with_ca_file() {
    let world = Scenario::new();
    let (url, ca) = commissioned(&world);

    let laptop1 = Machine::fresh();
    let refused = setup(&laptop1, &url, "laptop-1", None);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(
            "the server's certificate is signed by an authority this machine does not trust"
        ) && refused.stderr.contains("--ca-file"),
        "{}",
        refused.stderr
    );
    assert!(
        !refused.stderr.contains("UnknownIssuer"),
        "{}",
        refused.stderr
    );
    setup(&laptop1, &url, "laptop-1", Some(&ca)).expect_code(0);
    let laptop2 = Machine::fresh();
    setup(&laptop2, &url, "laptop-2", Some(&ca)).expect_code(0);

    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first plan\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    write(&report, "plan.txt", "second plan, over TLS\n");
    laptop1
        .run_in(&report, &["save", "Second plan"])
        .expect_code(0);
    laptop1.run_in(&report, &["sync"]).expect_code(0);

    laptop2.run(&["get", "report"]).expect_code(0);
    let here = laptop2.folder("Report");
    assert_eq!(read(&here, "plan.txt"), "second plan, over TLS\n");
    write(&here, "plan.txt", "third plan, from laptop-2\n");
    laptop2.run_in(&here, &["save"]).expect_code(0);
    laptop2.run_in(&here, &["sync"]).expect_code(0);
    laptop1.run_in(&report, &["sync"]).expect_code(0);
    assert_eq!(read(&report, "plan.txt"), "third plan, from laptop-2\n");
}

/// Runs the client as if `ca` were in this machine's system store: in a
/// mount namespace of its own, where Debian's bundle
/// (`/etc/ssl/certs/ca-certificates.crt`, which both rustls's native roots
/// and git's TLS read) is the system's plus `ca`. The host's store is
/// left alone.
fn run_trusting(machine: &Machine, bundle: &Path, dir: &Path, args: &[&str], input: &str) -> Run {
    let mut command = machine.command_for(Path::new("unshare"), dir);
    command
        .args(["--mount", "sh", "-c"])
        .arg("mount --bind \"$1\" /etc/ssl/certs/ca-certificates.crt && shift && exec \"$@\"")
        .arg("sh")
        .arg(bundle)
        .arg(client_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    Run::from(child.wait_with_output().unwrap())
}

#[test]
fn an_authority_in_the_system_store_is_trusted_without_ca_file() {
    let world = Scenario::new();
    let (url, ca) = commissioned(&world);
    let store = tempfile::tempdir().unwrap();
    let bundle = store.path().join("ca-certificates.crt");
    let mut text =
        std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
    text.push_str(&std::fs::read_to_string(&ca).unwrap());
    std::fs::write(&bundle, text).unwrap();

    let machine = |name: &str| {
        let machine = Machine::fresh();
        let args = [
            "setup",
            "--server",
            &url,
            "--token-stdin",
            "--machine",
            name,
        ];
        run_trusting(
            &machine,
            &bundle,
            &machine.documents,
            &args,
            "glpat-alice-0001\n",
        )
        .expect_code(0);
        machine
    };
    let laptop1 = machine("laptop-1");
    let laptop2 = machine("laptop-2");
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
    // Outside that namespace the same machine does not trust the server.
    let run = laptop2.run_in(&laptop2.folder("Report"), &["sync"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the server's certificate is signed by an authority this machine does not trust"
        ),
        "{}",
        run.stderr
    );
}
