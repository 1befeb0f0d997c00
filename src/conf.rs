//! `girofle.conf`: this host's name on targets, retention, remote targets,
//! alerts and metrics. Unknown keys and bad values are refused with their line.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::home::Home;

/// The complete backups kept per instance when `girofle.conf` says nothing.
pub const DEFAULT_KEEP_LAST: u32 = 12;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conf {
    /// `[girofle]`.
    #[serde(default)]
    pub girofle: GirofleSection,
    /// `[retention]`.
    #[serde(default)]
    pub retention: Retention,
    /// `[targets.<name>]`.
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
    /// `[notify]`: alerts; none when the section is absent.
    pub notify: Option<NotifySection>,
    /// `[metrics]`: the Prometheus textfile; none when the section is absent.
    pub metrics: Option<MetricsSection>,
}

/// `[girofle]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GirofleSection {
    /// This host's name on targets; the machine's host name by default.
    pub host: Option<String>,
    /// The longest a `pause` backup keeps GitLab frozen, in seconds: past it
    /// GitLab is thawed and that backup falls back to `stop`. No ceiling by default.
    pub max_freeze_secs: Option<u64>,
}

/// `[retention]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Complete backups kept per instance on this host.
    pub keep_last: Option<NonZeroU32>,
}

/// What a target is: a tree written by rsync (the default), or a restic repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// rsync over SSH (`user@host:/path`) or a mounted path.
    #[default]
    Rsync,
    /// A restic repository: encrypted, deduplicated, possibly append-only.
    Restic,
}

/// `[targets.<name>]`: rsync over SSH (`user@host:/path`), a mounted path,
/// or (`kind = "restic"`) a restic repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `rsync` (the default) or `restic`.
    #[serde(default)]
    pub kind: TargetKind,
    /// `user@host:/path` or `/mounted/path`; for restic, its repository
    /// (`/path`, `sftp:…`, `rest:http://…`).
    #[serde(deserialize_with = "target_url")]
    pub url: String,
    /// restic: the file holding the repository's password (root's, 0600),
    /// never the password itself.
    pub password_file: Option<PathBuf>,
    /// restic: the repository refuses deletion, so Girofle never prunes it.
    #[serde(default)]
    pub append_only: bool,
    /// restic: the newest snapshot of each of that many days is kept.
    pub keep_daily: Option<NonZeroU32>,
    /// restic: the newest snapshot of each of that many weeks is kept.
    pub keep_weekly: Option<NonZeroU32>,
    /// restic: the newest snapshot of each of that many months is kept.
    pub keep_monthly: Option<NonZeroU32>,
    /// restic: how much of the repository's data `girofle-backup --verify
    /// --from` re-reads (`restic check --read-data-subset`): `N%` or `n/t`
    /// [default: `5%`].
    pub check_read_data_subset: Option<String>,
    /// SSH port.
    pub port: Option<u16>,
    /// SSH private key.
    pub identity: Option<PathBuf>,
    /// The known_hosts file the host key is checked against.
    pub known_hosts: Option<PathBuf>,
    /// Complete backups kept per instance on this target.
    pub keep_last: Option<NonZeroU32>,
    /// Bandwidth limit of transfers, KiB/s (rsync `--bwlimit`).
    pub bwlimit_kib: Option<u32>,
    /// Seconds without an answer after which a transfer is given up (SSH
    /// connection and keepalives, rsync `--timeout`) [default: 60].
    pub timeout: Option<NonZeroU32>,
}

/// restic's `--read-data-subset` forms Girofle accepts: `N%` (0 < N ≤ 100)
/// and `n/t` (1 ≤ n ≤ t).
fn valid_subset(text: &str) -> bool {
    if let Some(percent) = text.strip_suffix('%') {
        return percent
            .parse::<f64>()
            .is_ok_and(|p| p > 0.0 && p <= 100.0 && !percent.starts_with('+'));
    }
    match text.split_once('/') {
        Some((n, t)) => match (n.parse::<u32>(), t.parse::<u32>()) {
            (Ok(n), Ok(t)) => n >= 1 && n <= t,
            _ => false,
        },
        None => false,
    }
}

impl Target {
    /// The keys that belong to one kind and not the other, and what a
    /// restic target needs: a password file named by an absolute path.
    fn check(&self) -> std::result::Result<(), String> {
        match self.kind {
            TargetKind::Rsync => {
                let restic_only = [
                    ("password_file", self.password_file.is_some()),
                    ("append_only", self.append_only),
                    ("keep_daily", self.keep_daily.is_some()),
                    ("keep_weekly", self.keep_weekly.is_some()),
                    ("keep_monthly", self.keep_monthly.is_some()),
                    (
                        "check_read_data_subset",
                        self.check_read_data_subset.is_some(),
                    ),
                ];
                if let Some((key, _)) = restic_only.iter().find(|(_, set)| *set) {
                    return Err(format!(
                        "`{key}` is for restic targets only (add `kind = \"restic\"` if this is one)"
                    ));
                }
            }
            TargetKind::Restic => {
                let rsync_only = [
                    ("port", self.port.is_some()),
                    ("identity", self.identity.is_some()),
                    ("known_hosts", self.known_hosts.is_some()),
                    ("bwlimit_kib", self.bwlimit_kib.is_some()),
                    ("timeout", self.timeout.is_some()),
                ];
                if let Some((key, _)) = rsync_only.iter().find(|(_, set)| *set) {
                    return Err(format!(
                        "`{key}` is for rsync targets only, not for `kind = \"restic\"`"
                    ));
                }
                match &self.password_file {
                    None => {
                        return Err("a restic target needs `password_file` (the file holding \
                                    the repository's password, root's, mode 0600)"
                            .into());
                    }
                    Some(path) if !path.is_absolute() => {
                        return Err(format!(
                            "password_file = {:?} is not an absolute path",
                            path.display().to_string()
                        ));
                    }
                    Some(_) => {}
                }
                if let Some(subset) = &self.check_read_data_subset
                    && !valid_subset(subset)
                {
                    return Err(format!(
                        "check_read_data_subset = {subset:?} is neither a percentage (`5%`, \
                         more than 0 and at most 100) nor a part `n/t` (`1/7`)"
                    ));
                }
                check_restic_url(&self.url)?;
            }
        }
        Ok(())
    }
}

/// The repository kinds restic knows, as its `-r` reads them: a path, or a
/// backend prefix. Anything else (a relative path would depend on the
/// working directory) is refused.
fn check_restic_url(url: &str) -> std::result::Result<(), String> {
    const BACKENDS: [&str; 10] = [
        "local:/",
        "sftp:",
        "rest:http://",
        "rest:https://",
        "rclone:",
        "s3:",
        "b2:",
        "azure:",
        "gs:",
        "swift:",
    ];
    if url.starts_with('/') || BACKENDS.iter().any(|prefix| url.starts_with(prefix)) {
        return Ok(());
    }
    Err(format!(
        "url = {url:?} is not a restic repository (an absolute path, `sftp:user@host:/path`, \
         `rest:http://host:port/`, or another restic backend)"
    ))
}

/// How long a notification may take when `girofle.conf` says nothing.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest `timeout_secs` accepted: a notification must never hold an
/// operation (and the instance's lock) for long.
pub const MAX_NOTIFY_TIMEOUT_SECS: u64 = 60;

/// How an alert's event ended (`notify::Outcome`); `[notify] on` lists the
/// outcomes that are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventOutcome {
    /// Done.
    Success,
    /// Failed (or partly failed).
    Failure,
}

impl EventOutcome {
    /// `success` or `failure`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Success => "success",
            EventOutcome::Failure => "failure",
        }
    }
}

/// `[notify]`: where events go, and which ones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawNotify")]
pub struct NotifySection {
    /// `url`: the JSON event is POSTed there.
    pub url: Option<HttpUrl>,
    /// `command`: run with the JSON event on its standard input.
    pub command: Option<CommandLine>,
    /// `on`: the outcomes that are sent; `["failure"]` by default.
    pub on: Vec<EventOutcome>,
    /// `timeout_secs`: the most a notification may take, both channels
    /// together; 5 s by default.
    pub timeout: Duration,
}

/// `[notify]` as written, checked as a whole by [`NotifySection`]'s `TryFrom`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotify {
    url: Option<HttpUrl>,
    command: Option<CommandLine>,
    on: Option<Vec<EventOutcome>>,
    timeout_secs: Option<u64>,
}

impl TryFrom<RawNotify> for NotifySection {
    type Error = String;

    fn try_from(raw: RawNotify) -> std::result::Result<NotifySection, String> {
        if raw.url.is_none() && raw.command.is_none() {
            return Err("[notify] needs `url` or `command` (or both)".into());
        }
        let timeout = match raw.timeout_secs {
            None => DEFAULT_NOTIFY_TIMEOUT,
            Some(secs @ 1..=MAX_NOTIFY_TIMEOUT_SECS) => Duration::from_secs(secs),
            Some(secs) => {
                return Err(format!(
                    "timeout_secs = {secs}: must be between 1 and {MAX_NOTIFY_TIMEOUT_SECS}"
                ));
            }
        };
        Ok(NotifySection {
            url: raw.url,
            command: raw.command,
            on: raw.on.unwrap_or_else(|| vec![EventOutcome::Failure]),
            timeout,
        })
    }
}

/// An `http://` URL with a host. HTTPS is not built in: a `command` such as
/// `["curl", "--fail", "--data-binary", "@-", URL]` reaches HTTPS hooks with
/// the system's certificates and proxies.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HttpUrl(String);

impl HttpUrl {
    /// The URL as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HttpUrl {
    type Error = String;

    fn try_from(text: String) -> std::result::Result<HttpUrl, String> {
        if text.starts_with("https://") {
            return Err(format!(
                "url = {text:?}: https is not built in; use command = [\"curl\", \"--fail\", \\
                 \"--silent\", \"--show-error\", \"--header\", \"Content-Type: application/json\", \\
                 \"--data-binary\", \"@-\", \"{text}\"]"
            ));
        }
        if !text.starts_with("http://") {
            return Err(format!("url = {text:?}: must start with http://"));
        }
        let uri: ureq::http::Uri = text
            .parse()
            .map_err(|error| format!("url = {text:?}: not a URL ({error})"))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(format!("url = {text:?}: has no host"));
        }
        Ok(HttpUrl(text))
    }
}

/// A program and its arguments, run without a shell: never empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct CommandLine(Vec<String>);

impl CommandLine {
    /// The program (a path, or a name looked up in `PATH`).
    pub fn program(&self) -> &str {
        &self.0[0]
    }

    /// The arguments after the program.
    pub fn args(&self) -> &[String] {
        &self.0[1..]
    }

    /// The whole list, program first.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for CommandLine {
    type Error = String;

    fn try_from(list: Vec<String>) -> std::result::Result<CommandLine, String> {
        match list.first() {
            None => Err("command = []: needs at least the program".into()),
            Some(program) if program.trim().is_empty() => {
                Err("command: the program (first element) is empty".into())
            }
            Some(_) => Ok(CommandLine(list)),
        }
    }
}

/// `[metrics]`: the Prometheus textfile collector's file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// `textfile`: an absolute path ending in `.prom`, in the directory
    /// node-exporter's `--collector.textfile.directory` reads.
    #[serde(deserialize_with = "textfile_path")]
    pub textfile: PathBuf,
}

/// Checks a target's `url`: a path, or `[user@]host:/path` whose user and
/// host cannot be read as an option by ssh or rsync (`-oProxyCommand=…`
/// would run a command as root) and hold no white space or control character.
fn target_url<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<String, D::Error> {
    let url = String::deserialize(deserializer)?;
    check_target_url(&url).map_err(serde::de::Error::custom)?;
    Ok(url)
}

/// See [`target_url`]; the error says what is wrong.
pub fn check_target_url(url: &str) -> std::result::Result<(), String> {
    if url.chars().any(char::is_control) {
        return Err(format!("url = {url:?}: holds a control character"));
    }
    if url.starts_with('/') {
        return Ok(());
    }
    let Some((destination, _)) = url.split_once(':') else {
        return Ok(());
    };
    let host = destination
        .rsplit_once('@')
        .map_or(destination, |(_, host)| host);
    if destination.starts_with('-') || host.starts_with('-') {
        return Err(format!(
            "url = {url:?}: the host part starts with `-`, which ssh and rsync would take for an option"
        ));
    }
    if destination.chars().any(char::is_whitespace) {
        return Err(format!("url = {url:?}: the host part holds white space"));
    }
    Ok(())
}

/// Checks `textfile`: absolute, and named `*.prom`, the only files the
/// collector reads (any other name would be silently ignored).
fn textfile_path<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<PathBuf, D::Error> {
    let path = PathBuf::deserialize(deserializer)?;
    if !path.is_absolute() {
        return Err(serde::de::Error::custom(format!(
            "textfile = {:?}: must be an absolute path",
            path.display().to_string()
        )));
    }
    if path.extension().is_none_or(|extension| extension != "prom")
        || path.file_stem().is_none_or(|stem| stem.is_empty())
    {
        return Err(serde::de::Error::custom(format!(
            "textfile = {:?}: must end in .prom (the textfile collector reads only *.prom)",
            path.display().to_string()
        )));
    }
    Ok(path)
}

impl Conf {
    /// Reads `girofle.conf`; a missing file is an empty configuration.
    ///
    /// A file another user can write (not root's nor this user's, or group-
    /// or world-writable) is refused: what it says is run and sent as root.
    pub fn load(home: &Home) -> Result<Conf> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let path = home.conf();
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Conf::default());
            }
            Err(error) => {
                return Err(Error::failed(format!(
                    "cannot read {}: {error}",
                    path.display()
                )));
            }
        };
        let metadata = file
            .metadata()
            .map_err(|error| Error::failed(format!("cannot read {}: {error}", path.display())))?;
        let me = nix::unistd::geteuid().as_raw();
        if (metadata.uid() != 0 && metadata.uid() != me) || metadata.mode() & 0o022 != 0 {
            return Err(Error::usage(format!(
                "{} (owner uid {}, mode {:o}) can be written by another user than root: it is not \
                 read, since its settings run and send things as root. Check it, then \
                 `chown root:root {0}` and `chmod 600 {0}`",
                path.display(),
                metadata.uid(),
                metadata.mode() & 0o7777
            )));
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|error| Error::failed(format!("cannot read {}: {error}", path.display())))?;
        Conf::parse(&text).map_err(|problem| Error::usage(format!("{}: {problem}", path.display())))
    }

    /// Parses the text of a `girofle.conf`; the error names the line.
    pub fn parse(text: &str) -> std::result::Result<Conf, String> {
        let conf: Conf = toml::from_str(text).map_err(|error: toml::de::Error| {
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = error.message().trim().to_string();
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })?;
        for (name, target) in &conf.targets {
            target.check().map_err(|problem| {
                // The section's own line: the problem is between its keys.
                let header = format!("[targets.{name}]");
                match text.lines().position(|line| line.trim() == header) {
                    Some(index) => format!("line {}: {header}: {problem}", index + 1),
                    None => format!("{header}: {problem}"),
                }
            })?;
        }
        Ok(conf)
    }

    /// The retention on this host.
    pub fn keep_last(&self) -> u32 {
        self.retention
            .keep_last
            .map(NonZeroU32::get)
            .unwrap_or(DEFAULT_KEEP_LAST)
    }
}

#[cfg(test)]
mod tests;
