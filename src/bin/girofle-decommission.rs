//! Decommissions a GitLab instance: final backup, container removed, data kept.

use std::io::IsTerminal;
use std::process::ExitCode;

use girofle::cli::{self, Invocation};
use girofle::error::{Error, Exit};
use girofle::inventory::{self, RowState};
use girofle::ops::decommission;
use girofle::render;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(mut args: decommission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    if args.instance.is_none() {
        args.instance = Some(ask_for_instance(invocation)?);
    }
    let outcome = match decommission::run(&invocation.home, &args) {
        Ok(outcome) => outcome,
        Err(error) if args.output.json() => {
            render::print_json(&render::failure_json("decommission", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if args.output.json() {
        render::print_json(&render::decommission_json(&outcome))?;
    } else if let Some(id) = &outcome.final_backup {
        println!("{id}");
    }
    for warning in &outcome.warnings {
        eprintln!(
            "{}: warning: {}",
            invocation.program,
            girofle::redact::secrets(&warning.to_string())
        );
    }
    eprintln!(
        "instance {} decommissioned; its data and backups stay in {}",
        outcome.number,
        outcome.dir.display()
    );
    Ok(Exit::Done)
}

/// The legacy `decomissioner-instance-gitlab.sh` with no argument: on a
/// terminal only, the instances in service and the question which one.
fn ask_for_instance(invocation: &Invocation) -> Result<String, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(format!(
            "name the instance to decommission (without it, {} asks on a terminal only)\n\n{}",
            invocation.program,
            invocation.help()
        )));
    }
    let rows = inventory::read(&invocation.home)?;
    let commissioned: Vec<_> = rows
        .iter()
        .filter(|row| row.state == RowState::Commissioned)
        .collect();
    if commissioned.is_empty() {
        return Err(Error::usage(format!(
            "no instance is commissioned in {}",
            invocation.home.root().display()
        )));
    }
    eprintln!("Commissioned instances:");
    for row in &commissioned {
        eprintln!(
            "  {:>3}  {:<12}  {}  {}",
            row.number,
            row.name,
            row.container,
            row.url()
        );
    }
    let answer = cli::ask("Instance to decommission (number, name or container)", None)?;
    if answer.is_empty() {
        return Err(Error::usage("no instance given: nothing was changed"));
    }
    Ok(answer)
}
