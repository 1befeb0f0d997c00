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

fn number<T: std::str::FromStr>(text: &str, digits: usize) -> Option<T> {
    if text.len() == digits && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_key_authenticates_its_manifest_and_nothing_else() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join(STATE_KEY_FILE);
        let key = StateKey::generate().unwrap();
        assert!(key.install_new(&path).unwrap());
        // Never replaced: a second key does not take the first one's place.
        assert!(!StateKey::generate().unwrap().install_new(&path).unwrap());
        let read = StateKey::read(&path).unwrap();
        assert_eq!(read, key);
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions())
                & 0o777,
            0o600
        );
        let mac = key.mac_line(b"manifest");
        assert!(key.verifies(b"manifest", &mac));
        assert!(!key.verifies(b"manifest!", &mac));
        assert!(!StateKey::generate().unwrap().verifies(b"manifest", &mac));
        assert!(!key.verifies(b"manifest", "blake3-keyed 00"));
        assert!(StateKey::parse(&key.to_hex()).is_ok());
        assert!(StateKey::parse("abc").is_err());
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        assert!(StateKey::read(&path).is_err());
    }

    #[test]
    fn a_home_that_is_a_link_is_judged_by_the_directory_it_names() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let temp = tempfile::tempdir().unwrap();
        let real = temp.path().join("srv-girofle");
        std::fs::create_dir(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o750)).unwrap();
        let link = temp.path().join("girofle");
        symlink(&real, &link).unwrap();
        let through_link = Home::resolve(Some(&link)).owner_and_mode();
        let direct = Home::resolve(Some(&real)).owner_and_mode();
        if nix::unistd::Uid::effective().is_root() {
            // A link root owns: its target's owner and mode, not the link's 0777.
            assert_eq!(through_link, direct);
            assert_eq!(through_link.map(|(_, mode)| mode & 0o777), Some(0o750));
        } else {
            // Anyone else's link is judged as a link: never root's.
            assert_ne!(through_link.map(|(uid, _)| uid), Some(0));
        }
        assert_eq!(
            Home::resolve(Some(&temp.path().join("none"))).owner_and_mode(),
            None
        );
    }

    #[test]
    fn backup_ids_of_both_forms_sort_by_time() {
        let mut ids: Vec<BackupId> = [
            "2026-11-25T14-30-00Z",
            "24-12-2025-time-09h-05m-00s",
            "2026-01-02T00-00-00Z",
        ]
        .iter()
        .map(|name| BackupId::parse(name).unwrap())
        .collect();
        ids.sort();
        let names: Vec<&str> = ids.iter().map(BackupId::as_str).collect();
        assert_eq!(
            names,
            [
                "24-12-2025-time-09h-05m-00s",
                "2026-01-02T00-00-00Z",
                "2026-11-25T14-30-00Z"
            ]
        );
    }

    #[test]
    fn ids_order_by_each_field_in_turn() {
        let ordered = [
            "2025-12-31T23-59-59Z",
            "01-01-2026-time-00h-00m-00s",
            "2026-01-01T00-00-01Z",
            "2026-01-01T00-01-00Z",
            "2026-01-01T01-00-00Z",
            "2026-01-02T00-00-00Z",
            "2026-02-01T00-00-00Z",
            "2027-01-01T00-00-00Z",
        ];
        let ids: Vec<BackupId> = ordered
            .iter()
            .map(|name| BackupId::parse(name).unwrap())
            .collect();
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
        assert_eq!(ids[1].as_str(), "01-01-2026-time-00h-00m-00s");
        assert_eq!(ids[1].to_string(), ids[1].as_str());
    }

    #[test]
    fn a_symbolic_link_in_place_of_an_instance_directory_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        let home = Home::resolve(Some(temp.path()));
        std::os::unix::fs::symlink("/etc", temp.path().join("noeud-gitlab-1")).unwrap();
        let message = home
            .check_instance_dir(1, &temp.path().join("noeud-gitlab-1"))
            .unwrap_err();
        assert!(message.contains("symbolic link"), "{message}");
    }

    #[test]
    fn partial_and_foreign_names_are_not_backups() {
        for name in [
            ".partial-2026-11-25T14-30-00Z",
            "latest",
            "2026-11-25T14-30-00",
            "2026-11-25 14-30-00Z",
            "2026-1-25T14-30-00Z",
            "2026-11-25T14-30-0xZ",
            "25-11-2026-time-14h-30m-00",
            "25-11-2026-heure-14h-30m-00s",
            "25-11-26-time-14h-30m-00s",
            "",
        ] {
            assert_eq!(BackupId::parse(name), None, "{name}");
        }
    }
}

/// The name of the key file in the home.
pub const STATE_KEY_FILE: &str = "state.key";

/// The file beside a state backup's MANIFEST that authenticates it.
pub const STATE_MAC_FILE: &str = "MANIFEST.mac";

/// The word that opens a `MANIFEST.mac` line: the MAC's algorithm.
const MAC_ALGORITHM: &str = "blake3-keyed";

/// The key that authenticates state backups: a MAC (BLAKE3 in keyed mode)
/// of each state backup's MANIFEST, which hashes every file, is written
/// beside it. A copy changed on a target cannot be given a matching MAC
/// without the key, which never leaves the host (and the operator's safe
/// place: `install.sh` prints it once). Kept as 64 hexadecimal digits.
#[derive(Clone, PartialEq, Eq)]
pub struct StateKey([u8; 32]);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(..)")
    }
}

impl StateKey {
    /// Parses the text of a key file: 64 hexadecimal digits, white space around allowed.
    pub fn parse(text: &str) -> Result<StateKey, String> {
        let text = text.trim();
        if text.len() != 64 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("a state key is 64 hexadecimal digits".into());
        }
        let mut key = [0u8; 32];
        for (index, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16)
                .map_err(|_| "a state key is 64 hexadecimal digits".to_string())?;
        }
        Ok(StateKey(key))
    }

    /// The key as written in its file.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// The line of `MANIFEST.mac` for a MANIFEST of these bytes.
    pub fn mac_line(&self, manifest: &[u8]) -> String {
        format!(
            "{MAC_ALGORITHM} {}\n",
            blake3::keyed_hash(&self.0, manifest).to_hex()
        )
    }

    /// Whether `mac_text` (a `MANIFEST.mac`) authenticates `manifest`, compared
    /// in constant time.
    pub fn verifies(&self, manifest: &[u8], mac_text: &str) -> bool {
        let Some(hex) = mac_text.trim().strip_prefix(MAC_ALGORITHM).map(str::trim) else {
            return false;
        };
        let Ok(given) = blake3::Hash::from_hex(hex) else {
            return false;
        };
        // blake3::Hash's equality is constant-time.
        blake3::keyed_hash(&self.0, manifest) == given
    }

    /// Reads a key file: refused when it is a symbolic link, or when another
    /// user owns it or can read or write it (that user could forge state
    /// backups), as ssh refuses a private key others can read.
    pub fn read(path: &Path) -> anyhow::Result<StateKey> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
            .with_context(|| format!("cannot read the state key {}", path.display()))?;
        let metadata = file.metadata()?;
        let me = nix::unistd::geteuid().as_raw();
        if (metadata.uid() != me && metadata.uid() != 0) || metadata.mode() & 0o077 != 0 {
            anyhow::bail!(
                "{} can be read or written by another user than root: it is not used (chown root:root and chmod 0600 it, if it is the right key)",
                path.display()
            );
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("cannot read the state key {}", path.display()))?;
        StateKey::parse(&text).map_err(|problem| anyhow::anyhow!("{}: {problem}", path.display()))
    }

    /// A new random key, from the kernel's generator.
    pub fn generate() -> anyhow::Result<StateKey> {
        use std::io::Read;
        let mut key = [0u8; 32];
        fs::File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(&mut key))
            .context("cannot read /dev/urandom")?;
        Ok(StateKey(key))
    }

    /// Puts `self` at `path` (root's, 0600) without following a link and
    /// without replacing a key already there: a new file linked into place,
    /// which fails if the name exists. Returns whether it was installed.
    pub fn install_new(&self, path: &Path) -> anyhow::Result<bool> {
        let directory = path.parent().unwrap_or(Path::new("/"));
        let temp = tempfile::Builder::new()
            .prefix(".state.key.tmp-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .tempfile_in(directory)
            .with_context(|| format!("cannot create a temp file in {}", directory.display()))?;
        let mut file = temp.as_file();
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        file.write_all(format!("{}\n", self.to_hex()).as_bytes())?;
        file.sync_all()?;
        match fs::hard_link(temp.path(), path) {
            Ok(()) => {
                crate::atomic::sync_directory(directory)?;
                Ok(true)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => {
                Err(anyhow::Error::new(error).context(format!("cannot create {}", path.display())))
            }
        }
    }
}

impl Home {
    /// This home's state key, `None` when it has none yet.
    pub fn state_key(&self) -> anyhow::Result<Option<StateKey>> {
        let path = self.state_key_file();
        match fs::symlink_metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            _ => StateKey::read(&path).map(Some),
        }
    }

    /// This home's state key, created when missing (a home made before state
    /// backups were authenticated gets one at its next state backup).
    pub fn state_key_or_create(&self) -> anyhow::Result<StateKey> {
        if let Some(key) = self.state_key()? {
            return Ok(key);
        }
        let key = StateKey::generate()?;
        if key.install_new(&self.state_key_file())? {
            self.log(
                "backup",
                &format!(
                    "created the state key {}: keep a copy of it in a safe place, off this host \
                     (girofle-restore --all needs it on a new host)",
                    self.state_key_file().display()
                ),
            );
            return Ok(key);
        }
        // Another run created it meanwhile.
        StateKey::read(&self.state_key_file())
    }
}
