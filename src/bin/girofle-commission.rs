//! Commissions a new GitLab instance and prints its URL; `--reconfigure`
//! changes one in service, `--renew-certificates` renews Girofle-made ones.

use std::io::Write;
use std::process::ExitCode;

use girofle::cli::{self, Invocation, Progress};
use girofle::error::{Error, Exit};
use girofle::ops::commission::{self, reconfigure, renew};
use girofle::render;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: commission::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    if args.renew_certificates {
        for renewed in renew::run(&invocation.settings)?.renewed {
            println!("{}", render::commission::renewed(&renewed));
        }
        return Ok(Exit::Done);
    }
    let home = invocation.home();
    if args.dry_run {
        let json = args.output.json();
        if let Some(spec) = &args.reconfigure {
            let plan = reconfigure::dry_run(home, spec, &args)?;
            render::print_dry_run("commission", &plan, &plan.text(), json)?;
        } else {
            let plan = commission::dry_run(home, &args)?;
            render::print_dry_run("commission", &plan, &plan.text(), json)?;
        }
        return Ok(Exit::Done);
    }
    let mut progress = Progress::new();
    let started = std::time::Instant::now();
    let mut show = |message: &str| progress.show(message);
    let result = match &args.reconfigure {
        Some(spec) => reconfigure::run(home, spec, &args, &mut show),
        None => commission::run(home, &args, &mut show),
    };
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
