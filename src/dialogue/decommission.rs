//! What `girofle-decommission` says and asks: the instance, on a terminal, and what became of it.

use std::io::IsTerminal;

use crate::cli::{self, Invocation};
use crate::error::{Error, Exit};
use crate::inventory::{self, RowState};
use crate::ops::decommission;
use crate::render;

/// The binary's work once its arguments are parsed: see [`crate::cli::main`].
pub fn run(mut args: decommission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    let asked = args.instance.is_none();
    if asked {
        args.instance = Some(ask_for_instance(invocation)?);
    }
    if args.dry_run {
        return dry_run(&args, invocation);
    }
    if asked {
        // The instance was chosen on the terminal: what happens to it is
        // shown there before it happens.
        let plan = decommission::dry_run(&invocation.settings, &args)?;
        eprint!(
            "{}",
            super::decommission_plan::text(&plan, "Decommissioning")
        );
    }
    let outcome = match decommission::run(&invocation.settings, &args) {
        Ok(outcome) => outcome,
        Err(error) if args.output.json() => {
            render::print_json(&render::Failure::new("decommission", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if args.output.json() {
        render::print_json(&render::decommission::document(&outcome))?;
    } else if let Some(id) = &outcome.final_backup {
        println!("{id}");
    }
    for warning in &outcome.warnings {
        eprintln!(
            "{}: warning: {}",
            invocation.program,
            crate::redact::secrets(&warning.to_string())
        );
    }
    eprintln!(
        "instance {} decommissioned; its data and backups stay in {}",
        outcome.number,
        outcome.dir.display()
    );
    Ok(Exit::Done)
}

/// `--dry-run`: the plan on stdout, as text or JSON; refused as a run
/// would refuse it.
fn dry_run(args: &decommission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    let plan = match decommission::dry_run(&invocation.settings, args) {
        Ok(plan) => plan,
        Err(error) if args.output.json() => {
            render::print_json(&render::Failure::new("decommission", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if args.output.json() {
        render::print_json(&render::DryRun::new("decommission", &plan))?;
    } else {
        print!(
            "{}",
            super::decommission_plan::text(
                &plan,
                "girofle-decommission plan (dry run: nothing was changed) for"
            )
        );
    }
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
    let rows = inventory::read(invocation.home())?;
    let commissioned: Vec<_> = rows
        .iter()
        .filter(|row| row.state == RowState::Commissioned)
        .collect();
    if commissioned.is_empty() {
        return Err(Error::usage(format!(
            "no instance is commissioned in {}",
            invocation.home().root().display()
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
