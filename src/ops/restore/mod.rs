//! `girofle-restore CONTAINER DIR`: puts a backup back, never deleting the
//! data it replaces (that becomes a backup of its own), and putting it back
//! if the restored GitLab does not come up healthy.

mod all;
mod checks;
mod fetch;
mod kept;
mod observe;
mod phases;
/// The plan of a restore, made by pure functions.
pub mod plan;
mod version;

pub use kept::{
    SET_ASIDE_PREFIX, TAKEN_BEFORE_RESTORE, complete_set_aside, details_from_journal,
    finish_interrupted,
};

use std::path::{Path, PathBuf};

use crate::conf::Conf;
use crate::container::VOLUMES;
use crate::docker::{DEFAULT_HEALTHY_TIMEOUT, Docker};
use crate::error::{Error, Result};
use crate::home::{BackupId, InstanceDir};
use crate::inventory;
use crate::lock;
use crate::ops::args::{LockArgs, Seconds};
use crate::recovery;
use crate::settings::Settings;
use crate::snapshot;

use phases::Restore;
pub use plan::Plan;

pub use all::{AllOutcome, AllPlan, InstanceResult, Verdict, dry_run_all, run_all};

/// Restore a backup into a GitLab instance. Without arguments, asks for them (on a terminal)
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The container, as `docker ps -a` knows it
    pub container: Option<String>,
    /// The instance's Girofle directory (noeud-gitlab-<N>)
    pub dir: Option<PathBuf>,
    /// The backup to restore [default: the newest complete one]
    #[arg(long, value_name = "ID")]
    pub backup: Option<String>,
    /// Fetch the backup from this target of girofle.conf first
    #[arg(long, value_name = "TARGET")]
    pub from: Option<String>,
    /// With --from: the instance folder on the target, HOST/noeud-gitlab-<N> [default: this host's, DIR's]; with --all, the host: HOST
    #[arg(long, value_name = "HOST/noeud-gitlab-N", requires = "from")]
    pub source: Option<String>,
    /// Recreate the container from this image (needed when the GitLab versions differ); with --all, every instance's
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Act without asking first (on a terminal, restore says what it will
    /// replace with what and asks); with --all --from, also apply the
    /// settings of the fetched girofle.conf that run or send something
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Accepted for old scripts and ignored: the previous data is always kept, as a backup
    #[arg(long, hide = true)]
    pub keep_previous: bool,
    /// How long to wait for the instance lock.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Seconds to wait for the restored instance to be healthy
    #[arg(long, value_name = "SECS", default_value_t = Seconds(DEFAULT_HEALTHY_TIMEOUT))]
    pub wait_timeout: Seconds,
    /// Bring back every instance of a host: Girofle's state, then each instance from its newest backup
    #[arg(long, conflicts_with_all = ["container", "dir", "backup", "keep_previous"])]
    pub all: bool,
    /// With --all: the state backup to put back [default: the newest]
    #[arg(long, value_name = "ID", requires = "all")]
    pub backup_state: Option<String>,
    /// With --all: the state key of the host the state backup comes from, in a file (install.sh printed it there) [default: this home's state.key]
    #[arg(long, value_name = "FILE", requires = "all")]
    pub state_key: Option<PathBuf>,
    /// With --all --from: accept a state backup that carries no MAC (made by a Girofle that did not authenticate them)
    #[arg(long, requires = "all")]
    pub accept_unauthenticated_state: bool,
    /// With --all: publish every instance on this address (when the recorded one does not exist here)
    #[arg(long, value_name = "ADDR", requires = "all")]
    pub ip: Option<String>,
    /// Check and plan: print the plan, change nothing (no lock, fetch, copy, container or row)
    #[arg(long)]
    pub dry_run: bool,
    /// Leave the container running after the restore, whatever its state before
    /// (--all: a container created for the restore was never started).
    #[arg(skip)]
    pub leave_running: bool,
    /// How the result is printed.
    #[command(flatten)]
    pub output: crate::ops::args::FormatArgs,
}

impl Args {
    /// The container and the instance directory, which must both be given.
    pub fn target(&self) -> Result<(&str, &Path)> {
        match (&self.container, &self.dir) {
            (Some(container), Some(dir)) => Ok((container, dir)),
            _ => Err(Error::usage(
                "give both the container and the instance directory",
            )),
        }
    }
}

/// The restore done.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The backup restored.
    pub backup: String,
    /// Where the data it replaced is kept.
    pub previous: Previous,
    /// Notifications that could not be sent (never fatal).
    pub warnings: Vec<String>,
}

/// Where the data a restore replaced is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Previous {
    /// As a backup of its own in `bckups/`, with this ID.
    Backup(String),
    /// Beside the volumes, under this name (`bckups/` is on another file
    /// system, which a rename cannot reach).
    Beside(PathBuf),
}

impl std::fmt::Display for Previous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Previous::Backup(id) => write!(f, "kept as backup {id}"),
            Previous::Beside(path) => write!(f, "kept in {}", path.display()),
        }
    }
}

/// Asked before anything is changed, with what the restore will do: go on?
pub type Confirm = dyn FnMut(&Plan) -> Result<bool>;

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
    check_directory(dir, need_backup)
}

/// The conditions on the instance's directory, which need no engine: it
/// holds `mapping-volumes/` with the three volumes, and `bckups/` with a
/// complete backup (when `need_backup`).
pub fn check_directory(dir: &Path, need_backup: bool) -> Result<InstanceDir> {
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

/// Restores a backup into an instance: resolve, verify, check the space,
/// ask (when `confirm` is given: it gets the plan and says whether to go
/// on), stage, swap, start and wait, then finish or roll back. `[notify]`
/// hears how it ended (bad arguments aside: nothing was attempted).
pub fn run(
    settings: &Settings,
    args: &Args,
    progress: &mut dyn FnMut(&str),
    confirm: Option<&mut Confirm>,
) -> Result<Outcome> {
    let home = settings.home();
    let started = std::time::Instant::now();
    let mut result = restore_into(settings, args, progress, confirm);
    let usage = matches!(&result, Err(Error::Usage(_)));
    if let (false, Ok((container, _))) = (usage, args.target()) {
        let rows = inventory::read(home).unwrap_or_default();
        let row = rows.iter().find(|row| row.container == container);
        let default = Conf::default();
        let (conf, mut warnings) = match settings.conf_for_news() {
            Ok(conf) => (conf, Vec::new()),
            Err(warning) => (&default, vec![warning]),
        };
        warnings.extend(crate::events::restore(
            home,
            conf,
            row,
            container,
            match &result {
                Ok(outcome) => Ok(outcome.backup.as_str()),
                Err(error) => Err(error as &dyn std::fmt::Display),
            },
            args.from.as_deref(),
            started.elapsed(),
        ));
        if let Ok(outcome) = &mut result {
            outcome.warnings = warnings;
        }
    }
    result
}

/// [`run`] without telling `[notify]` (`--all` tells it per instance).
pub(crate) fn restore_into(
    settings: &Settings,
    args: &Args,
    progress: &mut dyn FnMut(&str),
    confirm: Option<&mut Confirm>,
) -> Result<Outcome> {
    let home = settings.home();
    let found = observe::check(settings, args)?;
    let (docker, container, instance) = (&found.docker, found.container.as_str(), &found.instance);
    let _lock = lock::lock_instance(instance, "girofle-restore", args.lock.timeout())?;
    let _watch = crate::guardian::watch(home, instance, "girofle-restore");
    recovery::recover(home, docker, instance)?;
    let (backup_name, source) = observe::resolve(home, args, &found)?;
    let backup = instance.backups().join(&backup_name);
    // Only the MANIFEST's header now: its entries are checked as the staged
    // copy is made, so that the backup is read once.
    let header = observe::manifest_header(Some(home), &backup, &backup_name)?;
    let checked = header.is_some();
    let observed = plan::Observed {
        container: container.to_string(),
        instance: instance.root().to_path_buf(),
        status: observe::status(&found)?,
        row: found.row.clone(),
        backup: backup_name.clone(),
        source,
        version: Some(observe::version_facts(
            &found,
            header,
            args.image.as_deref(),
        )?),
        // A walk of the volumes: only for the operator's eyes.
        last_change: confirm.as_ref().and_then(|_| checks::last_change(instance)),
        now: time::OffsetDateTime::now_utc(),
    };
    let plan = plan::plan(&observed, &request(args))?;
    checks::check_space(instance, checks::needed_for(&backup)?)?;
    let (original_image, original_id) = docker.container_image(container)?;
    // The reference, if it still names the image the container runs; else that image's ID.
    let original_image = match docker.image_id(&original_image) {
        Ok(id) if id == original_id => original_image,
        _ => original_id.clone(),
    };
    if let Some(confirm) = confirm
        && !confirm(&plan)?
    {
        return Err(Error::failed("restore cancelled: nothing was changed"));
    }
    let restore = Restore {
        home,
        docker,
        args,
        container,
        instance,
        row: found.row.as_ref(),
        recreate_with: plan.recreate_with.clone(),
        original_image,
        original_image_id: original_id,
        backup_name,
    };
    home.log(
        "restore",
        &format!(
            "restoring {} into {} from {}",
            restore.backup_name,
            container,
            instance.root().display()
        ),
    );
    restore.stage(&backup, checked)?;
    // A signal acts before or after these steps, never in the middle.
    let prior = {
        let _held = crate::lock::transition();
        restore.swap()?
    };
    if let Err(not_healthy) = restore.start_and_wait(progress)? {
        let _held = crate::lock::transition();
        return Err(restore.roll_back(prior, not_healthy)?);
    }
    let _held = crate::lock::transition();
    restore.finish(prior)
}

/// What the arguments ask of the plan, beyond the container and directory.
fn request(args: &Args) -> plan::Request {
    plan::Request {
        image: args.image.clone(),
        leave_running: args.leave_running,
    }
}

/// `--dry-run`: the restore's checks and its plan, with nothing changed: no
/// lock, no recovery, no fetch (the target is only listed), no staging, no
/// log line. Refuses what a restore refuses, with the same exit.
pub fn dry_run(settings: &Settings, args: &Args) -> Result<Plan> {
    let found = observe::check(settings, args)?;
    let instance = &found.instance;
    let (backup_name, source, here) = observe::resolve_dry(args, &found)?;
    let backup = instance.backups().join(&backup_name);
    let version = match here {
        true => {
            let header = observe::manifest_header(None, &backup, &backup_name)?;
            Some(observe::version_facts(
                &found,
                header,
                args.image.as_deref(),
            )?)
        }
        false => None,
    };
    let observed = plan::Observed {
        container: found.container.clone(),
        instance: instance.root().to_path_buf(),
        status: observe::status(&found)?,
        row: found.row.clone(),
        backup: backup_name,
        source,
        version,
        last_change: checks::last_change(instance),
        now: time::OffsetDateTime::now_utc(),
    };
    let plan = plan::plan(&observed, &request(args))?;
    if here {
        checks::check_space(instance, checks::needed_for(&backup)?)?;
    }
    Ok(plan)
}

/// The refusal of a backup that does not match its MANIFEST.
pub(super) fn mismatch(backup_name: &str, verification: &snapshot::Verification) -> Error {
    let shown: Vec<String> = (verification.problems.iter().take(10))
        .map(ToString::to_string)
        .collect();
    Error::usage(format!(
        "backup {backup_name} does not match its MANIFEST ({} problem(s): {}); nothing was changed",
        verification.problem_count,
        shown.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs_err as fs;

    fn args(words: &[&str]) -> std::result::Result<Args, clap::Error> {
        crate::ops::args::parse("girofle-restore", words)
    }

    #[test]
    fn the_container_and_the_directory_go_together() {
        let both = args(&["girofle-gitlab-1", "/girofle/noeud-gitlab-1"]).unwrap();
        let (container, dir) = both.target().unwrap();
        assert_eq!(container, "girofle-gitlab-1");
        assert_eq!(dir, Path::new("/girofle/noeud-gitlab-1"));
        let one = args(&["girofle-gitlab-1"]).unwrap();
        assert!(matches!(one.target(), Err(Error::Usage(_))));
        assert!(args(&["a", "b", "c"]).is_err());
        assert!(
            args(&["a", "b", "--source", "host/noeud-gitlab-1"]).is_err(),
            "--source needs --from"
        );
        let defaults = args(&["a", "b"]).unwrap();
        assert_eq!(defaults.lock.timeout(), crate::lock::DEFAULT_LOCK_TIMEOUT);
        assert_eq!(
            defaults.wait_timeout.0,
            crate::docker::DEFAULT_HEALTHY_TIMEOUT
        );
    }

    fn instance_tree(root: &Path, volumes: &[&str], backups: &[(&str, &[&str])]) {
        for volume in volumes {
            fs::create_dir_all(root.join("mapping-volumes").join(volume)).unwrap();
        }
        fs::create_dir_all(root.join("bckups")).unwrap();
        for (id, held) in backups {
            for volume in *held {
                fs::create_dir_all(root.join("bckups").join(id).join(volume)).unwrap();
            }
        }
    }

    fn refused(dir: &Path, need_backup: bool) -> String {
        match check_directory(dir, need_backup) {
            Err(Error::Usage(message)) => message,
            other => panic!("{}: not a usage error: {other:?}", dir.display()),
        }
    }

    #[test]
    fn the_directory_is_checked_as_the_seed_did() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("noeud-gitlab-1");
        assert!(refused(&root, true).contains("does not exist"));
        fs::create_dir(&root).unwrap();
        assert!(refused(&root, true).contains("has no mapping-volumes/"));
        instance_tree(&root, &["config", "data"], &[]);
        assert!(refused(&root, true).contains("has no mapping-volumes/log"));
        instance_tree(
            &root,
            &["log"],
            &[("2026-01-01T00-00-00Z", &["config", "data"])],
        );
        assert!(refused(&root, true).contains("holds no complete backup"));
        assert!(
            check_directory(&root, false).is_ok(),
            "with --from a backup comes later"
        );
        instance_tree(
            &root,
            &[],
            &[("2026-01-02T00-00-00Z", &["config", "data", "log"])],
        );
        let instance = check_directory(&root, true).unwrap();
        let usable: Vec<String> = usable_backups(&instance)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(usable, ["2026-01-02T00-00-00Z"]);
    }
}
