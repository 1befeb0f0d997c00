//! Puts the clock right when it is so wrong that TLS fails (the seed's annex, made safe).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use girofle::cli::{self, Common};
use girofle::error::{Error, Exit};
use girofle::ops::ntp_fix;

/// Synchronise the clock; install an NTP client first if needed (TLS verification is switched off for
/// that install only, and back on before anything else)
#[derive(Parser)]
#[command(name = "girofle-ntp-fix", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// NTP server, HOST or HOST:PORT
    #[arg(long, value_name = "HOST[:PORT]", default_value = ntp_fix::DEFAULT_SERVER)]
    server: String,
    /// Only measure the offset; change nothing
    #[arg(long)]
    check: bool,
    /// Do not write the hardware clock
    #[arg(long)]
    no_hwclock: bool,
    /// The root whose package-manager files are changed (a chroot; tests)
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The package that brings the NTP client
    #[arg(long, value_name = "NAME", default_value = "chrony")]
    client_package: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.common.home();
    let result = run(cli, &home);
    cli::finish("girofle-ntp-fix", Some(&home), result)
}

fn run(cli: Cli, home: &girofle::home::Home) -> Result<Exit, Error> {
    if !cli.check {
        cli::require_root("girofle-ntp-fix")?;
    }
    let outcome = ntp_fix::run(
        home,
        &ntp_fix::Args {
            server: cli.server,
            check: cli.check,
            no_hwclock: cli.no_hwclock,
            root: cli.root,
            client_package: cli.client_package,
        },
    )?;
    if let Some(offset) = outcome.offset {
        println!("{offset:+.6}");
    }
    if cli::stderr_is_terminal() {
        for step in &outcome.steps {
            eprintln!("{step}");
        }
    }
    for warning in &outcome.warnings {
        eprintln!("girofle-ntp-fix: warning: {warning}");
    }
    Ok(Exit::Done)
}
