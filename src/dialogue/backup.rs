//! What `girofle-backup` says and asks: backups, `--verify`, `--drill`, their results on stdout and
//! stderr.

use std::io::Write;

use crate::cli::{self, Invocation};
use crate::error::{Error, Exit};
use crate::ops::backup;
use crate::progress;
use crate::render;

/// The binary's work once its arguments are parsed: see [`crate::cli::main`].
pub fn run(args: backup::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    let settings = &invocation.settings;
    let home = settings.home();
    if let Some(instance) = &args.verify {
        let bar = progress::Bar::start();
        let verified = match &args.from {
            Some(target) => backup::verify_from(settings, instance, target, args.backup.as_deref()),
            None => backup::verify(home, instance, args.backup.as_deref()),
        };
        bar.finish();
        let verified = verified?;
        for problem in &verified.problems {
            println!("{problem}");
        }
        if verified.problems.is_empty() {
            eprintln!(
                "{}: {} entries, all as in its MANIFEST",
                verified.what, verified.entries
            );
            return Ok(Exit::Done);
        }
        let count = verified.problem_count;
        return Err(Error::failed(format!(
            "{}: {count} entr{} differ from its MANIFEST",
            verified.what,
            if count == 1 { "y" } else { "ies" }
        )));
    }
    if let Some(name) = &args.init_target {
        let done = backup::init_target(settings, name)?;
        eprintln!("target `{name}` is now Girofle's {done}");
        return Ok(Exit::Done);
    }
    if let Some(instance) = &args.drill {
        let bar = progress::Bar::start();
        let drilled = match &args.from {
            Some(target) => backup::drill_from(
                settings,
                instance,
                target,
                args.backup.as_deref(),
                &args.drill_options(),
            ),
            None => backup::drill(
                settings,
                instance,
                args.backup.as_deref(),
                &args.drill_options(),
            ),
        };
        bar.finish();
        let drilled = drilled?;
        for warning in &drilled.warnings {
            eprintln!(
                "{}: warning: {}",
                invocation.program,
                crate::redact::secrets(warning)
            );
        }
        if cli::stderr_is_terminal() {
            eprintln!(
                "instance {}: backup {} booted healthy and its {} repositories pass git fsck ({} s); recorded in {}",
                drilled.number,
                drilled.record.backup,
                drilled.record.repositories,
                drilled.record.duration_ms / 1000,
                drilled.record_path.display()
            );
        }
        // The weekly check of the restic targets: silent when it passes
        // (cron mails only failures), one line per target that does not.
        let mut exit = Exit::Done;
        for check in &drilled.checks {
            match &check.error {
                None if cli::stderr_is_terminal() => {
                    eprintln!("target `{}` passes its weekly check", check.target)
                }
                None => {}
                Some(error) => {
                    eprintln!(
                        "{}: the drill passed, but target `{}` does not pass its weekly check: {}",
                        invocation.program,
                        check.target,
                        crate::redact::secrets(error)
                    );
                    exit = Exit::Partial;
                }
            }
        }
        return Ok(exit);
    }
    if args.dry_run {
        return dry_run(&args, settings);
    }
    let bar = progress::Bar::start();
    let outcome = backup::run(settings, &args);
    bar.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) if args.output.json() => {
            render::print_json(&render::Failure::new("backup", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if args.output.json() {
        render::print_json(&render::backup::document(&outcome))?;
    } else {
        let mut stdout = std::io::stdout();
        for made in &outcome.made {
            writeln!(stdout, "{}", made.id)?;
        }
        if let Some(id) = &outcome.state {
            writeln!(stdout, "{id}")?;
        }
    }
    for warning in &outcome.warnings {
        eprintln!(
            "{}: warning: {}",
            invocation.program,
            crate::redact::secrets(warning)
        );
    }
    if cli::stderr_is_terminal() {
        for shipped in &outcome.shipped {
            eprintln!("shipped {shipped}");
        }
    }
    for (what, error) in &outcome.failures {
        eprintln!(
            "{}: {}",
            invocation.program,
            crate::redact::secrets(&format!("{what}: {error}"))
        );
    }
    Ok(outcome.exit())
}

/// `--dry-run`: the plan on stdout, as text or JSON; refused as a run
/// would refuse it.
fn dry_run(args: &backup::Args, settings: &crate::settings::Settings) -> Result<Exit, Error> {
    let plan = match backup::dry_run(settings, args) {
        Ok(plan) => plan,
        Err(error) if args.output.json() => {
            render::print_json(&render::Failure::new("backup", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if args.output.json() {
        render::print_json(&render::DryRun::new("backup", &plan))?;
    } else {
        print!("{}", super::backup_plan::text(&plan));
    }
    Ok(Exit::Done)
}
