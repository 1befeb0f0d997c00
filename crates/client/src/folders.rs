//! The folders bound on this machine (`folders.toml` in the client's data
//! directory), each with its history under `histories/<project id>.git`.
//! One folder per project on a machine: a second binding is refused here.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use girofle_base::error::{Error, Result};

/// One folder bound on this machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Folder {
    /// The project's ID on the server.
    pub id: u64,
    /// The project's `namespace/path`.
    pub path: String,
    /// The folder on this machine (absolute).
    pub dir: PathBuf,
    /// The state commit this machine last put on the server (for the
    /// compare-and-swap), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// When changes here started not being sent, while they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The dated copy made by the last `resolve`, while choices remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aside: Option<PathBuf>,
    /// Files that differ between the person's copy and the server's, still to
    /// be chosen (paths relative to the folder).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<String>,
}

/// `folders.toml`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Registry {
    /// The folders.
    #[serde(default, rename = "folder")]
    pub folders: Vec<Folder>,
}

/// The registry, locked for the life of this value (one client at a time
/// changes it).
pub struct Locked {
    /// The registry as read.
    pub registry: Registry,
    file: PathBuf,
    _lock: File,
}

impl Locked {
    /// Locks and reads the registry of `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Locked> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| crate::tr!("cannot-create", dir = data_dir.display().to_string()))?;
        let lock_path = data_dir.join("folders.lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| crate::tr!("cannot-open", file = lock_path.display().to_string()))?;
        lock.lock()
            .with_context(|| crate::tr!("cannot-lock", file = lock_path.display().to_string()))?;
        let file = data_dir.join("folders.toml");
        let registry = match std::fs::read_to_string(&file) {
            Ok(text) => toml::from_str(&text)
                .map_err(|error| Error::failed(format!("{}: {error}", file.display())))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Registry::default(),
            Err(error) => {
                return Err(anyhow::Error::from(error)
                    .context(crate::tr!(
                        "cannot-read-file",
                        file = file.display().to_string()
                    ))
                    .into());
            }
        };
        Ok(Locked {
            registry,
            file,
            _lock: lock,
        })
    }

    /// Writes the registry back, atomically.
    pub fn save(&self) -> Result<()> {
        let text = toml::to_string(&self.registry).map_err(anyhow::Error::from)?;
        girofle_base::atomic::write(&self.file, text.as_bytes(), 0o600)?;
        Ok(())
    }

    /// Replaces (or adds) the record of `folder`.
    pub fn put(&mut self, folder: Folder) -> Result<()> {
        self.registry.folders.retain(|f| f.id != folder.id);
        self.registry.folders.push(folder);
        self.save()
    }
}

impl Registry {
    /// The folder bound to project `id`.
    pub fn by_id(&self, id: u64) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id == id)
    }

    /// The folder that is `path` or holds it.
    pub fn containing(&self, path: &Path) -> Option<&Folder> {
        self.folders
            .iter()
            .filter(|f| path.starts_with(&f.dir))
            .max_by_key(|f| f.dir.components().count())
    }

    /// A folder bound here that is inside `path`, or holds it.
    pub fn overlapping(&self, path: &Path) -> Option<&Folder> {
        self.folders
            .iter()
            .find(|f| path.starts_with(&f.dir) || f.dir.starts_with(path))
    }
}

/// Where the history of project `id` is kept.
pub fn history_dir(data_dir: &Path, id: u64) -> PathBuf {
    data_dir.join("histories").join(format!("{id}.git"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: u64, dir: &str) -> Folder {
        Folder {
            id,
            path: format!("alice/f{id}"),
            dir: PathBuf::from(dir),
            written: None,
            since: None,
            aside: None,
            pending: vec![],
        }
    }

    #[test]
    fn finds_the_folder_holding_a_path() {
        let registry = Registry {
            folders: vec![folder(1, "/h/a/Report"), folder(2, "/h/a/Slides")],
        };
        assert_eq!(
            registry
                .containing(Path::new("/h/a/Report/sub/x"))
                .unwrap()
                .id,
            1
        );
        assert!(registry.containing(Path::new("/h/a/Reports")).is_none());
        assert_eq!(registry.overlapping(Path::new("/h/a")).unwrap().id, 1);
        assert!(registry.overlapping(Path::new("/h/b")).is_none());
    }

    #[test]
    fn saved_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut locked = Locked::open(dir.path()).unwrap();
        let mut f = folder(7, "/h/x");
        f.pending = vec!["a b.txt".into()];
        locked.put(f.clone()).unwrap();
        drop(locked);
        let locked = Locked::open(dir.path()).unwrap();
        assert_eq!(locked.registry.by_id(7), Some(&f));
    }
}
