//! `girofle-backup --verify`: a backup re-read and compared with its MANIFEST.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory;
use crate::snapshot;

/// The result of re-reading a backup.
#[derive(Debug)]
pub struct Verified {
    /// The backup's path (a scratch copy's, gone once verified, for one
    /// fetched from a target).
    pub path: PathBuf,
    /// The backup as messages name it: its path, or its folder and ID on
    /// the target it was fetched from.
    pub what: String,
    /// Entries in its MANIFEST.
    pub entries: usize,
    /// What differs: the first differences, in path order.
    pub problems: Vec<snapshot::Problem>,
    /// How many differences there are in all.
    pub problem_count: usize,
}

/// Re-reads a backup (the newest complete one unless `backup` names one) and
/// compares it with its MANIFEST.
pub fn verify(home: &Home, spec: &str, backup: Option<&str>) -> Result<Verified> {
    let rows = inventory::read(home)?;
    let row = inventory::find(&rows, spec)
        .ok_or_else(|| Error::usage(format!("no instance `{spec}` in the inventory")))?;
    let instance = home.instance_of(row);
    let path = find_backup(&instance, backup)?;
    crate::progress::phase(format!("verifying {}", path.display()));
    let verification = snapshot::verify(&path).map_err(|error| {
        Error::Failed(error.context(format!("{} cannot be verified", path.display())))
    })?;
    Ok(Verified {
        what: path.display().to_string(),
        path,
        entries: verification.entries,
        problems: verification.problems,
        problem_count: verification.problem_count,
    })
}

/// The path of backup `id` of an instance, or of its newest complete backup.
pub fn find_backup(instance: &InstanceDir, id: Option<&str>) -> Result<PathBuf> {
    match id {
        Some(id) => {
            if BackupId::parse(id).is_none() {
                return Err(Error::usage(format!(
                    "`{id}` is not a backup ID (YYYY-MM-DDTHH-MM-SSZ)"
                )));
            }
            let path = instance.backups().join(id);
            if !path.is_dir() {
                return Err(Error::usage(format!(
                    "no complete backup {id} in {}",
                    instance.backups().display()
                )));
            }
            Ok(path)
        }
        None => instance
            .default_backup(&instance.complete_backups())
            .map(|id| instance.backups().join(id.as_str()))
            .ok_or_else(|| {
                Error::usage(format!(
                    "no complete backup in {}",
                    instance.backups().display()
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_is_named_by_its_id_or_is_the_newest() {
        let temp = tempfile::tempdir().unwrap();
        let instance = InstanceDir::new(temp.path().to_path_buf());
        let usage = |result: Result<PathBuf>| match result {
            Err(Error::Usage(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(usage(find_backup(&instance, None)).contains("no complete backup"));
        for id in ["2026-01-01T00-00-00Z", "2026-01-02T00-00-00Z"] {
            fs_err::create_dir_all(instance.backups().join(id)).unwrap();
        }
        assert_eq!(
            find_backup(&instance, None).unwrap(),
            instance.backups().join("2026-01-02T00-00-00Z")
        );
        assert_eq!(
            find_backup(&instance, Some("2026-01-01T00-00-00Z")).unwrap(),
            instance.backups().join("2026-01-01T00-00-00Z")
        );
        assert!(usage(find_backup(&instance, Some("latest"))).contains("not a backup ID"));
        assert!(
            usage(find_backup(&instance, Some("2026-01-03T00-00-00Z")))
                .contains("no complete backup")
        );
    }
}
