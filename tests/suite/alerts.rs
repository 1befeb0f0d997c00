//! Alerts, metrics and results as data, through the real binaries: a
//! `girofle.conf` with `[notify]` pointing at a real HTTP server on loopback
//! and `[metrics]` read back by the Python Prometheus client's parser, real
//! stand-in containers backed up, restored and decommissioned, and the
//! `--format json` documents checked against the files on disk.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use common::{LINES_WITH_SECRETS, Scenario, fresh_ip, tear_database};
use serde_json::Value;

/// A real HTTP server on loopback that keeps the JSON bodies it receives.
struct Hook {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &kept);
            }
        });
        Hook { url, bodies }
    }

    fn events(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// One request: headers, `Content-Length` bytes of JSON, `204` back.
fn serve(stream: TcpStream, kept: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut length = 0usize;
    let mut first = true;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if first {
            assert!(line.starts_with("POST /hook "), "{line}");
            first = false;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':')
            && key.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    kept.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).expect("the event is JSON"));
    let mut stream = stream;
    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
}

/// Writes `girofle.conf` with `[notify]` (`on` as given) and `[metrics]`;
/// returns the textfile's path.
fn configure(world: &Scenario, hook: &Hook, on: &str) -> PathBuf {
    let textfile = world.home.parent().unwrap().join("girofle.prom");
    std::fs::write(
        world.home.join("girofle.conf"),
        format!(
            "[notify]\nurl = \"{}\"\non = {on}\n\n[metrics]\ntextfile = \"{}\"\n",
            hook.url,
            textfile.display()
        ),
    )
    .unwrap();
    textfile
}

/// The families of a textfile as the Python Prometheus client's parser reads them.
fn parsed(textfile: &Path) -> Value {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    families[family.name] = [[s.name, s.labels, s.value] for s in family.samples]
print(json.dumps(families))
"#;
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(textfile)
        .output()
        .expect("python3 runs (with Debian's python3-prometheus-client)");
    assert!(
        output.status.success(),
        "the Prometheus parser refused {}:\n{}\n{}",
        textfile.display(),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(textfile).unwrap_or_default()
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The value of `metric` for instance `number`.
fn value(families: &Value, metric: &str, number: u32) -> Option<f64> {
    families[metric]
        .as_array()?
        .iter()
        .find(|sample| sample[1]["instance"].as_str() == Some(number.to_string().as_str()))
        .and_then(|sample| sample[2].as_f64())
}

/// The complete backups of instance `number` on disk.
fn complete_backups(world: &Scenario, number: u32) -> Vec<String> {
    world
        .backup_names(number)
        .into_iter()
        .filter(|name| !name.starts_with('.'))
        .collect()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64
}

#[test]
fn a_failed_backup_is_posted_a_good_one_only_counted() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let hook = Hook::start();
    let textfile = configure(&world, &hook, "[\"failure\"]");

    let before = now();
    let id = world.backup(1, &[]);
    assert!(
        hook.events().is_empty(),
        "a success is not sent by default: {:?}",
        hook.events()
    );
    let families = parsed(&textfile);
    let last_success = value(
        &families,
        "girofle_backup_last_success_timestamp_seconds",
        1,
    )
    .expect("the last success is there");
    assert!(
        last_success >= before && last_success <= now(),
        "{families}"
    );
    assert_eq!(value(&families, "girofle_backup_last_result", 1), Some(1.0));
    assert!(value(&families, "girofle_backup_bytes_copied", 1).unwrap() > 0.0);
    assert!(value(&families, "girofle_backup_files_copied", 1).unwrap() > 0.0);
    assert!(
        value(&families, "girofle_backup_stop_window_seconds", 1).unwrap() > 0.0,
        "a stop backup stops GitLab: {families}"
    );
    assert_eq!(
        value(&families, "girofle_backups_kept", 1),
        Some(complete_backups(&world, 1).len() as f64)
    );
    assert_eq!(complete_backups(&world, 1), [id.as_str()]);

    // The volumes moved away: the backup fails, the hook hears of it.
    let volumes = world.instance_dir(1).join("mapping-volumes");
    let aside = world.instance_dir(1).join("volumes-aside");
    std::fs::rename(&volumes, &aside).unwrap();
    let run = world.run("girofle-backup", &["1"]).expect_code(1);
    std::fs::rename(&aside, &volumes).unwrap();
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let events = hook.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["kind"], "backup");
    assert_eq!(event["outcome"], "failure");
    assert_eq!(event["instance"], 1);
    assert!(
        event["error"].as_str().unwrap().contains("mapping-volumes"),
        "{event}"
    );
    let families = parsed(&textfile);
    assert_eq!(value(&families, "girofle_backup_last_result", 1), Some(0.0));
    assert_eq!(
        value(
            &families,
            "girofle_backup_last_success_timestamp_seconds",
            1
        ),
        Some(last_success),
        "a failure leaves the last success as it was"
    );
    let log = std::fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(log.contains("notify"), "{log}");
}

#[test]
fn successes_are_sent_when_asked_and_results_come_as_json() {
    let world = Scenario::new();
    let ip = fresh_ip();

    // Commission as data.
    let run = world
        .run(
            "girofle-commission",
            &[
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--wait-timeout",
                "120",
                "--format",
                "json",
            ],
        )
        .expect_code(0);
    let document: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(document["operation"], "commission");
    assert_eq!(document["exit_code"], 0);
    let commissioned = &document["instances"][0];
    assert_eq!(commissioned["number"], 1);
    assert_eq!(commissioned["ok"], true);
    assert_eq!(commissioned["ip"], ip.as_str());
    assert_eq!(commissioned["waited_healthy"], true);
    assert_eq!(
        commissioned["dir"].as_str().map(PathBuf::from),
        Some(world.instance_dir(1))
    );
    let container = commissioned["container"].as_str().unwrap().to_string();
    assert!(world.containers().contains(&container));

    let hook = Hook::start();
    let textfile = configure(&world, &hook, "[\"failure\", \"success\"]");

    // Two backups as data: the second hard-links what did not change.
    let mut ids = Vec::new();
    for round in 0..2 {
        let run = world
            .run("girofle-backup", &["1", "--format", "json"])
            .expect_code(0);
        let document: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
        assert_eq!(document["operation"], "backup");
        assert_eq!(document["exit_code"], 0);
        assert_eq!(document["errors"], serde_json::json!([]));
        let entry = &document["instances"][0];
        assert_eq!(entry["number"], 1);
        assert_eq!(entry["ok"], true);
        assert_eq!(entry["container"], container.as_str());
        let id = entry["backup"].as_str().unwrap().to_string();
        let path = world.instance_dir(1).join("bckups").join(&id);
        assert!(path.join("MANIFEST").is_file(), "{}", path.display());
        assert_eq!(entry["path"].as_str().map(PathBuf::from), Some(path));
        assert_eq!(
            entry["backups_kept"],
            complete_backups(&world, 1).len() as u64
        );
        assert!(entry["stop_window_ms"].as_u64().unwrap() > 0);
        assert!(
            entry["duration_ms"].as_u64().unwrap() >= entry["stop_window_ms"].as_u64().unwrap()
        );
        assert!(entry["bytes_copied"].as_u64().unwrap() > 0);
        if round == 0 {
            assert_eq!(entry["files_hardlinked"], 0, "{entry}");
        } else {
            assert!(entry["files_hardlinked"].as_u64().unwrap() > 0, "{entry}");
            assert!(entry["bytes_hardlinked"].as_u64().unwrap() > 0, "{entry}");
        }
        ids.push(id);
        // The success was sent too, naming the backup.
        let events = hook.events();
        assert_eq!(events.len(), round + 1, "{events:?}");
        let event = events.last().unwrap();
        assert_eq!(event["kind"], "backup");
        assert_eq!(event["outcome"], "success");
        assert_eq!(event["backup"], ids[round].as_str());
    }
    assert_eq!(complete_backups(&world, 1), ids);
    let families = parsed(&textfile);
    assert_eq!(value(&families, "girofle_backups_kept", 1), Some(2.0));
    assert!(value(&families, "girofle_backup_bytes_hardlinked", 1).unwrap() > 0.0);

    // Restore as data; the hook hears of it.
    let dir = world.instance_dir(1);
    let run = world
        .run(
            "girofle-restore",
            &[
                &container,
                dir.to_str().unwrap(),
                "--backup",
                &ids[0],
                "--yes",
                "--format",
                "json",
            ],
        )
        .expect_code(0);
    let document: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(document["operation"], "restore");
    let restored = &document["instances"][0];
    assert_eq!(restored["ok"], true);
    assert_eq!(restored["number"], 1);
    assert_eq!(restored["backup"], ids[0].as_str());
    let kept = restored["previous"]["backup"].as_str().unwrap();
    assert!(
        dir.join("bckups").join(kept).join("MANIFEST").is_file(),
        "the replaced data is kept as backup {kept}"
    );
    let event = hook.events().last().unwrap().clone();
    assert_eq!(event["kind"], "restore");
    assert_eq!(event["outcome"], "success");
    assert_eq!(event["backup"], ids[0].as_str());

    // Decommission as data: the final backup's figures, the series forgotten.
    let run = world
        .run("girofle-decommission", &["1", "--format", "json"])
        .expect_code(0);
    let document: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(document["operation"], "decommission");
    let gone = &document["instances"][0];
    assert_eq!(gone["ok"], true);
    let last = gone["final_backup"]["backup"].as_str().unwrap();
    assert!(dir.join("bckups").join(last).join("MANIFEST").is_file());
    assert!(!world.containers().contains(&container));
    let families = parsed(&textfile);
    assert_eq!(
        value(&families, "girofle_backup_last_result", 1),
        None,
        "{families}"
    );
}

#[test]
fn without_json_the_text_output_is_unchanged() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    // One ID, alone, on stdout.
    let id = world.backup(1, &[]);
    assert_eq!(complete_backups(&world, 1), [id]);
    // A failure as data: the document says why, the exit code is unchanged.
    let run = world
        .run("girofle-backup", &["7", "--format", "json"])
        .expect_code(2);
    let document: Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(document["exit_code"], 2);
    assert!(!run.stderr.is_empty());
}

#[test]
fn shipping_is_notified_and_counted_per_target() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let hook = Hook::start();
    let textfile = configure(&world, &hook, "[\"failure\", \"success\"]");
    // A mount point with nothing mounted: the directory, without its marker.
    let target = world.home.parent().unwrap().join("offsite");
    std::fs::create_dir_all(&target).unwrap();
    let mut conf = std::fs::read_to_string(world.home.join("girofle.conf")).unwrap();
    conf.push_str(&format!(
        "\n[targets.off-site]\nurl = \"{}\"\n",
        target.display()
    ));
    std::fs::write(world.home.join("girofle.conf"), conf).unwrap();

    // Not initialised: the backup is made, the shipping fails (exit 3), both are told.
    let run = world
        .run(
            "girofle-backup",
            &["1", "--to", "off-site", "--format", "json"],
        )
        .expect_code(3);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["exit_code"], 3);
    assert_eq!(document["instances"][0]["ok"], true);
    assert_eq!(document["targets"][0]["name"], "off-site");
    assert_eq!(document["targets"][0]["ok"], false);
    let events = hook.events();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("backup", "success"), ("shipping", "failure")]);
    assert_eq!(events[1]["target"], "off-site");
    assert!(
        events[1]["error"]
            .as_str()
            .unwrap()
            .contains(".girofle-target"),
        "{}",
        events[1]
    );
    let families = parsed(&textfile);
    let target_value = |families: &Value, metric: &str| {
        families[metric].as_array().unwrap()[0][2].as_f64().unwrap()
    };
    assert_eq!(target_value(&families, "girofle_target_last_result"), 0.0);

    // Initialised: shipped, told, counted.
    world
        .run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    let run = world
        .run(
            "girofle-backup",
            &["1", "--to", "off-site", "--format", "json"],
        )
        .expect_code(0);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    let id = document["instances"][0]["backup"].as_str().unwrap();
    let shipped = document["targets"][0]["shipped"][0].as_str().unwrap();
    assert!(
        shipped.ends_with(&format!("/noeud-gitlab-1/bckups/{id}")),
        "{shipped}"
    );
    assert!(target.join(shipped).join("MANIFEST").is_file(), "{shipped}");
    let event = hook.events().last().unwrap().clone();
    assert_eq!(event["kind"], "shipping");
    assert_eq!(event["outcome"], "success");
    assert_eq!(event["backup"], id);
    let families = parsed(&textfile);
    assert_eq!(target_value(&families, "girofle_target_last_result"), 1.0);
    assert!(target_value(&families, "girofle_target_last_success_timestamp_seconds") > 0.0);
}

#[test]
fn a_drill_is_told_and_counted() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let id = world.backup(1, &[]);
    let hook = Hook::start();
    let textfile = configure(&world, &hook, "[\"failure\", \"success\"]");
    world
        .run("girofle-backup", &["--drill", "1", "--wait-timeout", "120"])
        .expect_code(0);
    let events = hook.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["kind"], "drill");
    assert_eq!(events[0]["outcome"], "success");
    assert_eq!(events[0]["backup"], id.as_str());
    assert_eq!(events[0]["instance"], 1);
    let families = parsed(&textfile);
    assert_eq!(value(&families, "girofle_drill_last_result", 1), Some(1.0));
    assert!(value(&families, "girofle_drill_last_timestamp_seconds", 1).unwrap() > 0.0);
}

/// A drill fails on a torn backup while its container prints secrets in
/// its logs: the alert quotes the logs, redacted, and neither girofle.log
/// nor the message on stderr holds a secret.
#[test]
fn a_drill_failing_while_its_container_prints_secrets_alerts_without_them() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    tear_database(&world, 1);
    let id = world.backup(1, &[]);
    let hook = Hook::start();
    configure(&world, &hook, "[\"failure\"]");

    let drilled = std::sync::atomic::AtomicBool::new(false);
    let run = std::thread::scope(|scope| {
        // GitLab inside the drill's container printing the lines on its
        // standard error, which is what `docker logs` shows, again and again
        // until the drill is over: whenever the drill reads the last lines
        // of its logs, under any load, they are among them.
        let printed = scope.spawn(|| {
            let mut printed = false;
            let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while std::time::Instant::now() < until
                && !drilled.load(std::sync::atomic::Ordering::SeqCst)
            {
                if let Some(container) = world.drill_containers().first() {
                    let mut exec = Command::new("docker");
                    exec.args(["exec", container, "sh", "-c"])
                        .arg("for line in \"$@\"; do echo \"$line\"; done > /proc/1/fd/2")
                        .arg("sh");
                    for (line, _) in LINES_WITH_SECRETS {
                        exec.arg(line);
                    }
                    if exec.output().is_ok_and(|output| output.status.success()) {
                        printed = true;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            printed
        });
        let run = world
            .run("girofle-backup", &["--drill", "1", "--wait-timeout", "15"])
            .expect_code(1);
        drilled.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(
            printed.join().unwrap(),
            "the drill's container never printed"
        );
        run
    });
    let events = hook.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["kind"], "drill");
    assert_eq!(event["outcome"], "failure");
    let sent = event.to_string();
    let log = std::fs::read_to_string(world.home.join("girofle.log")).unwrap();
    let record = world.drill_record(1, &id);
    for (line, secret) in LINES_WITH_SECRETS {
        assert!(!sent.contains(secret), "{secret} of {line:?} sent: {sent}");
        assert!(!log.contains(secret), "{secret} of {line:?} logged: {log}");
        assert!(
            !record.contains(secret),
            "{secret} of {line:?} in the drill's record: {record}"
        );
        assert!(
            !run.stderr.contains(secret),
            "{secret} of {line:?} on stderr: {}",
            run.stderr
        );
    }
    let error = event["error"].as_str().unwrap();
    assert!(
        error.contains("gitlab.example.org/g/a.git") && error.contains("[REDACTED]"),
        "the alert does not quote the logs: {error}"
    );
}
