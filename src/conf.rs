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

/// `[targets.<name>]`: rsync over SSH (`user@host:/path`) or a mounted path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `user@host:/path` or `/mounted/path`.
    #[serde(deserialize_with = "target_url")]
    pub url: String,
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
        toml::from_str(text).map_err(|error: toml::de::Error| {
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            let message = error.message().trim().to_string();
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })
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
mod tests {
    use super::EventOutcome as Outcome;
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let conf = Conf::parse(
            "[girofle]\nhost = \"gitlab-host-1\"\n\n[retention]\nkeep_last = 12\n\n[targets.same-site]\n\
             url = \"girofle@10.0.0.5:/srv/girofle\"\nport = 22\nidentity = \"/root/.ssh/girofle_ed25519\"\n\
             known_hosts = \"/girofle/known_hosts\"\nkeep_last = 42\n\n[targets.off-site]\nurl = \"/mnt/offsite/girofle\"\n",
        )
        .unwrap();
        assert_eq!(conf.keep_last(), 12);
        assert_eq!(conf.targets.len(), 2);
        assert!(conf.notify.is_none());
        assert!(conf.metrics.is_none());
    }

    #[test]
    fn the_documented_notify_and_metrics_sections_parse() {
        let conf = Conf::parse(
            "[notify]                              # optional: alerts\n\
             url = \"http://127.0.0.1:9000/hook\"    # POST of a JSON event\n\
             command = [\"/usr/local/bin/page-me\"]  # or run, the JSON event on stdin\n\
             on = [\"failure\"]                      # \"success\" too, if wanted\n\n\
             [metrics]                             # optional: Prometheus textfile collector\n\
             textfile = \"/var/lib/prometheus/node-exporter/girofle.prom\"\n",
        )
        .unwrap();
        let notify = conf.notify.unwrap();
        assert_eq!(notify.url.unwrap().as_str(), "http://127.0.0.1:9000/hook");
        let command = notify.command.unwrap();
        assert_eq!(command.program(), "/usr/local/bin/page-me");
        assert!(command.args().is_empty());
        assert_eq!(notify.on, vec![Outcome::Failure]);
        assert_eq!(notify.timeout, DEFAULT_NOTIFY_TIMEOUT);
        assert_eq!(
            conf.metrics.unwrap().textfile,
            PathBuf::from("/var/lib/prometheus/node-exporter/girofle.prom")
        );
    }

    #[test]
    fn notify_defaults_to_failures_only_and_takes_success_and_a_timeout() {
        let conf = Conf::parse("[notify]\ncommand = [\"sh\", \"-c\", \"cat\"]\n").unwrap();
        let notify = conf.notify.unwrap();
        assert_eq!(notify.on, vec![Outcome::Failure]);
        assert!(notify.url.is_none());
        assert_eq!(notify.command.unwrap().args(), ["-c", "cat"]);

        let conf = Conf::parse(
            "[notify]\nurl = \"http://hooks.example.org:8080/girofle?x=1\"\n\
             on = [\"success\", \"failure\"]\ntimeout_secs = 2\n",
        )
        .unwrap();
        let notify = conf.notify.unwrap();
        assert_eq!(notify.on, vec![Outcome::Success, Outcome::Failure]);
        assert_eq!(notify.timeout, Duration::from_secs(2));
        assert!(notify.command.is_none());

        // An empty list is a way to silence notifications without deleting them.
        let conf = Conf::parse("[notify]\nurl = \"http://h/\"\non = []\n").unwrap();
        assert!(conf.notify.unwrap().on.is_empty());
    }

    /// Parses `text`, expects a refusal on `line` that mentions `words`.
    fn refused(text: &str, line: usize, words: &str) {
        let error = Conf::parse(text).unwrap_err();
        assert!(
            error.starts_with(&format!("line {line}:")),
            "{text:?} gave {error:?}, not on line {line}"
        );
        assert!(
            error.contains(words),
            "{text:?} gave {error:?}, without {words:?}"
        );
    }

    #[test]
    fn bad_notify_sections_are_refused_with_their_line() {
        refused(
            "[notify]\nurl = \"http://h/\"\nurll = \"http://h/\"\n",
            3,
            "unknown field `urll`",
        );
        refused(
            "[notify]\n\nurl = \"ftp://h/\"\n",
            3,
            "must start with http://",
        );
        refused(
            "[notify]\nurl = \"h:9000/hook\"\n",
            2,
            "must start with http://",
        );
        refused("[notify]\nurl = \"http://bad host/\"\n", 2, "not a URL");
        refused(
            "[notify]\nurl = \"https://h/\"\n",
            2,
            "https is not built in",
        );
        refused("[notify]\nurl = \"http:///hook\"\n", 2, "url");
        refused("[notify]\nurl = 9000\n", 2, "string");
        refused("[notify]\ncommand = []\n", 2, "needs at least the program");
        refused("[notify]\ncommand = [\"\", \"x\"]\n", 2, "empty");
        refused("[notify]\ncommand = \"page-me --now\"\n", 2, "sequence");
        refused(
            "[notify]\nurl = \"http://h/\"\non = [\"failure\", \"sucess\"]\n",
            3,
            "unknown variant `sucess`",
        );
        refused(
            "[notify]\nurl = \"http://h/\"\ntimeout_secs = 0\n",
            1,
            "timeout_secs = 0",
        );
        refused(
            "[notify]\nurl = \"http://h/\"\ntimeout_secs = 3600\n",
            1,
            "between 1 and 60",
        );
        refused(
            "[retention]\nkeep_last = 3\n[notify]\non = [\"failure\"]\n",
            3,
            "`url` or `command`",
        );
    }

    #[test]
    fn bad_metrics_sections_are_refused_with_their_line() {
        refused(
            "[metrics]\ntextfile = \"/var/lib/node-exporter/girofle.prom\"\ninterval = 5\n",
            3,
            "unknown field `interval`",
        );
        refused("[metrics]\ntextfile = \"girofle.prom\"\n", 2, "absolute");
        refused(
            "[metrics]\ntextfile = \"/var/lib/node-exporter/girofle.txt\"\n",
            2,
            ".prom",
        );
        refused(
            "[metrics]\ntextfile = \"/var/lib/node-exporter/\"\n",
            2,
            ".prom",
        );
        refused(
            "[metrics]\ntextfile = \"/var/lib/node-exporter/.prom\"\n",
            2,
            ".prom",
        );
        refused("[metrics]\n", 1, "missing field `textfile`");
    }

    #[test]
    fn target_hosts_that_ssh_would_read_as_options_are_refused() {
        refused(
            "[targets.x]\nurl = \"-oProxyCommand=sh -c id:/srv\"\n",
            2,
            "starts with `-`",
        );
        refused(
            "[targets.x]\nurl = \"girofle@-oProxyCommand=id:/srv\"\n",
            2,
            "starts with `-`",
        );
        refused(
            "[targets.x]\nurl = \"girofle@host name:/srv\"\n",
            2,
            "white space",
        );
        refused("[targets.x]\nurl = \"/mnt/a\\nb\"\n", 2, "control");
        assert!(Conf::parse("[targets.x]\nurl = \"girofle@10.0.0.5:/srv/a b\"\n").is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_line() {
        let error = Conf::parse("[retention]\nkeep_last = 3\nkeep_lats = 4\n").unwrap_err();
        assert!(error.starts_with("line 3:"), "{error}");
        let error = Conf::parse("[retention]\n\nkeep_last = 0\n").unwrap_err();
        assert!(error.starts_with("line 3:"), "{error}");
    }
}
