//! What `girofle-restore` says and asks: its questions on a terminal, the plan it confirms, the
//! results of one restore or of `--all`.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{self, Invocation};
use crate::error::{Error, Exit};
use crate::home::InstanceDir;
use crate::ops::restore;
use crate::progress;
use crate::render;

/// The binary's work once its arguments are parsed: see [`crate::cli::main`].
pub fn run(mut args: restore::Args, invocation: &Invocation) -> Result<Exit, Error> {
    invocation.require_root()?;
    if args.all {
        return run_all(&args, invocation);
    }
    match (&args.container, &args.dir) {
        (Some(_), Some(_)) => {}
        (Some(_), None) => {
            return Err(Error::usage(format!(
                "give both the container and the instance directory\n\n{}",
                invocation.help()
            )));
        }
        (None, _) => ask_for_arguments(&mut args)?,
    }
    if args.dry_run {
        let plan = restore::dry_run(&invocation.settings, &args)?;
        return print_plan(&plan, plan.text(), args.output.json());
    }
    // On a terminal, say what is replaced with what and ask; without one,
    // act, as the legacy `restore.sh CONTAINER DIR` did.
    let ask_first = !args.yes && std::io::stdin().is_terminal();
    // The bar never draws over the question: it starts once it is answered.
    let bar = std::rc::Rc::new(std::cell::RefCell::new(
        (!ask_first).then(progress::Bar::start),
    ));
    let started_bar = bar.clone();
    let mut confirm = move |plan: &restore::Plan| -> Result<bool, Error> {
        eprint!("{}", plan.text());
        let answer = cli::ask("Restore? (yes/no)", Some("no"))?;
        let yes = matches!(answer.to_lowercase().as_str(), "y" | "yes");
        if yes {
            *started_bar.borrow_mut() = Some(progress::Bar::start());
        }
        Ok(yes)
    };
    let started = std::time::Instant::now();
    let outcome = restore::run(
        &invocation.settings,
        &args,
        &mut |message| progress::phase(message),
        if ask_first { Some(&mut confirm) } else { None },
    );
    if let Some(bar) = bar.take() {
        bar.finish();
    }
    if args.output.json() {
        render::print_json(&render::restore::document(
            args.container.as_deref().unwrap_or_default(),
            args.dir.as_deref(),
            outcome.as_ref(),
            started.elapsed(),
        ))?;
    }
    let outcome = outcome?;
    for warning in &outcome.warnings {
        eprintln!(
            "{}: warning: {}",
            invocation.program,
            crate::redact::secrets(warning)
        );
    }
    match &outcome.previous {
        restore::Previous::Backup(id) => eprintln!(
            "the data this restore replaced is kept as backup {id} (restoring it with --backup {id} brings it back)"
        ),
        restore::Previous::Beside(path) => eprintln!(
            "the data this restore replaced is kept in {} (bckups/ is on another file system)",
            path.display()
        ),
    }
    if !args.output.json() {
        println!("{}", outcome.backup);
    }
    Ok(Exit::Done)
}

/// `--dry-run`: the plan on stdout, as text (numbered steps) or as JSON.
fn print_plan(plan: &impl serde::Serialize, text: String, json: bool) -> Result<Exit, Error> {
    if json {
        render::print_json(&render::DryRun::new("restore", plan))?;
    } else {
        print!("{text}");
    }
    Ok(Exit::Done)
}

/// `--all`: the table of every instance on stdout, what went wrong on stderr.
fn run_all(args: &restore::Args, invocation: &Invocation) -> Result<Exit, Error> {
    if args.dry_run {
        let plan = restore::dry_run_all(&invocation.settings, args)?;
        return print_plan(&plan, plan.text(), args.output.json());
    }
    let bar = progress::Bar::start();
    let outcome = restore::run_all(&invocation.settings, args, &mut |message| {
        progress::phase(message)
    });
    bar.finish();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) if args.output.json() => {
            render::print_json(&render::Failure::new("restore", &error))?;
            return Err(error);
        }
        Err(error) => return Err(error),
    };
    if args.output.json() {
        render::print_json(&render::restore::all_document(&outcome))?;
    } else {
        print!("{}", render::restore::table(&outcome));
    }
    for instance in &outcome.instances {
        match &instance.verdict {
            restore::Verdict::Failed(why) => eprintln!(
                "{}: instance {} ({}): {}",
                invocation.program,
                instance.number,
                instance.container,
                crate::redact::secrets(&why.to_string())
            ),
            restore::Verdict::Restored {
                previous: Some(kept),
                ..
            } => eprintln!(
                "instance {}: the volumes found in its directory are {kept}",
                instance.number,
            ),
            _ => {}
        }
    }
    for warning in &outcome.warnings {
        eprintln!(
            "{}: {}",
            invocation.program,
            crate::redact::secrets(&warning.to_string())
        );
    }
    Ok(outcome.exit())
}

/// The seed's questions, on a terminal only: the container, its directory, the backup.
fn ask_for_arguments(args: &mut restore::Args) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "give the container and the instance directory (without them, girofle-restore asks on a terminal only)",
        ));
    }
    args.container = Some(cli::ask("Container to restore into", None)?);
    let dir = PathBuf::from(cli::ask("Its Girofle directory (noeud-gitlab-<N>)", None)?);
    let backups = restore::usable_backups(&InstanceDir::new(dir.clone()));
    args.dir = Some(dir);
    if args.backup.is_none() {
        for id in &backups {
            eprintln!("  {id}");
        }
        let newest = backups.last().map(ToString::to_string);
        args.backup = Some(cli::ask("Backup to restore", newest.as_deref())?);
    }
    Ok(())
}
