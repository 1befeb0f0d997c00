//! What restic targets parse and refuse: folders as tags, versions, the
//! password file's owner and mode.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};

/// The tags of the snapshots of a folder of the target's layout:
/// `HOST/noeud-gitlab-<N>/bckups` or `HOST/sauvegardes`.
pub(super) fn folder_tags(folder: &str) -> Result<Vec<String>> {
    let parts: Vec<&str> = folder.split('/').collect();
    let plain = |part: &str| !part.is_empty() && !part.contains(',') && part != "." && part != "..";
    match parts.as_slice() {
        [host, dir, "bckups"] if plain(host) && plain(dir) => Ok(vec![
            "girofle".into(),
            format!("host={host}"),
            format!("instance={dir}"),
        ]),
        [host, "sauvegardes"] if plain(host) => Ok(vec![
            "girofle".into(),
            format!("host={host}"),
            "state".into(),
        ]),
        _ => Err(Error::usage(format!(
            "`{folder}` is not a folder of a restic target (HOST/noeud-gitlab-<N>/bckups or HOST/sauvegardes)"
        ))),
    }
}

/// A snapshot ID as restic shows it.
pub(super) fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// `restic 0.14.0 compiled with go1.19.8 on linux/amd64` → `(0, 14, 0)`.
pub(super) fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text.split_whitespace().nth(1)?;
    let mut numbers = word.split('.').map(|n| {
        n.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    });
    Some((
        numbers.next()??,
        numbers.next()??,
        numbers.next().flatten().unwrap_or(0),
    ))
}

/// The password file must be a file of root's that no one else may read or
/// replace; the message names the file, never what it holds.
pub(super) fn check_password_file(name: &str, path: &Path) -> Result<()> {
    // Not followed: a link is something else to trust, refused like a directory.
    let metadata = std::fs::symlink_metadata(path).map_err(|error| {
        Error::usage(format!(
            "target `{name}`: cannot read its password_file {}: {error}",
            path.display()
        ))
    })?;
    if !metadata.is_file() {
        return Err(Error::usage(format!(
            "target `{name}`: its password_file {} is not a plain file (a directory or a symbolic link?)",
            path.display()
        )));
    }
    if metadata.uid() != 0 || metadata.mode() & 0o077 != 0 {
        return Err(Error::usage(format!(
            "target `{name}`: its password_file {} (owner uid {}, mode {:o}) must be root's and \
             readable by no one else: `chown root:root {1}` and `chmod 600 {1}`",
            path.display(),
            metadata.uid(),
            metadata.mode() & 0o7777
        )));
    }
    Ok(())
}
