//! Alerts and metrics as an operator meets them: a `girofle.conf` with
//! `[notify]` and `[metrics]`, a real HTTP server on loopback receiving the
//! events, real commands given them on stdin, and the textfile read by the
//! Python Prometheus client's own parser (`pip install prometheus-client`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use girofle::conf::Conf;
use girofle::home::Home;
use girofle::metrics::{self, BackupFigures, InstanceLabels};
use girofle::notify::{self, Event, Kind, Outcome};
use serde_json::Value;

/// A home of its own, with this `girofle.conf`.
struct World {
    _root: tempfile::TempDir,
    dir: PathBuf,
    home: Home,
    conf: Conf,
}

impl World {
    fn new(conf_text: &str) -> World {
        World::with(|_| conf_text.to_string())
    }

    /// A world whose `girofle.conf` names paths in its own directory.
    fn with(conf_text: impl FnOnce(&Path) -> String) -> World {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        let home = Home::resolve(Some(&dir.join("home")));
        home.create().unwrap();
        std::fs::write(home.conf(), conf_text(&dir)).unwrap();
        // Through the file, as the binaries read it.
        let conf = Conf::load(&home).unwrap();
        World {
            _root: root,
            dir,
            home,
            conf,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.log_file()).unwrap_or_default()
    }
}

/// What the hook received.
#[derive(Debug, Clone)]
struct Request {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("the body is not JSON ({error}): {:?}", self.body))
    }
}

/// How the hook answers.
#[derive(Clone, Copy)]
enum Answer {
    /// `204 No Content`.
    Ok,
    /// `500` with a body.
    ServerError,
    /// Reads the request and never answers (holds the connection).
    Hang,
}

/// A real HTTP server on loopback that records every request it reads.
struct Hook {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Hook {
    fn start(answer: Answer) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let recorded = recorded.clone();
                std::thread::spawn(move || serve(stream, answer, &recorded));
            }
        });
        Hook { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes), records it, answers.
fn serve(stream: TcpStream, answer: Answer, recorded: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (key, value) = line.split_once(':').unwrap();
        headers.push((key.trim().to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    recorded.lock().unwrap().push(Request {
        request_line: request_line.trim_end().to_string(),
        headers,
        body: String::from_utf8(body).unwrap(),
    });
    let mut stream = stream;
    match answer {
        Answer::Ok => {
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
        Answer::ServerError => {
            let body = "the hook is broken today";
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Answer::Hang => std::thread::sleep(Duration::from_secs(120)),
    }
}

fn failed_backup() -> Event {
    Event::new(
        Kind::Backup,
        Outcome::Failure,
        "gitlab-host-1",
        "backup of instance 3 (docs) failed",
    )
    .instance(3, "docs", "girofle-gitlab-3-docs")
    .backup("2026-11-25T14-30-00Z")
    .error(anyhow::anyhow!("no space left on device").context("cannot copy data/"))
    .duration(Duration::from_millis(67_250))
}

fn good_shipping() -> Event {
    Event::new(
        Kind::Shipping,
        Outcome::Success,
        "gitlab-host-1",
        "backup 2026-11-25T14-30-00Z of instance 3 shipped to off-site",
    )
    .instance(3, "docs", "girofle-gitlab-3-docs")
    .backup("2026-11-25T14-30-00Z")
    .target("off-site")
}

#[test]
fn a_failed_backup_is_posted_as_json_to_the_hook() {
    let hook = Hook::start(Answer::Ok);
    let world = World::new(&format!("[notify]\nurl = \"{}\"\n", hook.url));
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    assert!(warnings.is_empty(), "{warnings:?}");

    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.request_line, "POST /hook HTTP/1.1");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let event = request.json();
    assert_eq!(event["kind"], "backup");
    assert_eq!(event["outcome"], "failure");
    assert_eq!(event["instance"], 3);
    assert_eq!(event["name"], "docs");
    assert_eq!(event["container"], "girofle-gitlab-3-docs");
    assert_eq!(event["backup"], "2026-11-25T14-30-00Z");
    assert_eq!(event["target"], Value::Null);
    assert_eq!(event["host"], "gitlab-host-1");
    assert_eq!(event["message"], "backup of instance 3 (docs) failed");
    assert_eq!(event["error"], "cannot copy data/: no space left on device");
    assert_eq!(event["duration_seconds"], 67.25);
    assert_eq!(event["girofle_version"], env!("CARGO_PKG_VERSION"));
    let time = event["time"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
            .is_ok_and(|at| at.offset().is_utc()),
        "time {time:?} is not RFC 3339 UTC"
    );
    assert!(time.ends_with('Z'), "{time}");
    assert!(
        world.log().contains("notify") && world.log().contains("sent backup failure of instance 3"),
        "girofle.log: {}",
        world.log()
    );
}

#[test]
fn successes_are_sent_only_when_asked_for() {
    let hook = Hook::start(Answer::Ok);
    let by_default = World::new(&format!("[notify]\nurl = \"{}\"\n", hook.url));
    assert!(notify::notify(&by_default.home, &by_default.conf, &good_shipping()).is_empty());
    assert!(hook.requests().is_empty(), "{:?}", hook.requests());
    assert!(!by_default.log().contains("notify"), "{}", by_default.log());

    let failures_too_silenced = World::new(&format!("[notify]\nurl = \"{}\"\non = []\n", hook.url));
    assert!(
        notify::notify(
            &failures_too_silenced.home,
            &failures_too_silenced.conf,
            &failed_backup()
        )
        .is_empty()
    );
    assert!(hook.requests().is_empty(), "{:?}", hook.requests());

    let asked = World::new(&format!(
        "[notify]\nurl = \"{}\"\non = [\"success\"]\n",
        hook.url
    ));
    assert!(notify::notify(&asked.home, &asked.conf, &good_shipping()).is_empty());
    // Failures are then no longer sent: `on` is the whole list.
    assert!(notify::notify(&asked.home, &asked.conf, &failed_backup()).is_empty());
    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let event = requests[0].json();
    assert_eq!(event["kind"], "shipping");
    assert_eq!(event["outcome"], "success");
    assert_eq!(event["target"], "off-site");
    assert_eq!(event["error"], Value::Null);
}

#[test]
fn an_unreachable_hook_is_a_warning_in_the_log() {
    // A port that was just free: nothing listens there.
    let url = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let world = World::new(&format!("[notify]\nurl = \"{url}\"\ntimeout_secs = 2\n"));
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    eprintln!("{warnings:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(&format!("POST {url}: ")),
        "{warnings:?}"
    );
    assert!(
        world
            .log()
            .contains("could not send backup failure of instance 3"),
        "{}",
        world.log()
    );
}

#[test]
fn a_hook_that_answers_an_error_is_a_warning_with_its_answer() {
    let hook = Hook::start(Answer::ServerError);
    let world = World::new(&format!("[notify]\nurl = \"{}\"\n", hook.url));
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    assert_eq!(hook.requests().len(), 1);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("500"), "{warnings:?}");
    assert!(
        warnings[0].contains("the hook is broken today"),
        "{warnings:?}"
    );
}

#[test]
fn a_hook_that_never_answers_is_given_up_at_the_timeout() {
    let hook = Hook::start(Answer::Hang);
    let world = World::new(&format!(
        "[notify]\nurl = \"{}\"\ntimeout_secs = 1\n",
        hook.url
    ));
    let start = Instant::now();
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    // Shown, not asserted: the proof is the timeout error, which only the
    // client's own deadline gives (the server holds the line for 120 s).
    eprintln!("gave up after {:?}: {warnings:?}", start.elapsed());
    assert_eq!(hook.requests().len(), 1, "the request was sent");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].ends_with("no answer within the timeout (1s)"),
        "{warnings:?}"
    );
}

#[test]
fn the_command_gets_the_event_on_stdin_without_a_shell_between() {
    const RECEIVED: &str = "a file with spaces; and $(dollars).json";
    // The path is an argument of its own: nothing interprets it.
    let world = World::with(|dir| {
        format!(
            "[notify]\ncommand = [\"sh\", \"-c\", \"cat > \\\"$1\\\"\", \"sh\", {}]\n",
            toml_string(&dir.join(RECEIVED))
        )
    });
    let received = world.dir.join(RECEIVED);
    let event = failed_backup();
    let warnings = notify::notify(&world.home, &world.conf, &event);
    assert!(warnings.is_empty(), "{warnings:?}");
    let text = std::fs::read_to_string(&received).unwrap();
    let got: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(got, serde_json::to_value(&event).unwrap());
}

#[test]
fn both_channels_get_the_event() {
    let hook = Hook::start(Answer::Ok);
    let world = World::with(|dir| {
        format!(
            "[notify]\nurl = \"{}\"\ncommand = [\"sh\", \"-c\", \"cat > \\\"$1\\\"\", \"sh\", {}]\n",
            hook.url,
            toml_string(&dir.join("event.json"))
        )
    });
    let received = world.dir.join("event.json");
    assert!(notify::notify(&world.home, &world.conf, &failed_backup()).is_empty());
    assert_eq!(hook.requests().len(), 1);
    let by_command: Value =
        serde_json::from_str(&std::fs::read_to_string(&received).unwrap()).unwrap();
    assert_eq!(by_command, hook.requests()[0].json());
}

#[test]
fn a_failing_command_is_a_warning_with_its_error_output() {
    let world = World::new(
        "[notify]\ncommand = [\"sh\", \"-c\", \"cat >/dev/null; echo pager unreachable >&2; exit 3\"]\n",
    );
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].ends_with("exited with status 3: pager unreachable"),
        "{warnings:?}"
    );

    let world = World::new("[notify]\ncommand = [\"/nonexistent/page-me\"]\n");
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("cannot start it"), "{warnings:?}");
    assert!(
        world.log().contains("/nonexistent/page-me"),
        "{}",
        world.log()
    );
}

#[test]
fn a_command_that_hangs_is_killed_with_what_it_started() {
    // The shell starts a grandchild and waits: killing the shell alone would
    // leave the grandchild running.
    let world = World::with(|dir| {
        format!(
            "[notify]\ntimeout_secs = 1\n\
             command = [\"sh\", \"-c\", \"sleep 120 & echo $! > \\\"$1\\\"; wait\", \"sh\", {}]\n",
            toml_string(&dir.join("sleeper.pid"))
        )
    });
    let pid_file = world.dir.join("sleeper.pid");
    let start = Instant::now();
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    eprintln!("gave up after {:?}: {warnings:?}", start.elapsed());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("killed"), "{warnings:?}");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Gone, or a zombie waiting for a reaper: not running either way. The
    // kill is delivered by then, but the state may take a moment to show.
    let mut state = process_state(pid);
    for _ in 0..100 {
        if state.is_none() || state == Some('Z') {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        state = process_state(pid);
    }
    assert!(
        state.is_none() || state == Some('Z'),
        "the grandchild {pid} is still in state {state:?}"
    );
}

/// The state letter of a process (`R`, `S`, `Z`, …), or `None` once it is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S …`: the state follows the last parenthesis.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// A path as a TOML basic string.
fn toml_string(path: &Path) -> String {
    serde_json::to_string(path.to_str().unwrap()).unwrap()
}

// ---- metrics ----

/// The families of a textfile as the Python Prometheus client's parser reads
/// them: `{name: {"type", "help", "samples": [[name, {labels}, value], …]}}`.
fn parsed_by_prometheus_client(textfile: &Path) -> Value {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    if family.name in families:
        sys.exit("family %s appears twice" % family.name)
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
print(json.dumps(families))
"#;
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(textfile)
        .output()
        .expect("python3 runs (the test command installs it with prometheus-client)");
    assert!(
        output.status.success(),
        "the Prometheus parser refused {}:\n{}\n{}",
        textfile.display(),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(textfile).unwrap_or_default()
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The value of `metric` whose labels include `labels`.
fn value(families: &Value, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families[metric]["samples"]
        .as_array()?
        .iter()
        .find(|sample| {
            labels
                .iter()
                .all(|(key, wanted)| sample[1][key].as_str() == Some(wanted))
        })
        .and_then(|sample| sample[2].as_f64())
}

fn docs() -> InstanceLabels {
    InstanceLabels {
        number: 3,
        name: "docs".into(),
        container: "girofle-gitlab-3-docs".into(),
    }
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn backup(instance: InstanceLabels, ok: bool, ended: u64) -> BackupFigures {
    BackupFigures {
        instance,
        ok,
        ended: at(ended),
        duration: Duration::from_millis(61_250),
        stop_window: Duration::from_millis(4_500),
        bytes_copied: 1_234_567,
        bytes_hardlinked: 9_876_543_210,
        files_copied: 12,
        files_hardlinked: 34_567,
        backups_kept: Some(5),
    }
}

const DOCS: &[(&str, &str)] = &[
    ("instance", "3"),
    ("name", "docs"),
    ("container", "girofle-gitlab-3-docs"),
];

#[test]
fn the_textfile_is_read_by_a_real_prometheus_parser_with_the_expected_values() {
    let world = World::with(|dir| {
        format!(
            "[metrics]\ntextfile = {}\n",
            toml_string(&dir.join("node-exporter/girofle.prom"))
        )
    });
    let textfile = world.dir.join("node-exporter/girofle.prom");
    std::fs::create_dir(textfile.parent().unwrap()).unwrap();

    // What a backup, then a drill, then two shippings, then a failed backup leave.
    assert!(
        metrics::record(&world.home, &world.conf, |m| m.backup(&backup(
            docs(),
            true,
            1_795_000_000
        )))
        .is_none()
    );
    metrics::record_drill(&textfile, &docs(), true, at(1_795_000_500)).unwrap();
    metrics::record_shipping(&textfile, "off-site", true, at(1_795_000_100)).unwrap();
    metrics::record_shipping(&textfile, "same-site", false, at(1_795_000_200)).unwrap();
    let other = InstanceLabels {
        number: 10,
        name: String::new(),
        container: "girofle-gitlab-10".into(),
    };
    metrics::record_backup(&textfile, &backup(other, false, 1_795_000_300)).unwrap();

    let families = parsed_by_prometheus_client(&textfile);
    for (name, family) in families.as_object().unwrap() {
        assert_eq!(family["type"], "gauge", "{name}");
        assert!(!family["help"].as_str().unwrap().is_empty(), "{name}");
    }
    let of_docs = |metric: &str| value(&families, metric, DOCS);
    assert_eq!(
        of_docs("girofle_backup_last_success_timestamp_seconds"),
        Some(1_795_000_000.0)
    );
    assert_eq!(
        of_docs("girofle_backup_last_attempt_timestamp_seconds"),
        Some(1_795_000_000.0)
    );
    assert_eq!(of_docs("girofle_backup_last_result"), Some(1.0));
    assert_eq!(of_docs("girofle_backup_duration_seconds"), Some(61.25));
    assert_eq!(of_docs("girofle_backup_stop_window_seconds"), Some(4.5));
    assert_eq!(of_docs("girofle_backup_bytes_copied"), Some(1_234_567.0));
    assert_eq!(
        of_docs("girofle_backup_bytes_hardlinked"),
        Some(9_876_543_210.0)
    );
    assert_eq!(of_docs("girofle_backup_files_copied"), Some(12.0));
    assert_eq!(of_docs("girofle_backup_files_hardlinked"), Some(34_567.0));
    assert_eq!(of_docs("girofle_backups_kept"), Some(5.0));
    assert_eq!(of_docs("girofle_drill_last_result"), Some(1.0));
    assert_eq!(
        of_docs("girofle_drill_last_timestamp_seconds"),
        Some(1_795_000_500.0)
    );

    // The failed backup of instance 10: an attempt, a 0, and no success.
    let ten = &[
        ("instance", "10"),
        ("name", ""),
        ("container", "girofle-gitlab-10"),
    ];
    assert_eq!(
        value(&families, "girofle_backup_last_result", ten),
        Some(0.0)
    );
    assert_eq!(
        value(
            &families,
            "girofle_backup_last_attempt_timestamp_seconds",
            ten
        ),
        Some(1_795_000_300.0)
    );
    assert_eq!(
        value(
            &families,
            "girofle_backup_last_success_timestamp_seconds",
            ten
        ),
        None
    );

    let target = |name: &str, metric: &str| value(&families, metric, &[("target", name)]);
    assert_eq!(
        target("off-site", "girofle_target_last_success_timestamp_seconds"),
        Some(1_795_000_100.0)
    );
    assert_eq!(target("off-site", "girofle_target_last_result"), Some(1.0));
    assert_eq!(target("same-site", "girofle_target_last_result"), Some(0.0));
    assert_eq!(
        target("same-site", "girofle_target_last_success_timestamp_seconds"),
        None
    );

    // A failed drill later: the backup series stay, the drill's change.
    metrics::record_drill(&textfile, &docs(), false, at(1_795_100_000)).unwrap();
    let families = parsed_by_prometheus_client(&textfile);
    assert_eq!(
        value(&families, "girofle_drill_last_result", DOCS),
        Some(0.0)
    );
    assert_eq!(
        value(&families, "girofle_backup_bytes_copied", DOCS),
        Some(1_234_567.0)
    );

    // Decommissioned: its series go, the others stay.
    metrics::forget_instance(&textfile, 3).unwrap();
    let families = parsed_by_prometheus_client(&textfile);
    assert_eq!(value(&families, "girofle_backup_last_result", DOCS), None);
    assert_eq!(
        value(&families, "girofle_backup_last_result", ten),
        Some(0.0)
    );

    // Readable by node-exporter's user; nothing but the file and its lock left.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&textfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let mut names: Vec<String> = std::fs::read_dir(textfile.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["girofle.prom", "girofle.prom.lock"]);
}

#[test]
fn labels_with_quotes_backslashes_and_newlines_survive_the_parser() {
    let world = World::new("");
    let textfile = world.dir.join("girofle.prom");
    let odd = InstanceLabels {
        number: 7,
        name: "l'équipe \"doc\" \\ deux\nlignes".into(),
        container: "girofle-gitlab-7-x".into(),
    };
    metrics::record_backup(&textfile, &backup(odd.clone(), true, 1_795_000_000)).unwrap();
    // Read back and rewritten by a second update: the labels must survive that too.
    metrics::record_shipping(&textfile, "off \"site\"", true, at(1_795_000_001)).unwrap();
    let families = parsed_by_prometheus_client(&textfile);
    let samples = families["girofle_backup_last_result"]["samples"]
        .as_array()
        .unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0][1]["name"], odd.name.as_str());
    assert_eq!(
        value(
            &families,
            "girofle_target_last_result",
            &[("target", "off \"site\"")]
        ),
        Some(1.0)
    );
}

#[test]
fn concurrent_updates_from_several_processes_lose_nothing() {
    // Threads take the lock through their own open file descriptions, so
    // they exclude each other as separate processes would.
    let world = World::new("");
    let textfile = world.dir.join("girofle.prom");
    let threads: Vec<_> = (1..=8u32)
        .map(|number| {
            let textfile = textfile.clone();
            std::thread::spawn(move || {
                for round in 0..10u64 {
                    let labels = InstanceLabels {
                        number,
                        name: format!("n{number}"),
                        container: format!("girofle-gitlab-{number}"),
                    };
                    metrics::record_backup(&textfile, &backup(labels, true, 1_795_000_000 + round))
                        .unwrap();
                    metrics::record_shipping(
                        &textfile,
                        &format!("t{number}"),
                        true,
                        at(1_795_000_000 + round),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let families = parsed_by_prometheus_client(&textfile);
    for number in 1..=8u32 {
        let n = number.to_string();
        assert_eq!(
            value(
                &families,
                "girofle_backup_last_success_timestamp_seconds",
                &[("instance", n.as_str())]
            ),
            Some(1_795_000_009.0),
            "instance {number}"
        );
        assert_eq!(
            value(
                &families,
                "girofle_target_last_success_timestamp_seconds",
                &[("target", format!("t{number}").as_str())]
            ),
            Some(1_795_000_009.0)
        );
    }
}

#[test]
fn a_textfile_in_a_missing_directory_is_a_warning_in_the_log() {
    let world = World::with(|dir| {
        format!(
            "[metrics]\ntextfile = {}\n",
            toml_string(&dir.join("no-such-dir/girofle.prom"))
        )
    });
    let warning = metrics::record(&world.home, &world.conf, |m| {
        m.drill(&docs(), true, at(1_795_000_000))
    })
    .expect("a warning");
    assert!(warning.contains("no-such-dir"), "{warning}");
    assert!(
        world.log().contains("could not update the metrics"),
        "{}",
        world.log()
    );
}

/// Lines a failing GitLab (or the programs around it) may print, each with
/// a secret of a shape the redactor must know (issue 19 §5), and the secret.
const LINES_WITH_SECRETS: [(&str, &str); 9] = [
    (
        "fetching http://deploy:Pa55-in-url@10.0.0.9/x",
        "Pa55-in-url",
    ),
    ("\"db_key_base\": \"d1b2k3e4y5\",", "d1b2k3e4y5"),
    ("otp_key_base: 0a7b1c2d3e4f", "0a7b1c2d3e4f"),
    ("secret_key_base = 5ecre7ba5e99", "5ecre7ba5e99"),
    (
        "Authorization: Bearer glpat-B3arerT0kenValue",
        "B3arerT0kenValue",
    ),
    (
        "remote: https://oauth2:glpat-0auth2T0kenValue@gitlab.example.org/g/a.git",
        "0auth2T0kenValue",
    ),
    ("access_key=AKIAEXAMPLEKEY123", "AKIAEXAMPLEKEY123"),
    ("pg_dump --password hunter2-flag", "hunter2-flag"),
    (
        "runner registered with glrt-RunnerT0kenValue",
        "RunnerT0kenValue",
    ),
];

#[test]
fn an_alert_and_the_log_carry_no_secret_of_any_known_shape() {
    let hook = Hook::start(Answer::Ok);
    let world = World::with(|dir| {
        format!(
            "[notify]\nurl = \"{}\"\ncommand = [\"/bin/sh\", \"-c\", \"cat > '{}'\"]\n",
            hook.url,
            dir.join("stdin.json").display()
        )
    });
    let lines: Vec<&str> = LINES_WITH_SECRETS.iter().map(|(line, _)| *line).collect();
    let event = Event::new(
        Kind::Drill,
        Outcome::Failure,
        "gitlab-host-1",
        format!("drill of instance 3 failed: {}", lines[0]),
    )
    .instance(3, "docs", "girofle-gitlab-3-docs")
    .error(format!(
        "the backup does not boot; last lines of its logs: {}",
        lines.join("\n")
    ));
    let warnings = notify::notify(&world.home, &world.conf, &event);
    assert!(warnings.is_empty(), "{warnings:?}");
    let requests = hook.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let posted = &requests[0].body;
    let given = std::fs::read_to_string(world.dir.join("stdin.json")).unwrap();
    let sent = requests[0].json();
    for (line, secret) in LINES_WITH_SECRETS {
        assert!(
            !posted.contains(secret),
            "{secret} of {line:?} was posted: {posted}"
        );
        assert!(
            !given.contains(secret),
            "{secret} of {line:?} was given to the command: {given}"
        );
    }
    let error = sent["error"].as_str().unwrap();
    assert!(
        error.contains("[REDACTED]") && error.contains("gitlab.example.org/g/a.git"),
        "{error}"
    );
    assert!(
        sent["message"].as_str().unwrap().contains("@10.0.0.9/x"),
        "{sent}"
    );
    // And what is logged of it.
    world
        .home
        .log("drill", &format!("error: {}", lines.join("\n")));
    let log = world.log();
    for (line, secret) in LINES_WITH_SECRETS {
        assert!(!log.contains(secret), "{secret} of {line:?} logged: {log}");
    }
}

#[test]
fn a_hook_url_with_a_password_that_fails_is_logged_without_it() {
    // A port that was just free: nothing listens there.
    let address = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let world = World::new(&format!(
        "[notify]\nurl = \"http://alerts:Hook-Pa55word@{address}/hook\"\ntimeout_secs = 2\n"
    ));
    let warnings = notify::notify(&world.home, &world.conf, &failed_backup());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        !warnings[0].contains("Hook-Pa55word"),
        "the warning shown: {warnings:?}"
    );
    assert!(
        warnings[0].contains(&format!("@{address}/hook")),
        "{warnings:?}"
    );
    let log = world.log();
    assert!(
        log.contains("could not send backup failure of instance 3"),
        "{log}"
    );
    assert!(!log.contains("Hook-Pa55word"), "girofle.log: {log}");
}
