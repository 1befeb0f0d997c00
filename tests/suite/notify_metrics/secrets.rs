//! No secret of any known shape in an alert or the log.

use super::*;
use crate::common::LINES_WITH_SECRETS;

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
