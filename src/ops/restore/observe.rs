//! What a restore looks at before it changes anything, turned into plain
//! values for [`super::plan`]: the engine (the container, its mounts, its
//! image), the disk (the instance's backups, the chosen one's MANIFEST
//! header), the inventory (the instance's row), `girofle.conf` (the target).

use fs_err as fs;
use std::path::Path;

use super::plan::{self, Source, Usable, VersionFacts};
use super::{Args, checks, fetch, version};
use crate::docker::{Docker, Status};
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::remote::Remote;
use crate::settings::Settings;
use crate::snapshot::{self, MANIFEST};

/// The restore's arguments, checked against the engine, the disk, the
/// inventory and `girofle.conf`.
pub(super) struct Found {
    pub(super) docker: Docker,
    pub(super) container: String,
    pub(super) instance: InstanceDir,
    pub(super) row: Option<Row>,
    pub(super) remote: Option<Remote>,
}

/// The seed's conditions and the container's mounts (exit 2 naming the
/// first that fails), the owning row, the target.
pub(super) fn check(settings: &Settings, args: &Args) -> Result<Found> {
    let home = settings.home();
    let docker = Docker::new()?;
    docker.server_version()?;
    let (container, dir) = args.target()?;
    let instance = super::check_arguments(&docker, container, dir, args.from.is_none())?;
    checks::check_mounts(&docker, container, &instance)?;
    let row = owning_row(home, &instance, container)?;
    let remote = match &args.from {
        Some(name) => Some(Remote::from_conf(settings.conf()?, name)?),
        None => None,
    };
    Ok(Found {
        docker,
        container: container.to_string(),
        instance,
        row,
        remote,
    })
}

/// The usable backups of the instance, oldest first, each with whether it
/// keeps the data a restore replaced.
pub(super) fn usable(instance: &InstanceDir) -> Vec<Usable> {
    super::usable_backups(instance)
        .iter()
        .map(|id| Usable {
            id: id.to_string(),
            taken_before_restore: instance.taken_before_restore(id),
        })
        .collect()
}

/// The backup to restore (fetched from the target first with `--from`, under
/// the instance lock): the one `--backup` names, or the newest usable one.
pub(super) fn resolve(home: &Home, args: &Args, found: &Found) -> Result<(String, Source)> {
    let instance = &found.instance;
    let (wanted, source) = match &found.remote {
        Some(remote) => {
            let folder = fetch::folder(remote, instance, args.source.as_deref())?;
            let id = fetch::fetch_folder(
                Some(home),
                remote,
                &folder,
                &instance.backups(),
                args.backup.as_deref(),
            )?;
            let source = Source::Fetched {
                target: remote.name.clone(),
                folder,
            };
            (Some(id), source)
        }
        None => (args.backup.clone(), Source::Local),
    };
    let backups = instance.backups().display().to_string();
    let id = plan::choose_local(&usable(instance), wanted.as_deref(), &backups)?;
    Ok((id, source))
}

/// [`resolve`] for a dry run: nothing fetched, the target only listed.
/// Returns whether the backup is here (a backup to fetch is not, unless an
/// earlier fetch brought it).
pub(super) fn resolve_dry(args: &Args, found: &Found) -> Result<(String, Source, bool)> {
    let instance = &found.instance;
    let backups = instance.backups().display().to_string();
    let Some(remote) = &found.remote else {
        let id = plan::choose_local(&usable(instance), args.backup.as_deref(), &backups)?;
        return Ok((id, Source::Local, true));
    };
    let folder = fetch::folder(remote, instance, args.source.as_deref())?;
    let there = fetch::list(remote, &folder)?;
    let id = plan::choose_remote(&there, args.backup.as_deref(), &remote.name, &folder)?;
    let here = instance.backups().join(&id).is_dir();
    if here {
        plan::choose_local(&usable(instance), Some(&id), &backups)?;
    }
    let source = Source::ToFetch {
        target: remote.name.clone(),
        folder,
    };
    Ok((id, source, here))
}

/// The header of the backup's MANIFEST (read and checked whole later, as the
/// staged copy is made). Backups made by the legacy scripts have no
/// MANIFEST: `None`, which is logged when `log` is given.
pub(super) fn manifest_header(
    log: Option<&Home>,
    backup: &Path,
    backup_name: &str,
) -> Result<Option<Vec<(String, String)>>> {
    if !backup.join(MANIFEST).exists() {
        if let Some(home) = log {
            home.log(
                "restore",
                &format!(
                    "{}: legacy backup without MANIFEST, not verified",
                    backup.display()
                ),
            );
        }
        return Ok(None);
    }
    let reader = snapshot::ManifestReader::open(&backup.join(MANIFEST))
        .map_err(|error| Error::usage(format!("backup {backup_name} cannot be read: {error:#}")))?;
    Ok(Some(reader.header().to_vec()))
}

/// What the version rule needs, for a backup whose header is `header`.
pub(super) fn version_facts(
    found: &Found,
    header: Option<Vec<(String, String)>>,
    image: Option<&str>,
) -> Result<VersionFacts> {
    version::observe(
        &found.docker,
        &found.container,
        header,
        image,
        found.row.is_some(),
    )
}

/// The container's run state now.
pub(super) fn status(found: &Found) -> Result<Status> {
    Ok(found
        .docker
        .inspect_state(&found.container)?
        .map(|s| s.status())
        .unwrap_or(Status::Missing))
}

/// The inventory row of the instance in `dir`, if any; it must be the row of `container`.
fn owning_row(home: &Home, instance: &InstanceDir, container: &str) -> Result<Option<Row>> {
    let rows = inventory::read(home)?;
    let same_dir = |row: &Row| {
        let canonical = |p: &Path| fs::canonicalize(p).ok();
        !row.dir.as_os_str().is_empty() && canonical(&row.dir) == canonical(instance.root())
    };
    match rows.iter().rev().find(|row| same_dir(row)) {
        Some(row) if row.container != container => Err(Error::usage(format!(
            "{} belongs to instance {}, whose container is `{}`, not `{container}`",
            instance.root().display(),
            row.number,
            row.container
        ))),
        Some(row) => Ok(Some(row.clone())),
        None => Ok(rows.iter().find(|row| row.container == container).cloned()),
    }
}
