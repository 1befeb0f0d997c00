//! Files written whole or not at all: a temp file in the same directory,
//! fsync, rename over the target, fsync the directory (as tantivy does).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Replaces `path` with `contents`, atomically and durably, with `mode`.
pub fn write(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let temp_path = directory.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> anyhow::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp_path)
            .with_context(|| format!("cannot create {}", temp_path.display()))?;
        // The umask may have narrowed the mode given at creation.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot chmod {}", temp_path.display()))?;
        // The replacement keeps the owner of what it replaces (install.sh gives
        // the inventory to the `girofle` user; root rewrites it).
        if let Ok(existing) = fs::metadata(path) {
            use std::os::unix::fs::MetadataExt;
            let _ = std::os::unix::fs::fchown(&file, Some(existing.uid()), Some(existing.gid()));
        }
        file.write_all(contents)
            .with_context(|| format!("cannot write {}", temp_path.display()))?;
        file.sync_all()
            .with_context(|| format!("cannot fsync {}", temp_path.display()))?;
        fs::rename(&temp_path, path).with_context(|| {
            format!(
                "cannot rename {} over {}",
                temp_path.display(),
                path.display()
            )
        })?;
        sync_directory(directory)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp_path);
    }
    result
}

/// Makes a rename or a creation in `directory` durable.
pub fn sync_directory(directory: &Path) -> anyhow::Result<()> {
    File::open(directory)
        .and_then(|dir| dir.sync_all())
        .with_context(|| format!("cannot fsync directory {}", directory.display()))
}

/// Creates the directory `path` with `mode` (its parents too, with
/// `parents`); the error names the path, as `fs_err` does for files.
pub fn create_dir(path: &Path, mode: u32, parents: bool) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(parents)
        .mode(mode)
        .create(path)
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("failed to create directory `{}`: {error}", path.display()),
            )
        })
}
