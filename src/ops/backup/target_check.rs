//! The weekly check of restic targets, run by the drill cron entry: each
//! `kind = "restic"` target of `girofle.conf` whose last check is older
//! than [`CHECK_INTERVAL`] gets `restic check --read-data-subset` (its
//! `check_read_data_subset`, 5% by default). With a drill entry per
//! instance, on staggered weekdays, the first drill of the week checks each
//! repository once, not once per instance.
//!
//! The last attempt is kept in `$GIROFLE_HOME/.target-check-<NAME>` (its
//! time is the file's, its text the result): a failed check is not tried
//! again by the next day's drill, so it alerts once, and the next week's
//! drill tries again. A check of a target under way elsewhere is skipped,
//! and so is one that finds the repository locked by a restic at work (a
//! shipping): neither recorded nor alerted, the next drill tries again.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::conf::TargetKind;
use crate::error::Result;
use crate::home::Home;
use crate::remote::Remote;
use crate::settings::Settings;

/// How old a target's last check may be before a drill checks it again:
/// a little under a week, so that a weekly drill never finds it just short.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(6 * 24 * 3600);

/// One target's check, run by a drill.
#[derive(Debug, Clone)]
pub struct TargetCheck {
    /// The target's name.
    pub target: String,
    /// Why it failed; None when it passed.
    pub error: Option<String>,
}

fn record_path(home: &Home, target: &str) -> PathBuf {
    crate::drill_traces::target_check_path(home, target)
}

/// Whether target `name`'s last check is older than [`CHECK_INTERVAL`] (or
/// there was none).
fn due(home: &Home, name: &str) -> bool {
    std::fs::metadata(record_path(home, name))
        .and_then(|metadata| metadata.modified())
        .ok()
        .and_then(|when| SystemTime::now().duration_since(when).ok())
        .is_none_or(|age| age >= CHECK_INTERVAL)
}

/// Checks every restic target that is due; returns the checks run. Each
/// one is logged and told to `[notify]` (failures as alerts, once); its
/// warnings (a notification not sent) are added to `warnings`.
pub fn run_due(settings: &Settings, warnings: &mut Vec<String>) -> Vec<TargetCheck> {
    let home = settings.home();
    let Ok(conf) = settings.conf() else {
        // The drill has said what is wrong with girofle.conf already.
        return Vec::new();
    };
    let mut checks = Vec::new();
    for (name, target) in &conf.targets {
        if target.kind != TargetKind::Restic || !due(home, name) {
            continue;
        }
        let lock_path = home.root().join(format!(".target-check-{name}.lock"));
        let Ok(lock) = crate::atomic::open_lock_file(&lock_path) else {
            continue;
        };
        if lock.try_lock().is_err() || !due(home, name) {
            // Another drill checks it now, or just did.
            continue;
        }
        crate::progress::phase(format!("checking target `{name}`"));
        let started = Instant::now();
        let result = Remote::from_conf(conf, name).and_then(|remote| remote.verify_data());
        let error = result.as_ref().err().map(|error| format!("{error:#}"));
        if error
            .as_deref()
            .is_some_and(|e| e.contains(crate::remote::BUSY))
        {
            // A shipping at work holds the repository: no news, the next
            // drill tries again.
            home.log(
                "drill",
                &format!(
                    "weekly check of target `{name}` put off: another restic is at work there"
                ),
            );
            continue;
        }
        let text = match &result {
            Ok(checked) => format!(
                "checked: {}\nresult: ok\n{}\n",
                crate::timefmt::now_rfc3339(),
                checked.as_deref().unwrap_or_default()
            ),
            Err(_) => format!(
                "checked: {}\nresult: failed\n",
                crate::timefmt::now_rfc3339()
            ),
        };
        if let Err(failed) = record(home, name, &text) {
            warnings.push(format!(
                "the check of target `{name}` could not be recorded: {failed:#}"
            ));
        }
        home.log(
            "drill",
            &match &result {
                Ok(checked) => format!(
                    "weekly check of target `{name}`: {}",
                    checked.as_deref().unwrap_or("passed")
                ),
                Err(_) => format!(
                    "weekly check of target `{name}` FAILED: {}",
                    error.as_deref().unwrap_or_default()
                ),
            },
        );
        match settings.conf_for_news() {
            Ok(conf) => warnings.extend(crate::events::target_check(
                home,
                conf,
                name,
                error.as_deref(),
                started.elapsed(),
            )),
            Err(warning) => warnings.push(warning),
        }
        checks.push(TargetCheck {
            target: name.clone(),
            error,
        });
    }
    checks
}

/// Records a passed check of target `name` run by `--verify --from` (a
/// restic target's check is the same `restic check`): a failed weekly check
/// is cleared by one that passes once the repository is repaired.
pub(super) fn record_passed(home: &Home, name: &str, checked: &str) -> Result<()> {
    // The weekly check holds this lock while it runs: a verify that passes
    // meanwhile is recorded after it, not overwritten by its older verdict.
    let lock =
        crate::atomic::open_lock_file(&home.root().join(format!(".target-check-{name}.lock")))?;
    lock.lock().map_err(anyhow::Error::from)?;
    record(
        home,
        name,
        &format!(
            "checked: {}\nresult: ok\n{checked}\n",
            crate::timefmt::now_rfc3339()
        ),
    )
}

fn record(home: &Home, name: &str, text: &str) -> Result<()> {
    crate::atomic::write(&record_path(home, name), text.as_bytes(), 0o600)?;
    Ok(())
}
