//! The one place that knows the directory tree of `$GIROFLE_HOME` and the
//! environment variables of the contract.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The default home when neither `--home` nor the environment names one.
pub const DEFAULT_HOME: &str = "/girofle";
/// The image new instances run when neither `--image` nor `GIROFLE_IMAGE` says otherwise.
pub const DEFAULT_IMAGE: &str = "gitlab/gitlab-ce:latest";
/// The container-name prefix when `GIROFLE_PREFIX` is unset.
pub const DEFAULT_PREFIX: &str = "girofle";
/// Where cron entries go when `GIROFLE_CRON_DIR` is unset.
pub const DEFAULT_CRON_DIR: &str = "/etc/cron.d";

/// A Girofle home and the settings that come with it from the environment.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    prefix: String,
    cron_dir: PathBuf,
    default_image: String,
}

fn env_non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

impl Home {
    /// The home named by `--home`, else `GIROFLE_HOME`, else the legacy
    /// `REPERTOIRE_GIROFLE`, else `/girofle`; made absolute.
    pub fn resolve(explicit: Option<&Path>) -> Home {
        let root = explicit
            .map(Path::to_path_buf)
            .or_else(|| env_non_empty("GIROFLE_HOME").map(PathBuf::from))
            .or_else(|| env_non_empty("REPERTOIRE_GIROFLE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_HOME));
        let root = std::path::absolute(&root).unwrap_or(root);
        Home {
            root,
            prefix: env_non_empty("GIROFLE_PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.into()),
            cron_dir: env_non_empty("GIROFLE_CRON_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CRON_DIR)),
            default_image: env_non_empty("GIROFLE_IMAGE").unwrap_or_else(|| DEFAULT_IMAGE.into()),
        }
    }

    /// The home directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The container-name prefix (`GIROFLE_PREFIX`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where cron entries are written (`GIROFLE_CRON_DIR`).
    pub fn cron_dir(&self) -> &Path {
        &self.cron_dir
    }

    /// The image new instances run by default (`GIROFLE_IMAGE`).
    pub fn default_image(&self) -> &str {
        &self.default_image
    }

    /// `inventory.girofle`.
    pub fn inventory(&self) -> PathBuf {
        self.root.join("inventory.girofle")
    }

    /// The sidecar locked while the inventory or the counter is changed.
    pub fn inventory_lock(&self) -> PathBuf {
        self.root.join("inventory.girofle.lock")
    }

    /// `.auto-increment.girofle`: the last instance number handed out.
    pub fn counter(&self) -> PathBuf {
        self.root.join(".auto-increment.girofle")
    }

    /// The append-only operations log.
    pub fn log_file(&self) -> PathBuf {
        self.root.join("girofle.log")
    }

    /// `girofle.conf`.
    pub fn conf(&self) -> PathBuf {
        self.root.join("girofle.conf")
    }

    /// `state.key`: the key that authenticates state backups (see [`StateKey`]).
    pub fn state_key_file(&self) -> PathBuf {
        self.root.join(STATE_KEY_FILE)
    }

    /// `sauvegardes/`: backups of Girofle's own configuration and state.
    pub fn state_backups(&self) -> PathBuf {
        self.root.join("sauvegardes")
    }

    /// Where the installed binaries live.
    pub fn operations(&self) -> PathBuf {
        self.root.join("operations-std")
    }

    /// The directory of instance `number`.
    pub fn instance_dir(&self, number: u32) -> InstanceDir {
        InstanceDir::new(self.root.join(format!("noeud-gitlab-{number}")))
    }

    /// Checks a row's recorded directory: empty (legacy rows), or exactly
    /// `<home>/noeud-gitlab-<N>` (no `..`, no other place), and that path, if
    /// it exists, is a real directory, not a symbolic link. The error says why.
    pub fn check_instance_dir(&self, number: u32, dir: &Path) -> Result<(), String> {
        if dir.as_os_str().is_empty() {
            return Ok(());
        }
        let expected = self.instance_dir(number);
        // The same place spelt through another path to the home is the same.
        let same_place = || {
            dir.file_name() == expected.root().file_name()
                && match (
                    dir.parent().map(Path::canonicalize),
                    self.root.canonicalize(),
                ) {
                    (Some(Ok(parent)), Ok(home)) => parent == home,
                    _ => false,
                }
        };
        if dir != expected.root() && !same_place() {
            return Err(format!(
                "the instance directory {} is not {} (an instance lives in its home)",
                dir.display(),
                expected.root().display()
            ));
        }
        match fs::symlink_metadata(dir) {
            Ok(metadata) if metadata.file_type().is_symlink() || !metadata.is_dir() => {
                Err(format!(
                    "{} is not a directory but a symbolic link or a file",
                    dir.display()
                ))
            }
            _ => Ok(()),
        }
    }

    /// Whether the home is root's alone: owned by root, writable by nobody
    /// else (a missing home counts: root creates it so).
    pub fn is_root_s(&self) -> bool {
        match self.owner_and_mode() {
            Some((uid, mode)) => uid == 0 && mode & 0o022 == 0,
            None => true,
        }
    }

    /// The owner and mode of the home, `None` when it does not exist. A home
    /// that is a link root owns (`/girofle -> /srv/girofle`, to put it on a
    /// bigger disk) is judged by the directory it names: a link's own mode is
    /// always 0777, and only its owner can change where it points.
    pub fn owner_and_mode(&self) -> Option<(u32, u32)> {
        use std::os::unix::fs::MetadataExt;
        let metadata = fs::symlink_metadata(&self.root).ok()?;
        if metadata.file_type().is_symlink() && metadata.uid() == 0 {
            let target = fs::metadata(&self.root).ok()?;
            return Some((target.uid(), target.mode()));
        }
        Some((metadata.uid(), metadata.mode()))
    }

    /// The `girofle` group's id, if the group exists (install.sh creates it).
    pub fn group() -> Option<nix::unistd::Gid> {
        nix::unistd::Group::from_name("girofle")
            .ok()
            .flatten()
            .map(|group| group.gid)
    }

    /// The container name of instance `number`, with its optional name.
    pub fn container_name(&self, number: u32, name: &str) -> String {
        if name.is_empty() {
            format!("{}-gitlab-{number}", self.prefix)
        } else {
            format!("{}-gitlab-{number}-{name}", self.prefix)
        }
    }

    /// Creates the home directory when it does not exist yet: `root:girofle
    /// 0750` when root creates it and the group exists (only root writes in
    /// it; the group may read the inventory). An existing home is left as is.
    pub fn create(&self) -> anyhow::Result<()> {
        if self.root.is_dir() {
            return Ok(());
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(&self.root)
            .with_context(|| format!("cannot create the Girofle home {}", self.root.display()))?;
        if nix::unistd::geteuid().is_root() {
            let group = Home::group().unwrap_or(nix::unistd::Gid::from_raw(0));
            nix::unistd::chown(&self.root, Some(nix::unistd::Uid::from_raw(0)), Some(group))
                .with_context(|| format!("cannot chown {}", self.root.display()))?;
        }
        Ok(())
    }

    /// Appends a timestamped line to `girofle.log`, secrets redacted
    /// ([`crate::redact`]). Best effort: a log that cannot be written never
    /// fails an operation, and a missing home is not created. Only root logs:
    /// a member of the group (`girofle-list`) writes nothing. A symbolic link
    /// planted at `girofle.log` is never followed (`O_NOFOLLOW`).
    pub fn log(&self, operation: &str, message: &str) {
        if !self.root.is_dir() || !nix::unistd::geteuid().is_root() || !self.is_root_s() {
            return;
        }
        let message = crate::redact::secrets(message);
        let line = format!(
            "{} {}[{}]: {}\n",
            crate::timefmt::now_rfc3339(),
            operation,
            std::process::id(),
            message.replace('\n', " | ")
        );
        if let Ok(mut file) = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(self.log_file())
        {
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// `noeud-gitlab-<N>/` and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceDir {
    root: PathBuf,
}

impl InstanceDir {
    /// The instance directory at `root` (which need not exist).
    pub fn new(root: PathBuf) -> InstanceDir {
        InstanceDir { root }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `noeud-gitlab-<N>`: the directory's own name, which is also the name
    /// of the instance's folder on targets.
    pub fn dir_name(&self) -> String {
        self.root
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `mapping-volumes/`.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("mapping-volumes")
    }

    /// The host side of `/etc/gitlab`.
    pub fn config(&self) -> PathBuf {
        self.volumes().join("config")
    }

    /// The host side of `/var/opt/gitlab`.
    pub fn data(&self) -> PathBuf {
        self.volumes().join("data")
    }

    /// The host side of `/var/log/gitlab`.
    pub fn logs(&self) -> PathBuf {
        self.volumes().join("log")
    }

    /// `bckups/`.
    pub fn backups(&self) -> PathBuf {
        self.root.join("bckups")
    }

    /// Creates the instance's tree: itself (root only: it holds
    /// gitlab-secrets.json), `mapping-volumes/` with the three volumes, and
    /// `bckups/`. Nothing is left behind when one of them cannot be made.
    pub fn create_tree(&self) -> anyhow::Result<()> {
        let make = |path: &Path, mode: u32| {
            fs::DirBuilder::new()
                .mode(mode)
                .create(path)
                .with_context(|| format!("cannot create {}", path.display()))
        };
        let result = (|| -> anyhow::Result<()> {
            make(self.root(), 0o700)?;
            make(&self.volumes(), 0o755)?;
            make(&self.config(), 0o775)?;
            make(&self.data(), 0o755)?;
            make(&self.logs(), 0o755)?;
            make(&self.backups(), 0o700)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(self.root());
        }
        result
    }

    /// The complete backups of this instance, oldest first. Partial backups
    /// (`.partial-<ID>`) and names that are not backup IDs are left out.
    pub fn complete_backups(&self) -> Vec<BackupId> {
        backup_ids_in(&self.backups())
    }

    /// The newest complete backup, if any.
    pub fn latest_backup(&self) -> Option<BackupId> {
        self.complete_backups().pop()
    }

    /// The backup a restore or a drill takes when none is named: the newest
    /// of `ids` (oldest first) that a backup made, not one that keeps the
    /// data a restore replaced (newer by construction, it would undo that
    /// restore); that one only when there is no other.
    pub fn default_backup<'a>(&self, ids: &'a [BackupId]) -> Option<&'a BackupId> {
        ids.iter()
            .rev()
            .find(|id| !self.taken_before_restore(id))
            .or_else(|| ids.last())
    }

    /// Whether backup `id` keeps the data a restore replaced (its MANIFEST's
    /// header says `taken_before_restore`).
    pub fn taken_before_restore(&self, id: &BackupId) -> bool {
        let manifest = self
            .backups()
            .join(id.as_str())
            .join(crate::snapshot::MANIFEST);
        crate::snapshot::ManifestReader::open(&manifest)
            .is_ok_and(|reader| reader.get(TAKEN_BEFORE_RESTORE).is_some())
    }
}

/// Hidden prefixes under `bckups/` that never name a complete backup: a
/// backup being written. Names of the tree, so they live with it, where
/// the adapters that copy to targets find them too.
pub const PARTIAL_PREFIX: &str = ".partial-";
/// A backup being removed by retention: hidden first, then deleted.
pub const REMOVING_PREFIX: &str = ".removing-";

/// The MANIFEST header key of a backup that keeps the data a restore replaced.
pub const TAKEN_BEFORE_RESTORE: &str = "taken_before_restore";

/// The backup folders in `directory` (an instance's `bckups/`, or
/// `sauvegardes/`), oldest first; partials and other names are left out.
pub fn backup_ids_in(directory: &Path) -> Vec<BackupId> {
    let Ok(entries) = fs::read_dir(directory) else {
        return Vec::new();
    };
    let mut ids: Vec<BackupId> = entries
        .flatten()
        .filter(|entry| entry.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|entry| BackupId::parse(&entry.file_name().to_string_lossy()))
        .collect();
    ids.sort();
    ids
}

/// The name of a backup: the UTC time it started, `YYYY-MM-DDTHH-MM-SSZ`, or
/// the legacy `DD-MM-YYYY-time-HHhMMmSSs`. Ordered by that time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BackupId {
    when: (u16, u8, u8, u8, u8, u8),
    name: String,
}

impl BackupId {
    /// Parses either form; `None` for anything else.
    pub fn parse(name: &str) -> Option<BackupId> {
        Self::parse_current(name)
            .or_else(|| Self::parse_legacy(name))
            .map(|when| BackupId {
                when,
                name: name.to_string(),
            })
    }

    fn parse_current(name: &str) -> Option<(u16, u8, u8, u8, u8, u8)> {
        // 2026-11-25T14-30-00Z
        let bytes = name.as_bytes();
        if bytes.len() != 20 || bytes[10] != b'T' || bytes[19] != b'Z' {
            return None;
        }
        let date: Vec<&str> = name[..10].split('-').collect();
        let clock: Vec<&str> = name[11..19].split('-').collect();
        if date.len() != 3 || clock.len() != 3 {
            return None;
        }
        Some((
            number(date[0], 4)?,
            number(date[1], 2)?,
            number(date[2], 2)?,
            number(clock[0], 2)?,
            number(clock[1], 2)?,
            number(clock[2], 2)?,
        ))
    }

    fn parse_legacy(name: &str) -> Option<(u16, u8, u8, u8, u8, u8)> {
        // 25-11-2026-time-14h-30m-00s
        let parts: Vec<&str> = name.split('-').collect();
        if parts.len() != 7 || parts[3] != "time" {
            return None;
        }
        Some((
            number(parts[2], 4)?,
            number(parts[1], 2)?,
            number(parts[0], 2)?,
            number(parts[4].strip_suffix('h')?, 2)?,
            number(parts[5].strip_suffix('m')?, 2)?,
            number(parts[6].strip_suffix('s')?, 2)?,
        ))
    }

    /// The directory name, as found or made.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// When the backup started (IDs are UTC times); `None` for an impossible date.
    pub fn started(&self) -> Option<std::time::SystemTime> {
        let (year, month, day, hour, minute, second) = self.when;
        let date = time::Date::from_calendar_date(
            i32::from(year),
            time::Month::try_from(month).ok()?,
            day,
        )
        .ok()?;
        let at = date.with_hms(hour, minute, second).ok()?.assume_utc();
        let seconds = u64::try_from(at.unix_timestamp()).ok()?;
        Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
    }
}

impl std::fmt::Display for BackupId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// As data, a backup ID is its name: what `--format json` and the
/// directories show.
impl serde::Serialize for BackupId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name)
    }
}

fn number<T: std::str::FromStr>(text: &str, digits: usize) -> Option<T> {
    if text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

mod state_key;
pub use state_key::{STATE_KEY_FILE, STATE_MAC_FILE, StateKey};

#[cfg(test)]
mod tests;
