//! `girofle-commission --reconfigure INSTANCE --tls MODE [SSO flags]`: an
//! instance in service changes how it serves HTTPS, and its single sign-on. Its container is recreated from its
//! inventory row with the new configuration, after a backup of the stopped
//! instance; if the new container is not healthy (or its HTTPS does not
//! verify) within the wait, the previous container comes back as it was,
//! with the certificate files it had. The data volumes are never touched:
//! only `config/ssl/<host>.crt|.key` change, and the backup holds them too.
//! The inventory's `tls`, `acme_url` and `acme_email` change last, under its
//! lock, on success only.
//! A journal (`.reconfigure` in the instance directory) written before any
//! file changes lets the next command, or the guardian, undo a run killed
//! half way: see [`crate::reconfigure_journal`].

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::plan::TlsPlan;
use super::{Args, Outcome, install_certificate, set_note, verify_certificate};
use crate::container;
use crate::docker::{DEFAULT_STOP_TIMEOUT, Docker, Status};
use crate::error::{Error, Result};
use crate::home::{Home, InstanceDir};
use crate::inventory::{self, Row, RowState};
use crate::lock::{self, Halt, OutOfService};
use crate::ops::args::{LockArgs, Seconds};
use crate::ops::backup;
use crate::reconfigure_journal::{self, Journal, KeptFiles};
use crate::settings::Settings;
use crate::{cron, recovery, tls};

/// What a reconfiguration will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The instance's number.
    pub number: u32,
    /// Its container, removed and run again under the same name.
    pub container: String,
    /// Its URL before.
    pub url_before: String,
    /// Its URL after.
    pub url: String,
    /// Its `tls` mode before (empty: plain HTTP).
    pub tls_before: String,
    /// Where the new certificate comes from and goes.
    pub tls: TlsPlan,
    /// The single sign-on files written in the config volume (root 0600),
    /// kept as they were for a rollback.
    pub sso_files: Vec<PathBuf>,
    /// The new `GITLAB_OMNIBUS_CONFIG`.
    pub omnibus_config: String,
    /// The new `docker run`.
    pub docker_run: Vec<String>,
    /// The daily renewal entry, written if missing (`girofle-ca` only).
    pub renewal_entry: Option<PathBuf>,
    /// Seconds waited for `healthy` before rolling back.
    pub wait_seconds: u64,
    /// The inventory row as it will be.
    pub row: Row,
}

impl Plan {
    /// The steps, in order, one sentence each.
    pub fn steps(&self) -> Vec<String> {
        let mut steps = vec![
            format!(
                "take the lock of {} and stop container `{}` (started again if anything fails before its removal)",
                self.row.dir.display(),
                self.container
            ),
            format!(
                "keep the certificate files in {} as they are (links refused), to put them back on a rollback",
                self.tls
                    .certificate
                    .parent()
                    .map(|dir| dir.display().to_string())
                    .unwrap_or_default()
            ),
            format!(
                "back up instance {} while it is stopped (an ordinary backup: the retention counts it)",
                self.number
            ),
            format!(
                "write {} (root 0600: the rows, the kept files), so that a killed run is undone by the \
                 next command on the instance or the guardian",
                self.row
                    .dir
                    .join(crate::reconfigure_journal::JOURNAL_FILE)
                    .display()
            ),
        ];
        steps.extend(self.tls.steps());
        if !self.sso_files.is_empty() {
            steps.push(format!(
                "write the single sign-on settings (root 0600, kept as they were for a rollback): {}",
                self.sso_files
                    .iter()
                    .map(|file| file.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        steps.push(format!(
            "remove container `{}` (its volumes are the instance's directories: untouched) and run it again \
             from {} with GITLAB_OMNIBUS_CONFIG {:?}",
            self.container, self.row.image, self.omnibus_config
        ));
        steps.push(format!(
            "wait up to {}s until it is healthy and its HTTPS answers; otherwise remove it, put the \
             certificate files back and run the previous container again (exit 1)",
            self.wait_seconds
        ));
        steps.push(format!(
            "record `tls = {}` in the inventory row: the URL becomes {} (was {})",
            self.row.tls, self.url, self.url_before
        ));
        if let Some(entry) = &self.renewal_entry {
            steps.push(format!(
                "write cron entry {} (daily renewal of Girofle-made certificates) if it is missing",
                entry.display()
            ));
        }
        steps
    }

    /// The numbered steps, for `--dry-run`.
    pub fn text(&self) -> String {
        self.steps()
            .iter()
            .enumerate()
            .map(|(index, step)| format!("{:>2}. {step}\n", index + 1))
            .collect()
    }
}

/// The checked request: the row as it is, the row as it will be, the files brought.
struct Checked {
    row: Row,
    new_row: Row,
    mode: tls::Mode,
    own_files: Option<(PathBuf, PathBuf)>,
    acme: Option<super::plan::Acme>,
    sso: Option<crate::sso::Sso>,
}

/// Checks what can be checked without the engine: the instance is one in
/// service with an HTTPS port, a mode is given, files brought will do.
fn check(home: &Home, spec: &str, args: &Args) -> Result<Checked> {
    let Some(mode) = args.tls else {
        return Err(Error::usage(
            "--reconfigure needs what to change: --tls girofle-ca | own --cert FILE --key FILE | acme \
             (the mode it keeps, given again, when only single sign-on changes)",
        ));
    };
    let own_files = super::plan::own_files(args)?;
    let rows = inventory::read(home)?;
    let row = inventory::find(&rows, spec)
        .filter(|row| row.state == RowState::Commissioned)
        .cloned()
        .ok_or_else(|| {
            Error::usage(format!(
                "--reconfigure {spec}: no instance in service has this number, name or container"
            ))
        })?;
    if row.https_port.is_none() {
        return Err(Error::usage(format!(
            "instance {} has no HTTPS port in the inventory: nothing to publish 443 on",
            row.number
        )));
    }
    if let Some((cert, key)) = &own_files
        && let Some(problem) = tls::check_own(cert, key, container::tls_host(&row))
    {
        return Err(Error::usage(format!("--tls own: {problem}")));
    }
    let acme = super::plan::validate_acme(args, &row.hostname)?.map(|acme| acme_kept(acme, &row));
    super::check_acme_server(acme.as_ref())?;
    // The mode is given again with single sign-on (the one the instance
    // keeps, or a new one): it is how the flags know TLS is on.
    let sso = crate::sso::validate(&args.sso, true).map_err(Error::usage)?;
    let new_row = new_row_of(&row, mode, acme.as_ref());
    Ok(Checked {
        row,
        new_row,
        mode,
        own_files,
        acme,
        sso,
    })
}

fn plan_of(home: &Home, checked: &Checked, wait: Duration) -> Plan {
    let instance = home.instance_of(&checked.new_row);
    let (certificate, key) =
        tls::instance_files(&instance.config(), container::tls_host(&checked.new_row));
    let sso = checked.sso.is_some() || crate::sso::configured(&instance.config());
    let acme = checked.acme.as_ref();
    let source = match (&checked.own_files, acme) {
        (Some((cert, _)), _) => cert.clone(),
        (None, Some(acme)) => acme.ca.clone().unwrap_or_default(),
        (None, None) => tls::ca_cert(home),
    };
    Plan {
        number: checked.row.number,
        container: checked.row.container.clone(),
        url_before: checked.row.url(),
        url: checked.new_row.url(),
        tls_before: checked.row.tls.clone(),
        tls: TlsPlan {
            mode: checked.mode,
            certificate,
            key,
            source,
            make_ca: checked.mode == tls::Mode::GirofleCa && !tls::ca_cert(home).exists(),
            acme_directory: acme.map(|acme| {
                acme.url
                    .clone()
                    .unwrap_or_else(|| tls::LETS_ENCRYPT_DIRECTORY.to_string())
            }),
            acme_ca: acme
                .and_then(|acme| acme.ca.as_ref())
                .map(|_| instance.config().join(tls::ACME_CA_FILE)),
        },
        sso_files: checked
            .sso
            .as_ref()
            .map(|sso| crate::sso::files(&instance.config(), sso))
            .unwrap_or_default(),
        omnibus_config: container::omnibus_config_with(&checked.new_row, sso),
        docker_run: container::run_spec_with(home, &checked.new_row, &instance, sso).arguments(),
        renewal_entry: (checked.mode == tls::Mode::GirofleCa)
            .then(|| cron::renewal_entry_path(home)),
        wait_seconds: wait.as_secs(),
        row: checked.new_row.clone(),
    }
}

/// The row as it will be: the new mode, and the ACME server and contact of
/// `acme` (none when the mode is not `acme`: the inventory accepts ACME
/// fields only on an `acme` row).
fn new_row_of(row: &Row, mode: tls::Mode, acme: Option<&super::plan::Acme>) -> Row {
    let mut new_row = row.clone();
    new_row.tls = mode.as_str().to_string();
    new_row.acme_url = acme.and_then(|acme| acme.url.clone()).unwrap_or_default();
    new_row.acme_email = acme.and_then(|acme| acme.email.clone()).unwrap_or_default();
    new_row
}

/// An instance that stays on `acme` keeps the ACME server and contact its
/// row has, unless `--acme-url` / `--email` give others: they are where its
/// certificate is renewed from.
fn acme_kept(mut acme: super::plan::Acme, row: &Row) -> super::plan::Acme {
    if row.tls == tls::Mode::Acme.as_str() {
        if acme.url.is_none() && !row.acme_url.is_empty() {
            acme.url = Some(row.acme_url.clone());
        }
        if acme.email.is_none() && !row.acme_email.is_empty() {
            acme.email = Some(row.acme_email.clone());
        }
    }
    acme
}

/// `--reconfigure --dry-run`: the checks and the plan, nothing changed.
pub fn dry_run(home: &Home, spec: &str, args: &Args) -> Result<Plan> {
    let checked = check(home, spec, args)?;
    let docker = Docker::new()?;
    docker.server_version()?;
    Ok(plan_of(home, &checked, args.wait_timeout.0))
}

/// Reconfigures instance `spec`; the outcome carries its new row and URL.
pub fn run(
    home: &Home,
    spec: &str,
    args: &Args,
    progress: &mut dyn FnMut(&str),
) -> Result<Outcome> {
    let checked = check(home, spec, args)?;
    let docker = Docker::new()?;
    docker.server_version()?;
    let settings = Settings::of_home(home.clone());
    let conf = settings.conf()?;
    let row = &checked.row;
    let instance = home.instance_of(row);
    let held = lock::lock_instance(
        &instance,
        "girofle-commission --reconfigure",
        lock::DEFAULT_LOCK_TIMEOUT,
    )?;
    let _watch = crate::guardian::watch(home, &instance, "girofle-commission --reconfigure");
    recovery::recover(home, &docker, &instance)?;
    let status = docker
        .inspect_state(&row.container)?
        .map(|state| state.status())
        .unwrap_or(Status::Missing);
    if status != Status::Running {
        return Err(Error::usage(format!(
            "instance {} ({}) is {}, not running: start it (or restore it) before changing it",
            row.number,
            row.container,
            status.as_str()
        )));
    }
    home.log(
        "commission",
        &format!(
            "reconfigure instance {} ({}): tls `{}` to `{}`",
            row.number,
            row.container,
            row.tls,
            checked.mode.as_str()
        ),
    );

    // The container's ID before the change: after a death, any other
    // container under its name is the new one.
    let old_container_id = docker.container_id(&row.container)?.unwrap_or_default();
    // Stopped and recorded: any failure from here to the removal (the
    // backup, the certificate) starts the previous container again.
    let out_of_service = OutOfService::take(
        &docker,
        &instance,
        "girofle-commission --reconfigure",
        &row.container,
        Halt::Stop(DEFAULT_STOP_TIMEOUT),
    )?;
    // Read before the backup: a symbolic link planted in the config volume
    // is refused before anything is made or changed.
    let (cert, key) = tls::instance_files(&instance.config(), container::tls_host(row));
    let mut files = vec![cert, key, instance.config().join(tls::ACME_CA_FILE)];
    if let Some(sso) = &checked.sso {
        files.extend(crate::sso::files(&instance.config(), sso));
    }
    let kept = KeptFiles::take(files)?;
    progress(&format!(
        "backing up instance {} before the change",
        row.number
    ));
    let lock_args = LockArgs {
        lock_timeout: Seconds(lock::DEFAULT_LOCK_TIMEOUT),
    };
    let made =
        backup::final_backup(home, &docker, conf, row, lock_args, &held).map_err(|error| {
            Error::failed(format!(
                "the backup before the change of instance {} failed, so nothing was changed \
             and it runs as before: {error}",
                row.number
            ))
        })?;
    let backup_id = made.id.to_string();
    // Durable before any file changes: a death from here on is undone by
    // the next command on this instance (or the guardian).
    let mut journal = Journal {
        pid: std::process::id(),
        old_row: row.clone(),
        new_row: checked.new_row.clone(),
        old_container_id,
        kept,
        verified: false,
    };
    journal.write(&instance)?;
    let kept = &journal.kept;
    // Before the removal, a failure puts the files back and ends the
    // journal; the guard then starts the previous container again.
    let undo_files = |error: anyhow::Error, what: &str| -> Error {
        let back = kept
            .put_back()
            .map_err(Error::from)
            .and_then(|()| reconfigure_journal::clear(&instance));
        let state = match back {
            Ok(()) => "it runs as before".to_string(),
            Err(undo) => format!(
                "its files could not be put back yet ({undo}); the next command on it does it"
            ),
        };
        Error::Failed(error.context(format!(
            "{what} of instance {}; {state} (backup {backup_id} was made)",
            row.number
        )))
    };
    let request = super::plan::Request {
        name: row.name.clone(),
        ip: row
            .ip
            .parse()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into()),
        hostname: row.hostname.clone(),
        image: row.image.clone(),
        schedule: row.backup_schedule.clone(),
        drill_schedule: None,
        drills: false,
        tls: Some(checked.mode),
        own_files: checked.own_files.clone(),
        acme: checked.acme.clone(),
        sso: checked.sso.clone(),
    };
    let ca_made = match install_certificate(home, &request, &checked.new_row, &instance) {
        Ok(made) => made.then(|| tls::ca_cert(home)),
        Err(error) => return Err(undo_files(error, "cannot install the new certificate")),
    };

    if let Some(sso) = &checked.sso
        && let Err(error) = crate::sso::install(&instance.config(), sso, &checked.new_row.url())
    {
        return Err(undo_files(
            error,
            "cannot write the single sign-on settings",
        ));
    }

    // From the removal on, a signal waits: the container is replaced whole.
    let transition = lock::transition();
    if let Err(error) = docker.remove(&row.container) {
        drop(transition);
        return Err(undo_files(error, "cannot remove the container"));
    }
    out_of_service.keep_out(&transition)?;
    let started = docker.run(&container::run_spec(home, &checked.new_row, &instance));
    drop(transition);
    let verdict = match started {
        Err(error) => Err(format!("not started: {error:#}")),
        Ok(_) => match docker.wait_healthy(&row.container, args.wait_timeout.0, progress) {
            // The engine failing while it is watched is no proof it serves.
            Err(error) => Err(format!("its health could not be read: {error:#}")),
            Ok(Err(not_healthy)) => Err(format!(
                "not healthy after {}s ({}); last health check: {}\nLast lines of docker logs:\n{}",
                not_healthy.waited.as_secs(),
                not_healthy.seen,
                not_healthy.last_output,
                not_healthy.logs
            )),
            Ok(Ok(())) => {
                verify_certificate(home, &checked.new_row).map_err(|error| error.to_string())
            }
        },
    };
    if let Err(why) = verdict {
        return Err(roll_back(
            home, &docker, row, &instance, kept, args, &backup_id, &why, progress,
        ));
    }

    // Verified: from here a death finishes the change instead of undoing it.
    journal.verified = true;
    journal.write(&instance)?;
    reconfigure_journal::commit_row(home, &checked.new_row)?;
    reconfigure_journal::clear(&instance)?;
    if checked.mode == tls::Mode::GirofleCa
        && let Err(error) = cron::ensure_renewal_entry(home, &cron::renewal_command(home))
    {
        set_note(
            home,
            row.number,
            &format!("no certificate renewal: {error:#}"),
        )?;
        return Err(Error::Failed(error.context(format!(
            "instance {} serves {}, but the renewal entry of its certificate could not be written",
            row.number,
            checked.new_row.url()
        ))));
    }
    home.log(
        "commission",
        &format!(
            "instance {} ({}) reconfigured: tls `{}`, serving {}; backup {backup_id} made before",
            row.number,
            row.container,
            checked.mode.as_str(),
            checked.new_row.url()
        ),
    );
    Ok(Outcome {
        number: row.number,
        container: row.container.clone(),
        url: checked.new_row.url(),
        row: checked.new_row.clone(),
        waited: true,
        ca_made,
        backup_before: Some(backup_id),
    })
}

/// The new container did not come: it goes, the certificate files are put
/// back, and the previous container is run again from the row as it was.
#[allow(clippy::too_many_arguments)]
fn roll_back(
    home: &Home,
    docker: &Docker,
    row: &Row,
    instance: &InstanceDir,
    kept: &KeptFiles,
    args: &Args,
    backup_id: &str,
    why: &str,
    progress: &mut dyn FnMut(&str),
) -> Error {
    let _transition = lock::transition();
    // The note a failed verification wrote is not the previous container's.
    let _ = set_note(home, row.number, &row.note);
    let back = (|| -> anyhow::Result<String> {
        docker.remove(&row.container)?;
        kept.put_back()?;
        docker.run(&container::run_spec(home, row, instance))?;
        // Put back: nothing is left for recovery to undo. (On an error
        // above, the journal stays and the next command tries again.)
        reconfigure_journal::clear(instance)?;
        Ok(
            match docker.wait_healthy(&row.container, args.wait_timeout.0, progress)? {
                Ok(()) => format!(
                    "{} runs again as before, serving {}",
                    row.container,
                    row.url()
                ),
                Err(not_healthy) => format!(
                    "{} was run again as before, but is not healthy yet ({})",
                    row.container, not_healthy.seen
                ),
            },
        )
    })();
    let state = match back {
        Ok(state) => state,
        Err(error) => format!(
            "the previous container could not be run again ({error:#}); its data is untouched \
             and backup {backup_id} holds it: `girofle-restore --all` brings the container back"
        ),
    };
    home.log(
        "commission",
        &format!(
            "reconfigure of instance {} rolled back: {}; {state}",
            row.number,
            why.lines().next().unwrap_or_default()
        ),
    );
    Error::failed(format!(
        "the reconfigured instance {} did not come: {why}\n\
         Rolled back: {state}; the inventory is unchanged (backup {backup_id} was made before).",
        row.number
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::RowState;
    use crate::ops::commission::plan::Acme;

    fn acme_row() -> Row {
        Row {
            tls: "acme".into(),
            acme_url: "https://acme.example/directory".into(),
            acme_email: "ops@example.org".into(),
            ..Row::example(1, "", RowState::Commissioned)
        }
    }

    fn stored_after(row: &Row, mode: tls::Mode, acme: Option<Acme>) -> Row {
        let acme = acme.map(|acme| acme_kept(acme, row));
        let new_row = new_row_of(row, mode, acme.as_ref());
        reconfigure_journal::reconfigured(row, &new_row)
    }

    #[test]
    fn an_acme_instance_moved_to_another_mode_keeps_no_acme_fields_the_inventory_refuses() {
        for mode in [tls::Mode::GirofleCa, tls::Mode::Own] {
            let row = stored_after(&acme_row(), mode, None);
            assert_eq!(row.tls, mode.as_str());
            assert_eq!((row.acme_url.as_str(), row.acme_email.as_str()), ("", ""));
            assert_eq!(inventory::check_row(&row), Ok(()));
        }
        // What copying `tls` alone left: the whole inventory refused.
        let tls_only = Row {
            tls: "girofle-ca".into(),
            ..acme_row()
        };
        assert!(inventory::check_row(&tls_only).is_err());
    }

    #[test]
    fn an_acme_instance_staying_acme_keeps_its_server_unless_another_is_given() {
        let none_given = Acme {
            url: None,
            email: None,
            ca: None,
        };
        let row = stored_after(&acme_row(), tls::Mode::Acme, Some(none_given.clone()));
        assert_eq!(row.acme_url, "https://acme.example/directory");
        assert_eq!(row.acme_email, "ops@example.org");
        let other = Acme {
            url: Some("https://other.example/dir".into()),
            email: Some("new@example.org".into()),
            ca: None,
        };
        let row = stored_after(&acme_row(), tls::Mode::Acme, Some(other));
        assert_eq!(row.acme_url, "https://other.example/dir");
        assert_eq!(row.acme_email, "new@example.org");
        // A plain instance moving to acme without --acme-url: Let's Encrypt.
        let plain = Row::example(1, "", RowState::Commissioned);
        let row = stored_after(&plain, tls::Mode::Acme, Some(none_given));
        assert_eq!((row.acme_url.as_str(), row.acme_email.as_str()), ("", ""));
        assert_eq!(row.tls, "acme");
    }
}
