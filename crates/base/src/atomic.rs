//! Files written whole or not at all: a temp file in the same directory,
//! fsync, rename over the target, fsync the directory (as tantivy does);
//! and the sidecar lock files held while a shared file is replaced.

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Opens (creating it, 0600) a sidecar lock file: never truncated, since a
/// holder may have written its name there, and never through a symbolic link
/// planted at its name. It stands here, beside the atomic writes, because
/// every replace of a shared file (the inventory, the metrics) is made
/// while its sidecar is held.
pub fn open_lock_file(path: &Path) -> anyhow::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Replaces `path` with `contents`, atomically and durably, with `mode`.
/// The replacement belongs to the writer (root) and keeps the group of the
/// file it replaces.
pub fn write(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    // lstat: a symbolic link planted at `path` gives nothing, and is replaced.
    let group = fs::symlink_metadata(path)
        .ok()
        .filter(|existing| existing.is_file())
        .map(|existing| {
            use std::os::unix::fs::MetadataExt;
            existing.gid()
        });
    write_with_group(path, contents, mode, group)
}

/// Replaces `path` with `contents`, atomically and durably, with `mode` and
/// (when given) `group`. The temp file is a new file with a random name in
/// the same directory (`O_EXCL`, so nothing planted there is followed), and
/// the rename replaces a symbolic link at `path` rather than following it.
pub fn write_with_group(
    path: &Path,
    contents: &[u8],
    mode: u32,
    group: Option<u32>,
) -> anyhow::Result<()> {
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{}.tmp-", file_name.to_string_lossy()))
        .permissions(fs::Permissions::from_mode(mode))
        .tempfile_in(directory)
        .with_context(|| format!("cannot create a temp file in {}", directory.display()))?;
    let temp_path = temp.path().to_path_buf();
    let file = temp.as_file_mut();
    // The umask may have narrowed the mode given at creation.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", temp_path.display()))?;
    if let Some(group) = group {
        std::os::unix::fs::fchown(&*file, None, Some(group))
            .with_context(|| format!("cannot chgrp {}", temp_path.display()))?;
    }
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", temp_path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot fsync {}", temp_path.display()))?;
    temp.persist(path).map_err(|error| {
        anyhow::Error::new(error.error).context(format!(
            "cannot rename {} over {}",
            temp_path.display(),
            path.display()
        ))
    })?;
    sync_directory(directory)
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
