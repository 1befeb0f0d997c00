//! Backs up GitLab instances; prints the ID of each backup made.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use girofle::cli::{self, Common};
use girofle::error::{Error, Exit};
use girofle::ops::backup::{self, Consistency};

#[derive(Clone, Copy, ValueEnum)]
enum ConsistencyArg {
    /// Stop GitLab for the second pass (GitLab's rule)
    Stop,
    /// Freeze the container for the second pass (crash-consistent)
    Pause,
    /// Copy while GitLab runs (not consistent)
    Live,
}

/// Back up GitLab instances: consistent, incremental, verified
#[derive(Parser)]
#[command(name = "girofle-backup", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Instances: number, name or container name
    instances: Vec<String>,
    /// Every commissioned instance
    #[arg(long)]
    all: bool,
    /// How the copy is made consistent
    #[arg(long, value_enum, default_value = "stop")]
    consistency: ConsistencyArg,
    /// Keep the N newest complete backups [default: girofle.conf's retention, else 12]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep_last: Option<u32>,
    /// Seconds to wait for another operation on the same instance
    #[arg(long, value_name = "SECS", default_value_t = girofle::lock::DEFAULT_LOCK_TIMEOUT.as_secs())]
    lock_timeout: u64,
    /// Seconds `docker stop` gives GitLab to shut down
    #[arg(long, value_name = "SECS", default_value_t = girofle::docker::DEFAULT_STOP_TIMEOUT.as_secs())]
    stop_timeout: u64,
    /// Back up Girofle's own state (inventory, counter, girofle.conf, cron entries, docker inspect, log)
    /// into sauvegardes/; ships it and every instance's new backups to `same-site` when configured
    #[arg(long)]
    state: bool,
    /// Ship complete backups to this target of girofle.conf
    #[arg(long, value_name = "TARGET")]
    to: Option<String>,
    /// Re-read a backup of INSTANCE and compare it with its MANIFEST
    #[arg(long, value_name = "INSTANCE", conflicts_with_all = ["all", "instances", "state", "to"])]
    verify: Option<String>,
    /// With --verify: the backup to re-read [default: the newest]
    #[arg(long, value_name = "ID", requires = "verify")]
    backup: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.common.home();
    let result = run(cli, &home);
    cli::finish("girofle-backup", Some(&home), result)
}

fn run(cli: Cli, home: &girofle::home::Home) -> Result<Exit, Error> {
    cli::require_root("girofle-backup")?;
    if let Some(instance) = &cli.verify {
        let verified = backup::verify(home, instance, cli.backup.as_deref())?;
        if verified.problems.is_empty() {
            eprintln!(
                "{}: {} entries, all as in its MANIFEST",
                verified.path.display(),
                verified.entries
            );
            return Ok(Exit::Done);
        }
        for problem in &verified.problems {
            println!("{problem}");
        }
        return Err(Error::failed(format!(
            "{}: {} entr{} differ from its MANIFEST",
            verified.path.display(),
            verified.problems.len(),
            if verified.problems.len() == 1 {
                "y"
            } else {
                "ies"
            }
        )));
    }
    let args = backup::Args {
        instances: cli.instances,
        all: cli.all,
        state: cli.state,
        to: cli.to,
        options: backup::Options {
            consistency: match cli.consistency {
                ConsistencyArg::Stop => Consistency::Stop,
                ConsistencyArg::Pause => Consistency::Pause,
                ConsistencyArg::Live => Consistency::Live,
            },
            keep_last: cli.keep_last,
            lock_timeout: Duration::from_secs(cli.lock_timeout),
            stop_timeout: Duration::from_secs(cli.stop_timeout),
        },
    };
    let outcome = backup::run(home, &args)?;
    let mut stdout = std::io::stdout();
    for made in &outcome.made {
        writeln!(stdout, "{}", made.id)?;
    }
    if let Some(id) = &outcome.state {
        writeln!(stdout, "{id}")?;
    }
    if cli::stderr_is_terminal() {
        for shipped in &outcome.shipped {
            eprintln!("shipped {shipped}");
        }
    }
    for (what, error) in &outcome.failures {
        eprintln!("girofle-backup: {what}: {error}");
    }
    let made_any =
        !outcome.made.is_empty() || outcome.state.is_some() || !outcome.shipped.is_empty();
    match (!made_any, outcome.failures.is_empty()) {
        (_, true) => Ok(Exit::Done),
        (true, false) => Ok(Exit::Failed),
        (false, false) => Ok(Exit::Partial),
    }
}
