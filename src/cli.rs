//! What every binary shares: finding the home, printing the error once, exiting.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::{Error, Exit};
use crate::home::Home;

/// The options every binary takes besides `--help` and `--version`.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The Girofle home [env: GIROFLE_HOME, legacy REPERTOIRE_GIROFLE; default /girofle]
    #[arg(long, value_name = "DIR", global = true)]
    pub home: Option<PathBuf>,
}

impl Common {
    /// The home these options name.
    pub fn home(&self) -> Home {
        Home::resolve(self.home.as_deref())
    }
}

/// Ends a binary: prints the error (its whole chain, once) on stderr, logs it,
/// and turns it into the contract's exit code.
pub fn finish(program: &str, home: Option<&Home>, result: Result<Exit, Error>) -> ExitCode {
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(error) => {
            eprintln!("{program}: {error}");
            if let Some(home) = home
                && !matches!(error, Error::Usage(_))
            {
                home.log(program, &format!("error: {error}"));
            }
            ExitCode::from(error.exit() as u8)
        }
    }
}

/// Whether progress may be shown: only on a terminal, never under cron.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Commission, backup, restore and decommission are root's: they start and
/// stop containers and must keep files' numeric owners.
pub fn require_root(program: &str) -> Result<(), Error> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{program} must be run as root (members of the girofle group may only list)"
        )))
    }
}
