//! Commissions a new GitLab instance and prints its URL.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use girofle::cli::{self, Common};
use girofle::error::{Error, Exit};
use girofle::ops::commission;

/// Commission a new GitLab CE instance; prints its URL alone on stdout
#[derive(Parser)]
#[command(name = "girofle-commission", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Instance name: [a-z0-9][a-z0-9_-]*, at most 40 characters
    name: Option<String>,
    /// Address to publish the ports on [default: 0.0.0.0]
    #[arg(long, value_name = "ADDR")]
    ip: Option<String>,
    /// HTTP port, also the port of external_url [default: next free from 8080]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    http_port: Option<u16>,
    /// HTTPS port [default: next free from 8443]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    https_port: Option<u16>,
    /// SSH port [default: next free from 2222]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    ssh_port: Option<u16>,
    /// Host name of external_url [default: this host's name]
    #[arg(long, value_name = "FQDN")]
    hostname: Option<String>,
    /// Image [env: GIROFLE_IMAGE; default: gitlab/gitlab-ce:latest]
    #[arg(long, value_name = "REF")]
    image: Option<String>,
    /// Backup schedule, as a cron expression [default: "0 */4 * * *"]
    #[arg(long, value_name = "CRON")]
    backup_schedule: Option<String>,
    /// Seconds to wait for the instance to be healthy
    #[arg(long, value_name = "SECS", default_value_t = girofle::docker::DEFAULT_HEALTHY_TIMEOUT.as_secs())]
    wait_timeout: u64,
    /// Do not wait for the instance to be healthy
    #[arg(long)]
    no_wait: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.common.home();
    let result = run(cli, &home);
    cli::finish("girofle-commission", Some(&home), result)
}

fn run(cli: Cli, home: &girofle::home::Home) -> Result<Exit, Error> {
    cli::require_root("girofle-commission")?;
    let args = commission::Args {
        name: cli.name,
        ip: cli.ip,
        http_port: cli.http_port,
        https_port: cli.https_port,
        ssh_port: cli.ssh_port,
        hostname: cli.hostname,
        image: cli.image,
        backup_schedule: cli.backup_schedule,
        wait: (!cli.no_wait).then(|| Duration::from_secs(cli.wait_timeout)),
    };
    let on_terminal = cli::stderr_is_terminal();
    let mut shown = false;
    let mut progress = |message: &str| {
        if on_terminal {
            eprint!("\r\x1b[2K{message}");
            shown = true;
        }
    };
    let result = commission::run(home, &args, &mut progress);
    if shown {
        eprintln!();
    }
    let outcome = result?;
    writeln!(std::io::stdout(), "{}", outcome.url)?;
    Ok(Exit::Done)
}
