//! `girofle-commission --renew-certificates`, run daily by the cron entry
//! `<prefix>-tls-renew`: every certificate Girofle's authority made that
//! expires within [`RENEW_WITHIN`] is signed again, written over
//! `config/ssl/<host>.crt|.key` by renames (a reader sees the old file or
//! the new one, never half of one), and the instance is told to take it as
//! omnibus documents it (`gitlab-ctl hup nginx`): nginx rereads its
//! certificates, GitLab keeps running. Nothing is printed when nothing is
//! due; a failure is one message on stderr (what cron mails) and an alert.

use std::time::Duration;

use serde::Serialize;

use crate::container;
use crate::docker::{Docker, Status};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::inventory::{self, Row, RowState};
use crate::settings::Settings;
use crate::{events, lock, tls};

/// Certificates that expire within this are renewed: 30 days.
pub const RENEW_WITHIN: Duration = Duration::from_secs(30 * 86400);

/// How long the renewal waits for a backup or restore of the same instance.
const LOCK_TIMEOUT: Duration = Duration::from_secs(3600);

/// omnibus' command that makes nginx reread its configuration and
/// certificates without stopping GitLab.
pub const RELOAD: [&str; 3] = ["/opt/gitlab/bin/gitlab-ctl", "hup", "nginx"];

/// One certificate renewed.
#[derive(Debug, Clone, Serialize)]
pub struct Renewed {
    /// The instance's number.
    pub number: u32,
    /// Its container.
    pub container: String,
    /// When the previous certificate expired.
    pub expired: String,
    /// When the new one expires.
    pub expires: String,
    /// Whether the running instance was told to take it (a stopped one
    /// takes it when it starts).
    pub reloaded: bool,
}

/// What a renewal run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// The certificates renewed.
    pub renewed: Vec<Renewed>,
}

/// Renews what is due; the error names every instance whose certificate
/// could not be renewed (the others are renewed all the same).
pub fn run(settings: &Settings) -> Result<Outcome> {
    let home = settings.home();
    let rows = inventory::read(home)?;
    let due: Vec<Row> = rows
        .into_iter()
        .filter(|row| {
            row.state == RowState::Commissioned && row.tls == tls::Mode::GirofleCa.as_str()
        })
        .collect();
    let mut outcome = Outcome::default();
    if due.is_empty() {
        return Ok(outcome);
    }
    let docker = Docker::new()?;
    let mut failures = Vec::new();
    for row in &due {
        match renew(home, &docker, row) {
            Ok(None) => {}
            Ok(Some(renewed)) => {
                if let Ok(conf) = settings.conf() {
                    events::certificate(
                        home,
                        conf,
                        row,
                        true,
                        format!(
                            "the certificate of instance {} was renewed: it expires {}",
                            row.number, renewed.expires
                        ),
                    );
                }
                outcome.renewed.push(renewed);
            }
            Err(error) => {
                let message = format!(
                    "instance {} ({}): its certificate could not be renewed: {error:#}",
                    row.number, row.container
                );
                home.log("renew", &message);
                if let Ok(conf) = settings.conf() {
                    events::certificate(home, conf, row, false, message.clone());
                }
                failures.push(message);
            }
        }
    }
    if failures.is_empty() {
        Ok(outcome)
    } else {
        Err(Error::failed(failures.join("\n")))
    }
}

/// The mark of a renewed certificate the running instance has not taken
/// yet (its reload failed): the next run tells it again, since the file on
/// disk, no longer due, would not bring the renewal back.
const RELOAD_PENDING: &str = ".certificate-reload-pending";

/// Whether a certificate is due: missing, expiring within
/// [`RENEW_WITHIN`], or no longer beside its own key (a run killed between
/// the key's rename and the certificate's leaves a pair nginx refuses at
/// its next start).
fn due(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<bool> {
    Ok(!cert.exists() || tls::expires_within(cert, RENEW_WITHIN)? || !tls::pair_matches(cert, key))
}

/// Renews the certificate of `row` if it is due; `None` when it is not.
fn renew(home: &Home, docker: &Docker, row: &Row) -> anyhow::Result<Option<Renewed>> {
    let instance = home.instance_of(row);
    let host = container::tls_host(row);
    let (cert, key) = tls::instance_files(&instance.config(), host);
    let pending = instance.root().join(RELOAD_PENDING);
    if !due(&cert, &key)? && !pending.exists() {
        return Ok(None);
    }
    // A backup copying config/ while the pair is replaced could keep the
    // new key beside the old certificate: the instance's lock keeps them apart.
    let _held = lock::lock_instance(
        &instance,
        "girofle-commission --renew-certificates",
        LOCK_TIMEOUT,
    )?;
    // The lock may have been waited for an hour: a reconfigure to a
    // certificate of the person's own, or a decommission, may have ended
    // meanwhile, and what was due is decided again under the lock.
    let now = inventory::read(home)?;
    let Some(row) = now
        .iter()
        .find(|now| now.number == row.number)
        .filter(|now| {
            now.state == RowState::Commissioned && now.tls == tls::Mode::GirofleCa.as_str()
        })
    else {
        return Ok(None);
    };
    let host = container::tls_host(row);
    let (cert, key) = tls::instance_files(&instance.config(), host);
    let (expired, expires) = if due(&cert, &key)? {
        let expired = if cert.exists() {
            tls::not_after(&cert)?
        } else {
            "(missing)".to_string()
        };
        tls::issue(home, &instance.config(), host, row.ip.parse().ok())?;
        let expires = tls::not_after(&cert)?;
        home.log(
            "renew",
            &format!(
                "instance {} ({}): certificate {} renewed, it expires {expires} (was {expired})",
                row.number,
                row.container,
                cert.display()
            ),
        );
        (expired, expires)
    } else if pending.exists() {
        let expires = tls::not_after(&cert)?;
        (expires.clone(), expires)
    } else {
        return Ok(None);
    };
    let running = docker
        .inspect_state(&row.container)?
        .is_some_and(|state| state.status() == Status::Running);
    if running && let Err(said) = docker.exec(&row.container, &RELOAD)? {
        crate::atomic::write(&pending, b"", 0o600)?;
        anyhow::bail!(
            "the new certificate is in {}, but `{}` failed in {}: {said} (told again at the next run)",
            cert.display(),
            RELOAD.join(" "),
            row.container
        );
    }
    // Stopped, it takes the file when it starts; running, it was told.
    match std::fs::remove_file(&pending) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    Ok(Some(Renewed {
        number: row.number,
        container: row.container.clone(),
        expired,
        expires,
        reloaded: running,
    }))
}
