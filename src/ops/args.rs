//! The options several operations share (`--lock-timeout`, `--format`) and
//! the command line every binary parses (`--home`, then the operation's
//! own). Here, among the operations, rather than in `cli`: the operations'
//! arguments are built of them, and `cli`, which runs the binaries, sits
//! above the operations.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The options every binary takes besides `--help` and `--version`.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// The Girofle home [env: GIROFLE_HOME, legacy REPERTOIRE_GIROFLE; default /girofle]
    #[arg(long, value_name = "DIR", global = true)]
    pub home: Option<PathBuf>,
}

/// A binary's command line: the options every binary takes, then its
/// operation's (whose doc comment is the binary's `about`).
#[derive(Debug, clap::Parser)]
#[command(version, about = None, long_about = None)]
pub struct Program<A: clap::Args> {
    /// The options every binary takes.
    #[command(flatten)]
    pub common: Common,
    /// The operation's own arguments.
    #[command(flatten)]
    pub args: A,
}

/// A duration given in whole seconds on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl FromStr for Seconds {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Seconds, Self::Err> {
        text.parse().map(|secs| Seconds(Duration::from_secs(secs)))
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.as_secs())
    }
}

/// `--lock-timeout`: what every operation on one instance takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Args)]
pub struct LockArgs {
    /// Seconds to wait for another operation on the same instance
    #[arg(long, value_name = "SECS", default_value_t = Seconds(crate::lock::DEFAULT_LOCK_TIMEOUT))]
    pub lock_timeout: Seconds,
}

impl LockArgs {
    /// How long to wait for the instance lock.
    pub fn timeout(&self) -> Duration {
        self.lock_timeout.0
    }
}

impl Default for LockArgs {
    fn default() -> LockArgs {
        LockArgs {
            lock_timeout: Seconds(crate::lock::DEFAULT_LOCK_TIMEOUT),
        }
    }
}

/// How a result is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// As before: IDs and URLs, one a line
    #[default]
    Text,
    /// One JSON document (keys documented in the README, "Results as data")
    Json,
}

/// `--format`, for the operations that print results.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct FormatArgs {
    /// How the result is printed on stdout
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

impl FormatArgs {
    /// Whether `--format json` was given.
    pub fn json(&self) -> bool {
        self.format == Format::Json
    }
}

/// The arguments `program WORDS...` gives an operation (unit tests of the
/// command lines).
#[cfg(test)]
pub(crate) fn parse<A: clap::Args>(program: &str, words: &[&str]) -> Result<A, clap::Error> {
    use clap::Parser;
    Program::<A>::try_parse_from(std::iter::once(program).chain(words.iter().copied()))
        .map(|parsed| parsed.args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_whole_and_print_as_they_were_given() {
        let seconds: Seconds = "90".parse().unwrap();
        assert_eq!(seconds.0, Duration::from_secs(90));
        assert_eq!(seconds.to_string(), "90");
        for bad in ["", "-1", "1.5", "1m"] {
            assert!(bad.parse::<Seconds>().is_err(), "{bad}");
        }
        assert_eq!(
            LockArgs::default().timeout(),
            crate::lock::DEFAULT_LOCK_TIMEOUT
        );
    }
}
