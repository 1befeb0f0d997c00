//! The plan of one restore, as a value: which backup goes back, whether its
//! GitLab version fits, where it is staged, what is stopped and swapped,
//! where the replaced data is kept, what the inventory row becomes. Made by
//! pure functions from what was observed (engine, disk, inventory, the
//! backup's MANIFEST header), so that the question asked on a terminal, the
//! `--dry-run` and the restore itself all follow the one plan, and the rules
//! are tested without an engine.

use serde::Serialize;
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::docker::Status;
use crate::error::{Error, Result};
use crate::home::BackupId;
use crate::inventory::Row;
use crate::lock::PriorState;

/// A complete backup of the instance that holds the three volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usable {
    /// Its ID.
    pub id: String,
    /// Whether it keeps the data a restore replaced: never the default,
    /// since restoring it would undo that restore.
    pub taken_before_restore: bool,
}

/// Where the backup restored comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// The instance's own `bckups/`.
    Local,
    /// Fetched from a target of `girofle.conf` into `bckups/` (done).
    Fetched {
        /// The target's name.
        target: String,
        /// Its folder on the target.
        folder: String,
    },
    /// To be fetched from a target first (a dry run fetches nothing).
    ToFetch {
        /// The target's name.
        target: String,
        /// Its folder on the target.
        folder: String,
    },
}

/// The newest usable backup, or the one `wanted` names, which must be
/// usable: the seed's rule. Backups kept from before a restore are passed
/// over by default (restoring one undoes that restore), unless they are all
/// there is.
pub fn choose_local(usable: &[Usable], wanted: Option<&str>, backups: &str) -> Result<String> {
    let newest = usable
        .iter()
        .rev()
        .find(|backup| !backup.taken_before_restore)
        .or_else(|| usable.last());
    let Some(newest) = newest else {
        return Err(Error::usage(format!(
            "{backups} holds no complete backup (one with data, config and log)"
        )));
    };
    match wanted {
        Some(id) => {
            if BackupId::parse(id).is_none() || !usable.iter().any(|b| b.id == id) {
                return Err(Error::usage(format!(
                    "no complete backup `{id}` in {backups}"
                )));
            }
            Ok(id.to_string())
        }
        None => Ok(newest.id.clone()),
    }
}

/// The backup of a target's `folder` to fetch: the one `wanted` names, which
/// the target must hold, or its newest (`there` is sorted oldest first).
pub fn choose_remote(
    there: &[String],
    wanted: Option<&str>,
    target: &str,
    folder: &str,
) -> Result<String> {
    match wanted {
        Some(id) => {
            if !there.iter().any(|b| b == id) {
                return Err(Error::usage(format!(
                    "target `{target}` has no complete backup `{id}` in {folder}"
                )));
            }
            Ok(id.to_string())
        }
        None => there.last().cloned().ok_or_else(|| {
            Error::usage(format!(
                "target `{target}` has no complete backup in {folder}"
            ))
        }),
    }
}

/// What the version check needs to know, observed from the backup's
/// MANIFEST header and the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFacts {
    /// The header's fields; `None` for a legacy backup without MANIFEST.
    pub header: Option<Vec<(String, String)>>,
    /// The ID of the image the container runs.
    pub running_image_id: String,
    /// The GitLab version in the container, read only when the image IDs
    /// differ (`None` otherwise, or when it could not be read).
    pub running_version: Option<String>,
    /// The GitLab version of the `--image` offered, read from a probe
    /// container (only with `--image`, a MANIFEST and an inventory row).
    pub offered_version: Option<String>,
}

impl VersionFacts {
    fn get(&self, key: &str) -> Option<&str> {
        self.header
            .as_ref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The verdict of GitLab's rule: a backup goes back into the same version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Version {
    /// A legacy backup without MANIFEST: its version is not known.
    NotRecorded,
    /// The container runs the very image the backup was made with.
    SameImage,
    /// The container runs the GitLab version the backup was made with.
    SameVersion {
        /// That version.
        version: String,
    },
    /// The container is recreated from `--image`, which runs that version.
    NewImage {
        /// The image.
        image: String,
        /// Its GitLab version, the backup's.
        version: String,
    },
    /// Checked once the backup is fetched (a dry run fetches nothing).
    AfterFetch,
}

/// GitLab's rule: a backup goes back into the same GitLab version. Returns
/// the verdict and the image to recreate the container with, when it changes.
pub fn check_version(
    facts: &VersionFacts,
    container: &str,
    image: Option<&str>,
    has_row: bool,
) -> Result<(Version, Option<String>)> {
    if facts.header.is_none() {
        return Ok((Version::NotRecorded, image.map(str::to_string)));
    }
    let wanted = facts.get("gitlab_version").unwrap_or("unknown");
    if let Some(image) = image {
        if !has_row {
            return Err(Error::usage(format!(
                "--image needs the instance's inventory row to recreate `{container}`"
            )));
        }
        let offered = facts.offered_version.as_deref().unwrap_or("unknown");
        if offered != wanted {
            return Err(Error::usage(format!(
                "--image {image} runs GitLab {offered}, the backup was made with GitLab {wanted}"
            )));
        }
        let version = Version::NewImage {
            image: image.to_string(),
            version: wanted.to_string(),
        };
        return Ok((version, Some(image.to_string())));
    }
    if facts.get("image_id") == Some(facts.running_image_id.as_str()) {
        return Ok((Version::SameImage, None));
    }
    let running = facts.running_version.as_deref().unwrap_or("unknown");
    if running == wanted && wanted != "unknown" {
        let version = Version::SameVersion {
            version: wanted.to_string(),
        };
        return Ok((version, None));
    }
    Err(Error::usage(format!(
        "the backup was made with GitLab {wanted} (image {}), `{container}` runs GitLab {running}; \
         restore with --image REF naming a GitLab {wanted} image to recreate the container with",
        facts.get("image").unwrap_or("unknown")
    )))
}

/// Whether the running image's GitLab version must be read: only when the
/// backup's MANIFEST does not name the very image the container runs.
pub fn needs_running_version(header: Option<&[(String, String)]>, running_id: &str) -> bool {
    header.is_some_and(|header| {
        !header
            .iter()
            .any(|(k, v)| k == "image_id" && v == running_id)
    })
}

/// The state the container is put back in: a paused container is running
/// as far as its users are concerned.
pub fn prior_state(status: Status) -> PriorState {
    match status {
        Status::Running | Status::Restarting | Status::Paused => PriorState::Running,
        _ => PriorState::Stopped,
    }
}

/// Everything observed before a restore, as plain values.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The container.
    pub container: String,
    /// The instance directory (`noeud-gitlab-<N>`).
    pub instance: PathBuf,
    /// The container's run state now.
    pub status: Status,
    /// The instance's inventory row, if any.
    pub row: Option<Row>,
    /// The backup chosen, and where it comes from.
    pub backup: String,
    /// See [`Source`].
    pub source: Source,
    /// The version facts; `None` until a backup to fetch is here.
    pub version: Option<VersionFacts>,
    /// The newest change in the volumes, when it was looked for (only to
    /// tell the operator).
    pub last_change: Option<OffsetDateTime>,
    /// The time of the observation, for the ages shown.
    pub now: OffsetDateTime,
}

/// What the restore arguments ask for, beyond the container and directory.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--image`.
    pub image: Option<String>,
    /// Leave the container running after the restore, whatever its state before.
    pub leave_running: bool,
}

/// What a restore will do, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The container restored into.
    pub container: String,
    /// The instance directory.
    pub instance: PathBuf,
    /// The backup restored.
    pub backup: String,
    /// When it was taken (from its ID), RFC 3339.
    pub backup_taken: Option<String>,
    /// Where it comes from.
    pub source: Source,
    /// GitLab's version rule, checked.
    pub version: Version,
    /// Where the backup is copied (and checked) first, beside the volumes.
    pub staged_in: PathBuf,
    /// The volumes swapped with the staged copy.
    pub volumes: PathBuf,
    /// The container's state now: `running` (stopped for the swap) or `stopped`.
    pub container_now: String,
    /// Whether the container is stopped for the swap.
    pub stops: bool,
    /// The image the container is recreated from, when it changes.
    pub recreate_with: Option<String>,
    /// The container's state afterwards: `running` or `stopped`.
    pub left: String,
    /// Where the replaced data is kept: as a backup of its own in this
    /// `bckups/` (or beside the volumes when it is on another file system).
    pub previous_kept_in: PathBuf,
    /// The newest change in the current data, RFC 3339, when looked for.
    pub data_last_changed: Option<String>,
    /// The inventory row as it will be (its image changed when recreated).
    pub row_after: Option<Row>,
    #[serde(skip)]
    ages: (String, String),
}

/// The plan of a restore, from what was observed: GitLab's version rule is
/// checked here (exit 2 when it refuses).
pub fn plan(observed: &Observed, request: &Request) -> Result<Plan> {
    let version = match &observed.version {
        Some(facts) => check_version(
            facts,
            &observed.container,
            request.image.as_deref(),
            observed.row.is_some(),
        )?,
        None => (Version::AfterFetch, request.image.clone()),
    };
    let (version, recreate_with) = version;
    let prior = prior_state(observed.status);
    let recreate_with = recreate_with.filter(|_| observed.row.is_some());
    let row_after = observed.row.clone().map(|mut row| {
        if let Some(image) = &recreate_with {
            row.image = image.clone();
        }
        row
    });
    let left = if prior == PriorState::Running || request.leave_running {
        "running"
    } else {
        "stopped"
    };
    let taken = super::checks::backup_time(&observed.backup);
    let root = &observed.instance;
    Ok(Plan {
        container: observed.container.clone(),
        instance: root.clone(),
        backup: observed.backup.clone(),
        backup_taken: taken.map(crate::timefmt::rfc3339),
        source: observed.source.clone(),
        version,
        staged_in: root.join("mapping-volumes.restoring"),
        volumes: root.join("mapping-volumes"),
        container_now: prior.as_str().to_string(),
        stops: prior == PriorState::Running,
        recreate_with,
        left: left.to_string(),
        previous_kept_in: root.join("bckups"),
        data_last_changed: observed.last_change.map(crate::timefmt::rfc3339),
        row_after,
        ages: (
            when(observed.last_change, observed.now),
            when(taken, observed.now),
        ),
    })
}

/// `2026-11-25T14:30:00Z (3 hours ago)`.
pub fn when(at: Option<OffsetDateTime>, now: OffsetDateTime) -> String {
    let Some(at) = at else {
        return "at an unknown time".to_string();
    };
    let seconds = (now - at).whole_seconds().max(0);
    let age = match seconds {
        0..120 => format!("{seconds} seconds"),
        120..7200 => format!("{} minutes", seconds / 60),
        7200..172_800 => format!("{} hours", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    };
    format!("{} ({age} ago)", crate::timefmt::rfc3339(at))
}

impl Plan {
    /// The steps, in order, one sentence each.
    pub fn steps(&self) -> Vec<String> {
        let mut steps = Vec::new();
        if let Source::ToFetch { target, folder } | Source::Fetched { target, folder } =
            &self.source
        {
            steps.push(format!(
                "fetch backup {} from target `{target}` ({folder}) into {}, checked against its MANIFEST",
                self.backup,
                self.previous_kept_in.display()
            ));
        }
        steps.push(match &self.version {
            Version::NotRecorded => {
                "legacy backup without MANIFEST: its GitLab version is not checked".to_string()
            }
            Version::SameImage => {
                "GitLab version: the backup was made with the image the container runs".to_string()
            }
            Version::SameVersion { version } => {
                format!("GitLab version: {version}, the backup's and the container's")
            }
            Version::NewImage { image, version } => {
                format!("GitLab version: {version}, the backup's and that of --image {image}")
            }
            Version::AfterFetch => "GitLab version: checked once the backup is fetched".to_string(),
        });
        steps.push(format!(
            "copy backup {} into {}, checking each file against its MANIFEST (GitLab keeps running)",
            self.backup,
            self.staged_in.display()
        ));
        steps.push(if self.stops {
            format!("stop `{}` (it is running)", self.container)
        } else {
            format!("`{}` is stopped: nothing to stop", self.container)
        });
        steps.push(format!(
            "swap {} with the staged copy",
            self.volumes.display()
        ));
        steps.push(match &self.recreate_with {
            Some(image) => format!(
                "recreate `{}` from image {image}, start it and wait until it is healthy",
                self.container
            ),
            None => format!(
                "start `{}` and wait until it is healthy (if it is not, the previous volumes are put back)",
                self.container
            ),
        });
        steps.push(format!(
            "keep the replaced data as a backup of its own in {} (restoring it undoes this restore)",
            self.previous_kept_in.display()
        ));
        if self.left == "stopped" {
            steps.push(format!("stop `{}` again, as it was", self.container));
        }
        match (&self.recreate_with, &self.row_after) {
            (Some(image), Some(row)) => steps.push(format!(
                "record image {image} in the inventory row of instance {}",
                row.number
            )),
            _ => steps.push("the inventory is left as it is".to_string()),
        }
        steps
    }

    /// What the operator reads before saying yes, and what `--dry-run`
    /// prints: what is replaced with what, then the numbered steps.
    pub fn text(&self) -> String {
        let mut text = format!(
            "This restore replaces the current data of `{}` ({}, last changed {})\n\
             with backup {} (taken {}).\n\
             GitLab stops for the swap. The current data is not deleted: it is kept as a backup\n\
             of its own in {}, which a restore of it brings back.\n",
            self.container,
            self.volumes.display(),
            self.ages.0,
            self.backup,
            self.ages.1,
            self.previous_kept_in.display()
        );
        text.push_str(&numbered(&self.steps()));
        text
    }
}

/// `1. step` lines.
pub fn numbered(steps: &[String]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(index, step)| format!("{:>2}. {step}\n", index + 1))
        .collect()
}

#[cfg(test)]
mod tests;
