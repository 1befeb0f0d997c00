//! Restores a backup into a GitLab instance (the legacy `restore.sh CONTAINER DIR`).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use girofle::cli::{self, Common};
use girofle::error::{Error, Exit};
use girofle::home::InstanceDir;
use girofle::ops::restore;

/// Restore a backup into a GitLab instance. Without arguments, asks for them (on a terminal)
#[derive(Parser)]
#[command(name = "girofle-restore", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// The container, as `docker ps -a` knows it
    container: Option<String>,
    /// The instance's Girofle directory (noeud-gitlab-<N>)
    dir: Option<PathBuf>,
    /// The backup to restore [default: the newest complete one]
    #[arg(long, value_name = "ID")]
    backup: Option<String>,
    /// Fetch the backup from this target of girofle.conf first
    #[arg(long, value_name = "TARGET")]
    from: Option<String>,
    /// With --from: the instance folder on the target, HOST/noeud-gitlab-<N> [default: this host's, DIR's]
    #[arg(long, value_name = "HOST/noeud-gitlab-N", requires = "from")]
    source: Option<String>,
    /// Recreate the container from this image (needed when the GitLab versions differ)
    #[arg(long, value_name = "REF")]
    image: Option<String>,
    /// Keep the previous volumes as mapping-volumes.previous-<time>
    #[arg(long)]
    keep_previous: bool,
    /// Seconds to wait for another operation on the same instance
    #[arg(long, value_name = "SECS", default_value_t = girofle::lock::DEFAULT_LOCK_TIMEOUT.as_secs())]
    lock_timeout: u64,
    /// Seconds to wait for the restored instance to be healthy
    #[arg(long, value_name = "SECS", default_value_t = girofle::docker::DEFAULT_HEALTHY_TIMEOUT.as_secs())]
    wait_timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.common.home();
    let result = run(cli, &home);
    cli::finish("girofle-restore", Some(&home), result)
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

fn run(mut cli: Cli, home: &girofle::home::Home) -> Result<Exit, Error> {
    cli::require_root("girofle-restore")?;
    let (container, dir) = match (cli.container.take(), cli.dir.take()) {
        (Some(container), Some(dir)) => (container, dir),
        (Some(_), None) => {
            let help = Cli::command().render_help();
            return Err(Error::usage(format!(
                "give both the container and the instance directory\n\n{help}"
            )));
        }
        (None, _) => {
            if !std::io::stdin().is_terminal() {
                return Err(Error::usage(
                    "give the container and the instance directory (without them, girofle-restore asks on a terminal only)",
                ));
            }
            let container = ask("Container to restore into", None)?;
            let dir = PathBuf::from(ask("Its Girofle directory (noeud-gitlab-<N>)", None)?);
            let backups = restore::usable_backups(&InstanceDir::new(dir.clone()));
            if cli.backup.is_none() {
                for id in &backups {
                    eprintln!("  {id}");
                }
                let newest = backups.last().map(ToString::to_string);
                cli.backup = Some(ask("Backup to restore", newest.as_deref())?);
            }
            (container, dir)
        }
    };
    let args = restore::Args {
        container,
        dir,
        backup: cli.backup,
        from: cli.from,
        source: cli.source,
        image: cli.image,
        keep_previous: cli.keep_previous,
        lock_timeout: Duration::from_secs(cli.lock_timeout),
        wait_timeout: Duration::from_secs(cli.wait_timeout),
    };
    let on_terminal = cli::stderr_is_terminal();
    let mut progress = |message: &str| {
        if on_terminal {
            eprint!("\r\x1b[2K{message}");
        }
    };
    let outcome = restore::run(home, &args, &mut progress);
    if on_terminal {
        eprintln!();
    }
    let outcome = outcome?;
    if let Some(previous) = &outcome.previous {
        eprintln!("previous volumes kept in {}", previous.display());
    }
    println!("{}", outcome.backup);
    Ok(Exit::Done)
}
