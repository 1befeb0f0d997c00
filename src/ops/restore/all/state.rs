//! The state backup `--all` puts back: fetched, verified against its
//! MANIFEST, authenticated by its MAC (the state key), and read as data:
//! its rows checked field by field, its cron entries rebuilt by this host's
//! binaries from the inventory (only their schedules are read, and checked),
//! the settings of its `girofle.conf` that run or send something applied
//! only when the operator says so.

use fs_err as fs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::super::fetch::{beyond_mac, fetch_folder};
use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::home::{Home, STATE_MAC_FILE, StateKey};
use crate::inventory::{self, Row, RowState};
use crate::remote::Remote;
use crate::{cron, snapshot};

/// A state backup, read and verified.
pub(super) struct State {
    pub(super) id: String,
    /// Where it was read from (a staging copy when fetched).
    pub(super) dir: PathBuf,
    /// The home it was made in.
    pub(super) home: PathBuf,
    pub(super) rows: Vec<Row>,
    pub(super) counter: u32,
    /// Its `girofle.conf`, checked.
    pub(super) conf: Option<(Vec<u8>, Conf)>,
    /// The schedules of its cron entries that the inventory does not hold:
    /// each instance's drill, the state's own.
    pub(super) schedules: Schedules,
    /// The key given with `--state-key` that authenticated it, when this
    /// home has another one (or none): it becomes this home's.
    pub(super) new_key: Option<StateKey>,
    /// The target it was fetched from; `None` when it is this host's own.
    pub(super) fetched_from: Option<String>,
}

/// The schedules read from a state backup's cron entries.
#[derive(Debug, Default)]
pub(super) struct Schedules {
    drills: BTreeMap<u32, String>,
    state: Option<String>,
    /// Entries whose command is not the one Girofle writes: said, not kept.
    pub(super) odd: Vec<String>,
}

/// How `--all` is told to trust a state backup.
pub(super) struct Trust<'a> {
    /// `--state-key FILE`.
    pub(super) key_file: Option<&'a Path>,
    /// `--accept-unauthenticated-state`.
    pub(super) accept_unauthenticated: bool,
}

/// The state backup to put back: fetched from the target into `staging`, or
/// the local one; verified against its MANIFEST, authenticated, read.
/// Anything wrong is refused before anything is written; a dry run logs no fetch.
pub(super) fn read_state(
    home: &Home,
    remote: Option<&Remote>,
    source_host: &str,
    wanted: Option<&str>,
    staging: &Path,
    trust: &Trust,
    dry_run: bool,
) -> Result<State> {
    let (id, dir) = match remote {
        Some(remote) => {
            let folder = format!("{source_host}/sauvegardes");
            let id = fetch_folder((!dry_run).then_some(home), remote, &folder, staging, wanted)?;
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
    let problems = beyond_mac(verification.problems);
    if !problems.is_empty() {
        let shown: Vec<String> = problems.iter().take(10).map(ToString::to_string).collect();
        return Err(Error::usage(format!(
            "state backup {id} does not match its MANIFEST ({}); nothing was changed",
            shown.join("; ")
        )));
    }
    let manifest = verification.manifest;
    let origin = match remote {
        Some(remote) => format!("state backup {id} fetched from target `{}`", remote.name),
        None => format!("state backup {id} in {}", home.state_backups().display()),
    };
    let new_key = authenticate(home, &dir, &origin, remote.is_some(), trust)?;
    if manifest.get("kind") != Some("girofle-state") {
        return Err(Error::usage(format!(
            "{} is not a backup of Girofle's state",
            dir.display()
        )));
    }
    let state_home = PathBuf::from(manifest.get("home").unwrap_or_default());
    // Authenticated or not, what it holds is data: each part is checked.
    let refuse =
        |what: String| Error::failed(format!("{what}; {origin} was refused, nothing was changed"));
    let saved = |path: PathBuf| dir.join(path.file_name().unwrap_or_default());
    let text = read_text(&saved(home.inventory()))?.unwrap_or_default();
    let (rows, _) = inventory::parse(&text)
        .map_err(|(line, problem)| refuse(format!("its inventory, line {line}: {problem}")))?;
    let counter = match read_text(&saved(home.counter()))? {
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| refuse(format!("its instance counter holds `{}`", text.trim())))?,
        None => 0,
    };
    let conf = match read_text(&saved(home.conf()))? {
        Some(text) => {
            let parsed = Conf::parse(&text)
                .map_err(|problem| refuse(format!("its girofle.conf: {problem}")))?;
            Some((text.into_bytes(), parsed))
        }
        None => None,
    };
    let schedules = read_schedules(&dir.join("cron.d"), &state_home, &rows).map_err(refuse)?;
    Ok(State {
        id,
        dir,
        home: state_home,
        rows,
        counter,
        conf,
        schedules,
        new_key,
        fetched_from: remote.map(|remote| remote.name.clone()),
    })
}

/// A file of the state backup; `None` when it is not there.
fn read_text(path: &Path) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            Error::failed(format!(
                "{} is not text; nothing was changed",
                path.display()
            ))
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(anyhow::Error::new(error).into()),
    }
}

/// Checks the MAC of the state backup at `dir` (its `MANIFEST.mac`) with
/// the key of `--state-key`, else this home's. Returns the key given with
/// `--state-key` when it is not this home's, to be installed once the state
/// is put back. A fetched copy without a MAC is refused unless the operator
/// accepts it; a local one (root's own, in the home) is taken as it is.
fn authenticate(
    home: &Home,
    dir: &Path,
    origin: &str,
    fetched: bool,
    trust: &Trust,
) -> Result<Option<StateKey>> {
    let given = match trust.key_file {
        Some(path) => Some(
            StateKey::read(path)
                .map_err(|error| Error::usage(format!("--state-key: {error:#}")))?,
        ),
        None => None,
    };
    let here = home.state_key()?;
    let mac = match fs::read_to_string(dir.join(STATE_MAC_FILE)) {
        Ok(text) => Some(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(anyhow::Error::new(error).into()),
    };
    let Some(mac) = mac else {
        if fetched && !trust.accept_unauthenticated {
            return Err(Error::failed(format!(
                "{origin} carries no {STATE_MAC_FILE}, so nothing proves it is the one its host \
                 made: it comes from a Girofle older than authenticated state backups, or its MAC \
                 was removed on the target. Nothing was changed. If you know this copy is genuine \
                 (you made it, and the target is yours alone), run again with \
                 --accept-unauthenticated-state"
            )));
        }
        return Ok(None);
    };
    let from_option = given.is_some();
    let Some(key) = given.clone().or_else(|| here.clone()) else {
        return Err(Error::failed(format!(
            "{origin} is authenticated with the state key of the host that made it, and this home \
             has no key. Give that key with --state-key FILE (install.sh printed it on that host, \
             to be kept in a safe place; it is also that home's state.key). Nothing was changed"
        )));
    };
    let manifest = fs::read(dir.join(snapshot::MANIFEST))?;
    if !key.verifies(&manifest, &mac) {
        let which = if from_option {
            "the key given with --state-key".to_string()
        } else {
            format!("this home's key ({})", home.state_key_file().display())
        };
        return Err(Error::failed(format!(
            "{origin} does not match its MAC under {which}: either it was changed after it was \
             made (on the target, say), or the key is not the one of the host that made it. \
             Nothing was changed. On a new host, give the key of the host that made it with \
             --state-key FILE; if the key is right, do not use this copy: an earlier one can be \
             chosen with --backup-state ID"
        )));
    }
    Ok(given.filter(|given| Some(given) != here.as_ref()))
}
/// A row of the state backup, as it is on this host: its directory in this home.
pub(super) fn relocate(home: &Home, row: &Row) -> Row {
    // Always the layout's own name for the number, never a name the fetched
    // row gives (`/`, `..` would make the home itself the instance's).
    let mut row = row.clone();
    row.dir = home.root().join(home.instance_dir(row.number).dir_name());
    row.note = String::new();
    row
}

/// A cron entry to write here.
pub(super) struct CronEntry {
    /// Where it goes here.
    pub(super) path: PathBuf,
    /// The instance it belongs to; `None` for the home's own (the state's).
    pub(super) number: Option<u32>,
    pub(super) comment: String,
    pub(super) schedule: String,
    pub(super) command: Vec<String>,
}

/// The schedules of the state backup's cron entries of its home (entries
/// of other homes, which shared the cron directory, are left out): each
/// instance's drill, and the state's own. Each schedule is checked as
/// `girofle-commission` checks it; nothing else of the entry is kept.
fn read_schedules(
    cron_dir: &Path,
    state_home: &Path,
    rows: &[Row],
) -> std::result::Result<Schedules, String> {
    let mut schedules = Schedules::default();
    let Ok(entries) = fs::read_dir(cron_dir) else {
        return Ok(schedules);
    };
    let mut names: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    names.sort();
    for (name, path) in names {
        let text = fs::read_to_string(&path).map_err(|error| format!("{error:#}"))?;
        let Some(parsed) = parse_cron_file(&text) else {
            continue;
        };
        let belongs = parsed.words.get(1).map(String::as_str) == Some("--home")
            && parsed.words.get(2).map(Path::new) == Some(state_home);
        let Some(kind) = kind_of(&name).filter(|_| belongs) else {
            continue;
        };
        cron::validate_schedule(&parsed.schedule)
            .map_err(|problem| format!("its cron entry {name}: {problem}"))?;
        let what: Vec<&str> = parsed.words[3..].iter().map(String::as_str).collect();
        let program_is_ours = parsed.words[0].ends_with("/girofle-backup");
        let (expected, number): (Vec<String>, Option<u32>) = if kind == "state" {
            (vec!["--state".into()], None)
        } else if let Some(n) = kind.strip_prefix("drill-") {
            (vec!["--drill".into(), n.into()], n.parse().ok())
        } else {
            let n = kind.strip_prefix("gitlab-").unwrap_or_default();
            (vec![n.into()], n.parse().ok())
        };
        if !program_is_ours || what != expected.iter().map(String::as_str).collect::<Vec<_>>() {
            schedules.odd.push(format!(
                "cron entry {name} of the state backup ran `{}`; rebuilt as Girofle writes it",
                parsed.words.join(" ")
            ));
        }
        match (kind.as_str(), number) {
            ("state", _) => schedules.state = Some(parsed.schedule),
            (kind, Some(n))
                if kind.starts_with("drill-")
                    && rows
                        .iter()
                        .any(|row| row.number == n && row.state == RowState::Commissioned) =>
            {
                schedules.drills.insert(n, parsed.schedule);
            }
            // An instance's backups follow its row's schedule.
            _ => {}
        }
    }
    Ok(schedules)
}

/// The cron entries of this home for the state put back, rebuilt from the
/// inventory by this host's `girofle-backup`, with `--home` this home: each
/// commissioned instance's backups (on its row's schedule), its drill and
/// the state's backup (on the schedules the state backup had).
pub(super) fn plan_cron(home: &Home, state: &State) -> Vec<CronEntry> {
    let program = cron::backup_program().display().to_string();
    let command = |what: &[String]| {
        let mut words = vec![
            program.clone(),
            "--home".to_string(),
            home.root().display().to_string(),
        ];
        words.extend(what.iter().cloned());
        words
    };
    let mut plan = Vec::new();
    for row in state
        .rows
        .iter()
        .filter(|row| row.state == RowState::Commissioned)
    {
        let n = row.number;
        plan.push(CronEntry {
            path: cron::entry_path(home, n),
            number: Some(n),
            comment: format!(
                "backups of GitLab instance {n}. Written by girofle-restore --all; removed by girofle-decommission."
            ),
            schedule: if row.backup_schedule.is_empty() {
                cron::DEFAULT_SCHEDULE.to_string()
            } else {
                row.backup_schedule.clone()
            },
            command: command(&[n.to_string()]),
        });
        if let Some(schedule) = state.schedules.drills.get(&n) {
            plan.push(CronEntry {
                path: cron::drill_entry_path(home, n),
                number: Some(n),
                comment: format!(
                    "weekly drill of GitLab instance {n}'s newest backup. Written by girofle-restore --all; removed by girofle-decommission."
                ),
                schedule: schedule.clone(),
                command: command(&["--drill".to_string(), n.to_string()]),
            });
        }
    }
    if let Some(schedule) = &state.schedules.state {
        plan.push(CronEntry {
            path: cron::state_entry_path(home),
            number: None,
            comment: "its own state, and shipping to the `same-site` target when configured."
                .to_string(),
            schedule: schedule.clone(),
            command: command(&["--state".to_string()]),
        });
    }
    plan
}

/// What `girofle.conf` becomes.
pub(super) struct ConfPlan {
    /// Written as `girofle.conf`.
    pub(super) text: Vec<u8>,
    /// The whole file of the state backup, set aside beside it when some of
    /// its settings were left out.
    pub(super) set_aside: Option<Vec<u8>>,
    /// The settings that run or send something and are new here, shown.
    pub(super) shown: Vec<String>,
}

/// The settings of a fetched `girofle.conf` that run or send something
/// (`[notify]`, `[metrics]`, `[targets.*]`) and differ from this host's are
/// applied only with `--yes`: without it they are left out of what is
/// written, and the whole file is set aside for the operator to review.
/// A state backup of this host's own (not fetched) is put back whole.
pub(super) fn plan_conf(state: &State, current: &Conf, yes: bool) -> Result<Option<ConfPlan>> {
    let Some((bytes, fetched)) = &state.conf else {
        return Ok(None);
    };
    let mut shown = Vec::new();
    let mut notify = false;
    let mut metrics = false;
    let mut targets = Vec::new();
    if let Some(section) = fetched
        .notify
        .as_ref()
        .filter(|n| current.notify.as_ref() != Some(*n))
    {
        notify = true;
        if let Some(command) = &section.command {
            shown.push(format!("[notify] command = {:?}", command.as_slice()));
        }
        if let Some(url) = &section.url {
            shown.push(format!("[notify] url = {:?}", url.as_str()));
        }
    }
    if let Some(section) = fetched
        .metrics
        .as_ref()
        .filter(|m| current.metrics.as_ref() != Some(*m))
    {
        metrics = true;
        shown.push(format!(
            "[metrics] textfile = {:?}",
            section.textfile.display().to_string()
        ));
    }
    for (name, target) in &fetched.targets {
        if current.targets.get(name) != Some(target) {
            targets.push(name.clone());
            shown.push(format!("[targets.{name}] url = {:?}", target.url));
        }
    }
    if state.fetched_from.is_none() || shown.is_empty() || yes {
        return Ok(Some(ConfPlan {
            text: bytes.clone(),
            set_aside: None,
            shown: if state.fetched_from.is_some() {
                shown
            } else {
                Vec::new()
            },
        }));
    }
    let text = String::from_utf8_lossy(bytes);
    let mut document: toml_edit::DocumentMut = text.parse().map_err(|error| {
        Error::failed(format!(
            "girofle.conf of state backup {}: {error}",
            state.id
        ))
    })?;
    if notify {
        document.remove("notify");
    }
    if metrics {
        document.remove("metrics");
    }
    if let Some(table) = document
        .get_mut("targets")
        .and_then(toml_edit::Item::as_table_like_mut)
    {
        for name in &targets {
            table.remove(name);
        }
    }
    let kept = document.to_string();
    Conf::parse(&kept).map_err(|problem| {
        Error::failed(format!(
            "girofle.conf of state backup {} without its settings that run or send something: {problem}",
            state.id
        ))
    })?;
    Ok(Some(ConfPlan {
        text: kept.into_bytes(),
        set_aside: Some(bytes.clone()),
        shown,
    }))
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
        .filter(|kind| {
            kind.split_once('-')
                .is_some_and(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
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
    let mut words = split_words(&rest.trim().replace("\\%", "%"))?;
    // Entries discard stdout (cron mails failures only); the entry written
    // here from these words discards it again.
    if words.last().is_some_and(|word| word == ">/dev/null") {
        words.pop();
    }
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

#[cfg(test)]
mod tests;
