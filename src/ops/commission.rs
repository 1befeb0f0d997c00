//! `girofle-commission`: a new GitLab instance, validated before anything is
//! touched, recorded in the inventory, scheduled for backups, waited for.

use std::collections::BTreeSet;
use std::net::IpAddr;

use std::time::Duration;

use crate::container;
use crate::docker::{DEFAULT_HEALTHY_TIMEOUT, Docker};
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row, RowState};
use crate::ops::args::Seconds;
use crate::{cron, net, timefmt};

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
    /// Seconds to wait for the instance to be healthy
    #[arg(long, value_name = "SECS", default_value_t = Seconds(DEFAULT_HEALTHY_TIMEOUT))]
    pub wait_timeout: Seconds,
    /// Do not wait for the instance to be healthy
    #[arg(long)]
    pub no_wait: bool,
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
}

/// The validated request, before anything exists.
struct Plan {
    name: String,
    ip: IpAddr,
    hostname: String,
    image: String,
    schedule: String,
    /// The drill schedule given, if any; `None` in `drills` says `never`.
    drill_schedule: Option<String>,
    drills: bool,
}

/// Commissions an instance. `progress` receives one-line status updates
/// while waiting (the binary shows them on a terminal only).
pub fn run(home: &Home, args: &Args, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let plan = validate(home, args)?;
    let docker = Docker::new()?;
    docker.server_version()?;
    ensure_image(&docker, &plan.image)?;

    let row = reserve(home, args, &plan)?;
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

    if let Err(error) = docker.run(&container::run_spec(home, &row, &instance)) {
        undo_reservation(home, &docker, &row);
        return Err(Error::Failed(error.context(format!(
            "cannot start the container of instance {}; its row and directory were removed",
            row.number
        ))));
    }

    let command = cron::backup_command(home, &row.number.to_string());
    if let Err(error) = cron::write_entry(home, row.number, &plan.schedule, &command) {
        set_note(home, row.number, &format!("no backup schedule: {error:#}"))?;
        return Err(Error::Failed(error.context(format!(
            "instance {} runs, but its backup schedule could not be written",
            row.number
        ))));
    }

    if plan.drills {
        let schedule = plan
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

    let outcome = Outcome {
        number: row.number,
        container: row.container.clone(),
        url: row.url(),
        row: row.clone(),
        waited: args.wait().is_some(),
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

fn validate(home: &Home, args: &Args) -> Result<Plan> {
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
    if !net::is_local_address(ip) {
        return Err(Error::usage(format!(
            "--ip {ip}: this address is not assigned to any interface of this host"
        )));
    }
    let hostname = match &args.hostname {
        Some(hostname) => hostname.clone(),
        None => nix::unistd::gethostname()
            .ok()
            .and_then(|name| name.into_string().ok())
            .unwrap_or_else(|| "localhost".into()),
    };
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
        .unwrap_or_else(|| home.default_image().to_string());
    if !crate::inventory::is_image_reference(&image) {
        return Err(Error::usage(format!(
            "--image `{image}`: not an image reference"
        )));
    }
    Ok(Plan {
        name,
        ip,
        hostname,
        image,
        schedule,
        drill_schedule,
        drills,
    })
}

/// `[a-z0-9][a-z0-9_-]*`, at most 40 characters (as the inventory checks it).
pub fn validate_name(name: &str) -> Result<()> {
    crate::inventory::check_name(name).map_err(Error::usage)
}

fn validate_hostname(hostname: &str) -> Result<()> {
    if crate::inventory::is_host_name(hostname) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "--hostname `{hostname}`: not a valid host name"
        )))
    }
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
fn reserve(home: &Home, args: &Args, plan: &Plan) -> Result<Row> {
    let mut locked = inventory::lock(home)?;
    let active: Vec<Row> = locked
        .rows()
        .iter()
        .filter(|row| row.state == RowState::Commissioned)
        .cloned()
        .collect();
    if !plan.name.is_empty()
        && let Some(holder) = active.iter().find(|row| row.name == plan.name)
    {
        return Err(Error::usage(format!(
            "the name `{}` is taken by instance {} ({})",
            plan.name, holder.number, holder.container
        )));
    }
    let ip = plan.ip.to_string();
    let ports = choose_ports(&active, args, plan)?;

    let number = locked.next_number()?;
    let instance = home.instance_dir(number);
    if instance.root().exists() {
        return Err(Error::failed(format!(
            "{} already exists although number {number} was never handed out; left untouched",
            instance.root().display()
        )));
    }
    instance.create_tree()?;
    let row = Row {
        number,
        name: plan.name.clone(),
        container: home.container_name(number, &plan.name),
        state: RowState::Commissioned,
        ip,
        http_port: Some(ports[0]),
        https_port: Some(ports[1]),
        ssh_port: Some(ports[2]),
        hostname: plan.hostname.clone(),
        image: plan.image.clone(),
        dir: instance.root().to_path_buf(),
        backup_schedule: plan.schedule.clone(),
        created: timefmt::now_rfc3339(),
        note: format!("commissioning since {}", timefmt::now_rfc3339()),
    };
    locked.push(row.clone());
    if let Err(error) = locked.commit() {
        let _ = fs_err::remove_dir_all(instance.root());
        return Err(error);
    }
    Ok(row)
}

/// The HTTP, HTTPS and SSH ports: the ones asked for, checked, and the
/// next free ones for the others.
fn choose_ports(active: &[Row], args: &Args, plan: &Plan) -> Result<[u16; 3]> {
    let ip = plan.ip.to_string();
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
            check_port(active, &ip, plan.ip, *port, label)?;
            ports[index] = *port;
            chosen.push(*port);
        }
    }
    for (index, (label, explicit, base)) in requests.iter().enumerate() {
        if explicit.is_none() {
            let port = (*base..=u16::MAX)
                .find(|port| {
                    !chosen.contains(port)
                        && holder_of(active, &ip, *port).is_none()
                        && net::port_is_free(plan.ip, *port)
                })
                .ok_or_else(|| {
                    Error::failed(format!("no free {label} port above {base} on {ip}"))
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

fn check_port(rows: &[Row], ip_text: &str, ip: IpAddr, port: u16, label: &str) -> Result<()> {
    if let Some(holder) = holder_of(rows, ip_text, port) {
        return Err(Error::usage(format!(
            "{label} port {port} on {ip_text} is held by instance {} ({})",
            holder.number, holder.container
        )));
    }
    if !net::port_is_free(ip, port) {
        return Err(Error::usage(format!(
            "{label} port {port} on {ip_text} is already in use on this host"
        )));
    }
    Ok(())
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
        return Ok(());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// What `girofle-commission WORDS...` asks for, validated as `run` does
    /// before anything is touched.
    fn plan(words: &[&str]) -> Result<Plan> {
        let args = crate::ops::args::parse("girofle-commission", words)
            .map_err(|error| Error::usage(error.to_string()))?;
        validate(&Home::resolve(Some(Path::new("/girofle"))), &args)
    }

    fn usage_error(words: &[&str]) -> String {
        match plan(words) {
            Err(Error::Usage(message)) => message,
            Err(other) => panic!("{words:?}: not a usage error: {other}"),
            Ok(_) => panic!("{words:?}: accepted"),
        }
    }

    #[test]
    fn names_are_lower_case_words_of_at_most_40_characters() {
        for good in ["docs", "a", "team-2_wiki", "9lives", &"x".repeat(40)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Docs",
            "-docs",
            "_docs",
            "do cs",
            "docs/1",
            "émile",
            &"x".repeat(41),
        ] {
            assert!(matches!(validate_name(bad), Err(Error::Usage(_))), "{bad}");
        }
        assert!(usage_error(&["Bad"]).contains("is invalid"));
    }

    #[test]
    fn host_names_follow_dns_labels() {
        for good in [
            "localhost",
            "git.example.org",
            "a-b.c",
            &format!("{}.org", "a".repeat(63)),
        ] {
            assert!(validate_hostname(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-git.org",
            "git-.org",
            "git..org",
            "git_lab.org",
            "git.org;x",
            &"a".repeat(64),
        ] {
            assert!(validate_hostname(bad).is_err(), "{bad}");
        }
        assert!(usage_error(&["--hostname", "bad_name"]).contains("not a valid host name"));
    }

    #[test]
    fn ports_must_differ_and_be_ports() {
        assert!(
            usage_error(&["--http-port", "8080", "--ssh-port", "8080"]).contains("must differ")
        );
        assert!(plan(&["--http-port", "0"]).is_err());
        assert!(plan(&["--http-port", "65536"]).is_err());
        let plan = plan(&["--http-port", "8081", "--https-port", "8444"]).unwrap();
        assert_eq!(plan.ip.to_string(), "0.0.0.0");
        assert_eq!(plan.schedule, cron::DEFAULT_SCHEDULE);
    }

    #[test]
    fn addresses_schedules_and_images_are_checked() {
        assert!(usage_error(&["--ip", "not-an-address"]).contains("not an IP address"));
        // TEST-NET-3 (RFC 5737): assigned to no host's interface.
        assert!(usage_error(&["--ip", "203.0.113.7"]).contains("not assigned"));
        assert!(usage_error(&["--backup-schedule", "0 */4 * *"]).contains("--backup-schedule"));
        assert!(usage_error(&["--drill-schedule", "weekly"]).contains("--drill-schedule"));
        let never = plan(&["--drill-schedule", "never"]).unwrap();
        assert!(!never.drills);
        let weekly = plan(&["--drill-schedule", "0 5 * * 0"]).unwrap();
        assert_eq!(weekly.drill_schedule.as_deref(), Some("0 5 * * 0"));
        assert!(weekly.drills);
        assert!(usage_error(&["--image", "two words"]).contains("not an image reference"));
        assert!(usage_error(&["--image=-x"]).contains("not an image reference"));
        let plan = plan(&[
            "--image",
            "gitlab/gitlab-ce:17.5.1-ce.0",
            "--backup-schedule",
            "@daily",
        ])
        .unwrap();
        assert_eq!(plan.image, "gitlab/gitlab-ce:17.5.1-ce.0");
        assert_eq!(plan.schedule, "@daily");
    }

    #[test]
    fn waiting_is_the_default() {
        let waits: Args = crate::ops::args::parse("girofle-commission", &[]).unwrap();
        assert_eq!(waits.wait(), Some(crate::docker::DEFAULT_HEALTHY_TIMEOUT));
        let no_wait: Args = crate::ops::args::parse("girofle-commission", &["--no-wait"]).unwrap();
        assert_eq!(no_wait.wait(), None);
    }
}
