//! Decommissions a GitLab instance: final backup, container removed, data kept.

use std::process::ExitCode;

use girofle::cli::{self, Invocation};
use girofle::error::{Error, Exit};
use girofle::ops::decommission;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: decommission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    let outcome = decommission::run(&invocation.home, &args)?;
    if let Some(id) = &outcome.final_backup {
        println!("{id}");
    }
    eprintln!(
        "instance {} decommissioned; its data and backups stay in {}",
        outcome.number,
        outcome.dir.display()
    );
    Ok(Exit::Done)
}
