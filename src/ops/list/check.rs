//! `girofle-list --check`: only what is wrong, one line each, for a
//! monitoring system or a daily cron mail.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::Outcome;
use crate::home::InstanceDir;
use crate::remote::Remote;
use crate::settings::Settings;

/// An age for people: `45s`, `12m`, `3h05m`, `2d04h`.
pub fn age_text(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{}d{:02}h", seconds / 86400, seconds % 86400 / 3600),
    }
}

/// A certificate that expires within this is a problem: 14 days, time
/// enough to renew one brought by hand (Girofle's own are renewed at 30).
pub const EXPIRY_WARNING: Duration = Duration::from_secs(14 * 86400);

/// What is wrong: stale backups, failed last drills, missing containers, an
/// engine that does not answer, targets unusable (a path target without its
/// marker, an SSH target that does not answer within seconds), certificates
/// that expire within [`EXPIRY_WARNING`] or do not verify against the
/// home's authority that made them. Empty when all is well.
pub fn check(settings: &Settings, outcome: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(error) = &outcome.engine_error {
        problems.push(format!("the Docker engine did not answer: {error}"));
    }
    for entry in outcome
        .entries
        .iter()
        .filter(|entry| entry.state == "commissioned")
    {
        let who = format!("instance {} ({})", entry.number, entry.container);
        if entry.status == "missing" {
            problems.push(format!(
                "{who}: its container is missing (`girofle-restore --all` brings it back)"
            ));
        }
        if entry.stale {
            let twice = entry
                .backup_interval_seconds
                .map(|interval| age_text(interval * 2))
                .unwrap_or_default();
            problems.push(match (&entry.last_backup, entry.last_backup_age_seconds) {
                (Some(id), Some(age)) => format!(
                    "{who}: its last backup {id} is {} old, more than twice its schedule's interval ({twice})",
                    age_text(age)
                ),
                _ => format!("{who}: no backup yet, and it is older than {twice}"),
            });
        }
        if entry.last_drill == Some("failed") {
            let record = crate::drill_traces::last(&InstanceDir::new(Path::new(&entry.dir).into()));
            let (backup, reason) = record.map(|r| (r.backup, r.reason)).unwrap_or_default();
            problems.push(format!(
                "{who}: its last drill (backup {backup}) failed: {}",
                reason.lines().next().unwrap_or_default()
            ));
        }
        if let Some(problem) = certificate_problem(settings, entry) {
            let problem = format!("{who}: {problem}");
            alert_once(settings, entry, &problem);
            problems.push(problem);
        }
    }
    match settings.conf() {
        Ok(conf) => {
            for name in conf.targets.keys() {
                let remote = Remote::from_conf(conf, name);
                match remote
                    .as_ref()
                    .map_err(|e| e.to_string())
                    .and_then(|remote| {
                        remote.check().map_err(|e| e.to_string())?;
                        Ok(remote)
                    }) {
                    Err(error) => problems.push(format!("target `{name}` is not usable: {error}")),
                    Ok(remote) if remote.is_restic() => {
                        problems.extend(stale_snapshots(remote, outcome));
                        if let Some(when) =
                            crate::drill_traces::failed_target_check(settings.home(), name)
                        {
                            problems.push(format!(
                                "target `{name}` failed its last weekly check ({when}; restic check, \
                                 see girofle.log); once it is repaired, a passing `girofle-backup --verify N --from {name}` clears this"
                            ));
                        }
                    }
                    Ok(_) => {}
                }
            }
        }
        Err(error) => problems.push(format!("girofle.conf: {error}")),
    }
    problems
}

/// What is wrong with an instance's certificate: missing, unreadable,
/// expiring within [`EXPIRY_WARNING`], or (made by Girofle's authority) not
/// verifying against it.
fn certificate_problem(settings: &Settings, entry: &super::Entry) -> Option<String> {
    let cert = entry.certificate.as_ref()?;
    if !cert.exists() {
        return Some(format!("its certificate {} is missing", cert.display()));
    }
    match crate::tls::expires_within(cert, EXPIRY_WARNING) {
        Err(error) => return Some(format!("{error:#}")),
        Ok(true) => {
            let when = crate::tls::not_after(cert).unwrap_or_default();
            let what = if entry.tls == crate::tls::Mode::GirofleCa.as_str() {
                "its renewal (`girofle-commission --renew-certificates`, daily) has not run or failed"
            } else {
                "bring a new one with `girofle-commission --reconfigure` and `--tls own`"
            };
            return Some(format!(
                "its certificate {} expires {when}, within {} days: {what}",
                cert.display(),
                EXPIRY_WARNING.as_secs() / 86400
            ));
        }
        Ok(false) => {}
    }
    if entry.tls == crate::tls::Mode::GirofleCa.as_str() {
        let ca = crate::tls::ca_cert(settings.home());
        if let Some(problem) = crate::tls::verify_against(&ca, cert) {
            return Some(format!(
                "its certificate {} does not verify against {}: {problem}",
                cert.display(),
                ca.display()
            ));
        }
    }
    None
}

/// Sends one `certificate` alert for a certificate problem, once: the
/// problem is remembered in `<instance>/.certificate-alerted` (root's), so
/// that a `--check` run every few minutes does not page every few minutes;
/// a new problem (another certificate, another expiry) alerts again. A
/// member of the `girofle` group, who cannot read `girofle.conf`, sends none.
fn alert_once(settings: &Settings, entry: &super::Entry, problem: &str) {
    if !nix::unistd::geteuid().is_root() {
        return;
    }
    let Ok(conf) = settings.conf() else {
        return;
    };
    let instance = InstanceDir::new(Path::new(&entry.dir).into());
    let marker = instance.root().join(".certificate-alerted");
    // Two checks at once would both find the problem new and both alert.
    let Ok(lock) =
        crate::atomic::open_lock_file(&instance.root().join(".certificate-alerted.lock"))
    else {
        return;
    };
    if lock.lock().is_err() {
        return;
    }
    let remembered = fs_err::read_to_string(&marker).unwrap_or_default();
    if remembered.trim() == problem {
        return;
    }
    let Ok(rows) = crate::inventory::read(settings.home()) else {
        return;
    };
    let Some(row) = rows.iter().find(|row| row.number == entry.number) else {
        return;
    };
    crate::events::certificate(settings.home(), conf, row, false, problem.to_string());
    let _ = crate::atomic::write(&marker, format!("{problem}\n").as_bytes(), 0o600);
}

/// The instances whose newest snapshot on the restic target `remote` is
/// older than twice their schedule's interval: the rule of the local
/// backups, so that an off-site copy that stopped arriving is seen as
/// soon as a local one would be. An instance with no snapshot there at all
/// is not this target's: not every instance is shipped everywhere.
fn stale_snapshots(remote: &Remote, outcome: &Outcome) -> Vec<String> {
    let now = SystemTime::now();
    let newest = match remote.newest_by_instance(&remote.host) {
        Ok(Some(newest)) => newest,
        Ok(None) => return Vec::new(),
        Err(error) => {
            return vec![format!(
                "target `{}`: cannot list its snapshots: {error}",
                remote.name
            )];
        }
    };
    let mut problems = Vec::new();
    for entry in outcome
        .entries
        .iter()
        .filter(|entry| entry.state == "commissioned")
    {
        let Some(interval) = entry.backup_interval_seconds else {
            continue;
        };
        let dir_name = InstanceDir::new(Path::new(&entry.dir).into()).dir_name();
        let Some(newest) = newest.get(&dir_name) else {
            continue;
        };
        let age = newest
            .started()
            .and_then(|at| now.duration_since(at).ok())
            .map_or(0, |age| age.as_secs());
        if age > interval * 2 {
            problems.push(format!(
                "target `{}`: the newest snapshot of instance {} ({}), backup {newest}, is {} old, \
                 more than twice its schedule's interval ({})",
                remote.name,
                entry.number,
                entry.container,
                age_text(age),
                age_text(interval * 2)
            ));
        }
    }
    problems
}
