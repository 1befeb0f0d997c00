//! `--from`: a backup fetched from a target, checked, then made visible.

use fs_err as fs;
use std::path::Path;

use super::plan::choose_remote;
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::remote::Remote;
use crate::snapshot;

/// The folder on the target that holds the backups of `instance`: this
/// host's own, or the one `--source HOST/noeud-gitlab-<N>` names.
pub(super) fn folder(
    remote: &Remote,
    instance: &InstanceDir,
    source: Option<&str>,
) -> Result<String> {
    match source {
        Some(source) => source_folder(source),
        None => Ok(remote.instance_backups(&remote.host, &instance.dir_name())),
    }
}

/// The IDs of the complete backups in a target's `folder`, oldest first.
pub(super) fn list(remote: &Remote, folder: &str) -> Result<Vec<String>> {
    Ok(remote
        .list(folder)?
        .iter()
        .map(ToString::to_string)
        .collect())
}

/// Fetches backup `id` (the newest without one) of `folder` on a target into
/// the local directory `local` (an instance's `bckups/`, or `sauvegardes/`):
/// into `.partial-<ID>`, checked against its MANIFEST, then renamed. A copy
/// that does not match is removed and refused. Returns the ID. The fetch is
/// logged in `log`'s girofle.log (a dry run's, into a temporary directory, is not).
pub(super) fn fetch_folder(
    log: Option<&Home>,
    remote: &Remote,
    folder: &str,
    local: &Path,
    id: Option<&str>,
) -> Result<String> {
    let there = list(remote, folder)?;
    let id = choose_remote(&there, id, &remote.name, folder)?;
    let destination = local.join(&id);
    if destination.is_dir() {
        return Ok(id);
    }
    fs::create_dir_all(local)?;
    let partial = local.join(format!("{}{id}", crate::home::PARTIAL_PREFIX));
    let link_dest = crate::home::backup_ids_in(local)
        .pop()
        .map(|b| local.join(b.as_str()));
    let fetched = remote
        .fetch(folder, &id, &partial, link_dest.as_deref())
        .and_then(|()| {
            let problems = beyond_mac(snapshot::verify(&partial)?.problems);
            if problems.is_empty() {
                return Ok(());
            }
            let shown: Vec<String> = problems.iter().take(10).map(ToString::to_string).collect();
            Err(Error::usage(format!(
                "the copy of {id} fetched from target `{}` does not match its MANIFEST ({}); \
                 it was refused and removed, nothing was changed",
                remote.name,
                shown.join("; ")
            )))
        });
    if let Err(error) = fetched {
        let _ = fs::remove_dir_all(&partial);
        return Err(error);
    }
    fs::rename(&partial, &destination)?;
    crate::atomic::sync_directory(local)?;
    if let Some(home) = log {
        home.log(
            "restore",
            &format!("fetched {folder}/{id} from target `{}`", remote.name),
        );
    }
    Ok(id)
}

/// The differences with a MANIFEST, but for the state backup's
/// `MANIFEST.mac`, written after the MANIFEST since it authenticates it.
pub(super) fn beyond_mac(problems: Vec<snapshot::Problem>) -> Vec<snapshot::Problem> {
    problems
        .into_iter()
        .filter(|problem| {
            !matches!(problem, snapshot::Problem::Extra(path)
                if path.as_os_str() == crate::home::STATE_MAC_FILE)
        })
        .collect()
}

/// The backups folder on a target that `--source HOST/noeud-gitlab-<N>`
/// names: two plain path components, never `.` or `..`.
pub(super) fn source_folder(source: &str) -> Result<String> {
    let valid = source.split('/').count() == 2
        && source
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    if !valid {
        return Err(Error::usage(format!(
            "--source `{source}` is not HOST/noeud-gitlab-<N>"
        )));
    }
    Ok(format!("{source}/bckups"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_a_host_and_an_instance_folder() {
        assert_eq!(
            source_folder("host-2/noeud-gitlab-3").unwrap(),
            "host-2/noeud-gitlab-3/bckups"
        );
        for bad in [
            "host-2",
            "host-2/",
            "/noeud-gitlab-3",
            "a/b/c",
            "../x",
            "host/..",
            "./x",
        ] {
            let error = source_folder(bad).unwrap_err();
            assert!(matches!(error, Error::Usage(_)), "{bad}: {error}");
        }
    }
}
