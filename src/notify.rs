//! Alerts: a JSON [`Event`](crate::notify::Event) POSTed to `[notify] url` and/or given on the
//! standard input of `[notify] command`, for the outcomes listed in `on`.
//!
//! A notification is a side show: it never takes longer than the section's
//! timeout (both channels run at the same time, each bounded), and a failure
//! to notify comes back as a warning for the caller to log, never as an error
//! that would fail the backup or restore it reports on.
//!
//! HTTP goes through `ureq` (version 3, no default features: plain HTTP, no
//! TLS stack): a small, well-kept client that gives one *total* deadline
//! covering name resolution, connection, sending and the response, honours
//! `HTTP_PROXY`/`NO_PROXY`, and parses responses properly (chunked, early
//! closes), which a hand-written `TcpStream` client would have to get right
//! itself. HTTPS hooks are reached through `command` (curl), which uses the
//! system's certificates; `girofle.conf` says so when given an `https://` URL.

use std::io::{Read, Seek, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::conf::{CommandLine, Conf, HttpUrl, NotifySection};
use crate::home::Home;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A backup of an instance (or of Girofle's own state) on this host.
    Backup,
    /// A backup sent to a target.
    Shipping,
    /// A backup booted in a throwaway container to prove it restores.
    Drill,
    /// A restore of an instance.
    Restore,
    /// An instance's certificate: renewed, or about to expire.
    Certificate,
    /// A target's own integrity check (the weekly `restic check`).
    Check,
}

impl Kind {
    /// The word used in the JSON and in messages: `backup`, `shipping`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Backup => "backup",
            Kind::Shipping => "shipping",
            Kind::Drill => "drill",
            Kind::Restore => "restore",
            Kind::Certificate => "certificate",
            Kind::Check => "check",
        }
    }
}

/// How an event ended. The type belongs to `conf`, whose `[notify] on`
/// lists the outcomes that are sent: the settings never depend on the
/// alerts that read them.
pub use crate::conf::EventOutcome as Outcome;

/// One event, as sent. Every key is always present (`null` when it does not
/// apply), so that receivers can rely on the shape:
///
/// ```json
/// {"kind": "backup", "outcome": "failure", "instance": 3, "name": "docs",
///  "container": "girofle-gitlab-3-docs", "backup": "2026-11-25T14-30-00Z",
///  "target": null, "message": "backup of instance 3 (docs) failed",
///  "error": "docker stop: …", "host": "gitlab-host-1",
///  "time": "2026-11-25T14:31:07Z", "duration_seconds": 67.2,
///  "girofle_version": "0.1.0"}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// `backup`, `shipping`, `drill`, `restore` or `check`.
    pub kind: Kind,
    /// `success` or `failure`.
    pub outcome: Outcome,
    /// The instance number, when the event is about one instance.
    pub instance: Option<u32>,
    /// The instance's name (may be empty), when about one instance.
    pub name: Option<String>,
    /// The instance's container, when about one instance.
    pub container: Option<String>,
    /// The backup ID concerned, when there is one.
    pub backup: Option<String>,
    /// The target's name, for shipping and checks (and restores from a target).
    pub target: Option<String>,
    /// One line for people: what happened.
    pub message: String,
    /// The error chain, on failure.
    pub error: Option<String>,
    /// This host's name (`[girofle] host`, or the machine's host name).
    pub host: String,
    /// When the event was made, RFC 3339 UTC (`2026-11-25T14:31:07Z`).
    pub time: String,
    /// How long the operation took, in seconds.
    pub duration_seconds: Option<f64>,
    /// The Girofle version that sent it.
    pub girofle_version: String,
}

impl Event {
    /// An event made now on `host`; the builder methods below add the rest.
    pub fn new(
        kind: Kind,
        outcome: Outcome,
        host: impl Into<String>,
        message: impl Into<String>,
    ) -> Event {
        Event {
            kind,
            outcome,
            instance: None,
            name: None,
            container: None,
            backup: None,
            target: None,
            message: message.into(),
            error: None,
            host: host.into(),
            time: crate::timefmt::now_rfc3339(),
            duration_seconds: None,
            girofle_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    /// The instance the event is about.
    pub fn instance(mut self, number: u32, name: &str, container: &str) -> Event {
        self.instance = Some(number);
        self.name = Some(name.to_string());
        self.container = Some(container.to_string());
        self
    }

    /// The backup concerned.
    pub fn backup(mut self, id: &str) -> Event {
        self.backup = Some(id.to_string());
        self
    }

    /// The target concerned.
    pub fn target(mut self, name: &str) -> Event {
        self.target = Some(name.to_string());
        self
    }

    /// The error chain (for a failure).
    pub fn error(mut self, error: impl std::fmt::Display) -> Event {
        // `{:#}` prints an anyhow chain on one line, as `girofle::Error` does.
        self.error = Some(format!("{error:#}"));
        self
    }

    /// How long the operation took.
    pub fn duration(mut self, duration: Duration) -> Event {
        // Milliseconds are plenty, and keep the JSON short.
        self.duration_seconds = Some((duration.as_millis() as f64) / 1000.0);
        self
    }

    /// The event as sent: one line of JSON, every text in it redacted
    /// ([`crate::redact::secrets`]): an error may quote a container's logs,
    /// a command line, a URL with its password.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.redacted()).expect("an event always serialises")
    }

    /// The event with every text field redacted.
    pub fn redacted(&self) -> Event {
        let redact = |text: &Option<String>| text.as_deref().map(crate::redact::secrets);
        Event {
            name: redact(&self.name),
            container: redact(&self.container),
            backup: redact(&self.backup),
            target: redact(&self.target),
            message: crate::redact::secrets(&self.message),
            error: redact(&self.error),
            host: crate::redact::secrets(&self.host),
            ..self.clone()
        }
    }
}

/// Sends `event` as `[notify]` in `conf` asks, logs what happened in
/// `girofle.log`, and returns the warnings (empty when all went well, or when
/// there is nothing to send) for the caller to show. Never fails, and returns
/// within the section's timeout.
pub fn notify(home: &Home, conf: &Conf, event: &Event) -> Vec<String> {
    let Some(section) = &conf.notify else {
        return Vec::new();
    };
    if !section.on.contains(&event.outcome) {
        return Vec::new();
    }
    // Shown on stderr by the caller: redacted as the log is.
    let warnings: Vec<String> = send(section, event)
        .iter()
        .map(|warning| crate::redact::secrets(warning))
        .collect();
    let what = format!(
        "{} {}{}",
        event.kind.as_str(),
        event.outcome.as_str(),
        event
            .instance
            .map(|number| format!(" of instance {number}"))
            .unwrap_or_default()
    );
    if warnings.is_empty() {
        home.log("notify", &format!("sent {what}"));
    }
    for warning in &warnings {
        home.log("notify", &format!("could not send {what}: {warning}"));
    }
    warnings
}

/// Sends `event` through every channel of `section`, whatever its outcome
/// (the `on` filter is [`notify`]'s), the channels at the same time, each
/// bounded by `section.timeout`. Returns one warning per failed channel.
pub fn send(section: &NotifySection, event: &Event) -> Vec<String> {
    let json = event.to_json();
    let deadline = Instant::now() + section.timeout;
    std::thread::scope(|scope| {
        let http = section
            .url
            .as_ref()
            .map(|url| scope.spawn(|| post(url, &json, section.timeout)));
        let command = section
            .command
            .as_ref()
            .map(|command| run(command, &json, deadline));
        let http = http.map(|handle| {
            handle
                .join()
                .unwrap_or_else(|_| Err("the HTTP notification panicked".to_string()))
        });
        [http, command]
            .into_iter()
            .flatten()
            .filter_map(Result::err)
            .collect()
    })
}

/// POSTs the JSON; any answer other than 2xx is a failure.
fn post(url: &HttpUrl, json: &str, timeout: Duration) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // A status is an answer to report, not an error without its body.
        .http_status_as_error(false)
        // A POST redirected is a hook misconfigured: say so, do not follow.
        .max_redirects(0)
        .user_agent(format!("girofle/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let fail = |why: String| format!("POST {}: {why}", url.as_str());
    let mut response = agent
        .post(url.as_str())
        .content_type("application/json")
        .send(json)
        .map_err(|error| {
            fail(match error {
                ureq::Error::Timeout(_) => {
                    format!("no answer within the timeout ({}s)", timeout.as_secs_f64())
                }
                ureq::Error::Io(error) => error.to_string(),
                other => other.to_string(),
            })
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response
        .body_mut()
        .with_config()
        .limit(4096)
        .read_to_string()
        .unwrap_or_default();
    let body = one_line(&body, 200);
    Err(fail(if body.is_empty() {
        format!("answered {status}")
    } else {
        format!("answered {status}: {body}")
    }))
}

/// Runs the command, no shell, the JSON on its standard input; its whole
/// process group is killed at the deadline.
fn run(command: &CommandLine, json: &str, deadline: Instant) -> Result<(), String> {
    // Shown as written in girofle.conf: a list, unambiguous.
    let fail = |why: String| format!("command {:?}: {why}", command.as_slice());
    // Its standard error goes to a file, not a pipe: a grandchild that
    // outlives the kill cannot keep us waiting for the pipe to close.
    let mut errors = tempfile::tempfile().map_err(|error| fail(error.to_string()))?;
    let mut child = Command::new(command.program())
        .args(command.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(
            errors
                .try_clone()
                .map_err(|error| fail(error.to_string()))?,
        )
        // Its own process group, so that the kill reaches whatever it started.
        .process_group(0)
        .spawn()
        .map_err(|error| fail(format!("cannot start it: {error}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let payload = json.as_bytes().to_vec();
    // Written from a thread: a command that never reads would otherwise block
    // the write once the pipe is full. The thread ends when the pipe closes.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&payload);
        let _ = stdin.write_all(b"\n");
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let group = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail("still running at the timeout: killed".into()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(fail(error.to_string())),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    let _ = errors.rewind();
    let _ = (&mut errors).take(64 * 1024).read_to_string(&mut stderr);
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    };
    let stderr = one_line(&stderr, 300);
    Err(fail(if stderr.is_empty() {
        how
    } else {
        format!("{how}: {stderr}")
    }))
}

/// `text` on one line, its last `max` characters (where errors say what went wrong).
fn one_line(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let count = line.chars().count();
    if count <= max {
        line
    } else {
        let tail: String = line.chars().skip(count - max).collect();
        format!("…{tail}")
    }
}
