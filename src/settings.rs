//! What a run of a binary is told, settled once at its start: the command
//! line's `--home`, the environment of the contract (read by [`Home`]) and
//! `girofle.conf`. No operation reads the environment or loads the file
//! itself: each is handed these settings.
//!
//! Precedence, for what more than one of them can say: the command line,
//! then the environment, then the file, then the defaults. The file says
//! only what neither of the others can (targets, retention, notifications,
//! metrics).
//!
//! A broken `girofle.conf` (unreadable, writable by another user than root,
//! not TOML, an unknown setting) has one policy, written here:
//! - an operation that acts on what the file says refuses to start
//!   ([`Settings::conf`]): a backup shipped to half of a target list or a
//!   restore from a target misread would do something nobody asked for;
//! - news of work already done (a notification after a restore or a drill)
//!   is not sent, and that is said as a warning ([`Settings::conf_for_news`]):
//!   the work stands, only the telling is lost;
//! - `girofle-list --check` shows it as one of the host's problems.

use std::path::Path;

use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::home::Home;

/// The settings of one run (see the module's documentation).
#[derive(Debug, Clone)]
pub struct Settings {
    home: Home,
    conf: std::result::Result<Conf, Broken>,
}

/// Why `girofle.conf` could not be used, kept as the error it was.
#[derive(Debug, Clone)]
struct Broken {
    /// Whether the file's content is at fault (exit 2) rather than reading it (exit 1).
    usage: bool,
    message: String,
}

impl Settings {
    /// Settles the settings of this run: the home `--home` names (else the
    /// environment's, else the default) and its `girofle.conf`.
    pub fn settle(explicit_home: Option<&Path>) -> Settings {
        Settings::of_home(Home::resolve(explicit_home))
    }

    /// The settings of `home`, its `girofle.conf` read now.
    pub fn of_home(home: Home) -> Settings {
        let conf = Conf::load(&home).map_err(|error| Broken {
            usage: matches!(error, Error::Usage(_)),
            message: match error {
                Error::Usage(message) => message,
                Error::Failed(error) => format!("{error:#}"),
            },
        });
        Settings { home, conf }
    }

    /// The home of this run.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// `girofle.conf`, for an operation that acts on what it says: a broken
    /// file refuses the operation (exit 2 for its content, 1 for reading it).
    pub fn conf(&self) -> Result<&Conf> {
        match &self.conf {
            Ok(conf) => Ok(conf),
            Err(broken) if broken.usage => Err(Error::usage(broken.message.clone())),
            Err(broken) => Err(Error::failed(broken.message.clone())),
        }
    }

    /// `girofle.conf`, for telling what was done: a broken file sends no
    /// news, and the warning returned says so.
    pub fn conf_for_news(&self) -> std::result::Result<&Conf, String> {
        self.conf
            .as_ref()
            .map_err(|broken| format!("girofle.conf: {}: no notification sent", broken.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn home_with_conf(text: Option<&str>, mode: u32) -> (tempfile::TempDir, Settings) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::resolve(Some(dir.path()));
        if let Some(text) = text {
            std::fs::write(home.conf(), text).unwrap();
            std::fs::set_permissions(home.conf(), std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let settings = Settings::of_home(home);
        (dir, settings)
    }

    #[test]
    fn a_missing_file_is_an_empty_configuration() {
        let (_dir, settings) = home_with_conf(None, 0o600);
        assert!(settings.conf().is_ok());
        assert!(settings.conf_for_news().is_ok());
    }

    #[test]
    fn a_file_that_is_not_toml_refuses_operations_as_bad_input() {
        let (_dir, settings) = home_with_conf(Some("[retention\nkeep_last = 3\n"), 0o600);
        let error = settings.conf().unwrap_err();
        assert!(matches!(error, Error::Usage(_)), "{error}");
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn a_broken_file_sends_no_news_and_says_so() {
        let (_dir, settings) = home_with_conf(Some("keep_last = \"many\"\n"), 0o600);
        let warning = settings.conf_for_news().unwrap_err();
        assert!(warning.starts_with("girofle.conf: "), "{warning}");
        assert!(warning.ends_with("no notification sent"), "{warning}");
    }

    #[test]
    fn a_file_others_may_write_is_not_read() {
        let (_dir, settings) = home_with_conf(Some("[retention]\nkeep_last = 3\n"), 0o666);
        let error = settings.conf().unwrap_err();
        assert!(matches!(error, Error::Usage(_)), "{error}");
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }

    #[test]
    fn the_file_is_read_once_at_the_start() {
        let (_dir, settings) = home_with_conf(Some("[retention]\nkeep_last = 3\n"), 0o600);
        std::fs::write(settings.home().conf(), "[retention\n").unwrap();
        assert_eq!(settings.conf().unwrap().keep_last(), 3);
    }
}
