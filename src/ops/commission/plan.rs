//! The plan of a commission, as a value: the number and name, the address
//! and ports, the directories and volumes made, the image, the container's
//! configuration, the cron entries written. Made by pure functions from the
//! arguments and what was observed (the inventory, the counter, which
//! addresses are this host's and which ports are free), so that
//! `--dry-run` and the commission follow the same rules, tested without an
//! engine.

use serde::Serialize;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

use super::{Args, DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT, DEFAULT_SSH_PORT};
use crate::container::{self, VOLUMES};
use crate::cron;
use crate::error::{Error, Result};
use crate::home::Home;
use crate::inventory::{Row, RowState};
use crate::{net, sso, tls};

/// What the host is asked about while planning: whether an address is one
/// of its own, whether a port is free on an address.
pub struct Host<'a> {
    /// Whether `--ip` is assigned to an interface here (or is `0.0.0.0`).
    pub is_local: &'a dyn Fn(IpAddr) -> bool,
    /// Whether nothing listens on a port of an address.
    pub port_free: &'a dyn Fn(IpAddr, u16) -> bool,
}

impl Host<'static> {
    /// This host, asked for real.
    pub fn here() -> Host<'static> {
        Host {
            is_local: &net::is_local_address,
            port_free: &net::port_is_free,
        }
    }
}

/// The validated request, before anything exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The instance's name (empty when none).
    pub name: String,
    /// The address its ports are published on.
    pub ip: IpAddr,
    /// The host name of its `external_url`.
    pub hostname: String,
    /// Its image.
    pub image: String,
    /// Its backup schedule.
    pub schedule: String,
    /// The drill schedule given, if any.
    pub drill_schedule: Option<String>,
    /// Whether it gets a weekly drill (`--drill-schedule never` says no).
    pub drills: bool,
    /// How it serves HTTPS, if it does.
    pub tls: Option<tls::Mode>,
    /// With `--tls own`: the certificate and key brought.
    pub own_files: Option<(PathBuf, PathBuf)>,
    /// With `--tls acme`: the server and account GitLab asks.
    pub acme: Option<Acme>,
    /// Single sign-on, if asked for (with TLS only).
    pub sso: Option<sso::Sso>,
}

/// `--tls acme`: where GitLab takes its certificate from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Acme {
    /// `--acme-url`; `None` for Let's Encrypt.
    pub url: Option<String>,
    /// `--email`, the ACME account's contact.
    pub email: Option<String>,
    /// `--acme-ca`: the ACME server's authority, copied into the config
    /// volume's `trusted-certs/`.
    pub ca: Option<PathBuf>,
}

/// Checks the arguments (exit 2 naming the first problem) and settles the
/// defaults: `host_name` is this host's name, `default_image` the home's.
pub fn validate(args: &Args, default_image: &str, host_name: &str, host: &Host) -> Result<Request> {
    let name = match &args.name {
        None => String::new(),
        Some(name) => {
            validate_name(name)?;
            name.clone()
        }
    };
    let ip_text = args.ip.clone().unwrap_or_else(|| "0.0.0.0".into());
    let ip: IpAddr = ip_text
        .parse()
        .map_err(|_| Error::usage(format!("--ip {ip_text}: not an IP address")))?;
    if !(host.is_local)(ip) {
        return Err(Error::usage(format!(
            "--ip {ip}: this address is not assigned to any interface of this host"
        )));
    }
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(|| host_name.to_string());
    validate_hostname(&hostname)?;
    let schedule = args
        .backup_schedule
        .clone()
        .unwrap_or_else(|| cron::DEFAULT_SCHEDULE.into());
    cron::validate_schedule(&schedule)
        .map_err(|problem| Error::usage(format!("--backup-schedule: {problem}")))?;
    let drills = args.drill_schedule.as_deref() != Some("never");
    let drill_schedule = args.drill_schedule.clone().filter(|_| drills);
    if let Some(drill_schedule) = &drill_schedule {
        cron::validate_schedule(drill_schedule)
            .map_err(|problem| Error::usage(format!("--drill-schedule: {problem}")))?;
    }
    let explicit: Vec<u16> = [args.http_port, args.https_port, args.ssh_port]
        .into_iter()
        .flatten()
        .collect();
    let distinct: BTreeSet<u16> = explicit.iter().copied().collect();
    if distinct.len() != explicit.len() {
        return Err(Error::usage("the HTTP, HTTPS and SSH ports must differ"));
    }
    let image = args
        .image
        .clone()
        .unwrap_or_else(|| default_image.to_string());
    if !crate::inventory::is_image_reference(&image) {
        return Err(Error::usage(format!(
            "--image `{image}`: not an image reference"
        )));
    }
    let own_files = own_files(args)?;
    let acme = validate_acme(args, &hostname)?;
    let sso = sso::validate(&args.sso, args.tls.is_some()).map_err(Error::usage)?;
    Ok(Request {
        acme,
        sso,
        name,
        ip,
        hostname,
        image,
        schedule,
        drill_schedule,
        drills,
        tls: args.tls,
        own_files,
    })
}

/// `--tls acme [--acme-url URL] [--email ADDR] [--acme-ca FILE]`, checked:
/// an https URL, a plausible address, a CA only for a server of one's own
/// (Let's Encrypt's is trusted already), and a host name that is a DNS name
/// (an ACME certificate names the host name of `external_url`).
pub fn validate_acme(args: &Args, hostname: &str) -> Result<Option<Acme>> {
    if args.tls != Some(tls::Mode::Acme) {
        if args.acme_url.is_some() || args.email.is_some() || args.acme_ca.is_some() {
            return Err(Error::usage(
                "--acme-url, --email and --acme-ca go with --tls acme only",
            ));
        }
        return Ok(None);
    }
    if hostname.parse::<IpAddr>().is_ok() {
        return Err(Error::usage(format!(
            "--tls acme: the host name `{hostname}` is an IP address; an ACME certificate names \
             a DNS name: give --hostname FQDN"
        )));
    }
    if let Some(url) = &args.acme_url
        && let Some(problem) = crate::inventory::check_acme_url(url)
    {
        return Err(Error::usage(problem));
    }
    if let Some(email) = &args.email
        && let Some(problem) = crate::inventory::check_email(email)
    {
        return Err(Error::usage(problem));
    }
    if args.acme_ca.is_some() && args.acme_url.is_none() {
        return Err(Error::usage(
            "--acme-ca goes with --acme-url: Let's Encrypt's authority is trusted already",
        ));
    }
    Ok(Some(Acme {
        url: args.acme_url.clone(),
        email: args.email.clone(),
        ca: args.acme_ca.clone(),
    }))
}

/// With `--tls own`, its two files; `--cert` and `--key` without it are refused.
pub fn own_files(args: &Args) -> Result<Option<(PathBuf, PathBuf)>> {
    match (args.tls, &args.cert, &args.key) {
        (Some(tls::Mode::Own), Some(cert), Some(key)) => Ok(Some((cert.clone(), key.clone()))),
        (Some(tls::Mode::Own), _, _) => {
            Err(Error::usage("--tls own needs --cert FILE and --key FILE"))
        }
        (_, None, None) => Ok(None),
        _ => Err(Error::usage("--cert and --key go with --tls own only")),
    }
}

/// `[a-z0-9][a-z0-9_-]*`, at most 40 characters (as the inventory checks it).
pub fn validate_name(name: &str) -> Result<()> {
    crate::inventory::check_name(name).map_err(Error::usage)
}

/// A DNS name, as `external_url` needs it.
pub fn validate_hostname(hostname: &str) -> Result<()> {
    if crate::inventory::is_host_name(hostname) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--hostname `{hostname}`: not a valid host name"
        )))
    }
}

/// The instances in service: their names and ports are taken.
pub fn active(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .filter(|row| row.state == RowState::Commissioned)
        .cloned()
        .collect()
}

/// A name is one instance's at a time (a decommissioned one's may be reused).
pub fn check_name_free(active: &[Row], name: &str) -> Result<()> {
    if !name.is_empty()
        && let Some(holder) = active.iter().find(|row| row.name == name)
    {
        return Err(Error::usage(format!(
            "the name `{name}` is taken by instance {} ({})",
            holder.number, holder.container
        )));
    }
    Ok(())
}

/// The number the counter hands out next: never one used before, by the
/// counter or by a row.
pub fn next_number(recorded: u32, rows: &[Row]) -> u32 {
    let highest_row = rows.iter().map(|row| row.number).max().unwrap_or(0);
    recorded.max(highest_row) + 1
}

/// The HTTP, HTTPS and SSH ports: the ones asked for, checked, and the
/// next free ones for the others.
pub fn choose_ports(active: &[Row], args: &Args, ip: IpAddr, host: &Host) -> Result<[u16; 3]> {
    let ip_text = ip.to_string();
    let mut chosen: Vec<u16> = Vec::new();
    let mut ports = [0u16; 3];
    let requests = [
        ("HTTP", args.http_port, DEFAULT_HTTP_PORT),
        ("HTTPS", args.https_port, DEFAULT_HTTPS_PORT),
        ("SSH", args.ssh_port, DEFAULT_SSH_PORT),
    ];
    // Explicit ports first, so that a default never takes one the admin named.
    for (index, (label, explicit, _)) in requests.iter().enumerate() {
        if let Some(port) = explicit {
            check_port(active, &ip_text, ip, *port, label, host)?;
            ports[index] = *port;
            chosen.push(*port);
        }
    }
    for (index, (label, explicit, base)) in requests.iter().enumerate() {
        if explicit.is_none() {
            let port = (*base..=u16::MAX)
                .find(|port| {
                    !chosen.contains(port)
                        && holder_of(active, &ip_text, *port).is_none()
                        && (host.port_free)(ip, *port)
                })
                .ok_or_else(|| {
                    Error::failed(format!("no free {label} port above {base} on {ip_text}"))
                })?;
            ports[index] = port;
            chosen.push(port);
        }
    }
    Ok(ports)
}

fn holder_of<'a>(rows: &'a [Row], ip: &str, port: u16) -> Option<&'a Row> {
    rows.iter().find(|row| {
        net::addresses_overlap(&row.ip, ip)
            && [row.http_port, row.https_port, row.ssh_port].contains(&Some(port))
    })
}

fn check_port(
    rows: &[Row],
    ip_text: &str,
    ip: IpAddr,
    port: u16,
    label: &str,
    host: &Host,
) -> Result<()> {
    if let Some(holder) = holder_of(rows, ip_text, port) {
        return Err(Error::usage(format!(
            "{label} port {port} on {ip_text} is held by instance {} ({})",
            holder.number, holder.container
        )));
    }
    if !(host.port_free)(ip, port) {
        return Err(Error::usage(format!(
            "{label} port {port} on {ip_text} is already in use on this host"
        )));
    }
    Ok(())
}

/// The inventory row of instance `number`, as the commission writes it
/// (`now` is the time of the reservation, RFC 3339).
pub fn row(home: &Home, number: u32, request: &Request, ports: [u16; 3], now: &str) -> Row {
    Row {
        number,
        name: request.name.clone(),
        container: home.container_name(number, &request.name),
        state: RowState::Commissioned,
        ip: request.ip.to_string(),
        http_port: Some(ports[0]),
        https_port: Some(ports[1]),
        ssh_port: Some(ports[2]),
        hostname: request.hostname.clone(),
        image: request.image.clone(),
        dir: home.instance_dir(number).root().to_path_buf(),
        backup_schedule: request.schedule.clone(),
        created: now.to_string(),
        note: format!("commissioning since {now}"),
        tls: request
            .tls
            .map(|mode| mode.as_str().to_string())
            .unwrap_or_default(),
        acme_url: acme_field(request, |acme| acme.url.clone()),
        acme_email: acme_field(request, |acme| acme.email.clone()),
    }
}

fn acme_field(request: &Request, field: impl Fn(&Acme) -> Option<String>) -> String {
    request.acme.as_ref().and_then(field).unwrap_or_default()
}

/// What a commission will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The number handed out.
    pub number: u32,
    /// The container made.
    pub container: String,
    /// Its `external_url`.
    pub url: String,
    /// Whether the image must be pulled first.
    pub pull_image: bool,
    /// The directories made: the instance's, its volumes, its `bckups/`.
    pub directories: Vec<PathBuf>,
    /// Its `GITLAB_OMNIBUS_CONFIG`.
    pub omnibus_config: String,
    /// The whole `docker run`.
    pub docker_run: Vec<String>,
    /// Its backup cron entry.
    pub backup_entry: PathBuf,
    /// Its drill cron entry and schedule, unless `--drill-schedule never`.
    pub drill_entry: Option<(PathBuf, String)>,
    /// The state's cron entry, written if it is missing.
    pub state_entry: PathBuf,
    /// With `--tls girofle-ca`: the daily renewal's cron entry, written if it is missing.
    pub renewal_entry: Option<PathBuf>,
    /// How it will serve HTTPS; `None` for plain HTTP.
    pub tls: Option<TlsPlan>,
    /// The single sign-on files written in the config volume (root 0600).
    pub sso_files: Vec<PathBuf>,
    /// Seconds waited for `healthy`; `None` with `--no-wait`.
    pub wait_seconds: Option<u64>,
    /// The inventory row written.
    pub row: Row,
}

/// Where an instance's certificate comes from and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsPlan {
    /// `girofle-ca` or `own`.
    pub mode: tls::Mode,
    /// The certificate in the config volume, `config/ssl/<host>.crt`.
    pub certificate: PathBuf,
    /// Its key beside it, 0600.
    pub key: PathBuf,
    /// With `own`: the files copied. With `girofle-ca`: the authority's
    /// certificate. With `acme`: `--acme-ca` (empty without it).
    pub source: PathBuf,
    /// With `girofle-ca`: whether the authority is made first (first use).
    pub make_ca: bool,
    /// With `acme`: the ACME directory GitLab asks at boot.
    pub acme_directory: Option<String>,
    /// With `acme --acme-ca`: where the server's authority is copied.
    pub acme_ca: Option<PathBuf>,
}

/// What was observed before a commission, besides the arguments.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The inventory's rows.
    pub rows: Vec<Row>,
    /// The last number the counter handed out.
    pub counter: u32,
    /// Whether the image is here already.
    pub image_present: bool,
    /// Whether the directory of the next number exists already (left
    /// untouched, the commission refused).
    pub dir_exists: bool,
    /// Whether the home's certificate authority exists already.
    pub ca_exists: bool,
    /// The time, RFC 3339.
    pub now: String,
}

/// The plan of a commission: the name still free, the ports, the number,
/// the row, the container and its cron entries.
pub fn plan(
    home: &Home,
    args: &Args,
    request: &Request,
    observed: &Observed,
    host: &Host,
) -> Result<Plan> {
    let active = active(&observed.rows);
    check_name_free(&active, &request.name)?;
    let ports = choose_ports(&active, args, request.ip, host)?;
    let number = next_number(observed.counter, &observed.rows);
    let instance = home.instance_dir(number);
    if observed.dir_exists {
        return Err(Error::failed(format!(
            "{} already exists although number {number} was never handed out; left untouched",
            instance.root().display()
        )));
    }
    let row = row(home, number, request, ports, &observed.now);
    let mut directories = vec![instance.root().to_path_buf()];
    directories.extend(VOLUMES.iter().map(|v| instance.volumes().join(v)));
    directories.push(instance.backups());
    let drill_entry = request.drills.then(|| {
        let schedule = request
            .drill_schedule
            .clone()
            .unwrap_or_else(|| cron::default_drill_schedule(number));
        (cron::drill_entry_path(home, number), schedule)
    });
    let tls = request.tls.map(|mode| {
        let (certificate, key) = tls::instance_files(&instance.config(), container::tls_host(&row));
        let acme = request.acme.as_ref();
        let source = match (&request.own_files, acme) {
            (Some((cert, _)), _) => cert.clone(),
            (None, Some(acme)) => acme.ca.clone().unwrap_or_default(),
            (None, None) => tls::ca_cert(home),
        };
        TlsPlan {
            mode,
            certificate,
            key,
            make_ca: mode == tls::Mode::GirofleCa && !observed.ca_exists,
            acme_directory: acme.map(|acme| {
                acme.url
                    .clone()
                    .unwrap_or_else(|| tls::LETS_ENCRYPT_DIRECTORY.to_string())
            }),
            acme_ca: acme
                .and_then(|acme| acme.ca.as_ref())
                .map(|_| instance.config().join(tls::ACME_CA_FILE)),
            source,
        }
    });
    Ok(Plan {
        number,
        tls,
        container: row.container.clone(),
        url: row.url(),
        pull_image: !observed.image_present,
        directories,
        omnibus_config: container::omnibus_config_with(&row, request.sso.is_some()),
        docker_run: container::run_spec_with(home, &row, &instance, request.sso.is_some())
            .arguments(),
        sso_files: request
            .sso
            .as_ref()
            .map(|sso| sso::files(&instance.config(), sso))
            .unwrap_or_default(),
        backup_entry: cron::entry_path(home, number),
        drill_entry,
        state_entry: cron::state_entry_path(home),
        renewal_entry: (request.tls == Some(tls::Mode::GirofleCa))
            .then(|| cron::renewal_entry_path(home)),
        wait_seconds: args.wait().map(|wait| wait.as_secs()),
        row,
    })
}

impl Plan {
    /// The steps, in order, one sentence each.
    pub fn steps(&self) -> Vec<String> {
        let mut steps = Vec::new();
        if self.pull_image {
            steps.push(format!("pull image {}", self.row.image));
        }
        steps.push(format!(
            "hand out number {} and record it in the counter",
            self.number
        ));
        steps.push(format!(
            "make {} with mapping-volumes/{{config,data,log}} and bckups/",
            self.row.dir.display()
        ));
        steps.push(format!(
            "write the inventory row of instance {} (`{}`, {} on {}: HTTP {}, HTTPS {}, SSH {})",
            self.number,
            self.container,
            self.url,
            self.row.ip,
            port(self.row.http_port),
            port(self.row.https_port),
            port(self.row.ssh_port)
        ));
        if let Some(tls) = &self.tls {
            steps.extend(tls.steps());
        }
        if !self.sso_files.is_empty() {
            let files: Vec<String> = self
                .sso_files
                .iter()
                .map(|file| file.display().to_string())
                .collect();
            steps.push(format!(
                "single sign-on: write {} (root 0600), loaded by GITLAB_OMNIBUS_CONFIG",
                files.join(" and ")
            ));
        }
        steps.push(format!(
            "run container `{}` from {} with GITLAB_OMNIBUS_CONFIG {:?}",
            self.container, self.row.image, self.omnibus_config
        ));
        steps.push(format!(
            "write cron entry {} (backups, {})",
            self.backup_entry.display(),
            self.row.backup_schedule
        ));
        if let Some((path, schedule)) = &self.drill_entry {
            steps.push(format!(
                "write cron entry {} (weekly drill, {schedule})",
                path.display()
            ));
        }
        steps.push(format!(
            "write cron entry {} (the state's backups) if it is missing",
            self.state_entry.display()
        ));
        if let Some(entry) = &self.renewal_entry {
            steps.push(format!(
                "write cron entry {} (daily renewal of Girofle-made certificates) if it is missing",
                entry.display()
            ));
        }
        steps.push(match self.wait_seconds {
            Some(seconds) => format!("wait up to {seconds}s until it is healthy"),
            None => "do not wait for it to be healthy (--no-wait)".to_string(),
        });
        steps
    }

    /// The numbered steps, for `--dry-run`.
    pub fn text(&self) -> String {
        self.steps()
            .iter()
            .enumerate()
            .map(|(index, step)| format!("{:>2}. {step}\n", index + 1))
            .collect()
    }
}

impl TlsPlan {
    /// The steps of `--tls`, one sentence each.
    pub fn steps(&self) -> Vec<String> {
        let mut steps = Vec::new();
        match self.mode {
            tls::Mode::Own => steps.push(format!(
                "TLS (own): copy the certificate {} to {}, its key to {} (0600)",
                self.source.display(),
                self.certificate.display(),
                self.key.display()
            )),
            tls::Mode::GirofleCa => {
                if self.make_ca {
                    steps.push(format!(
                        "TLS (girofle-ca): make Girofle's certificate authority {} (its key 0600 beside it)",
                        self.source.display()
                    ));
                }
                steps.push(format!(
                    "TLS (girofle-ca): sign a certificate with {} into {}, its key {} (0600)",
                    self.source.display(),
                    self.certificate.display(),
                    self.key.display()
                ));
            }
            tls::Mode::Acme => {
                if let Some(target) = &self.acme_ca {
                    steps.push(format!(
                        "TLS (acme): copy the ACME server's authority {} to {}, which GitLab trusts",
                        self.source.display(),
                        target.display()
                    ));
                }
                steps.push(format!(
                    "TLS (acme): GitLab asks {} for a certificate at boot, written to {}, its key {}",
                    self.acme_directory.as_deref().unwrap_or(tls::LETS_ENCRYPT_DIRECTORY),
                    self.certificate.display(),
                    self.key.display()
                ));
            }
        }
        steps
    }
}

fn port(port: Option<u16>) -> String {
    port.map_or_else(|| "-".to_string(), |p| p.to_string())
}

#[cfg(test)]
mod tests;
