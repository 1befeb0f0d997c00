//! Alerts through an HTTP hook and a command.

use super::*;

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
