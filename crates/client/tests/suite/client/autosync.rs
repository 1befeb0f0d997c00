//! The last sending made hard to forget: the user service installed in a
//! machine's home, the loop it runs signalled as a logout signals it, and a
//! refused `get` that goes on once the other machine's loop sends.

use super::*;

use std::io::BufRead;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The loop of a machine's service, running; its stderr read as it comes.
struct Loop {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    said: Vec<String>,
}

impl Loop {
    /// Starts `program ARGS` in `machine`'s world and waits until it says it
    /// watches (its signal handlers are in place then).
    fn start(machine: &Machine, program: &Path, args: &[String]) -> Loop {
        let mut command = machine.command_for(program, &machine.home);
        // No desktop session: `autosync on` must not start a loop of its own.
        command
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Loop {
            child,
            lines,
            said: vec![],
        };
        running.wait_for("Watching: your saved folders will be sent when you leave.");
        running
    }

    /// Waits (a minute at most) for a line of stderr containing `text`.
    fn wait_for(&mut self, text: &str) {
        let until = Instant::now() + Duration::from_secs(60);
        while !self.said.iter().any(|line| line.contains(text)) {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.said.push(line),
                Err(_) => panic!("{text:?} never said; said:\n{}", self.said.join("\n")),
            }
        }
    }

    /// Sends SIGTERM, as the session's end or systemd's stop does, and
    /// waits for the loop to end: its exit code and all it said.
    fn leave(mut self) -> (i32, String) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.said.push(line);
        }
        (status.code().unwrap_or(-1), self.said.join("\n"))
    }
}

/// The words of a desktop entry's `Exec=` line, unquoted.
fn exec_words(entry: &str) -> Vec<String> {
    let line = entry
        .lines()
        .find_map(|line| line.strip_prefix("Exec="))
        .expect("an Exec line");
    let mut words = vec![];
    let mut word = String::new();
    let mut quoted = false;
    let mut chars = line
        .replace("\\\\", "\\")
        .chars()
        .collect::<Vec<_>>()
        .into_iter();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => word.push(chars.next().unwrap()),
            ' ' if !quoted => words.push(std::mem::take(&mut word)),
            _ => word.push(c),
        }
    }
    words.push(word);
    words
}

fn autosync(machine: &Machine, args: &[&str]) -> Run {
    let mut command = machine.command(&machine.home);
    command
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .arg("autosync")
        .args(args);
    Run::from(command.output().unwrap())
}

#[test]
fn the_user_service_is_installed_and_its_logout_sends_only_what_was_saved() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first plan\n");
    laptop1.run(&["new", "Report"]).expect_code(0);

    // Bad input changes nothing.
    let refused = autosync(&laptop1, &["on", "--every", "0"]).expect_code(2);
    assert!(
        refused.stderr.contains("at least 1 minute"),
        "{}",
        refused.stderr
    );
    autosync(&laptop1, &["sometimes"]).expect_code(2);
    let config = laptop1.home.join(".config");
    assert!(!config.join("systemd").exists() && !config.join("autostart").exists());

    // Where systemd is the init: a user service (the loop) and a timer,
    // enabled as `systemctl --user enable` does; `on` twice is `on` once.
    let on = autosync(&laptop1, &["on", "--using", "systemd"]).expect_code(0);
    plain(&on);
    assert!(
        on.stderr.contains("when you log out or shut down"),
        "{}",
        on.stderr
    );
    let user = config.join("systemd/user");
    let service = std::fs::read_to_string(user.join("girofle-client.service")).unwrap();
    let binary = client_binary().canonicalize().unwrap();
    let expected = format!(
        "ExecStart=\"{}\" \"autosync\" \"run\" \"--every\" \"0\"\n",
        binary.display(),
    );
    assert!(service.contains(&expected), "{expected}\nin\n{service}");
    assert!(service.contains("KillMode=mixed\n") && service.contains("WantedBy=default.target\n"));
    let timer = std::fs::read_to_string(user.join("girofle-client-sync.timer")).unwrap();
    assert!(timer.contains("OnUnitActiveSec=15min\n"), "{timer}");
    let sync = std::fs::read_to_string(user.join("girofle-client-sync.service")).unwrap();
    assert!(sync.contains("\"autosync\" \"run\" \"--once\""), "{sync}");
    for wanted in [
        "default.target.wants/girofle-client.service",
        "timers.target.wants/girofle-client-sync.timer",
    ] {
        assert!(
            std::fs::read_to_string(user.join(wanted)).is_ok(),
            "{wanted}"
        );
    }
    autosync(&laptop1, &["on", "--using", "systemd"]).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(user.join("girofle-client.service")).unwrap(),
        service
    );

    // XDG_CONFIG_HOME is respected; `off` removes everything, twice is once.
    let xdg = laptop1.home.join("elsewhere");
    let settings = config.join("girofle/client.toml");
    let with_xdg = |args: &[&str]| {
        let mut command = laptop1.command(&laptop1.home);
        command
            .env("XDG_CONFIG_HOME", &xdg)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .arg("--config")
            .arg(&settings)
            .arg("autosync")
            .args(args);
        Run::from(command.output().unwrap())
    };
    with_xdg(&["on", "--using", "autostart"]).expect_code(0);
    assert!(xdg.join("autostart/girofle-client.desktop").is_file());
    let off = with_xdg(&["off"]).expect_code(0);
    assert!(off.stderr.contains("no longer sent"), "{}", off.stderr);
    assert!(!xdg.join("autostart/girofle-client.desktop").exists());
    autosync(&laptop1, &["off"]).expect_code(0);
    for gone in [
        "girofle-client.service",
        "girofle-client-sync.service",
        "girofle-client-sync.timer",
        "default.target.wants/girofle-client.service",
        "timers.target.wants/girofle-client-sync.timer",
    ] {
        assert!(user.join(gone).symlink_metadata().is_err(), "{gone} left");
    }
    let again = autosync(&laptop1, &["off"]).expect_code(0);
    assert!(
        again.stderr.contains("nothing to remove"),
        "{}",
        again.stderr
    );

    // Elsewhere: an autostart entry. Without a desktop session it starts at
    // the next login.
    let on = autosync(&laptop1, &["on", "--using", "autostart"]).expect_code(0);
    assert!(on.stderr.contains("next time you log in"), "{}", on.stderr);
    let entry = std::fs::read_to_string(config.join("autostart/girofle-client.desktop")).unwrap();
    let words = exec_words(&entry);
    assert_eq!(Path::new(&words[0]), binary);
    assert_eq!(words[1..], ["autosync", "run", "--every", "15"]);

    // A version saved and not sent, and a change not saved.
    write(&report, "plan.txt", "second plan, saved\n");
    laptop1.run_in(&report, &["save", "Second"]).expect_code(0);
    write(&report, "draft.txt", "not saved\n");
    // The session starts the entry's command; logging out signals it.
    let running = Loop::start(&laptop1, Path::new(&words[0]), &words[1..]);
    let (code, said) = running.leave();
    assert_eq!(code, 0, "{said}");
    common::plain(&said);
    assert!(
        said.contains("alice/report: 1 saved version sent"),
        "{said}"
    );
    assert!(
        said.contains("1 file has unsaved changes, left as they are"),
        "{said}"
    );

    // The unsaved change still holds laptop-1; no service runs there now, so
    // laptop-2 is refused at once, and laptop-1 is asked for later.
    let started = Instant::now();
    let refused = laptop2.run(&["get", "report"]).expect_code(1);
    plain(&refused);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        refused
            .stderr
            .contains("laptop-1 was asked to send them: its girofle-client will"),
        "{}",
        refused.stderr
    );

    // "Save and send when I leave", chosen: the next logout saves first.
    autosync(&laptop1, &["on", "--using", "autostart", "--save-on-leave"]).expect_code(0);
    let entry = std::fs::read_to_string(config.join("autostart/girofle-client.desktop")).unwrap();
    let words = exec_words(&entry);
    assert_eq!(words.last().unwrap(), "--save-on-leave");
    let mut running = Loop::start(&laptop1, Path::new(&words[0]), &words[1..]);
    // laptop-2's request is seen at once: nothing saved to send, it is cleared.
    running.wait_for("another of your machines is waiting for this one's changes");
    let (code, said) = running.leave();
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("alice/report: 1 saved version sent"),
        "{said}"
    );
    laptop2.run(&["get", "report"]).expect_code(0);
    let here = laptop2.folder("Report");
    assert_eq!(read(&here, "plan.txt"), "second plan, saved\n");
    assert_eq!(read(&here, "draft.txt"), "not saved\n");
    autosync(&laptop1, &["off"]).expect_code(0);

    // `setup` sets it up when a script says so, and asks nothing otherwise.
    let token = "glpat-alice-0001\n";
    let setup = |extra: &[&str]| {
        let mut args = vec!["setup", "--server", &server.url, "--token-stdin"];
        args.extend(["--machine", "laptop-2"]);
        args.extend(extra);
        laptop2.run_with_input(&args, token)
    };
    setup(&[]).expect_code(0);
    assert!(!laptop2.home.join(".config/autostart").exists());
    setup(&["--autosync", "maybe"]).expect_code(2);
    let run = setup(&["--autosync", "on"]).expect_code(0);
    assert!(
        run.stderr.contains("when you log out or shut down"),
        "{}",
        run.stderr
    );
    let entry = laptop2
        .home
        .join(".config/autostart/girofle-client.desktop");
    assert!(entry.is_file() || laptop2.home.join(".config/systemd/user").is_dir());
    autosync(&laptop2, &["off"]).expect_code(0);
    assert!(!entry.exists());
}

#[test]
fn a_refused_get_goes_on_once_the_other_machine_sends() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first plan\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    write(&report, "plan.txt", "second plan, saved and never sent\n");
    laptop1.run_in(&report, &["save"]).expect_code(0);

    // laptop-1 is on, its service running (looking every second here).
    let args: Vec<String> = ["autosync", "run", "--check-every", "1"]
        .map(String::from)
        .to_vec();
    let running = Loop::start(&laptop1, &client_binary(), &args);
    let status = laptop2.run(&["get"]).expect_code(0);
    assert_eq!(status.stdout.trim(), "alice/report");
    let started = Instant::now();
    let got = laptop2.run(&["get", "report"]);
    let waited = started.elapsed();
    let got = got.expect_code(0);
    plain(&got);
    assert!(
        got.stderr
            .contains("laptop-1 was asked to send them and is on: waiting up to a minute"),
        "{}",
        got.stderr
    );
    assert!(waited < Duration::from_secs(60), "{waited:?}");
    let here = laptop2.folder("Report");
    assert_eq!(
        read(&here, "plan.txt"),
        "second plan, saved and never sent\n"
    );

    let (code, said) = running.leave();
    assert_eq!(code, 0, "{said}");
    assert!(
        said.contains("another of your machines is waiting"),
        "{said}"
    );
    assert!(
        said.contains("alice/report: 1 saved version sent"),
        "{said}"
    );
    // laptop-1 is clean, and its status says nothing is left to run.
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status
            .stdout
            .contains("Every saved version is on the server.")
    );
    assert!(
        !status.stdout.contains("girofle-client sync"),
        "{}",
        status.stdout
    );
    write(&report, "plan.txt", "third\n");
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status
            .stdout
            .trim_end()
            .ends_with("To send them: girofle-client sync"),
        "{}",
        status.stdout
    );
}

#[test]
fn the_page_sends_what_was_saved_when_another_machine_asks() {
    let server = Server::with_users();
    let laptop1 = server.machine("alice", "laptop-1");
    let laptop2 = server.machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first plan\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    write(&report, "plan.txt", "second plan, saved\n");
    laptop1.run_in(&report, &["save"]).expect_code(0);

    // laptop-1's page is open (it looks at the server every second here).
    let mut page = laptop1
        .command(&laptop1.documents)
        .args(["ui", "--no-browser", "--check-every", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(page.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("http://127.0.0.1:"), "{line}");

    // The page marks no service as running: the refusal is at once, and
    // the request waits for the page's next look.
    let refused = laptop2.run(&["get", "report"]).expect_code(1);
    assert!(
        refused.stderr.contains("laptop-1 was asked to send them"),
        "{}",
        refused.stderr
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = laptop2.run(&["get", "report"]);
        if run.code == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "never sent:\n{}", run.stderr);
        std::thread::sleep(Duration::from_secs(1));
    }
    let _ = page.kill();
    let _ = page.wait();
    assert_eq!(
        read(&laptop2.folder("Report"), "plan.txt"),
        "second plan, saved\n"
    );
}
