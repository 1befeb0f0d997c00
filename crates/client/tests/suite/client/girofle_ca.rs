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
