//! `girofle-restore --all`: every instance of a host back with one command.
//!
//! With `--from TARGET --source HOST` (a new host, installed with
//! `install.sh --no-instance`): HOST's newest state backup is fetched and
//! verified, its inventory, counter, `girofle.conf` and cron entries are put
//! back (rewritten for this home), then every commissioned instance gets its
//! container back, created as the inventory records it (same name, image,
//! URL, ports; labels of this home), and its newest backup restored into it.
//! Without `--from`: the same on this host, from `sauvegardes/` and
//! `bckups/`, for the instances whose container is missing.
//!
//! Everything that could clash with what is already here (an inventory with
//! rows, a port in use, a container name taken, an instance directory or cron
//! entry that exists) is checked before anything is changed: exit 2. Then
//! instances are independent: one failing does not stop the others.
//!
//! Container names are kept as recorded, whatever this home's prefix: they
//! are what people, scripts and monitoring know the instances by. The prefix
//! of this home names what this home makes from now on (cron entries, new
//! instances, drills).

use fs_err as fs;
use std::collections::HashSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::fetch::fetch_folder;
use super::{Args, usable_backups};
use crate::conf::Conf;
use crate::docker::Docker;
use crate::error::{Error, Exit, Result};
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory::{self, Row, RowState};
use crate::remote::Remote;
use crate::{container, cron, net, snapshot, timefmt};

/// What happened to one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Its container was made again and this backup restored into it.
    Restored {
        /// The backup restored.
        backup: String,
        /// Where the volumes found in its directory were kept (local mode).
        previous: Option<PathBuf>,
    },
    /// Its container exists: left alone.
    LeftAlone,
    /// It could not be brought back; why.
    Failed(String),
}

/// One instance of the table.
#[derive(Debug, Clone)]
pub struct InstanceResult {
    /// Its number.
    pub number: u32,
    /// Its name (empty when none).
    pub name: String,
    /// Its container.
    pub container: String,
    /// Its `external_url`.
    pub url: String,
    /// What happened to it.
    pub verdict: Verdict,
}

/// What `--all` did.
#[derive(Debug, Clone)]
pub struct AllOutcome {
    /// The state backup put back, when the state was put back.
    pub state: Option<String>,
    /// Every commissioned instance, by number.
    pub instances: Vec<InstanceResult>,
    /// Things the operator must know (a configuration kept aside, say).
    pub warnings: Vec<String>,
}

impl AllOutcome {
    /// Done; partly done (some instances failed); or failed (nothing was done).
    pub fn exit(&self) -> Exit {
        let failed = self
            .instances
            .iter()
            .any(|i| matches!(i.verdict, Verdict::Failed(_)));
        let restored = self
            .instances
            .iter()
            .any(|i| matches!(i.verdict, Verdict::Restored { .. }));
        match (failed, restored || self.state.is_some()) {
            (false, _) => Exit::Done,
            (true, true) => Exit::Partial,
            (true, false) => Exit::Failed,
        }
    }
}

/// The table of every instance and its result, for stdout.
pub fn render_table(outcome: &AllOutcome) -> String {
    let header = ["NUMBER", "NAME", "CONTAINER", "URL", "RESULT"];
    let rows: Vec<[String; 5]> = outcome
        .instances
        .iter()
        .map(|i| {
            let result = match &i.verdict {
                Verdict::Restored { backup, .. } => format!("restored {backup}"),
                Verdict::LeftAlone => "left alone: its container exists".to_string(),
                Verdict::Failed(why) => {
                    format!("FAILED: {}", why.lines().next().unwrap_or_default())
                }
            };
            [
                i.number.to_string(),
                if i.name.is_empty() {
                    "-".to_string()
                } else {
                    i.name.clone()
                },
                i.container.clone(),
                i.url.clone(),
                result,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[index]));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}

/// Brings back every instance (see the module's documentation).
pub fn run_all(home: &Home, args: &Args, progress: &mut dyn FnMut(&str)) -> Result<AllOutcome> {
    let docker = Docker::new()?;
    docker.server_version()?;
    let ip = match &args.ip {
        Some(text) => Some(parse_ip(text)?),
        None => None,
    };
    if let Some(image) = &args.image
        && (image.is_empty() || image.starts_with('-') || image.chars().any(char::is_whitespace))
    {
        return Err(Error::usage(format!(
            "--image `{image}`: not an image reference"
        )));
    }
    let conf = Conf::load(home)?;
    let remote = match &args.from {
        Some(name) => Some(Remote::from_conf(&conf, name)?),
        None => None,
    };
    let source_host = match (&remote, &args.source) {
        (Some(_), Some(host)) => plain_host(host)?,
        (Some(remote), None) => remote.host.clone(),
        (None, _) => String::new(),
    };
    let present = inventory::read(home)?;
    let containers: HashSet<String> = docker
        .list_containers()?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let put_back_state = remote.is_some() || args.backup_state.is_some() || present.is_empty();
    if put_back_state && !present.is_empty() {
        return Err(Error::usage(format!(
            "{} already holds {} row(s): --all {} puts back a whole inventory and never overwrites one; nothing was changed",
            home.inventory().display(),
            present.len(),
            if remote.is_some() {
                "--from"
            } else {
                "--backup-state"
            }
        )));
    }

    // Read (and fetch) what is to be put back, and check it against what is
    // here, before anything is changed.
    home.create()?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-all-")
        .tempdir_in(home.root())?;
    let state = if put_back_state {
        Some(read_state(
            home,
            remote.as_ref(),
            &source_host,
            args.backup_state.as_deref(),
            staging.path(),
        )?)
    } else {
        None
    };
    // `--ip` and `--image` apply to every instance brought back.
    let remap = |row: &mut Row| {
        if let Some(ip) = ip {
            row.ip = ip.to_string();
        }
        if let Some(image) = &args.image {
            row.image = image.clone();
        }
    };
    let rows: Vec<Row> = match &state {
        Some(state) => state
            .rows
            .iter()
            .map(|row| {
                let mut row = relocate(home, row);
                if row.state == RowState::Commissioned {
                    remap(&mut row);
                }
                row
            })
            .collect(),
        None => present.clone(),
    };
    let mut results = Vec::new();
    let mut to_restore = Vec::new();
    for row in rows.iter().filter(|r| r.state == RowState::Commissioned) {
        let mut row = row.clone();
        remap(&mut row);
        if state.is_none() && containers.contains(&row.container) {
            results.push(result_of(&row, Verdict::LeftAlone));
        } else {
            to_restore.push(row);
        }
    }
    let cron_plan = match &state {
        Some(state) => plan_cron(home, state)?,
        None => Vec::new(),
    };
    check_conflicts(
        &to_restore,
        &containers,
        remote.is_some(),
        &cron_plan,
        remote.is_some(),
    )?;

    // Put back the state.
    let mut warnings = Vec::new();
    let state_id = match &state {
        Some(state) => {
            put_back(home, state, &rows, &mut warnings)?;
            Some(state.id.clone())
        }
        None => {
            if ip.is_some() || args.image.is_some() {
                update_rows(home, &to_restore, |row, wanted| {
                    row.ip = wanted.ip.clone();
                    row.image = wanted.image.clone();
                })?;
            }
            None
        }
    };
    drop(staging);

    // Every instance, each on its own.
    for row in &to_restore {
        progress(&format!(
            "instance {}: bringing back {}",
            row.number, row.container
        ));
        let verdict = match restore_instance(
            home,
            &docker,
            args,
            remote.as_ref(),
            &source_host,
            row,
            state.is_none(),
            progress,
        ) {
            Ok((backup, previous)) => {
                let entries = cron_plan
                    .iter()
                    .filter(|entry| entry.number == Some(row.number));
                if let Err(error) =
                    write_cron_entries(home, entries, state.is_none().then_some(row))
                {
                    warnings.push(format!(
                        "instance {}: its cron entries could not be written: {error:#}",
                        row.number
                    ));
                }
                set_note(home, row.number, "")?;
                home.log(
                    "restore",
                    &format!(
                        "--all: instance {} ({}) back from {backup}",
                        row.number, row.container
                    ),
                );
                Verdict::Restored { backup, previous }
            }
            Err(error) => {
                let why = error.to_string();
                home.log(
                    "restore",
                    &format!("--all: instance {} FAILED: {why}", row.number),
                );
                set_note(
                    home,
                    row.number,
                    &format!(
                        "not restored by girofle-restore --all: {}",
                        why.lines().next().unwrap_or_default()
                    ),
                )?;
                Verdict::Failed(why)
            }
        };
        results.push(result_of(row, verdict));
    }
    let home_wide = cron_plan.iter().filter(|entry| entry.number.is_none());
    if let Err(error) = write_cron_entries(home, home_wide, None) {
        warnings.push(format!(
            "the state's cron entry could not be written: {error:#}"
        ));
    }
    results.sort_by_key(|r| r.number);
    Ok(AllOutcome {
        state: state_id,
        instances: results,
        warnings,
    })
}

fn result_of(row: &Row, verdict: Verdict) -> InstanceResult {
    InstanceResult {
        number: row.number,
        name: row.name.clone(),
        container: row.container.clone(),
        url: row.url(),
        verdict,
    }
}

fn parse_ip(text: &str) -> Result<IpAddr> {
    let ip: IpAddr = text
        .parse()
        .map_err(|_| Error::usage(format!("--ip {text}: not an IP address")))?;
    if !net::is_local_address(ip) {
        return Err(Error::usage(format!(
            "--ip {ip}: this address is not assigned to any interface of this host"
        )));
    }
    Ok(ip)
}

/// `--source HOST` with `--all`: one plain path component.
fn plain_host(host: &str) -> Result<String> {
    if host.is_empty() || host.contains('/') || host == "." || host == ".." {
        return Err(Error::usage(format!(
            "--source `{host}`: with --all, give the host's folder on the target (HOST)"
        )));
    }
    Ok(host.to_string())
}

/// A state backup, read and verified.
struct State {
    id: String,
    /// Where it was read from (a staging copy when fetched).
    dir: PathBuf,
    /// The home it was made in.
    home: PathBuf,
    rows: Vec<Row>,
    counter: u32,
    conf: Option<(Vec<u8>, u32)>,
}

/// The state backup to put back: fetched from the target into `staging`, or
/// the local one; verified against its MANIFEST either way.
fn read_state(
    home: &Home,
    remote: Option<&Remote>,
    source_host: &str,
    wanted: Option<&str>,
    staging: &Path,
) -> Result<State> {
    let (id, dir) = match remote {
        Some(remote) => {
            let folder = format!("{source_host}/sauvegardes");
            let id = fetch_folder(home, remote, &folder, staging, wanted)?;
            let dir = staging.join(&id);
            (id, dir)
        }
        None => {
            let local = crate::home::backup_ids_in(&home.state_backups());
            let id = match wanted {
                Some(id) => local
                    .iter()
                    .find(|b| b.as_str() == id)
                    .map(ToString::to_string)
                    .ok_or_else(|| {
                        Error::usage(format!(
                            "no state backup `{id}` in {}",
                            home.state_backups().display()
                        ))
                    })?,
                None => local.last().map(ToString::to_string).ok_or_else(|| {
                    Error::usage(format!(
                        "the inventory is empty and {} holds no state backup: nothing to bring back",
                        home.state_backups().display()
                    ))
                })?,
            };
            let dir = home.state_backups().join(&id);
            (id, dir)
        }
    };
    let verification = snapshot::verify(&dir)
        .map_err(|error| Error::usage(format!("state backup {id} cannot be read: {error:#}")))?;
    if !verification.problems.is_empty() {
        let shown: Vec<String> = verification
            .problems
            .iter()
            .take(10)
            .map(ToString::to_string)
            .collect();
        return Err(Error::usage(format!(
            "state backup {id} does not match its MANIFEST ({}); nothing was changed",
            shown.join("; ")
        )));
    }
    let manifest = verification.manifest;
    if manifest.get("kind") != Some("girofle-state") {
        return Err(Error::usage(format!(
            "{} is not a backup of Girofle's state",
            dir.display()
        )));
    }
    let saved = |path: PathBuf| dir.join(path.file_name().unwrap_or_default());
    let text = fs::read_to_string(saved(home.inventory())).unwrap_or_default();
    let (rows, _) = inventory::parse(&text).map_err(|(line, problem)| {
        Error::usage(format!(
            "the inventory of state backup {id}, line {line}: {problem}"
        ))
    })?;
    let counter = match fs::read_to_string(saved(home.counter())) {
        Ok(text) => text.trim().parse().map_err(|_| {
            Error::usage(format!(
                "the instance counter of state backup {id} holds `{}`",
                text.trim()
            ))
        })?,
        Err(_) => 0,
    };
    let conf = match fs::read(saved(home.conf())) {
        Ok(bytes) => {
            Conf::parse(&String::from_utf8_lossy(&bytes)).map_err(|problem| {
                Error::usage(format!("girofle.conf of state backup {id}: {problem}"))
            })?;
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &fs::metadata(saved(home.conf()))?.permissions(),
            ) & 0o777;
            Some((bytes, mode))
        }
        Err(_) => None,
    };
    Ok(State {
        id,
        dir,
        home: PathBuf::from(manifest.get("home").unwrap_or_default()),
        rows,
        counter,
        conf,
    })
}

/// A row of the state backup, as it is on this host: its directory in this home.
fn relocate(home: &Home, row: &Row) -> Row {
    let dir_name = if row.dir.as_os_str().is_empty() {
        home.instance_dir(row.number).dir_name()
    } else {
        InstanceDir::new(row.dir.clone()).dir_name()
    };
    let mut row = row.clone();
    row.dir = home.root().join(dir_name);
    row.note = String::new();
    row
}

/// A cron entry of the state backup, rewritten for this home.
struct CronEntry {
    /// Where it goes here.
    path: PathBuf,
    /// The instance it belongs to; `None` for the home's own (the state's).
    number: Option<u32>,
    comment: String,
    schedule: String,
    command: Vec<String>,
}

/// The state backup's cron entries of its home, each rewritten for this
/// home: its file named with this home's prefix, its command run by this
/// host's `girofle-backup` with `--home` this home. Entries of other homes
/// (which shared the cron directory) are left out.
fn plan_cron(home: &Home, state: &State) -> Result<Vec<CronEntry>> {
    let mut plan = Vec::new();
    let Ok(entries) = fs::read_dir(state.dir.join("cron.d")) else {
        return Ok(plan);
    };
    let state_entry = cron::state_entry_path(home.cron_dir());
    let state_name = state_entry
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let prefix = state_name.strip_suffix("state").unwrap_or("girofle-");
    let mut names: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    names.sort();
    for (name, path) in names {
        let text = fs::read_to_string(&path)?;
        let Some(parsed) = parse_cron_file(&text) else {
            home.log(
                "restore",
                &format!("--all: cron entry {name} of the state backup not understood, left out"),
            );
            continue;
        };
        let belongs = parsed.words.get(1).map(String::as_str) == Some("--home")
            && parsed.words.get(2).map(PathBuf::from) == Some(state.home.clone());
        let Some(kind) = kind_of(&name).filter(|_| belongs) else {
            continue;
        };
        let what = parsed.words[3..].to_vec();
        let number = what.iter().find_map(|word| word.parse::<u32>().ok());
        let program = if parsed.words[0].ends_with("/girofle-backup") {
            cron::backup_program().display().to_string()
        } else {
            parsed.words[0].clone()
        };
        let mut command = vec![
            program,
            "--home".to_string(),
            home.root().display().to_string(),
        ];
        command.extend(what);
        plan.push(CronEntry {
            path: home.cron_dir().join(format!("{prefix}{kind}")),
            number,
            comment: parsed.comment,
            schedule: parsed.schedule,
            command,
        });
    }
    Ok(plan)
}

/// What a cron file of a home is, without the home's prefix: `state`,
/// `gitlab-<N>`, `drill-<N>`.
fn kind_of(name: &str) -> Option<String> {
    if name.ends_with("-state") {
        return Some("state".to_string());
    }
    ["-gitlab-", "-drill-"]
        .iter()
        .filter_map(|marker| name.rfind(marker))
        .max()
        .map(|index| name[index + 1..].to_string())
}

/// A cron file as Girofle writes it: its comment, schedule and command.
#[derive(Debug, PartialEq, Eq)]
struct CronFile {
    comment: String,
    schedule: String,
    words: Vec<String>,
}

fn parse_cron_file(text: &str) -> Option<CronFile> {
    let comment = text
        .lines()
        .find_map(|line| line.strip_prefix("# Girofle: "))
        .unwrap_or("restored by girofle-restore --all.")
        .to_string();
    let line = text.lines().map(str::trim).find(|line| {
        !line.is_empty()
            && !line.starts_with('#')
            && !line
                .split_whitespace()
                .next()
                .is_some_and(|first| first.contains('='))
    })?;
    let fields = if line.starts_with('@') { 1 } else { 5 };
    let mut rest = line;
    let mut schedule = Vec::new();
    for _ in 0..fields + 1 {
        let trimmed = rest.trim_start();
        let end = trimmed.find(char::is_whitespace)?;
        schedule.push(&trimmed[..end]);
        rest = &trimmed[end..];
    }
    let user = schedule.pop()?;
    if user != "root" {
        return None;
    }
    // Cron turns `\%` into `%` before the shell sees the line.
    let words = split_words(&rest.trim().replace("\\%", "%"))?;
    (words.len() >= 3).then(|| CronFile {
        comment,
        schedule: schedule.join(" "),
        words,
    })
}

/// The words of a command line quoted as `cron::write_file` quotes them
/// (single quotes, backslash escapes); `None` when a quote is not closed.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// What is here must not be overwritten: every clash is a usage error (exit
/// 2) naming it, found before anything is changed.
fn check_conflicts(
    rows: &[Row],
    containers: &HashSet<String>,
    new_host: bool,
    cron_plan: &[CronEntry],
    cron_must_be_free: bool,
) -> Result<()> {
    let mut problems = Vec::new();
    let mut publishing: Vec<(String, u16, u32)> = Vec::new();
    for row in rows {
        if containers.contains(&row.container) {
            problems.push(format!(
                "a container named `{}` (instance {}) already exists on this engine",
                row.container, row.number
            ));
        }
        if new_host && row.dir.exists() {
            problems.push(format!(
                "{} (instance {}) already exists",
                row.dir.display(),
                row.number
            ));
        }
        let Ok(ip) = row.ip.parse::<IpAddr>() else {
            problems.push(format!(
                "instance {} is published on `{}`, which is not an address",
                row.number, row.ip
            ));
            continue;
        };
        if !net::is_local_address(ip) {
            problems.push(format!(
                "instance {} is published on {ip}, which is no address of this host: give --ip ADDR",
                row.number
            ));
            continue;
        }
        for (label, port) in [
            ("HTTP", row.http_port),
            ("HTTPS", row.https_port),
            ("SSH", row.ssh_port),
        ] {
            let Some(port) = port else { continue };
            if let Some((_, _, other)) = publishing
                .iter()
                .find(|(other_ip, p, _)| *p == port && net::addresses_overlap(other_ip, &row.ip))
            {
                problems.push(format!(
                    "instances {other} and {} would both publish port {port} on {}",
                    row.number, row.ip
                ));
            } else if !net::port_is_free(ip, port) {
                problems.push(format!(
                    "{label} port {port} on {} (instance {}) is already in use on this host",
                    row.ip, row.number
                ));
            }
            publishing.push((row.ip.clone(), port, row.number));
        }
    }
    if cron_must_be_free {
        for entry in cron_plan {
            if entry.path.exists() {
                problems.push(format!(
                    "cron entry {} already exists",
                    entry.path.display()
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{}; nothing was changed",
            problems.join("; ")
        )))
    }
}

/// The inventory, the counter and `girofle.conf` of the state backup, here.
/// The state backup itself joins `sauvegardes/`.
fn put_back(home: &Home, state: &State, rows: &[Row], warnings: &mut Vec<String>) -> Result<()> {
    let saved = home.state_backups().join(&state.id);
    if state.dir != saved && !saved.exists() {
        crate::atomic::create_dir(&home.state_backups(), 0o700, true)?;
        fs::rename(&state.dir, &saved)?;
        crate::atomic::sync_directory(&home.state_backups())?;
    }
    {
        let mut locked = inventory::lock(home)?;
        if !locked.rows().is_empty() {
            return Err(Error::usage(format!(
                "{} got rows while the state was being fetched; nothing was changed",
                home.inventory().display()
            )));
        }
        for row in rows {
            locked.push(row.clone());
        }
        locked.commit()?;
        let here: u32 = fs::read_to_string(home.counter())
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        let highest = rows.iter().map(|row| row.number).max().unwrap_or(0);
        let counter = state.counter.max(here).max(highest);
        crate::atomic::write(&home.counter(), format!("{counter}\n").as_bytes(), 0o600)?;
    }
    if let Some((bytes, mode)) = &state.conf {
        let current = fs::read(home.conf()).ok();
        if current.as_deref() != Some(bytes.as_slice()) {
            if current.is_some() {
                let kept = home.root().join(format!(
                    "girofle.conf.before-restore-{}",
                    timefmt::now_rfc3339().replace(':', "-")
                ));
                fs::rename(home.conf(), &kept)?;
                warnings.push(format!(
                    "girofle.conf is now the one of state backup {}; the one found here is kept as {}",
                    state.id,
                    kept.display()
                ));
            }
            crate::atomic::write(&home.conf(), bytes, *mode)?;
        }
    }
    home.log(
        "restore",
        &format!(
            "--all: inventory ({} rows), counter and girofle.conf put back from state backup {} of {}",
            rows.len(),
            state.id,
            state.home.display()
        ),
    );
    Ok(())
}

/// Changes rows of the inventory, under its lock.
fn update_rows(home: &Home, rows: &[Row], change: impl Fn(&mut Row, &Row)) -> Result<()> {
    let mut locked = inventory::lock(home)?;
    for wanted in rows {
        if let Some(row) = locked.row_mut(wanted.number) {
            change(row, wanted);
        }
    }
    locked.commit()
}

fn set_note(home: &Home, number: u32, note: &str) -> Result<()> {
    let mut locked = inventory::lock(home)?;
    if let Some(row) = locked.row_mut(number)
        && row.note != note
    {
        row.note = note.to_string();
        locked.commit()?;
    }
    Ok(())
}

/// One instance back: its directory, its backup (fetched), its container
/// (created, not started), then restore's own phases, which verify the
/// backup, put it in place, start GitLab and wait until it is healthy.
#[allow(clippy::too_many_arguments)]
fn restore_instance(
    home: &Home,
    docker: &Docker,
    args: &Args,
    remote: Option<&Remote>,
    source_host: &str,
    row: &Row,
    local: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, Option<PathBuf>)> {
    let instance = InstanceDir::new(row.dir.clone());
    if !instance.root().exists() {
        instance.create_tree()?;
    }
    for dir in [
        instance.config(),
        instance.data(),
        instance.logs(),
        instance.backups(),
    ] {
        fs::create_dir_all(dir)?;
    }
    let backup = match remote {
        Some(remote) => {
            progress(&format!(
                "instance {}: fetching its newest backup",
                row.number
            ));
            let folder = format!("{source_host}/{}/bckups", instance.dir_name());
            fetch_folder(home, remote, &folder, &instance.backups(), None)?
        }
        None => usable_backups(&instance)
            .last()
            .map(BackupId::to_string)
            .ok_or_else(|| {
                Error::usage(format!(
                    "{} holds no complete backup (one with data, config and log)",
                    instance.backups().display()
                ))
            })?,
    };
    if !docker.image_present(&row.image)? {
        progress(&format!("instance {}: pulling {}", row.number, row.image));
        docker.pull(&row.image).map_err(|error| {
            Error::failed(format!(
                "image `{}` is not here and cannot be pulled ({error:#})",
                row.image
            ))
        })?;
    }
    let keep_previous = local
        && fs::read_dir(instance.data())
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
    docker.create_spec(&container::run_spec(home, row, &instance))?;
    let one = Args {
        container: Some(row.container.clone()),
        dir: Some(row.dir.clone()),
        backup: Some(backup),
        from: None,
        source: None,
        image: None,
        keep_previous,
        lock: args.lock,
        wait_timeout: args.wait_timeout,
        all: false,
        backup_state: None,
        ip: None,
        leave_running: true,
    };
    match super::run(home, &one, progress) {
        Ok(outcome) => Ok((outcome.backup, outcome.previous)),
        Err(error) => {
            // The container was made for this restore: gone again, the
            // instance shows as missing and the next `--all` tries again.
            let _ = docker.remove(&row.container);
            Err(error)
        }
    }
}

/// Writes the cron entries of the plan; in local mode (`missing_entry_of`,
/// no plan), the instance's backup entry when it has none.
fn write_cron_entries<'a>(
    home: &Home,
    entries: impl Iterator<Item = &'a CronEntry>,
    missing_entry_of: Option<&Row>,
) -> anyhow::Result<()> {
    for entry in entries {
        cron::write_file(&entry.path, &entry.comment, &entry.schedule, &entry.command)?;
    }
    if let Some(row) = missing_entry_of
        && !cron::entry_path(home.cron_dir(), row.number).exists()
    {
        let schedule = if row.backup_schedule.is_empty() {
            cron::DEFAULT_SCHEDULE
        } else {
            &row.backup_schedule
        };
        cron::write_entry(
            home.cron_dir(),
            row.number,
            schedule,
            &cron::backup_command(home, &row.number.to_string()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> std::result::Result<Args, clap::Error> {
        crate::cli::parse("girofle-restore", words)
    }

    #[test]
    fn all_takes_its_own_options_and_no_container() {
        let all = args(&[
            "--all",
            "--from",
            "off-site",
            "--source",
            "host-a",
            "--backup-state",
            "2026-01-01T00-00-00Z",
            "--ip",
            "127.0.0.1",
        ])
        .unwrap();
        assert!(all.all);
        assert_eq!(all.source.as_deref(), Some("host-a"));
        for refused in [
            &["--all", "c", "d"][..],
            &["--backup-state", "2026-01-01T00-00-00Z"][..],
            &["--ip", "127.0.0.1"][..],
            &["--all", "--backup", "2026-01-01T00-00-00Z"][..],
        ] {
            assert!(args(refused).is_err(), "{refused:?}");
        }
        assert!(plain_host("host-a").is_ok());
        for bad in ["", "a/b", "..", "."] {
            assert!(plain_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cron_files_are_read_back_as_written() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("girofle-gitlab-3");
        let command: Vec<String> = [
            "/usr/local/bin/girofle-backup",
            "--home",
            "/srv/it's 100%",
            "3",
        ]
        .map(String::from)
        .to_vec();
        cron::write_file(
            &path,
            "backups of GitLab instance 3.",
            "0 */4 * * *",
            &command,
        )
        .unwrap();
        let parsed = parse_cron_file(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            parsed,
            CronFile {
                comment: "backups of GitLab instance 3.".into(),
                schedule: "0 */4 * * *".into(),
                words: command,
            }
        );
        let nickname = parse_cron_file("@daily root /x --home /h --state\n").unwrap();
        assert_eq!(nickname.schedule, "@daily");
        assert_eq!(nickname.words, ["/x", "--home", "/h", "--state"]);
        assert!(parse_cron_file("0 * * * * nobody /x --home /h 1\n").is_none());
        assert!(parse_cron_file("0 * * * * root '/x\n").is_none());
    }

    #[test]
    fn cron_file_names_lose_their_home_prefix() {
        assert_eq!(kind_of("girofle-gitlab-12").as_deref(), Some("gitlab-12"));
        assert_eq!(kind_of("gtabc-gitlab-2").as_deref(), Some("gitlab-2"));
        assert_eq!(
            kind_of("my-gitlab-site-drill-4").as_deref(),
            Some("drill-4")
        );
        assert_eq!(kind_of("girofle-state").as_deref(), Some("state"));
        assert_eq!(kind_of("something-else"), None);
    }

    #[test]
    fn the_exit_code_says_whether_some_failed() {
        let instance = |verdict| InstanceResult {
            number: 1,
            name: String::new(),
            container: "c".into(),
            url: "http://h:1".into(),
            verdict,
        };
        let mut outcome = AllOutcome {
            state: None,
            instances: vec![instance(Verdict::LeftAlone)],
            warnings: Vec::new(),
        };
        assert_eq!(outcome.exit(), Exit::Done);
        outcome
            .instances
            .push(instance(Verdict::Failed("no".into())));
        assert_eq!(outcome.exit(), Exit::Failed);
        outcome.state = Some("2026-01-01T00-00-00Z".into());
        assert_eq!(outcome.exit(), Exit::Partial);
        let table = render_table(&outcome);
        assert!(table.starts_with("NUMBER"), "{table}");
        assert!(table.contains("FAILED: no"), "{table}");
    }
}
