//! What `--all` observes before it changes anything (the arguments, the
//! engine's containers, the inventory, `girofle.conf`, the state backup,
//! fetched and verified), and its plan made from them: the part that a run
//! and a `--dry-run` share.

use std::collections::{BTreeMap, HashSet};

use super::super::fetch;
use super::Args;
use super::conflicts::{Here, check_conflicts, parse_ip, plain_host};
use super::plan::{self, AllPlan, Remap, Selection, StateStep};
use super::state::{ConfPlan, CronEntry, State, Trust, plan_conf, plan_cron, read_state};
use crate::conf::Conf;
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::inventory::{self, Row};
use crate::remote::Remote;
use crate::settings::Settings;

/// Everything `--all` acts on, checked.
pub(super) struct Prepared {
    pub(super) docker: Docker,
    pub(super) conf: Conf,
    pub(super) remote: Option<Remote>,
    pub(super) source_host: String,
    pub(super) state: Option<State>,
    /// The inventory to write when the state is put back.
    pub(super) rows: Vec<Row>,
    pub(super) selection: Selection,
    pub(super) remap: Remap,
    pub(super) cron_plan: Vec<CronEntry>,
    pub(super) conf_plan: Option<ConfPlan>,
    /// Where a fetched state backup waits: removed when dropped.
    pub(super) staging: tempfile::TempDir,
    pub(super) plan: AllPlan,
}

/// Reads (and fetches) what is to be put back and checks it against what is
/// here, before anything is changed. A dry run makes nothing in the home:
/// a fetched state backup waits in a temporary directory elsewhere, and
/// the backup each instance would get is looked up (on the target too).
pub(super) fn prepare(settings: &Settings, args: &Args, dry_run: bool) -> Result<Prepared> {
    let home = settings.home();
    let docker = Docker::new()?;
    docker.server_version()?;
    let ip = match &args.ip {
        Some(text) => Some(parse_ip(text)?),
        None => None,
    };
    if let Some(image) = &args.image
        && !inventory::is_image_reference(image)
    {
        return Err(Error::usage(format!(
            "--image `{image}`: not an image reference"
        )));
    }
    let conf = settings.conf()?.clone();
    let remote = match &args.from {
        Some(name) => Some(Remote::from_conf(&conf, name)?),
        None => None,
    };
    let source_host = match (&remote, &args.source) {
        (Some(_), Some(host)) => plain_host(host)?,
        (Some(remote), None) => remote.host.clone(),
        (None, _) => String::new(),
    };
    let present = inventory::read(home)?;
    let containers: HashSet<String> = docker
        .list_containers()?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let put_back_state = plan::puts_back_state(
        present.len(),
        remote.is_some(),
        args.backup_state.is_some(),
        &home.inventory(),
    )?;
    let staging = if dry_run {
        tempfile::Builder::new().prefix(".restore-all-").tempdir()?
    } else {
        home.create()?;
        tempfile::Builder::new()
            .prefix(".restore-all-")
            .tempdir_in(home.root())?
    };
    let state = if put_back_state {
        Some(read_state(
            home,
            remote.as_ref(),
            &source_host,
            args.backup_state.as_deref(),
            staging.path(),
            &Trust {
                key_file: args.state_key.as_deref(),
                accept_unauthenticated: args.accept_unauthenticated_state,
            },
            dry_run,
        )?)
    } else {
        None
    };
    let local = remote.is_none();
    let remap = Remap {
        ip,
        image: args.image.clone(),
    };
    let rows: Vec<Row> = match &state {
        Some(state) => plan::rows_of_state(home, &state.rows, local, &containers, &remap),
        None => present.clone(),
    };
    let selection = plan::select(&rows, local, &containers, &remap);
    let cron_plan = match &state {
        Some(state) => plan_cron(home, state),
        None => Vec::new(),
    };
    let conf_plan = match &state {
        Some(state) => plan_conf(state, &conf, args.yes)?,
        None => None,
    };
    let here = Here {
        containers: &containers,
        exists: &|path| path.exists(),
        is_local: &crate::net::is_local_address,
        port_free: &crate::net::port_is_free,
    };
    check_conflicts(&selection.to_restore, &here, !local, &cron_plan)?;
    let mut backups = BTreeMap::new();
    if dry_run {
        for row in &selection.to_restore {
            if let Some(id) = newest_backup(remote.as_ref(), &source_host, row) {
                backups.insert(row.number, id);
            }
        }
    }
    let state_step = state.as_ref().map(|state| StateStep {
        id: state.id.clone(),
        fetched_from: state.fetched_from.clone(),
        made_in: state.home.clone(),
        rows: rows.len(),
        counter: state
            .counter
            .max(rows.iter().map(|row| row.number).max().unwrap_or(0)),
        conf: conf_plan.is_some(),
        conf_held_back: conf_plan
            .as_ref()
            .filter(|plan| plan.set_aside.is_some())
            .map(|plan| plan.shown.clone())
            .unwrap_or_default(),
        installs_key: state.new_key.is_some(),
    });
    let cron_entries = cron_plan.iter().map(|entry| entry.path.clone()).collect();
    let plan = plan::plan(state_step, &selection, &remap, cron_entries, &backups);
    Ok(Prepared {
        docker,
        conf,
        remote,
        source_host,
        state,
        rows,
        selection,
        remap,
        cron_plan,
        conf_plan,
        staging,
        plan,
    })
}

/// The backup an instance would get, for the plan shown: the newest usable
/// one here, or the target's newest; `None` when there is none (the
/// instance would fail, the others go on).
fn newest_backup(remote: Option<&Remote>, source_host: &str, row: &Row) -> Option<String> {
    let instance = crate::home::InstanceDir::new(row.dir.clone());
    match remote {
        Some(remote) => {
            let folder = format!("{source_host}/{}/bckups", instance.dir_name());
            fetch::list(remote, &folder).ok()?.pop()
        }
        None => {
            let usable = super::super::observe::usable(&instance);
            super::super::plan::choose_local(&usable, None, "").ok()
        }
    }
}
