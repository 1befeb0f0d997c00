//! Restores a backup into a GitLab instance (the legacy `restore.sh CONTAINER DIR`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use girofle::cli::{self, Invocation, Progress};
use girofle::error::{Error, Exit};
use girofle::home::InstanceDir;
use girofle::ops::restore;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(mut args: restore::Args, invocation: &Invocation) -> Result<Exit, Error> {
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
    // On a terminal, say what is replaced with what and ask; without one,
    // act, as the legacy `restore.sh CONTAINER DIR` did.
    let ask_first = !args.yes && std::io::stdin().is_terminal();
    let mut confirm = |plan: &restore::Plan| -> Result<bool, Error> {
        eprintln!("{}", plan.text);
        let answer = ask("Restore? (yes/no)", Some("no"))?;
        Ok(matches!(answer.to_lowercase().as_str(), "y" | "yes"))
    };
    let mut progress = Progress::new();
    let outcome = restore::run(
        &invocation.home,
        &args,
        &mut |message| progress.show(message),
        if ask_first { Some(&mut confirm) } else { None },
    );
    progress.end();
    let outcome = outcome?;
    match &outcome.previous {
        restore::Previous::Backup(id) => eprintln!(
            "the data this restore replaced is kept as backup {id} (restoring it with --backup {id} brings it back)"
        ),
        restore::Previous::Beside(path) => eprintln!(
            "the data this restore replaced is kept in {} (bckups/ is on another file system)",
            path.display()
        ),
    }
    println!("{}", outcome.backup);
    Ok(Exit::Done)
}

/// `--all`: the table of every instance on stdout, what went wrong on stderr.
fn run_all(args: &restore::Args, invocation: &Invocation) -> Result<Exit, Error> {
    let mut progress = Progress::new();
    let outcome = restore::run_all(&invocation.home, args, &mut |message| {
        progress.show(message)
    });
    progress.end();
    let outcome = outcome?;
    print!("{}", restore::render_table(&outcome));
    for instance in &outcome.instances {
        match &instance.verdict {
            restore::Verdict::Failed(why) => eprintln!(
                "{}: instance {} ({}): {why}",
                invocation.program, instance.number, instance.container
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
        eprintln!("{}: {warning}", invocation.program);
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
    args.container = Some(ask("Container to restore into", None)?);
    let dir = PathBuf::from(ask("Its Girofle directory (noeud-gitlab-<N>)", None)?);
    let backups = restore::usable_backups(&InstanceDir::new(dir.clone()));
    args.dir = Some(dir);
    if args.backup.is_none() {
        for id in &backups {
            eprintln!("  {id}");
        }
        let newest = backups.last().map(ToString::to_string);
        args.backup = Some(ask("Backup to restore", newest.as_deref())?);
    }
    Ok(())
}

fn ask(prompt: &str, default: Option<&str>) -> Result<String, Error> {
    match default {
        Some(default) => eprint!("{prompt} [{default}]: "),
        None => eprint!("{prompt}: "),
    }
    std::io::stderr().flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        return Err(Error::usage("no answer: interrupted"));
    }
    let answer = answer.trim().to_string();
    Ok(match (answer.is_empty(), default) {
        (true, Some(default)) => default.to_string(),
        _ => answer,
    })
}
