//! The state backup `--all` puts back: read and verified, its rows moved
//! into this home, its cron entries rewritten for this home.

use fs_err as fs;
use std::path::{Path, PathBuf};

use super::super::fetch::fetch_folder;
use crate::conf::Conf;
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row};
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
    pub(super) conf: Option<(Vec<u8>, u32)>,
}

/// The state backup to put back: fetched from the target into `staging`, or
/// the local one; verified against its MANIFEST either way.
pub(super) fn read_state(
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
pub(super) fn relocate(home: &Home, row: &Row) -> Row {
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
pub(super) struct CronEntry {
    /// Where it goes here.
    pub(super) path: PathBuf,
    /// The instance it belongs to; `None` for the home's own (the state's).
    pub(super) number: Option<u32>,
    pub(super) comment: String,
    pub(super) schedule: String,
    pub(super) command: Vec<String>,
}

/// The state backup's cron entries of its home, each rewritten for this
/// home: its file named with this home's prefix, its command run by this
/// host's `girofle-backup` with `--home` this home. Entries of other homes
/// (which shared the cron directory) are left out.
pub(super) fn plan_cron(home: &Home, state: &State) -> Result<Vec<CronEntry>> {
    let mut plan = Vec::new();
    let Ok(entries) = fs::read_dir(state.dir.join("cron.d")) else {
        return Ok(plan);
    };
    let state_entry = cron::state_entry_path(home);
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
mod tests {
    use super::*;

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
        let home = Home::resolve(Some(std::path::Path::new("/srv/it's 100%")));
        cron::write_file(
            &home,
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
}
