//! Commissions a new GitLab instance and prints its URL.

use std::io::Write;
use std::process::ExitCode;

use girofle::cli::{self, Invocation, Progress};
use girofle::error::{Error, Exit};
use girofle::ops::commission;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: commission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    let mut progress = Progress::new();
    let result = commission::run(&invocation.home, &args, &mut |message| {
        progress.show(message)
    });
    progress.end();
    writeln!(std::io::stdout(), "{}", result?.url)?;
    Ok(Exit::Done)
}
