//! What every binary shares: the `main` of every binary (parse, find the
//! home, run, print the error once, exit), its questions on a terminal, its
//! progress line. The options themselves are the operations'
//! ([`crate::ops::args`]): the operations' arguments are built of them.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::error::{Error, Exit};
use crate::home::Home;
use crate::ops::args::Program;
use crate::settings::Settings;

/// One run of a binary, as its operation sees it.
pub struct Invocation {
    /// The binary's name, as errors and the log name it.
    pub program: &'static str,
    /// The settings of this run: the home the options name, its `girofle.conf`.
    pub settings: Settings,
    command: clap::Command,
}

impl Invocation {
    /// The home the options name.
    pub fn home(&self) -> &Home {
        self.settings.home()
    }

    /// The binary's `--help`, for a usage error that shows it.
    pub fn help(&self) -> String {
        self.command.clone().render_help().to_string()
    }

    /// Commission, backup, restore and decommission are root's: they start and
    /// stop containers and must keep files' numeric owners.
    /// A home that another user owns or may write in is refused too (a home
    /// of the previous version, until install.sh moves it to root's).
    pub fn require_root(&self) -> Result<(), Error> {
        if nix::unistd::geteuid().is_root() {
            self.require_root_s_home()
        } else {
            Err(Error::usage(format!(
                "{} must run as root; members of the girofle group may only run girofle-list",
                self.program
            )))
        }
    }
}

impl Invocation {
    fn require_root_s_home(&self) -> Result<(), Error> {
        let root = self.home().root();
        match self.home().owner_and_mode() {
            Some((uid, mode)) if uid != 0 || mode & 0o022 != 0 => Err(Error::failed(format!(
                "{} is owned by uid {} with mode {:o}: root runs and writes nothing in a directory \
                     another user can change; run install.sh again (it gives the home to root:girofle 0750)",
                root.display(),
                uid,
                mode & 0o7777
            ))),
            _ => Ok(()),
        }
    }
}

/// The `main` of every binary: parses the command line (exit 2 with clap's
/// message on bad usage), runs `body`, prints the error once, exits with
/// the contract's code. `program` is the binary's name.
pub fn main<A: clap::Args>(
    program: &'static str,
    body: fn(A, &Invocation) -> Result<Exit, Error>,
) -> ExitCode {
    // Before anything may recover an instance (the guardian, a signal, the
    // operation itself): recovery finishes what each operation left.
    crate::ops::register_recovery_hooks();
    // The guardian of an operation is this binary started again (see `guardian`).
    if let Some(code) = crate::guardian::run_if_guardian() {
        return code;
    }
    // First, before any other thread starts (rayon's too: they inherit the
    // mask), and only where a signal could leave GitLab out of service
    // (girofle-ntp-fix has handlers of its own).
    crate::signals::block(program);
    // The operation's doc comment is the binary's `about`.
    let own = A::augment_args(clap::Command::new(program));
    let about = own.get_about().cloned();
    let long_about = own.get_long_about().cloned();
    let mut command = Program::<A>::command().name(program).bin_name(program);
    if let Some(about) = about {
        command = command.about(about);
    }
    if let Some(long_about) = long_about {
        command = command.long_about(long_about);
    }
    let command = crate::help::decorate(command, program);
    if let Some(exit) = crate::help::generate_if_asked(&command) {
        return exit;
    }
    let parsed = command
        .clone()
        .try_get_matches()
        .and_then(|matches| Program::<A>::from_arg_matches(&matches));
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(error) => error.format(&mut command.clone()).exit(),
    };
    let invocation = Invocation {
        program,
        settings: Settings::settle(parsed.common.home.as_deref()),
        command,
    };
    crate::signals::install(program, invocation.home());
    let result = body(parsed.args, &invocation);
    crate::signals::settle();
    finish(program, Some(invocation.home()), result)
}

/// Ends a binary: prints the error (its whole chain, once) on stderr, logs it,
/// and turns it into the contract's exit code.
pub fn finish(program: &str, home: Option<&Home>, result: Result<Exit, Error>) -> ExitCode {
    girofle_base::edge::finish(program, result, |error| {
        if let Some(home) = home {
            home.log(program, &format!("error: {error}"));
        }
    })
}

/// Whether progress may be shown: only on a terminal, never under cron.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// What an operation reports while it waits, shown on one line of a
/// terminal only; `end` closes that line.
pub struct Progress {
    on_terminal: bool,
    shown: bool,
}

impl Progress {
    /// Progress on stderr when it is a terminal.
    pub fn new() -> Progress {
        Progress {
            on_terminal: stderr_is_terminal(),
            shown: false,
        }
    }

    /// Shows `message` in place of the previous one.
    pub fn show(&mut self, message: &str) {
        if self.on_terminal {
            eprint!("\r\x1b[2K{message}");
            self.shown = true;
        }
    }

    /// Ends the progress line, if one was shown.
    pub fn end(self) {
        if self.shown {
            eprintln!();
        }
    }
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::new()
    }
}

/// Asks `prompt` on stderr and reads one line from stdin (trimmed); an empty
/// answer is `default` when there is one. End of input is a usage error:
/// the question was not answered, nothing is changed.
pub fn ask(prompt: &str, default: Option<&str>) -> Result<String, Error> {
    let answer = match default {
        Some(default) => read_answer(&format!("{prompt} [{default}]: "))?,
        None => read_answer(&format!("{prompt}: "))?,
    };
    Ok(match (answer.is_empty(), default) {
        (true, Some(default)) => default.to_string(),
        _ => answer,
    })
}

pub use girofle_base::edge::read_answer;
