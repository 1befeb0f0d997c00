//! Puts the clock right when it is so wrong that TLS fails (the seed's annex, made safe).

use std::process::ExitCode;

use girofle::cli::{self, Invocation};
use girofle::error::{Error, Exit};
use girofle::ops::ntp_fix;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: ntp_fix::Args, invocation: &Invocation) -> Result<Exit, Error> {
    if !args.check {
        invocation.require_root()?;
    }
    let outcome = ntp_fix::run(invocation.home(), &args)?;
    if let Some(offset) = outcome.offset {
        println!("{offset:+.6}");
    }
    if cli::stderr_is_terminal() {
        for step in &outcome.steps {
            eprintln!("{step}");
        }
    }
    for warning in &outcome.warnings {
        eprintln!("{}: warning: {warning}", invocation.program);
    }
    Ok(Exit::Done)
}
