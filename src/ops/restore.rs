//! `girofle-restore CONTAINER DIR`: puts a backup back, never deleting the
//! current data before the new copy is in place, and putting it back if the
//! restored GitLab does not come up healthy.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::conf::Conf;
use crate::docker::{Docker, Status};
use crate::error::{Error, Result};
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::ops::backup::{DEFAULT_STOP_TIMEOUT, VOLUMES};
use crate::recovery::{self, RESTORED_MARK};
use crate::remote::Remote;
use crate::snapshot::{self, MANIFEST, Manifest};
use crate::{lock, timefmt};

/// Where the omnibus image keeps the version it runs.
pub const IMAGE_VERSION_FILE: &str = "/opt/gitlab/embedded/service/gitlab-rails/VERSION";

/// What to restore, and where.
#[derive(Debug, Clone)]
pub struct Args {
    /// The container, as `docker ps -a` knows it.
    pub container: String,
    /// The instance's Girofle directory.
    pub dir: PathBuf,
    /// The backup; the newest complete one by default.
    pub backup: Option<String>,
    /// Fetch the backup from this target of `girofle.conf` first.
    pub from: Option<String>,
    /// With `from`: `HOST/noeud-gitlab-<N>` on the target [default: this host, DIR's name].
    pub source: Option<String>,
    /// Recreate the container from this image (when versions differ).
    pub image: Option<String>,
    /// Keep the previous volumes as `mapping-volumes.previous-<time>`.
    pub keep_previous: bool,
    /// How long to wait for the instance lock.
    pub lock_timeout: Duration,
    /// How long to wait for the restored instance to be healthy.
    pub wait_timeout: Duration,
}

/// The restore done.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The backup restored.
    pub backup: String,
    /// Where the previous volumes were kept, with `--keep-previous`.
    pub previous: Option<PathBuf>,
}

/// The complete backups of an instance directory, oldest first, that hold
/// the three volumes.
pub fn usable_backups(instance: &InstanceDir) -> Vec<BackupId> {
    instance
        .complete_backups()
        .into_iter()
        .filter(|id| {
            let path = instance.backups().join(id.as_str());
            VOLUMES.iter().all(|volume| path.join(volume).is_dir())
        })
        .collect()
}

/// Checks the seed's conditions, each with exit 2 naming the first that
/// fails: the container is known, the directory holds `mapping-volumes/`
/// with the three volumes, and `bckups/` holds a complete backup.
pub fn check_arguments(
    docker: &Docker,
    container: &str,
    dir: &Path,
    need_backup: bool,
) -> Result<InstanceDir> {
    if container.is_empty() {
        return Err(Error::usage("the container name is empty"));
    }
    if docker.inspect_state(container)?.is_none() {
        return Err(Error::usage(format!(
            "container `{container}` is unknown to `docker ps -a`"
        )));
    }
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "directory {} does not exist",
            dir.display()
        )));
    }
    let instance = InstanceDir::new(std::path::absolute(dir)?);
    if !instance.volumes().is_dir() {
        return Err(Error::usage(format!(
            "{} has no mapping-volumes/",
            dir.display()
        )));
    }
    for volume in VOLUMES {
        if !instance.volumes().join(volume).is_dir() {
            return Err(Error::usage(format!(
                "{} has no mapping-volumes/{volume}",
                dir.display()
            )));
        }
    }
    if !instance.backups().is_dir() {
        return Err(Error::usage(format!("{} has no bckups/", dir.display())));
    }
    if need_backup && usable_backups(&instance).is_empty() {
        return Err(Error::usage(format!(
            "{} holds no complete backup (one with data, config and log)",
            instance.backups().display()
        )));
    }
    Ok(instance)
}

/// Restores a backup into an instance.
pub fn run(home: &Home, args: &Args, progress: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let docker = Docker::new()?;
    docker.server_version()?;
    let instance = check_arguments(&docker, &args.container, &args.dir, args.from.is_none())?;
    let row = owning_row(home, &instance, &args.container)?;
    let remote = match &args.from {
        Some(name) => Some(Remote::from_conf(&Conf::load(home)?, name)?),
        None => None,
    };
    let _lock = lock::lock_instance(&instance, "girofle-restore", args.lock_timeout)?;
    recovery::recover(home, &docker, &instance)?;
    let backup_id = match &remote {
        Some(remote) => Some(fetch(
            home,
            remote,
            &instance,
            args.source.as_deref(),
            args.backup.as_deref(),
        )?),
        None => args.backup.clone(),
    };
    if usable_backups(&instance).is_empty() {
        return Err(Error::usage(format!(
            "{} holds no complete backup (one with data, config and log)",
            instance.backups().display()
        )));
    }
    let backup = match &backup_id {
        Some(id) => {
            let path = instance.backups().join(id);
            if BackupId::parse(id).is_none()
                || !usable_backups(&instance).iter().any(|b| b.as_str() == id)
            {
                return Err(Error::usage(format!(
                    "no complete backup `{id}` in {}",
                    instance.backups().display()
                )));
            }
            path
        }
        None => instance.backups().join(
            usable_backups(&instance)
                .pop()
                .expect("checked above")
                .as_str(),
        ),
    };
    let backup_name = backup
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();

    // The backup must be what its MANIFEST says, before anything is touched.
    let manifest = if backup.join(MANIFEST).exists() {
        let snapshot::Verification {
            manifest, problems, ..
        } = snapshot::verify(&backup).map_err(|error| {
            Error::usage(format!("backup {backup_name} cannot be read: {error:#}"))
        })?;
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().take(10).map(ToString::to_string).collect();
            return Err(Error::usage(format!(
                "backup {backup_name} does not match its MANIFEST ({} problem(s): {}); nothing was changed",
                problems.len(),
                shown.join("; ")
            )));
        }
        Some(manifest)
    } else {
        // Backups made by the legacy scripts have no MANIFEST.
        home.log(
            "restore",
            &format!(
                "{}: legacy backup without MANIFEST, not verified",
                backup.display()
            ),
        );
        None
    };
    let recreate_with = check_version(
        &docker,
        &args.container,
        manifest.as_ref(),
        args.image.as_deref(),
        row.as_ref(),
    )?;

    home.log(
        "restore",
        &format!(
            "restoring {} into {} from {}",
            backup_name,
            args.container,
            instance.root().display()
        ),
    );

    // 1. The copy, beside the live volumes; nothing live is touched yet.
    recovery::write_journal(&instance, &args.container)?;
    let staging = recovery::staging_path(&instance);
    let copied = (|| -> anyhow::Result<()> {
        if staging.exists() {
            fs::remove_dir_all(&staging)?;
        }
        fs::create_dir(&staging)?;
        for volume in VOLUMES {
            snapshot::sync_tree(&backup.join(volume), &staging.join(volume), None)?;
        }
        let metadata = fs::metadata(instance.volumes())?;
        std::fs::set_permissions(&staging, metadata.permissions())?;
        fs::write(staging.join(RESTORED_MARK), format!("{backup_name}\n"))?;
        let staging_dir = fs::File::open(&staging)?;
        nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&staging_dir))?;
        Ok(())
    })();
    if let Err(error) = copied {
        let _ = fs::remove_dir_all(&staging);
        let _ = recovery::clear_journal(&instance);
        return Err(Error::Failed(error.context(
            "cannot copy the backup beside the volumes; nothing live was changed",
        )));
    }

    // 2. The swap, with the container stopped.
    let prior = docker
        .inspect_state(&args.container)?
        .map(|s| s.status())
        .unwrap_or(Status::Missing);
    let prior_word = match prior {
        Status::Running | Status::Restarting | Status::Paused => "running",
        _ => "stopped",
    };
    lock::write_record(&instance, "girofle-restore", &args.container, prior_word)?;
    if prior == Status::Paused {
        docker.unpause(&args.container)?;
    }
    if prior_word == "running" {
        docker.stop(&args.container, DEFAULT_STOP_TIMEOUT)?;
    }
    recovery::exchange_volumes(&instance)?;

    // 3. GitLab on the restored data, from the right image.
    let started = match (&recreate_with, &row) {
        (Some(image), Some(row)) => recreate(home, &docker, row, image, &instance),
        _ => docker.start(&args.container).map_err(Error::from),
    };
    let verdict = match started {
        Ok(()) => docker.wait_healthy(&args.container, args.wait_timeout, progress)?,
        Err(error) => Err(crate::docker::NotHealthy {
            seen: format!("not started: {error}"),
            waited: Duration::ZERO,
            last_output: String::new(),
            logs: docker.logs_tail(&args.container, 20),
        }),
    };
    if let Err(not_healthy) = verdict {
        // Put the previous volumes (and image) back, and the container as it was.
        if let (Some(_), Some(row)) = (&recreate_with, &row) {
            let _ = recreate(home, &docker, row, &row.image, &instance);
            let _ = docker.stop(&args.container, DEFAULT_STOP_TIMEOUT);
        } else {
            let _ = docker.stop(&args.container, DEFAULT_STOP_TIMEOUT);
        }
        recovery::exchange_volumes(&instance)?;
        fs::remove_dir_all(&staging)?;
        recovery::clear_journal(&instance)?;
        if prior_word == "running" {
            docker.start(&args.container)?;
        }
        lock::clear_record(&instance)?;
        home.log(
            "restore",
            &format!(
                "{backup_name} into {}: not healthy, previous volumes put back",
                args.container
            ),
        );
        return Err(Error::failed(format!(
            "the restored instance did not become healthy within {}s ({}); last health check: {}\n\
             Last lines of docker logs:\n{}\n\
             The previous volumes were put back and {} is {} again.",
            not_healthy.waited.as_secs(),
            not_healthy.seen,
            not_healthy.last_output,
            not_healthy.logs,
            args.container,
            prior_word
        )));
    }

    // 4. Only now does the previous data go (or stay aside with --keep-previous).
    let previous = if args.keep_previous {
        let kept = instance.root().join(format!(
            "mapping-volumes.previous-{}",
            timefmt::now_rfc3339().replace(':', "-")
        ));
        fs::rename(&staging, &kept)?;
        Some(kept)
    } else {
        let removing = recovery::removing_path(&instance);
        fs::rename(&staging, &removing)?;
        remove_in_background(&removing);
        None
    };
    fs::remove_file(instance.volumes().join(RESTORED_MARK))?;
    recovery::clear_journal(&instance)?;
    if prior_word == "stopped" {
        docker.stop(&args.container, DEFAULT_STOP_TIMEOUT)?;
    }
    lock::clear_record(&instance)?;
    if let (Some(image), Some(row)) = (&recreate_with, &row) {
        let mut locked = inventory::lock(home)?;
        if let Some(stored) = locked.row_mut(row.number) {
            stored.image = image.clone();
        }
        locked.commit()?;
    }
    home.log(
        "restore",
        &format!(
            "{backup_name} restored into {} ({})",
            args.container,
            instance.root().display()
        ),
    );
    Ok(Outcome {
        backup: backup_name,
        previous,
    })
}

/// Deletes the previous volumes after the restore has answered: out of the
/// way under a name of their own, they cost GitLab's users nothing, and
/// deleting a large tree of small files takes seconds. If the deletion is
/// cut short, the next run on the instance finishes it.
fn remove_in_background(tree: &Path) {
    use std::os::unix::process::CommandExt;
    let spawned = std::process::Command::new("rm")
        .arg("-rf")
        .arg("--")
        .arg(tree)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group: a Ctrl-C meant for the caller does not cut it short.
        .process_group(0)
        .spawn();
    if spawned.is_err() {
        let _ = fs::remove_dir_all(tree);
    }
}

/// Fetches a backup from a target into `bckups/` (under the instance lock):
/// into `.partial-<ID>`, checked against its MANIFEST, then renamed. A copy
/// that does not match is removed and refused.
fn fetch(
    home: &Home,
    remote: &Remote,
    instance: &InstanceDir,
    source: Option<&str>,
    id: Option<&str>,
) -> Result<String> {
    let folder = match source {
        Some(source) => {
            let valid = source.split('/').count() == 2
                && source
                    .split('/')
                    .all(|part| !part.is_empty() && part != "." && part != "..");
            if !valid {
                return Err(Error::usage(format!(
                    "--source `{source}` is not HOST/noeud-gitlab-<N>"
                )));
            }
            format!("{source}/bckups")
        }
        None => format!(
            "{}/{}/bckups",
            remote.host,
            crate::ops::backup::dir_name(instance)
        ),
    };
    let there = remote.list(&folder)?;
    let id = match id {
        Some(id) => {
            if !there.iter().any(|b| b.as_str() == id) {
                return Err(Error::usage(format!(
                    "target `{}` has no complete backup `{id}` in {folder}",
                    remote.name
                )));
            }
            id.to_string()
        }
        None => there.last().map(ToString::to_string).ok_or_else(|| {
            Error::usage(format!(
                "target `{}` has no complete backup in {folder}",
                remote.name
            ))
        })?,
    };
    let destination = instance.backups().join(&id);
    if destination.is_dir() {
        return Ok(id);
    }
    fs::DirBuilder::new()
        .recursive(true)
        .create(instance.backups())?;
    let partial = instance
        .backups()
        .join(format!("{}{id}", crate::recovery::PARTIAL_PREFIX));
    let link_dest = instance
        .latest_backup()
        .map(|b| instance.backups().join(b.as_str()));
    let fetched = remote
        .fetch(&folder, &id, &partial, link_dest.as_deref())
        .and_then(|()| {
            let problems = snapshot::verify(&partial)?.problems;
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
    crate::atomic::sync_directory(&instance.backups())?;
    home.log(
        "restore",
        &format!("fetched {folder}/{id} from target `{}`", remote.name),
    );
    Ok(id)
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

/// GitLab's rule: a backup goes back into the same GitLab version. Returns
/// the image to recreate the container with, when `--image` is needed and given.
fn check_version(
    docker: &Docker,
    container: &str,
    manifest: Option<&Manifest>,
    image: Option<&str>,
    row: Option<&Row>,
) -> Result<Option<String>> {
    let Some(manifest) = manifest else {
        return Ok(image.map(str::to_string));
    };
    let wanted = manifest.get("gitlab_version").unwrap_or("unknown");
    if let Some(image) = image {
        if row.is_none() {
            return Err(Error::usage(format!(
                "--image needs the instance's inventory row to recreate `{container}`"
            )));
        }
        let offered = image_version(docker, image)?;
        if offered != wanted {
            return Err(Error::usage(format!(
                "--image {image} runs GitLab {offered}, the backup was made with GitLab {wanted}"
            )));
        }
        return Ok(Some(image.to_string()));
    }
    let (_, running_id) = docker.container_image(container)?;
    if manifest.get("image_id") == Some(running_id.as_str()) {
        return Ok(None);
    }
    let running = docker
        .read_file(container, IMAGE_VERSION_FILE)
        .map(|v| String::from_utf8_lossy(&v).trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    if running == wanted && wanted != "unknown" {
        return Ok(None);
    }
    Err(Error::usage(format!(
        "the backup was made with GitLab {wanted} (image {}), `{container}` runs GitLab {running}; \
         restore with --image REF naming a GitLab {wanted} image to recreate the container with",
        manifest.get("image").unwrap_or("unknown")
    )))
}

/// The GitLab version an image runs, read from a container created (never started) from it.
fn image_version(docker: &Docker, image: &str) -> Result<String> {
    if !docker.image_present(image)? {
        return Err(Error::usage(format!(
            "image `{image}` is not present locally"
        )));
    }
    let name = format!("girofle-version-probe-{}", std::process::id());
    docker.create(&name, image)?;
    let version = docker.read_file(&name, IMAGE_VERSION_FILE);
    let _ = docker.remove(&name);
    Ok(
        String::from_utf8_lossy(&version.context("cannot read the image's GitLab version")?)
            .trim()
            .to_string(),
    )
}

/// Replaces the container by one from `image`, with the row's settings.
fn recreate(
    home: &Home,
    docker: &Docker,
    row: &Row,
    image: &str,
    instance: &InstanceDir,
) -> Result<()> {
    docker.remove(&row.container)?;
    let mut row = row.clone();
    row.image = image.to_string();
    let spec = crate::ops::commission::run_spec(home, &row, instance);
    docker.run(&spec)?;
    Ok(())
}
