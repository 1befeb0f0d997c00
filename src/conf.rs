//! `girofle.conf`: this host's name on targets, retention, remote targets.
//! Unknown keys and bad values are refused with their line.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::PathBuf;

use serde::Deserialize;

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
}

/// `[girofle]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GirofleSection {
    /// This host's name on targets; the machine's host name by default.
    pub host: Option<String>,
}

/// `[retention]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Complete backups kept per instance on this host.
    pub keep_last: Option<NonZeroU32>,
}

/// `[targets.<name>]`: rsync over SSH (`user@host:/path`) or a mounted path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `user@host:/path` or `/mounted/path`.
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

impl Conf {
    /// Reads `girofle.conf`; a missing file is an empty configuration.
    pub fn load(home: &Home) -> Result<Conf> {
        let path = home.conf();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
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
    }

    #[test]
    fn unknown_keys_and_bad_values_name_their_line() {
        let error = Conf::parse("[retention]\nkeep_last = 3\nkeep_lats = 4\n").unwrap_err();
        assert!(error.starts_with("line 3:"), "{error}");
        let error = Conf::parse("[retention]\n\nkeep_last = 0\n").unwrap_err();
        assert!(error.starts_with("line 3:"), "{error}");
    }
}
