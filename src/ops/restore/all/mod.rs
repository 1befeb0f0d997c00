//! `girofle-restore --all`: every instance of a host back with one command.
//!
//! With `--from TARGET --source HOST` (a new host, installed with
//! `install.sh --no-instance`): HOST's newest state backup is fetched and
//! verified, its inventory, counter, `girofle.conf` and cron entries are put
//! back (rewritten for this home), then every commissioned instance gets its
//! container back, created as the inventory records it (same name, image,
//! URL, ports; labels of this home), and its newest backup restored into it.
//! Without `--from`: the same on this host, from `sauvegardes/` and
//! `bckups/`, for the instances whose container is missing.
//!
//! A state backup is data, never instructions for root: it is refused
//! (exit 1, nothing written) unless its MAC (`MANIFEST.mac`, made with the
//! home's `state.key`; on a new host, `--state-key FILE`) authenticates its
//! MANIFEST, and a fetched one without a MAC is refused unless
//! `--accept-unauthenticated-state` says so. Its rows are checked field by
//! field; its cron entries are rebuilt from the inventory by this host's
//! `girofle-backup` (only the schedules are read, and checked); the
//! settings of a fetched `girofle.conf` that run or send something
//! (`[notify]`, `[metrics]`, targets this host does not have) wait for
//! `--yes`, the whole file set aside beside the one written (root's, 0600).
//!
//! Everything that could clash with what is already here (an inventory with
//! rows, a port in use, a container name taken, an instance directory or cron
//! entry that exists) is checked before anything is changed: exit 2. Then
//! instances are independent: one failing does not stop the others.
//!
//! Container names are kept as recorded, whatever this home's prefix: they
//! are what people, scripts and monitoring know the instances by. The prefix
//! of this home names what this home makes from now on (cron entries, new
//! instances, drills).

use fs_err as fs;

mod conflicts;
mod outcome;
/// The plan of `--all`, made by pure functions.
pub mod plan;
mod prepare;
mod state;

use super::fetch::fetch_folder;
use super::{Args, usable_backups};
use crate::docker::Docker;
use crate::error::{Error, Result};
use crate::home::{BackupId, Home, InstanceDir};
use crate::inventory::{self, Row};
use crate::remote::Remote;
use crate::settings::Settings;
use crate::{container, cron, timefmt};
pub use outcome::{AllOutcome, InstanceResult, Verdict};
pub use plan::AllPlan;
use prepare::Prepared;
use state::{ConfPlan, CronEntry, State};

/// Brings back every instance (see the module's documentation).
pub fn run_all(
    settings: &Settings,
    args: &Args,
    progress: &mut dyn FnMut(&str),
) -> Result<AllOutcome> {
    let home = settings.home();
    let Prepared {
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
        plan: _,
    } = prepare::prepare(settings, args, false)?;
    let mut results: Vec<InstanceResult> = selection
        .left_alone
        .iter()
        .map(|row| result_of(row, Verdict::LeftAlone))
        .collect();
    let to_restore = selection.to_restore;

    // Put back the state.
    let mut warnings = Vec::new();
    let state_id = match &state {
        Some(state) => {
            warnings.extend(state.schedules.odd.iter().cloned());
            put_back(home, state, &rows, conf_plan.as_ref(), &mut warnings)?;
            Some(state.id.clone())
        }
        None => {
            if remap.ip.is_some() || remap.image.is_some() {
                update_rows(home, &to_restore, |row, wanted| {
                    row.ip = wanted.ip.clone();
                    row.image = wanted.image.clone();
                })?;
            }
            None
        }
    };
    drop(staging);

    // Every instance, each on its own.
    for row in &to_restore {
        progress(&format!(
            "instance {}: bringing back {}",
            row.number, row.container
        ));
        let started = std::time::Instant::now();
        let verdict = match restore_instance(
            settings,
            &docker,
            args,
            remote.as_ref(),
            &source_host,
            row,
            state.is_none(),
            progress,
        ) {
            Ok((backup, previous)) => {
                let entries = cron_plan
                    .iter()
                    .filter(|entry| entry.number == Some(row.number));
                if let Err(error) =
                    write_cron_entries(home, entries, state.is_none().then_some(row))
                {
                    warnings.push(format!(
                        "instance {}: its cron entries could not be written: {error:#}",
                        row.number
                    ));
                }
                set_note(home, row.number, "")?;
                home.log(
                    "restore",
                    &format!(
                        "--all: instance {} ({}) back from {backup}",
                        row.number, row.container
                    ),
                );
                Verdict::Restored { backup, previous }
            }
            Err(error) => {
                let why = error.to_string();
                home.log(
                    "restore",
                    &format!("--all: instance {} FAILED: {why}", row.number),
                );
                set_note(
                    home,
                    row.number,
                    &format!(
                        "not restored by girofle-restore --all: {}",
                        why.lines().next().unwrap_or_default()
                    ),
                )?;
                Verdict::Failed(why)
            }
        };
        let told = match &verdict {
            Verdict::Restored { backup, .. } => Some(Ok(backup.as_str())),
            Verdict::Failed(why) => Some(Err(why as &dyn std::fmt::Display)),
            Verdict::LeftAlone => None,
        };
        if let Some(result) = told {
            warnings.extend(crate::events::restore(
                home,
                &conf,
                Some(row),
                &row.container,
                result,
                args.from.as_deref(),
                started.elapsed(),
            ));
        }
        results.push(result_of(row, verdict));
    }
    let home_wide = cron_plan.iter().filter(|entry| entry.number.is_none());
    if let Err(error) = write_cron_entries(home, home_wide, None) {
        warnings.push(format!(
            "the state's cron entry could not be written: {error:#}"
        ));
    }
    results.sort_by_key(|r| r.number);
    Ok(AllOutcome {
        state: state_id,
        instances: results,
        warnings,
    })
}

/// `--dry-run --all`: the checks and the plan, with nothing changed in the
/// home (a fetched state backup waits in a temporary directory elsewhere).
pub fn dry_run_all(settings: &Settings, args: &Args) -> Result<AllPlan> {
    Ok(prepare::prepare(settings, args, true)?.plan)
}

fn result_of(row: &Row, verdict: Verdict) -> InstanceResult {
    InstanceResult {
        number: row.number,
        name: row.name.clone(),
        container: row.container.clone(),
        url: row.url(),
        verdict,
    }
}

/// The inventory, the counter and `girofle.conf` of the state backup, here.
/// The state backup itself joins `sauvegardes/`.
fn put_back(
    home: &Home,
    state: &State,
    rows: &[Row],
    conf_plan: Option<&ConfPlan>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let saved = home.state_backups().join(&state.id);
    if state.dir != saved && !saved.exists() {
        crate::atomic::create_dir(&home.state_backups(), 0o700, true)?;
        fs::rename(&state.dir, &saved)?;
        crate::atomic::sync_directory(&home.state_backups())?;
    }
    {
        let mut locked = inventory::lock(home)?;
        if !locked.rows().is_empty() {
            return Err(Error::usage(format!(
                "{} got rows while the state was being fetched; nothing was changed",
                home.inventory().display()
            )));
        }
        for row in rows {
            locked.push(row.clone());
        }
        locked.commit()?;
        let here: u32 = fs::read_to_string(home.counter())
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        let highest = rows.iter().map(|row| row.number).max().unwrap_or(0);
        let counter = state.counter.max(here).max(highest);
        crate::atomic::write(&home.counter(), format!("{counter}\n").as_bytes(), 0o600)?;
    }
    if let Some(plan) = conf_plan {
        put_back_conf(home, state, plan, warnings)?;
    }
    if let Some(key) = &state.new_key {
        let path = home.state_key_file();
        let mut kept = None;
        if fs::symlink_metadata(&path).is_ok() {
            let aside = home.root().join(format!(
                "state.key.before-restore-{}",
                timefmt::now_rfc3339().replace(':', "-")
            ));
            fs::rename(&path, &aside)?;
            kept = Some(aside);
        }
        if !key.install_new(&path)? {
            return Err(Error::failed(format!(
                "{} appeared while the state was put back: the key given with --state-key was not installed",
                path.display()
            )));
        }
        warnings.push(format!(
            "this home's state key ({}) is now the one given with --state-key, so that the key kept \
             in your safe place goes on authenticating this host's state backups{}",
            path.display(),
            kept.map(|kept| format!("; the one found here is kept as {}", kept.display()))
                .unwrap_or_default()
        ));
    }
    home.log(
        "restore",
        &format!(
            "--all: inventory ({} rows), counter and girofle.conf put back from state backup {} of {}",
            rows.len(),
            state.id,
            state.home.display()
        ),
    );
    Ok(())
}

/// Writes `girofle.conf` (root's, 0600) as planned; the one found here and,
/// when settings were left out, the state backup's whole file are kept
/// beside it, and the operator is told.
fn put_back_conf(
    home: &Home,
    state: &State,
    plan: &ConfPlan,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let stamp = timefmt::now_rfc3339().replace(':', "-");
    let root_group = nix::unistd::geteuid().is_root().then_some(0);
    if let Some(whole) = &plan.set_aside {
        let aside = home
            .root()
            .join(format!("girofle.conf.from-state-{}", state.id));
        crate::atomic::write_with_group(&aside, whole, 0o600, root_group)?;
        warnings.push(format!(
            "girofle.conf of state backup {} (fetched from target `{}`) has settings that run or send \
             something: {}. They were left out of girofle.conf, and the whole file is kept as {}: \
             review it and copy what you trust into girofle.conf (--yes applies them at once)",
            state.id,
            state.fetched_from.as_deref().unwrap_or_default(),
            plan.shown.join("; "),
            aside.display()
        ));
    } else if !plan.shown.is_empty() {
        warnings.push(format!(
            "girofle.conf of state backup {} applied with its settings that run or send something (--yes): {}",
            state.id,
            plan.shown.join("; ")
        ));
    }
    let current = fs::read(home.conf()).ok();
    if current.as_deref() == Some(plan.text.as_slice()) {
        return Ok(());
    }
    if current.is_some() {
        let kept = home
            .root()
            .join(format!("girofle.conf.before-restore-{stamp}"));
        fs::rename(home.conf(), &kept)?;
        warnings.push(format!(
            "girofle.conf is now the one of state backup {}; the one found here is kept as {}",
            state.id,
            kept.display()
        ));
    }
    crate::atomic::write_with_group(&home.conf(), &plan.text, 0o600, root_group)?;
    Ok(())
}

/// Changes rows of the inventory, under its lock.
fn update_rows(home: &Home, rows: &[Row], change: impl Fn(&mut Row, &Row)) -> Result<()> {
    let mut locked = inventory::lock(home)?;
    for wanted in rows {
        if let Some(row) = locked.row_mut(wanted.number) {
            change(row, wanted);
        }
    }
    locked.commit()
}

fn set_note(home: &Home, number: u32, note: &str) -> Result<()> {
    let mut locked = inventory::lock(home)?;
    if let Some(row) = locked.row_mut(number)
        && row.note != note
    {
        row.note = note.to_string();
        locked.commit()?;
    }
    Ok(())
}

/// One instance back: its directory, its backup (fetched), its container
/// (created, not started), then restore's own phases, which verify the
/// backup, put it in place, start GitLab and wait until it is healthy.
#[allow(clippy::too_many_arguments)]
fn restore_instance(
    settings: &Settings,
    docker: &Docker,
    args: &Args,
    remote: Option<&Remote>,
    source_host: &str,
    row: &Row,
    local: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, Option<super::Previous>)> {
    let home = settings.home();
    let instance = InstanceDir::new(row.dir.clone());
    if !instance.root().exists() {
        instance.create_tree()?;
    }
    for dir in [
        instance.config(),
        instance.data(),
        instance.logs(),
        instance.backups(),
    ] {
        fs::create_dir_all(dir)?;
    }
    let backup = match remote {
        Some(remote) => {
            progress(&format!(
                "instance {}: fetching its newest backup",
                row.number
            ));
            let folder = format!("{source_host}/{}/bckups", instance.dir_name());
            // Under the instance lock, so that no recovery (a `girofle-list`
            // meanwhile) takes the fetch's partial copy for a dead one.
            let _lock = crate::lock::lock_instance(
                &instance,
                "girofle-restore --all (fetch)",
                args.lock.timeout(),
            )?;
            fetch_folder(Some(home), remote, &folder, &instance.backups(), None)?
        }
        None => instance
            .default_backup(&usable_backups(&instance))
            .map(BackupId::to_string)
            .ok_or_else(|| {
                Error::usage(format!(
                    "{} holds no complete backup (one with data, config and log)",
                    instance.backups().display()
                ))
            })?,
    };
    if !docker.image_present(&row.image)? {
        progress(&format!("instance {}: pulling {}", row.number, row.image));
        docker.pull(&row.image).map_err(|error| {
            Error::failed(format!(
                "image `{}` is not here and cannot be pulled ({error:#})",
                row.image
            ))
        })?;
    }
    let found_data = local
        && fs::read_dir(instance.data())
            .map(|mut entries| entries.next().is_some())
            .unwrap_or(false);
    docker.create_spec(&container::run_spec(home, row, &instance))?;
    let one = Args {
        container: Some(row.container.clone()),
        dir: Some(row.dir.clone()),
        backup: Some(backup),
        from: None,
        source: None,
        image: None,
        yes: true,
        keep_previous: false,
        lock: args.lock,
        wait_timeout: args.wait_timeout,
        all: false,
        backup_state: None,
        state_key: None,
        accept_unauthenticated_state: false,
        ip: None,
        dry_run: false,
        leave_running: true,
        output: args.output,
    };
    match super::restore_into(settings, &one, progress, None) {
        Ok(outcome) => Ok((outcome.backup, found_data.then_some(outcome.previous))),
        Err(error) => {
            // The container was made for this restore: gone again, the
            // instance shows as missing and the next `--all` tries again.
            let _ = docker.remove(&row.container);
            Err(error)
        }
    }
}

/// Writes the cron entries of the plan; in local mode (`missing_entry_of`,
/// no plan), the instance's backup entry when it has none.
fn write_cron_entries<'a>(
    home: &Home,
    entries: impl Iterator<Item = &'a CronEntry>,
    missing_entry_of: Option<&Row>,
) -> anyhow::Result<()> {
    for entry in entries {
        cron::write_file(
            home,
            &entry.path,
            &entry.comment,
            &entry.schedule,
            &entry.command,
        )?;
    }
    if let Some(row) = missing_entry_of
        && !cron::entry_path(home, row.number).exists()
    {
        let schedule = if row.backup_schedule.is_empty() {
            cron::DEFAULT_SCHEDULE
        } else {
            &row.backup_schedule
        };
        cron::write_entry(
            home,
            row.number,
            schedule,
            &cron::backup_command(home, &row.number.to_string()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
