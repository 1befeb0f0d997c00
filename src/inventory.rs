//! Rows of `inventory.girofle`: read (CSV, or the legacy scripts' lines),
//! locked through the `inventory.girofle.lock` sidecar, replaced atomically.

mod names;
mod select;

pub use names::{
    MAX_NAME_LENGTH, check_acme_url, check_email, check_name, is_container_name, is_host_name,
    is_image_reference,
};
pub use select::{commissioned, select};

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::home::Home;

/// Whether an instance is still in service. Decommissioned rows stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    /// In service (or being commissioned; see [`Row::note`]).
    Commissioned,
    /// Taken out of service; its number is never reused.
    Decommissioned,
}

impl RowState {
    /// The word the contract uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Commissioned => "commissioned",
            RowState::Decommissioned => "decommissioned",
        }
    }
}

/// One instance, as the inventory records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// The instance number, never reused.
    pub number: u32,
    /// The optional name given at commission (empty when none).
    pub name: String,
    /// The Docker container's name.
    pub container: String,
    /// In service or not.
    pub state: RowState,
    /// The address the ports are published on.
    pub ip: String,
    /// The HTTP port (also the port of `external_url`).
    pub http_port: Option<u16>,
    /// The published HTTPS port (unknown for legacy rows).
    pub https_port: Option<u16>,
    /// The published SSH port (unknown for legacy rows).
    pub ssh_port: Option<u16>,
    /// The host name of `external_url`.
    pub hostname: String,
    /// The image reference the container runs.
    pub image: String,
    /// The instance directory (`noeud-gitlab-<N>`).
    pub dir: PathBuf,
    /// The cron schedule of its backups.
    pub backup_schedule: String,
    /// When the row was written first.
    pub created: String,
    /// What went wrong last, shown by `girofle-list`; empty when all is well.
    pub note: String,
    /// How it serves HTTPS: empty for plain HTTP, else `girofle-ca` or `own`
    /// (a column added last, so that inventories written before it still read).
    #[serde(default)]
    pub tls: String,
    /// With `tls` `acme`: the ACME directory GitLab asks for its
    /// certificate; empty for Let's Encrypt's (a column added last).
    #[serde(default)]
    pub acme_url: String,
    /// With `tls` `acme`: the contact address of the ACME account; empty
    /// for none (a column added last).
    #[serde(default)]
    pub acme_email: String,
}

impl Row {
    /// `http://<hostname>:<http-port>`, the instance's `external_url`; with
    /// TLS `https://<hostname>:<https-port>` (no port when it is 443).
    pub fn url(&self) -> String {
        let host = if self.hostname.is_empty() {
            self.ip.as_str()
        } else {
            self.hostname.as_str()
        };
        if !self.tls.is_empty() {
            return match self.https_port {
                Some(443) | None => format!("https://{host}"),
                Some(port) => format!("https://{host}:{port}"),
            };
        }
        match self.http_port {
            Some(port) => format!("http://{host}:{port}"),
            None => format!("http://{host}"),
        }
    }

    /// Whether `spec` (a number, a name or a container name) designates this row.
    pub fn matches(&self, spec: &str) -> bool {
        spec == self.number.to_string()
            || (!self.name.is_empty() && spec == self.name)
            || spec == self.container
    }
}

#[cfg(test)]
impl Row {
    /// A row as `girofle-commission` writes it, for unit tests.
    pub(crate) fn example(number: u32, name: &str, state: RowState) -> Row {
        let container = if name.is_empty() {
            format!("girofle-gitlab-{number}")
        } else {
            format!("girofle-gitlab-{number}-{name}")
        };
        Row {
            number,
            name: name.to_string(),
            container,
            state,
            ip: "127.0.0.2".into(),
            http_port: Some(8080 + number as u16),
            https_port: Some(8443 + number as u16),
            ssh_port: Some(2222 + number as u16),
            hostname: "git.example.org".into(),
            image: "gitlab/gitlab-ce:latest".into(),
            dir: PathBuf::from(format!("/girofle/noeud-gitlab-{number}")),
            backup_schedule: "0 */4 * * *".into(),
            created: "2026-11-25T14:30:00Z".into(),
            note: String::new(),
            tls: String::new(),
            acme_url: String::new(),
            acme_email: String::new(),
        }
    }
}

/// The prefix of every line the legacy scripts wrote.
const LEGACY_MARK: &str = "+girofle+ INSTANCE GITLAB no.";
const CSV_HEADER_START: &str = "number,";

/// Reads the inventory without locking: it is only ever replaced by rename,
/// so a reader sees one whole version. A missing file is an empty inventory.
pub fn read(home: &Home) -> Result<Vec<Row>> {
    Ok(parse_file(home)?.0)
}

/// Finds the row `spec` designates: a commissioned row first, then any.
pub fn find<'a>(rows: &'a [Row], spec: &str) -> Option<&'a Row> {
    rows.iter()
        .filter(|row| row.matches(spec))
        .max_by_key(|row| (row.state == RowState::Commissioned, row.number))
}

fn parse_file(home: &Home) -> Result<(Vec<Row>, bool)> {
    let path = home.inventory();
    let text = match read_no_follow(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Vec::new(), false));
        }
        Err(error) => {
            return Err(anyhow::Error::new(error)
                .context(format!("cannot read {}", path.display()))
                .into());
        }
    };
    let parsed = parse(&text).map_err(|(line, problem)| {
        Error::failed(format!(
            "{} line {line}: {problem}; fix or remove that line, nothing was changed",
            path.display()
        ))
    })?;
    // A row can never make root work outside the home.
    for row in &parsed.0 {
        home.check_instance_dir(row.number, &row.dir)
            .map_err(|problem| {
                Error::failed(format!(
                    "{}: instance {}: {problem}; fix or remove that row, nothing was changed",
                    path.display(),
                    row.number
                ))
            })?;
    }
    Ok(parsed)
}

/// Reads a file root keeps in the home, refusing a symbolic link in its
/// place (`O_NOFOLLOW`: root reads nothing through a link someone planted).
fn read_no_follow(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Parses an inventory's text: rows, and whether any line was in the legacy
/// form. The error is the 1-based line number and what is wrong with it.
pub fn parse(text: &str) -> Result<(Vec<Row>, bool), (usize, String)> {
    let first = text
        .lines()
        .position(|line| !line.trim().is_empty())
        .map(|index| (index, text.lines().nth(index).unwrap_or("")));
    match first {
        None => Ok((Vec::new(), false)),
        Some((_, line)) if line.starts_with(CSV_HEADER_START) => {
            parse_csv(text).map(|rows| (rows, false))
        }
        Some(_) => {
            let mut rows = Vec::new();
            for (index, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let row = parse_legacy(line).and_then(|row| check_row(&row).map(|()| row));
                rows.push(row.map_err(|problem| (index + 1, problem))?);
            }
            Ok((rows, true))
        }
    }
}

fn parse_csv(text: &str) -> Result<Vec<Row>, (usize, String)> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|error| (1, error.to_string()))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.and_then(|record| {
            let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
            record
                .deserialize::<Row>(Some(&headers))
                .map(|row| (line, row))
        });
        match record {
            Ok((line, row)) => {
                check_row(&row).map_err(|problem| (line, problem))?;
                rows.push(row);
            }
            Err(error) => {
                let line = error.position().map(|p| p.line() as usize).unwrap_or(0);
                let problem = match error.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                        Some(field) => format!("field {} is invalid: {}", field + 1, err.kind()),
                        None => err.kind().to_string(),
                    },
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} fields where the header has {expected_len}"),
                    _ => error.to_string(),
                };
                return Err((line, problem));
            }
        }
    }
    Ok(rows)
}

/// ` +girofle+ INSTANCE GITLAB no. [N] + [ADRESSE_IP_SRV_GITLAB=…] +[NO_PORT_IP_SRV_GITLAB=…] +
/// [REP_GIROFLE_INSTANCE_GITLAB=…] + [NOM_DU_CONTENEUR_CREE=…]`
fn parse_legacy(line: &str) -> Result<Row, String> {
    let rest = line.trim().strip_prefix(LEGACY_MARK).ok_or_else(|| {
        "neither a CSV row (no header line) nor a legacy `+girofle+ INSTANCE GITLAB no.` line"
            .to_string()
    })?;
    let mut fields = rest
        .split('[')
        .skip(1)
        .map(|part| part.split(']').next().unwrap_or(""));
    let number: u32 = fields
        .next()
        .and_then(|n| n.trim().parse().ok())
        .ok_or("the instance number in [N] is missing or not a number")?;
    let mut row = Row {
        number,
        name: String::new(),
        container: String::new(),
        state: RowState::Commissioned,
        ip: String::new(),
        http_port: None,
        https_port: None,
        ssh_port: None,
        hostname: String::new(),
        image: crate::home::DEFAULT_IMAGE.to_string(),
        dir: PathBuf::new(),
        backup_schedule: String::new(),
        created: String::new(),
        note: String::new(),
        tls: String::new(),
        acme_url: String::new(),
        acme_email: String::new(),
    };
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "ADRESSE_IP_SRV_GITLAB" => row.ip = value.to_string(),
            key if key.starts_with("NO_PORT_IP_SRV_GITLAB") => {
                row.http_port = if value.is_empty() {
                    None
                } else {
                    Some(
                        value
                            .parse()
                            .map_err(|_| format!("port `{value}` is not a port number"))?,
                    )
                }
            }
            key if key.starts_with("REP_GIROFLE_") => row.dir = PathBuf::from(value),
            "NOM_DU_CONTENEUR_CREE" => row.container = value.to_string(),
            _ => {}
        }
    }
    if row.container.is_empty() {
        return Err("the container name [NOM_DU_CONTENEUR_CREE=…] is missing".into());
    }
    if row.ip.is_empty() {
        row.ip = "0.0.0.0".into();
    }
    Ok(row)
}

/// Checks every field of a row, whatever its source (this home's CSV, the
/// legacy lines, a state backup fetched from a target): the values go into
/// `docker run` arguments, GitLab's Ruby configuration and cron lines, so
/// each must be what it says it is. No field may hold a control character.
pub fn check_row(row: &Row) -> Result<(), String> {
    let dir = row.dir.display().to_string();
    for (field, value) in [
        ("name", row.name.as_str()),
        ("container", row.container.as_str()),
        ("ip", row.ip.as_str()),
        ("hostname", row.hostname.as_str()),
        ("image", row.image.as_str()),
        ("dir", dir.as_str()),
        ("backup_schedule", row.backup_schedule.as_str()),
        ("created", row.created.as_str()),
        ("note", row.note.as_str()),
        ("tls", row.tls.as_str()),
        ("acme_url", row.acme_url.as_str()),
        ("acme_email", row.acme_email.as_str()),
    ] {
        if value.chars().any(char::is_control) {
            return Err(format!(
                "field {field} holds a control character (a line break, a tab...): {value:?}"
            ));
        }
    }
    if row.number == 0 {
        return Err("the instance number is 0; numbers start at 1".into());
    }
    // It decides the container's configuration: only the modes Girofle makes.
    if !["", "girofle-ca", "own", "acme"].contains(&row.tls.as_str()) {
        return Err(format!(
            "field tls: `{}` is none of ``, `girofle-ca`, `own`, `acme`",
            row.tls
        ));
    }
    // Both go quoted into GitLab's Ruby configuration.
    if !row.acme_url.is_empty()
        && let Some(problem) = check_acme_url(&row.acme_url)
    {
        return Err(format!("field acme_url: {problem}"));
    }
    if !row.acme_email.is_empty()
        && let Some(problem) = check_email(&row.acme_email)
    {
        return Err(format!("field acme_email: {problem}"));
    }
    if row.tls != "acme" && !(row.acme_url.is_empty() && row.acme_email.is_empty()) {
        return Err("fields acme_url and acme_email go with tls `acme` only".into());
    }
    if !row.dir.as_os_str().is_empty()
        && (!row.dir.is_absolute()
            || row.dir.file_name().is_none()
            || row.dir.components().any(|part| {
                matches!(
                    part,
                    std::path::Component::CurDir | std::path::Component::ParentDir
                )
            }))
    {
        return Err(format!(
            "field dir: `{dir}` is not an absolute path to an instance's directory"
        ));
    }
    if !row.name.is_empty() {
        check_name(&row.name).map_err(|problem| format!("field name: {problem}"))?;
    }
    if !is_container_name(&row.container) {
        return Err(format!(
            "field container: `{}` is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)",
            row.container
        ));
    }
    if row.ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("field ip: `{}` is not an IP address", row.ip));
    }
    for (field, port) in [
        ("http_port", row.http_port),
        ("https_port", row.https_port),
        ("ssh_port", row.ssh_port),
    ] {
        if port == Some(0) {
            return Err(format!("field {field}: 0 is not a port"));
        }
    }
    if !row.hostname.is_empty() && !is_host_name(&row.hostname) {
        return Err(format!(
            "field hostname: `{}` is not a host name",
            row.hostname
        ));
    }
    if !is_image_reference(&row.image) {
        return Err(format!(
            "field image: `{}` is not an image reference",
            row.image
        ));
    }
    if !row.backup_schedule.is_empty() {
        crate::cron::validate_schedule(&row.backup_schedule)
            .map_err(|problem| format!("field backup_schedule: {problem}"))?;
    }
    Ok(())
}

/// Renders rows as the CSV file, header included.
pub fn render(rows: &[Row]) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        writer.write_record(CSV_COLUMNS)?;
    }
    for row in rows {
        writer.serialize(row)?;
    }
    writer.into_inner().context("cannot render the inventory")
}

const CSV_COLUMNS: [&str; 17] = [
    "number",
    "name",
    "container",
    "state",
    "ip",
    "http_port",
    "https_port",
    "ssh_port",
    "hostname",
    "image",
    "dir",
    "backup_schedule",
    "created",
    "note",
    "tls",
    "acme_url",
    "acme_email",
];

/// The inventory held under its exclusive lock: read, change, [`commit`](Locked::commit).
/// The lock is released when this value is dropped.
pub struct Locked {
    home: Home,
    rows: Vec<Row>,
    _lock: File,
}

/// Takes the exclusive inventory lock (waiting for it), then reads the rows.
/// Creates the home if needed, since every writer needs it.
pub fn lock(home: &Home) -> Result<Locked> {
    home.create()?;
    let lock_path = home.inventory_lock();
    let file = crate::atomic::open_lock_file(&lock_path)?;
    file.lock()
        .with_context(|| format!("cannot lock {}", lock_path.display()))?;
    let (rows, _legacy) = parse_file(home)?;
    Ok(Locked {
        home: home.clone(),
        rows,
        _lock: file,
    })
}

impl Locked {
    /// The rows as read under the lock, plus changes not yet committed.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The row of instance `number`, to change.
    pub fn row_mut(&mut self, number: u32) -> Option<&mut Row> {
        self.rows.iter_mut().find(|row| row.number == number)
    }

    /// Adds a row.
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Removes the row of instance `number` (only for a commission that
    /// failed before its container existed).
    pub fn remove(&mut self, number: u32) {
        self.rows.retain(|row| row.number != number);
    }

    /// Hands out the next instance number and records it at once, so that it
    /// is never handed out again, even if what follows fails.
    pub fn next_number(&mut self) -> Result<u32> {
        let path = self.home.counter();
        let recorded: u32 = match read_no_follow(&path) {
            Ok(text) => text.trim().parse().map_err(|_| {
                Error::failed(format!(
                    "{} holds `{}`, not a number",
                    path.display(),
                    text.trim()
                ))
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => {
                return Err(anyhow::Error::new(error)
                    .context(format!("cannot read {}", path.display()))
                    .into());
            }
        };
        let highest_row = self.rows.iter().map(|row| row.number).max().unwrap_or(0);
        let next = recorded.max(highest_row) + 1;
        crate::atomic::write(&path, format!("{next}\n").as_bytes(), 0o600)?;
        Ok(next)
    }

    /// Replaces `inventory.girofle` with the rows, atomically: `root:girofle
    /// 0640` (members of the group run `girofle-list`), or the group of the
    /// file replaced when there is no `girofle` group.
    /// Legacy lines read earlier are written back as CSV rows.
    pub fn commit(&mut self) -> Result<()> {
        self.rows.sort_by_key(|row| row.number);
        // A note is an error message of the moment: one line, whatever it quotes.
        for row in &mut self.rows {
            if row.note.chars().any(char::is_control) {
                row.note = row
                    .note
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
            }
        }
        let bytes = render(&self.rows)?;
        let path = self.home.inventory();
        match Home::group() {
            Some(group) => {
                crate::atomic::write_with_group(&path, &bytes, 0o640, Some(group.as_raw()))?
            }
            None => crate::atomic::write(&path, &bytes, 0o640)?,
        }
        Ok(())
    }
}

/// A row's place in the home, defined here rather than in `home`, which
/// knows directories and nothing of the inventory's rows.
impl Home {
    /// The instance directory of a row: always `noeud-gitlab-<N>` in this
    /// home, whatever the row's `dir` column says (the inventory refuses rows
    /// whose `dir` is anything else, see [`Home::check_instance_dir`]), so that
    /// a row can never make root work in a directory outside the home.
    pub fn instance_of(&self, row: &Row) -> crate::home::InstanceDir {
        self.instance_dir(row.number)
    }
}

#[cfg(test)]
mod tests;
