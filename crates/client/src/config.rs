//! `client.toml`: the server's address, the file holding the person's token,
//! this machine's name, and who the person is (filled in by `setup` from the
//! server, so that saving works offline).
//!
//! Where it is: `--config FILE`, else `$GIROFLE_CLIENT_CONFIG`, else
//! `$XDG_CONFIG_HOME/girofle/client.toml`, else `~/.config/girofle/client.toml`.
//! The client's data (the folders bound here and their histories) goes to
//! `data_dir` when the file names one, else beside an explicitly named config
//! file (`<its directory>/data`), else `$XDG_DATA_HOME/girofle`, else
//! `~/.local/share/girofle`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use girofle_base::error::{Error, Result};

use crate::tr;

/// Where the configuration file is and how it was chosen.
#[derive(Debug, Clone)]
pub struct Location {
    /// The configuration file.
    pub file: PathBuf,
    /// Whether it was named explicitly (option or environment).
    pub explicit: bool,
}

impl Location {
    /// The configuration file the options and the environment name.
    pub fn resolve(option: Option<&Path>) -> Result<Location> {
        if let Some(file) = option {
            return Ok(Location {
                file: absolute(file)?,
                explicit: true,
            });
        }
        if let Some(file) = env_path("GIROFLE_CLIENT_CONFIG") {
            return Ok(Location {
                file: absolute(&file)?,
                explicit: true,
            });
        }
        let base = match env_path("XDG_CONFIG_HOME") {
            Some(dir) if dir.is_absolute() => dir,
            _ => home_dir()?.join(".config"),
        };
        Ok(Location {
            file: base.join("girofle").join("client.toml"),
            explicit: false,
        })
    }

    /// The data directory when the configuration names none.
    pub fn default_data_dir(&self) -> Result<PathBuf> {
        if self.explicit {
            let parent = self.file.parent().unwrap_or(Path::new("/"));
            return Ok(parent.join("data"));
        }
        Ok(match env_path("XDG_DATA_HOME") {
            Some(dir) if dir.is_absolute() => dir.join("girofle"),
            _ => home_dir()?.join(".local").join("share").join("girofle"),
        })
    }
}

/// The contents of `client.toml`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The GitLab instance, e.g. `https://gitlab.example.org`.
    pub server: String,
    /// The file holding the person's access token (mode 0600).
    pub token_file: PathBuf,
    /// This machine's name, as the person's other machines will see it.
    pub machine: String,
    /// The person's user name on the server (filled in by `setup`).
    pub person: String,
    /// The person's full name, written with each version.
    #[serde(default)]
    pub name: String,
    /// The person's e-mail address, written with each version.
    #[serde(default)]
    pub email: String,
    /// Where the client keeps its data, when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// A certificate authority (PEM) trusted for the server besides the
    /// system's: a server whose certificate a private CA signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Config {
    /// Reads the configuration; a missing file says to run `setup`.
    pub fn load(location: &Location) -> Result<Config> {
        let text = match std::fs::read_to_string(&location.file) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::usage(tr!(
                    "not-set-up",
                    file = location.file.display().to_string()
                )));
            }
            Err(error) => {
                return Err(anyhow::Error::from(error)
                    .context(tr!(
                        "cannot-read-file",
                        file = location.file.display().to_string()
                    ))
                    .into());
            }
        };
        let config: Config = toml::from_str(&text)
            .map_err(|error| Error::usage(format!("{}: {error}", location.file.display())))?;
        check_machine_name(&config.machine)?;
        Ok(config)
    }

    /// Writes the configuration (0600: it names the token file).
    pub fn save(&self, location: &Location) -> Result<()> {
        let parent = location.file.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(parent)
            .with_context(|| tr!("cannot-create", dir = parent.display().to_string()))?;
        let text = toml::to_string(self).map_err(anyhow::Error::from)?;
        girofle_base::atomic::write(&location.file, text.as_bytes(), 0o600)?;
        Ok(())
    }

    /// The token, read from its file.
    pub fn token(&self) -> Result<String> {
        let text = std::fs::read_to_string(&self.token_file).map_err(|error| {
            Error::usage(tr!(
                "cannot-read-token",
                file = self.token_file.display().to_string(),
                error = error.to_string()
            ))
        })?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(Error::usage(tr!(
                "token-file-empty",
                file = self.token_file.display().to_string()
            )));
        }
        Ok(token)
    }

    /// The data directory.
    pub fn data_dir(&self, location: &Location) -> Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => location.default_data_dir(),
        }
    }
}

/// Refuses a plain `http://` address of another machine unless `insecure`:
/// the token (and every file) would cross the network unencrypted, readable
/// and changeable by anyone on the way. On this machine (loopback) there is
/// no way to cross.
pub fn check_server(server: &str, insecure: bool) -> Result<()> {
    let Some(rest) = server.strip_prefix("http://") else {
        return Ok(());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || insecure {
        return Ok(());
    }
    Err(Error::usage(tr!("not-encrypted", server = server)))
}

/// A machine name is part of a name on the server: letters, digits, `.`, `_`
/// and `-`, starting with a letter or a digit.
pub fn check_machine_name(name: &str) -> Result<()> {
    let good = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.ends_with(".lock")
        && !name.contains("..");
    if good {
        Ok(())
    } else {
        Err(Error::usage(tr!(
            "bad-machine-name",
            name = format!("{name:?}")
        )))
    }
}

/// This machine's host name, made into a valid machine name.
pub fn default_machine_name() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_default();
    let cleaned: String = host
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    if cleaned.is_empty() {
        "machine".into()
    } else {
        cleaned
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

fn home_dir() -> Result<PathBuf> {
    env_path("HOME").ok_or_else(|| Error::usage(tr!("no-home")))
}

/// `path` made absolute against the current directory.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_names() {
        for good in ["laptop-1", "desk.home", "a", "PC_2"] {
            assert!(check_machine_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "a b", "a/b", "x.lock", "a..b", "é"] {
            assert!(check_machine_name(bad).is_err(), "{bad}");
        }
        assert!(check_machine_name(&default_machine_name()).is_ok());
    }

    #[test]
    fn plain_http_only_on_this_machine() {
        for fine in [
            "https://gitlab.example.org",
            "http://127.0.0.1:8080",
            "http://127.9.8.7",
            "http://localhost:3000/x",
            "http://[::1]:80",
        ] {
            assert!(check_server(fine, false).is_ok(), "{fine}");
        }
        for far in [
            "http://gitlab.example.org",
            "http://10.0.0.5:8080",
            "http://127.0.0.1.example.org",
            "http://127.0.0.1@gitlab.example.org",
            "http://[::2]:80",
        ] {
            assert!(check_server(far, false).is_err(), "{far}");
            assert!(check_server(far, true).is_ok(), "{far}");
        }
    }

    #[test]
    fn explicit_config_keeps_data_beside_it() {
        let location = Location::resolve(Some(Path::new("/tmp/m1/client.toml"))).unwrap();
        assert!(location.explicit);
        assert_eq!(
            location.default_data_dir().unwrap(),
            PathBuf::from("/tmp/m1/data")
        );
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location {
            file: dir.path().join("girofle/client.toml"),
            explicit: true,
        };
        let config = Config {
            server: "http://127.0.0.1:8080".into(),
            token_file: dir.path().join("token"),
            machine: "laptop-1".into(),
            person: "alice".into(),
            name: "Alice".into(),
            email: "alice@example.org".into(),
            data_dir: None,
            ca_file: None,
        };
        config.save(&location).unwrap();
        assert_eq!(Config::load(&location).unwrap(), config);
        std::fs::write(dir.path().join("token"), "  glpat-x\n").unwrap();
        assert_eq!(config.token().unwrap(), "glpat-x");
    }
}
