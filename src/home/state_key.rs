//! The home's state key: the MAC that authenticates a state backup's
//! MANIFEST, so that a copy fetched back from a target is data, never
//! instructions for root.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

use super::Home;

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
