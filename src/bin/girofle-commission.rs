//! Commissions a new GitLab instance and prints its URL.

use std::io::Write;
use std::process::ExitCode;

use girofle::cli::{self, Invocation, Progress};
use girofle::error::{Error, Exit};
use girofle::ops::commission;
use girofle::render;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: commission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    if args.dry_run {
        let plan = commission::dry_run(invocation.home(), &args)?;
        if args.output.json() {
            render::print_json(&render::DryRun::new("commission", &plan))?;
        } else {
            print!("{}", plan.text());
        }
        return Ok(Exit::Done);
    }
    let mut progress = Progress::new();
    let started = std::time::Instant::now();
    let result = commission::run(invocation.home(), &args, &mut |message| {
        progress.show(message)
    });
    progress.end();
    if let Ok(commission::Outcome {
        ca_made: Some(ca), ..
    }) = &result
    {
        eprintln!("{}", render::commission::trust_hint(ca));
    }
    match result {
        Ok(outcome) if args.output.json() => {
            render::print_json(&render::commission::document(&outcome, started.elapsed()))?
        }
        Ok(outcome) => writeln!(std::io::stdout(), "{}", outcome.url)?,
        Err(error) if args.output.json() => {
            render::print_json(&render::Failure::new("commission", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    }
    Ok(Exit::Done)
}
