//! Decommissions a GitLab instance: final backup, container removed, data kept.

use std::process::ExitCode;

use girofle::cli::{self, Invocation};
use girofle::error::{Error, Exit};
use girofle::ops::{decommission, report};

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: decommission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    let outcome = match decommission::run(&invocation.home, &args) {
        Ok(outcome) => outcome,
        Err(error) if args.output.json() => {
            report::print_json(&report::failure_json("decommission", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if args.output.json() {
        report::print_json(&report::decommission_json(&outcome))?;
    } else if let Some(id) = &outcome.final_backup {
        println!("{id}");
    }
    for warning in &outcome.warnings {
        eprintln!("{}: warning: {warning}", invocation.program);
    }
    eprintln!(
        "instance {} decommissioned; its data and backups stay in {}",
        outcome.number,
        outcome.dir.display()
    );
    Ok(Exit::Done)
}
