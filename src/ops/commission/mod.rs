//! `girofle-commission`: a new GitLab instance, validated before anything is
//! touched, recorded in the inventory, scheduled for backups, waited for.

/// The plan of a commission, made by pure functions.
pub mod plan;
/// `--reconfigure`: an instance in service changes how it serves HTTPS.
pub mod reconfigure;
/// `--renew-certificates`: the daily renewal of Girofle-made certificates.
pub mod renew;

use std::time::Duration;

use crate::container;
use crate::docker::{DEFAULT_HEALTHY_TIMEOUT, Docker};
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::ops::args::Seconds;
use crate::{cron, sso, timefmt, tls};
pub use plan::{Acme, Host, Plan, Request, validate_name};

/// The ports searched upwards from when none is given.
pub const DEFAULT_HTTP_PORT: u16 = 8080;
/// See [`DEFAULT_HTTP_PORT`].
pub const DEFAULT_HTTPS_PORT: u16 = 8443;
/// See [`DEFAULT_HTTP_PORT`].
pub const DEFAULT_SSH_PORT: u16 = 2222;
/// The longest instance name.
pub const MAX_NAME_LENGTH: usize = crate::inventory::MAX_NAME_LENGTH;

/// Commission a new GitLab CE instance; prints its URL alone on stdout
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Instance name: [a-z0-9][a-z0-9_-]*, at most 40 characters
    pub name: Option<String>,
    /// Change an instance in service (number, name or container) to the --tls given: its container is
    /// recreated after a backup, and the previous one comes back if the new one is not healthy
    #[arg(long, value_name = "INSTANCE", conflicts_with_all = [
        "name", "ip", "http_port", "https_port", "ssh_port", "hostname", "image",
        "backup_schedule", "drill_schedule", "no_wait", "renew_certificates",
    ])]
    pub reconfigure: Option<String>,
    /// Renew the certificates Girofle's authority made that expire within 30 days, and make each
    /// instance serve its new one (what the daily cron entry runs; silent when all is well)
    #[arg(long, conflicts_with_all = [
        "name", "ip", "http_port", "https_port", "ssh_port", "hostname", "image",
        "backup_schedule", "drill_schedule", "tls", "dry_run",
    ])]
    pub renew_certificates: bool,
    /// Address to publish the ports on [default: 0.0.0.0]
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<String>,
    /// HTTP port, also the port of external_url [default: next free from 8080]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: Option<u16>,
    /// HTTPS port [default: next free from 8443]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub https_port: Option<u16>,
    /// SSH port [default: next free from 2222]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub ssh_port: Option<u16>,
    /// Host name of external_url [default: this host's name]
    #[arg(long, value_name = "FQDN")]
    pub hostname: Option<String>,
    /// Image [env: GIROFLE_IMAGE; default: gitlab/gitlab-ce:latest]
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Backup schedule, as a cron expression [default: "0 */4 * * *"]
    #[arg(long, value_name = "CRON")]
    pub backup_schedule: Option<String>,
    /// Weekly drill schedule, as a cron expression, or `never` [default: staggered by instance number]
    #[arg(long, value_name = "CRON|never")]
    pub drill_schedule: Option<String>,
    /// Serve HTTPS: `girofle-ca` (a certificate from the home's own authority, <home>/tls/ca.crt), `own` (with --cert and --key) or `acme` (GitLab takes one from Let's Encrypt, or from --acme-url)
    #[arg(long, value_name = "MODE")]
    pub tls: Option<crate::tls::Mode>,
    /// With `--tls own`: the certificate (PEM, full chain), naming the host name
    #[arg(long, value_name = "FILE")]
    pub cert: Option<std::path::PathBuf>,
    /// With `--tls own`: the certificate's private key (PEM)
    #[arg(long, value_name = "FILE")]
    pub key: Option<std::path::PathBuf>,
    /// With `--tls acme`: the ACME server's directory (https) [default: Let's Encrypt's]
    #[arg(long, value_name = "URL")]
    pub acme_url: Option<String>,
    /// With `--tls acme`: the contact address of the ACME account (expiry notices)
    #[arg(long, value_name = "ADDR")]
    pub email: Option<String>,
    /// With `--acme-url`: the ACME server's certificate authority (PEM), put in the instance's trusted-certs/
    #[arg(long, value_name = "FILE")]
    pub acme_ca: Option<std::path::PathBuf>,
    /// Single sign-on (with --tls only).
    #[command(flatten)]
    pub sso: crate::sso::Flags,
    /// Seconds to wait for the instance to be healthy
    #[arg(long, value_name = "SECS", default_value_t = Seconds(DEFAULT_HEALTHY_TIMEOUT))]
    pub wait_timeout: Seconds,
    /// Do not wait for the instance to be healthy
    #[arg(long)]
    pub no_wait: bool,
    /// Check and plan: print the plan, change nothing (no number, directory, row, container or cron entry)
    #[arg(long)]
    pub dry_run: bool,
    /// How the result is printed.
    #[command(flatten)]
    pub output: crate::ops::args::FormatArgs,
}

impl Args {
    /// How long to wait for `healthy`; `None` does not wait.
    pub fn wait(&self) -> Option<Duration> {
        (!self.no_wait).then_some(self.wait_timeout.0)
    }
}

/// The commissioned instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// Its number.
    pub number: u32,
    /// Its container.
    pub container: String,
    /// Its `external_url`.
    pub url: String,
    /// Its inventory row as written.
    pub row: crate::inventory::Row,
    /// Whether it was waited for until healthy.
    #[serde(rename = "waited_healthy")]
    pub waited: bool,
    /// The certificate of Girofle's authority when this commission made it:
    /// clients must be told to trust it once.
    pub ca_made: Option<std::path::PathBuf>,
    /// With `--reconfigure`: the backup made before the change.
    pub backup_before: Option<String>,
}

/// Commissions an instance. `progress` receives one-line status updates
/// while waiting (the binary shows them on a terminal only).
pub fn run(home: &Home, args: &Args, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let request = plan::validate(args, home.default_image(), &host_name(), &Host::here())?;
    check_own_certificate(&request)?;
    check_acme_server(request.acme.as_ref())?;
    let docker = Docker::new()?;
    docker.server_version()?;
    ensure_image(&docker, &request.image)?;

    let row = reserve(home, args, &request)?;
    let instance = InstanceDir::new(row.dir.clone());
    home.log(
        "commission",
        &format!(
            "instance {} reserved: {} on {}, image {}",
            row.number,
            row.container,
            row.url(),
            row.image
        ),
    );

    let ca_made = match install_certificate(home, &request, &row, &instance) {
        Ok(made) => made.then(|| tls::ca_cert(home)),
        Err(error) => {
            undo_reservation(home, &docker, &row);
            return Err(Error::Failed(error.context(format!(
                "cannot install the certificate of instance {}; its row and directory were removed",
                row.number
            ))));
        }
    };

    if let Some(sso) = &request.sso
        && let Err(error) = sso::install(&instance.config(), sso, &row.url())
    {
        undo_reservation(home, &docker, &row);
        return Err(Error::Failed(error.context(format!(
            "cannot write the single sign-on settings of instance {}; its row and directory were removed",
            row.number
        ))));
    }

    if let Err(error) = docker.run(&container::run_spec(home, &row, &instance)) {
        undo_reservation(home, &docker, &row);
        return Err(Error::Failed(error.context(format!(
            "cannot start the container of instance {}; its row and directory were removed",
            row.number
        ))));
    }

    let command = cron::backup_command(home, &row.number.to_string());
    if let Err(error) = cron::write_entry(home, row.number, &request.schedule, &command) {
        set_note(home, row.number, &format!("no backup schedule: {error:#}"))?;
        return Err(Error::Failed(error.context(format!(
            "instance {} runs, but its backup schedule could not be written",
            row.number
        ))));
    }

    if request.drills {
        let schedule = request
            .drill_schedule
            .clone()
            .unwrap_or_else(|| cron::default_drill_schedule(row.number));
        let mut command = cron::backup_command(home, "--drill");
        command.push(row.number.to_string());
        let written = cron::write_drill_entry(home, row.number, &schedule, &command);
        if let Err(error) = written {
            set_note(home, row.number, &format!("no drill schedule: {error:#}"))?;
            return Err(Error::Failed(error.context(format!(
                "instance {} runs, but its drill schedule could not be written",
                row.number
            ))));
        }
    }

    if let Err(error) = cron::ensure_state_entry(home, &cron::backup_command(home, "--state")) {
        home.log(
            "commission",
            &format!("the state cron entry could not be written: {error:#}"),
        );
    }

    if request.tls == Some(tls::Mode::GirofleCa)
        && let Err(error) = cron::ensure_renewal_entry(home, &cron::renewal_command(home))
    {
        set_note(
            home,
            row.number,
            &format!("no certificate renewal: {error:#}"),
        )?;
        return Err(Error::Failed(error.context(format!(
            "instance {} runs, but the renewal entry of its certificate could not be written",
            row.number
        ))));
    }

    let outcome = Outcome {
        number: row.number,
        container: row.container.clone(),
        url: row.url(),
        row: row.clone(),
        waited: args.wait().is_some(),
        ca_made,
        backup_before: None,
    };
    if let Some(timeout) = args.wait() {
        wait_healthy(home, &docker, &row, timeout, progress)?;
    }
    set_note(home, row.number, "")?;
    home.log(
        "commission",
        &format!(
            "instance {} ({}) commissioned at {}",
            row.number, row.container, outcome.url
        ),
    );
    Ok(outcome)
}

fn ensure_image(docker: &Docker, image: &str) -> Result<()> {
    if docker.image_present(image)? {
        return Ok(());
    }
    docker.pull(image).map_err(|error| {
        Error::usage(format!(
            "image `{image}` is not present locally and cannot be pulled ({error:#})"
        ))
    })
}

/// Under the inventory lock: checks what depends on other instances, hands
/// out the number and ports, makes the directories and writes the row.
fn reserve(home: &Home, args: &Args, request: &Request) -> Result<Row> {
    let mut locked = inventory::lock(home)?;
    let active = plan::active(locked.rows());
    plan::check_name_free(&active, &request.name)?;
    let ports = plan::choose_ports(&active, args, request.ip, &Host::here())?;

    let number = locked.next_number()?;
    let instance = home.instance_dir(number);
    if instance.root().exists() {
        return Err(Error::failed(format!(
            "{} already exists although number {number} was never handed out; left untouched",
            instance.root().display()
        )));
    }
    instance.create_tree()?;
    let row = plan::row(home, number, request, ports, &timefmt::now_rfc3339());
    locked.push(row.clone());
    if let Err(error) = locked.commit() {
        let _ = fs_err::remove_dir_all(instance.root());
        return Err(error);
    }
    Ok(row)
}

/// `--dry-run`: the commission's checks and its plan, with nothing changed:
/// no number handed out, no directory, row, container or cron entry, no
/// image pulled. Refuses what a commission refuses, with the same exit.
pub fn dry_run(home: &Home, args: &Args) -> Result<Plan> {
    let host = Host::here();
    let request = plan::validate(args, home.default_image(), &host_name(), &host)?;
    check_own_certificate(&request)?;
    check_acme_server(request.acme.as_ref())?;
    let docker = Docker::new()?;
    docker.server_version()?;
    let rows = inventory::read(home)?;
    let counter = match fs_err::read_to_string(home.counter()) {
        Ok(text) => text.trim().parse().map_err(|_| {
            Error::failed(format!(
                "{} holds `{}`, not a number",
                home.counter().display(),
                text.trim()
            ))
        })?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
        Err(error) => return Err(anyhow::Error::new(error).into()),
    };
    let number = plan::next_number(counter, &rows);
    let observed = plan::Observed {
        dir_exists: home.instance_dir(number).root().exists(),
        rows,
        counter,
        image_present: docker.image_present(&request.image)?,
        ca_exists: tls::ca_cert(home).exists(),
        now: timefmt::now_rfc3339(),
    };
    plan::plan(home, args, &request, &observed, &host)
}

/// `--tls own`: the files brought are read and checked before anything is
/// made, so that a wrong pair is a usage error that changes nothing.
fn check_own_certificate(request: &Request) -> Result<()> {
    if let Some((cert, key)) = &request.own_files
        && let Some(problem) = tls::check_own(cert, key, &request.hostname)
    {
        return Err(Error::usage(format!("--tls own: {problem}")));
    }
    Ok(())
}

/// `--tls acme --acme-url URL --acme-ca FILE`: the file is a certificate,
/// and the server at URL answers as an ACME directory through a TLS that
/// verifies against it, as GitLab will ask it. A mistyped URL or the wrong
/// authority is a usage error that changes nothing, instead of an instance
/// that never becomes healthy. (Without `--acme-ca`, GitLab trusts the
/// public authorities, which this host may not share: nothing is asked.)
pub(super) fn check_acme_server(acme: Option<&Acme>) -> Result<()> {
    let Some(Acme {
        url: Some(url),
        ca: Some(ca),
        ..
    }) = acme
    else {
        return Ok(());
    };
    if let Some(problem) = tls::check_ca_file(ca) {
        return Err(Error::usage(format!("--acme-ca: {problem}")));
    }
    tls::probe_acme_directory(ca, url, Duration::from_secs(20)).map_err(|error| {
        Error::usage(format!(
            "--acme-url {url} does not answer as an ACME directory trusting --acme-ca {}: {error:#}",
            ca.display()
        ))
    })
}

/// The instance's certificate in `config/ssl/`: the one brought, or one
/// signed by the home's authority (made on first use: then true); with
/// `acme`, the ACME server's authority in `config/trusted-certs/`.
fn install_certificate(
    home: &Home,
    request: &Request,
    row: &Row,
    instance: &InstanceDir,
) -> anyhow::Result<bool> {
    let host = container::tls_host(row);
    match request.tls {
        None => Ok(false),
        Some(tls::Mode::Own) => {
            let (cert, key) = request
                .own_files
                .as_ref()
                .expect("validate gives --tls own its files");
            tls::install_own(&instance.config(), host, cert, key).map(|()| false)
        }
        Some(tls::Mode::GirofleCa) => {
            let made = tls::ensure_ca(home, &host_name())?;
            if made {
                home.log(
                    "commission",
                    &format!(
                        "made Girofle's certificate authority {}",
                        tls::ca_cert(home).display()
                    ),
                );
            }
            tls::issue(home, &instance.config(), host, Some(request.ip))?;
            Ok(made)
        }
        // GitLab takes its certificate itself at boot: only the server's
        // authority, when it is not a public one, goes in first.
        Some(tls::Mode::Acme) => {
            if let Some(ca) = request.acme.as_ref().and_then(|acme| acme.ca.as_ref()) {
                tls::install_acme_ca(&instance.config(), ca)?;
            }
            Ok(false)
        }
    }
}

/// Healthy inside is not yet reachable over TLS: with Girofle's authority,
/// the instance is asked for its health from here as a client trusting that
/// authority alone would ask, so that a certificate that does not verify
/// (wrong name, wrong authority) fails the commission.
fn verify_certificate(home: &Home, row: &Row) -> Result<()> {
    if row.tls != tls::Mode::GirofleCa.as_str() {
        return Ok(());
    }
    // The certificate names the published address; on 0.0.0.0 only the host name.
    let address = match row.ip.parse::<std::net::IpAddr>() {
        Ok(ip) if !ip.is_unspecified() => row.ip.clone(),
        _ => container::tls_host(row).to_string(),
    };
    let port = row.https_port.unwrap_or(443);
    let mut last = None;
    // A few tries: the engine's port proxy may lag the container's own check.
    for _ in 0..5 {
        match tls::probe_health(&tls::ca_cert(home), &address, port, Duration::from_secs(10)) {
            Ok(()) => return Ok(()),
            Err(error) => last = Some(error),
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let error = last.expect("five tries made");
    set_note(home, row.number, &format!("TLS does not verify: {error:#}"))?;
    Err(Error::Failed(error.context(format!(
        "instance {} ({}) is healthy inside, but its HTTPS does not verify against {}; \
         the container and its row are kept",
        row.number,
        row.container,
        tls::ca_cert(home).display()
    ))))
}

/// This host's name: the host name of `external_url` without `--hostname`.
fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// After `docker run` failed: nothing of this commission is left behind. A
/// container is removed only if this commission created it (its labels say so):
/// a name clash must not cost someone else's container.
fn undo_reservation(home: &Home, docker: &Docker, row: &Row) {
    if let Ok(Some(labels)) = docker.labels(&row.container) {
        let ours = labels.get("girofle.home").map(String::as_str)
            == Some(&home.root().display().to_string())
            && labels.get("girofle.instance") == Some(&row.number.to_string());
        if ours {
            let _ = docker.remove(&row.container);
        }
    }
    let _ = fs_err::remove_dir_all(&row.dir);
    if let Ok(mut locked) = inventory::lock(home) {
        locked.remove(row.number);
        let _ = locked.commit();
    }
    home.log(
        "commission",
        &format!("instance {} abandoned: docker run failed", row.number),
    );
}

fn set_note(home: &Home, number: u32, note: &str) -> Result<()> {
    let mut locked = inventory::lock(home)?;
    if let Some(row) = locked.row_mut(number) {
        row.note = note.to_string();
        locked.commit()?;
    }
    Ok(())
}

fn wait_healthy(
    home: &Home,
    docker: &Docker,
    row: &Row,
    timeout: Duration,
    progress: &mut dyn FnMut(&str),
) -> Result<()> {
    let Err(not_healthy) = docker.wait_healthy(&row.container, timeout, progress)? else {
        return verify_certificate(home, row);
    };
    let note = format!(
        "not healthy {}s after commission ({}); last health check: {}",
        not_healthy.waited.as_secs(),
        not_healthy.seen,
        not_healthy.last_output
    );
    set_note(home, row.number, &note)?;
    Err(Error::failed(format!(
        "instance {} ({}) is not healthy after {}s ({}).\n\
         Last health check: {}\n\
         Last lines of docker logs:\n{}\n\
         The container and its row are kept; `girofle-list` shows the problem.",
        row.number,
        row.container,
        not_healthy.waited.as_secs(),
        not_healthy.seen,
        not_healthy.last_output,
        not_healthy.logs
    )))
}
