//! Decommissions a GitLab instance: final backup, container removed, data kept.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use girofle::cli::{self, Common};
use girofle::error::{Error, Exit};
use girofle::ops::decommission;

/// Decommission a GitLab instance; its volumes and backups stay on disk
#[derive(Parser)]
#[command(name = "girofle-decommission", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// The instance: number, name or container name
    instance: String,
    /// Do not take a final backup first
    #[arg(long)]
    no_backup: bool,
    /// Seconds to wait for another operation on the same instance
    #[arg(long, value_name = "SECS", default_value_t = girofle::lock::DEFAULT_LOCK_TIMEOUT.as_secs())]
    lock_timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.common.home();
    let result = run(cli, &home);
    cli::finish("girofle-decommission", Some(&home), result)
}

fn run(cli: Cli, home: &girofle::home::Home) -> Result<Exit, Error> {
    cli::require_root("girofle-decommission")?;
    let outcome = decommission::run(
        home,
        &decommission::Args {
            instance: cli.instance,
            no_backup: cli.no_backup,
            lock_timeout: Duration::from_secs(cli.lock_timeout),
        },
    )?;
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
