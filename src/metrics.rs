//! The Prometheus textfile collector's file (`[metrics] textfile`), for
//! node-exporter's `--collector.textfile.directory`.
//!
//! Backups, drills and shippings end at different times, in different
//! processes, and each knows only its own figures. So the file is also the
//! state: an update takes a lock on a sidecar file (`girofle.prom.lock`, which
//! the collector ignores as it reads only `*.prom`), reads the samples back,
//! changes those of one instance or one target, and replaces the whole file
//! atomically ([`crate::atomic::write`]): the collector never sees half a file.
//!
//! Every metric is a gauge. Per instance, labelled
//! `instance="3",name="docs",container="girofle-gitlab-3-docs"`:
//! `girofle_backup_last_success_timestamp_seconds`,
//! `girofle_backup_last_attempt_timestamp_seconds`,
//! `girofle_backup_last_result` (1 ok, 0 failed),
//! `girofle_backup_duration_seconds`, `girofle_backup_stop_window_seconds`,
//! `girofle_backup_bytes_copied`, `girofle_backup_bytes_hardlinked`,
//! `girofle_backup_files_copied`, `girofle_backup_files_hardlinked`,
//! `girofle_backups_kept`, `girofle_drill_last_result` (1/0),
//! `girofle_drill_last_timestamp_seconds`. Per target, labelled
//! `target="off-site"`: `girofle_target_last_success_timestamp_seconds`,
//! `girofle_target_last_attempt_timestamp_seconds`,
//! `girofle_target_last_result` (1/0).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;

use crate::conf::Conf;
use crate::home::Home;

/// The mode of the textfile: node-exporter runs as another user and must read it.
const TEXTFILE_MODE: u32 = 0o644;

/// How long an update waits for another process's update (each takes milliseconds).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// What a series is labelled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Instance,
    Target,
}

/// One metric: its name, its `# HELP` and what it is about.
struct Definition {
    name: &'static str,
    help: &'static str,
    scope: Scope,
}

/// Every metric written, in the order written.
const DEFINITIONS: &[Definition] = &[
    Definition {
        name: BACKUP_LAST_SUCCESS,
        help: "When the last successful backup of the instance ended, in seconds since the epoch.",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_LAST_ATTEMPT,
        help: "When the last backup attempt of the instance ended, in seconds since the epoch.",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_LAST_RESULT,
        help: "Whether the last backup attempt of the instance succeeded (1) or failed (0).",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_DURATION,
        help: "How long the last successful backup of the instance took, in seconds.",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_STOP_WINDOW,
        help: "How long GitLab was out of service (stopped or paused) during the last successful backup, in seconds.",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_BYTES_COPIED,
        help: "Bytes copied by the last successful backup (files new or changed since the previous backup).",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_BYTES_HARDLINKED,
        help: "Bytes the last successful backup hard-linked to the previous backup instead of copying.",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_FILES_COPIED,
        help: "Files copied by the last successful backup.",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUP_FILES_HARDLINKED,
        help: "Files the last successful backup hard-linked to the previous backup.",
        scope: Scope::Instance,
    },
    Definition {
        name: BACKUPS_KEPT,
        help: "Complete backups of the instance kept on this host.",
        scope: Scope::Instance,
    },
    Definition {
        name: DRILL_LAST_RESULT,
        help: "Whether the last restore drill of the instance succeeded (1) or failed (0).",
        scope: Scope::Instance,
    },
    Definition {
        name: DRILL_LAST_TIMESTAMP,
        help: "When the last restore drill of the instance ended, in seconds since the epoch.",
        scope: Scope::Instance,
    },
    Definition {
        name: TARGET_LAST_SUCCESS,
        help: "When a backup was last shipped to the target successfully, in seconds since the epoch.",
        scope: Scope::Target,
    },
    Definition {
        name: TARGET_LAST_ATTEMPT,
        help: "When a backup was last shipped to the target, successfully or not, in seconds since the epoch.",
        scope: Scope::Target,
    },
    Definition {
        name: TARGET_LAST_RESULT,
        help: "Whether the last shipping to the target succeeded (1) or failed (0).",
        scope: Scope::Target,
    },
];

/// `girofle_backup_last_success_timestamp_seconds`.
pub const BACKUP_LAST_SUCCESS: &str = "girofle_backup_last_success_timestamp_seconds";
/// `girofle_backup_last_attempt_timestamp_seconds`.
pub const BACKUP_LAST_ATTEMPT: &str = "girofle_backup_last_attempt_timestamp_seconds";
/// `girofle_backup_last_result`: 1 ok, 0 failed.
pub const BACKUP_LAST_RESULT: &str = "girofle_backup_last_result";
/// `girofle_backup_duration_seconds`.
pub const BACKUP_DURATION: &str = "girofle_backup_duration_seconds";
/// `girofle_backup_stop_window_seconds`.
pub const BACKUP_STOP_WINDOW: &str = "girofle_backup_stop_window_seconds";
/// `girofle_backup_bytes_copied`.
pub const BACKUP_BYTES_COPIED: &str = "girofle_backup_bytes_copied";
/// `girofle_backup_bytes_hardlinked`.
pub const BACKUP_BYTES_HARDLINKED: &str = "girofle_backup_bytes_hardlinked";
/// `girofle_backup_files_copied`.
pub const BACKUP_FILES_COPIED: &str = "girofle_backup_files_copied";
/// `girofle_backup_files_hardlinked`.
pub const BACKUP_FILES_HARDLINKED: &str = "girofle_backup_files_hardlinked";
/// `girofle_backups_kept`.
pub const BACKUPS_KEPT: &str = "girofle_backups_kept";
/// `girofle_drill_last_result`: 1 ok, 0 failed.
pub const DRILL_LAST_RESULT: &str = "girofle_drill_last_result";
/// `girofle_drill_last_timestamp_seconds`.
pub const DRILL_LAST_TIMESTAMP: &str = "girofle_drill_last_timestamp_seconds";
/// `girofle_target_last_success_timestamp_seconds`.
pub const TARGET_LAST_SUCCESS: &str = "girofle_target_last_success_timestamp_seconds";
/// `girofle_target_last_attempt_timestamp_seconds`.
pub const TARGET_LAST_ATTEMPT: &str = "girofle_target_last_attempt_timestamp_seconds";
/// `girofle_target_last_result`: 1 ok, 0 failed.
pub const TARGET_LAST_RESULT: &str = "girofle_target_last_result";

/// The labels of an instance's series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceLabels {
    /// `instance`: its number.
    pub number: u32,
    /// `name`: its name, empty when it has none.
    pub name: String,
    /// `container`: its container's name.
    pub container: String,
}

/// What one backup attempt of one instance gives the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupFigures {
    /// The instance backed up.
    pub instance: InstanceLabels,
    /// Whether the backup was made. A failed attempt changes only the attempt's
    /// time and the result: the other series keep describing the last good backup.
    pub ok: bool,
    /// When the attempt ended.
    pub ended: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// How long GitLab was out of service (zero with `--consistency live`).
    pub stop_window: Duration,
    /// Bytes copied (new or changed files).
    pub bytes_copied: u64,
    /// Bytes hard-linked to the previous backup.
    pub bytes_hardlinked: u64,
    /// Files copied.
    pub files_copied: u64,
    /// Files hard-linked to the previous backup.
    pub files_hardlinked: u64,
    /// Complete backups kept after retention; `None` leaves the series as it was.
    pub backups_kept: Option<u64>,
}

/// The samples of one instance.
#[derive(Debug, Clone, PartialEq)]
struct InstanceSeries {
    labels: InstanceLabels,
    values: BTreeMap<&'static str, f64>,
}

/// The samples in the textfile: read back, changed, written whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    instances: BTreeMap<u32, InstanceSeries>,
    targets: BTreeMap<String, BTreeMap<&'static str, f64>>,
}

impl Metrics {
    /// Reads the samples of a textfile this module wrote. Lines it does not
    /// know (comments, metrics of another version, anything malformed) are
    /// left out: the file is rewritten from what is understood.
    pub fn parse(text: &str) -> Metrics {
        let mut metrics = Metrics::default();
        for line in text.lines() {
            let Some((name, labels, value)) = parse_sample(line) else {
                continue;
            };
            let Some(definition) = DEFINITIONS.iter().find(|d| d.name == name) else {
                continue;
            };
            let label = |key: &str| {
                labels
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
            };
            match definition.scope {
                Scope::Instance => {
                    let Some(number) = label("instance").and_then(|n| n.parse().ok()) else {
                        continue;
                    };
                    let labels = InstanceLabels {
                        number,
                        name: label("name").unwrap_or_default(),
                        container: label("container").unwrap_or_default(),
                    };
                    metrics
                        .instance(&labels)
                        .values
                        .insert(definition.name, value);
                }
                Scope::Target => {
                    let Some(target) = label("target") else {
                        continue;
                    };
                    metrics
                        .targets
                        .entry(target)
                        .or_default()
                        .insert(definition.name, value);
                }
            }
        }
        metrics
    }

    /// The textfile: `# HELP` and `# TYPE` then the samples of each metric,
    /// instances by number, targets by name.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for definition in DEFINITIONS {
            let samples: Vec<(String, f64)> = match definition.scope {
                Scope::Instance => self
                    .instances
                    .values()
                    .filter_map(|series| {
                        let value = *series.values.get(definition.name)?;
                        let labels = &series.labels;
                        Some((
                            format!(
                                "instance=\"{}\",name=\"{}\",container=\"{}\"",
                                labels.number,
                                escape(&labels.name),
                                escape(&labels.container)
                            ),
                            value,
                        ))
                    })
                    .collect(),
                Scope::Target => self
                    .targets
                    .iter()
                    .filter_map(|(target, values)| {
                        let value = *values.get(definition.name)?;
                        Some((format!("target=\"{}\"", escape(target)), value))
                    })
                    .collect(),
            };
            if samples.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "# HELP {} {}\n# TYPE {} gauge\n",
                definition.name,
                escape_help(definition.help),
                definition.name
            ));
            for (labels, value) in samples {
                out.push_str(&format!(
                    "{}{{{}}} {}\n",
                    definition.name,
                    labels,
                    format_value(value)
                ));
            }
        }
        out
    }

    /// The value of a metric of an instance, if the file has it.
    pub fn instance_value(&self, number: u32, metric: &str) -> Option<f64> {
        self.instances.get(&number)?.values.get(metric).copied()
    }

    /// The value of a metric of a target, if the file has it.
    pub fn target_value(&self, target: &str, metric: &str) -> Option<f64> {
        self.targets.get(target)?.get(metric).copied()
    }

    /// The series of an instance, created empty; its labels brought up to date.
    fn instance(&mut self, labels: &InstanceLabels) -> &mut InstanceSeries {
        let series = self
            .instances
            .entry(labels.number)
            .or_insert_with(|| InstanceSeries {
                labels: labels.clone(),
                values: BTreeMap::new(),
            });
        series.labels = labels.clone();
        series
    }

    /// Records a backup attempt.
    pub fn backup(&mut self, figures: &BackupFigures) {
        let series = &mut self.instance(&figures.instance).values;
        let ended = epoch_seconds(figures.ended);
        series.insert(BACKUP_LAST_ATTEMPT, ended);
        series.insert(BACKUP_LAST_RESULT, if figures.ok { 1.0 } else { 0.0 });
        if !figures.ok {
            return;
        }
        series.insert(BACKUP_LAST_SUCCESS, ended);
        series.insert(BACKUP_DURATION, seconds(figures.duration));
        series.insert(BACKUP_STOP_WINDOW, seconds(figures.stop_window));
        series.insert(BACKUP_BYTES_COPIED, figures.bytes_copied as f64);
        series.insert(BACKUP_BYTES_HARDLINKED, figures.bytes_hardlinked as f64);
        series.insert(BACKUP_FILES_COPIED, figures.files_copied as f64);
        series.insert(BACKUP_FILES_HARDLINKED, figures.files_hardlinked as f64);
        if let Some(kept) = figures.backups_kept {
            series.insert(BACKUPS_KEPT, kept as f64);
        }
    }

    /// Records how many complete backups of an instance are kept (after a
    /// retention run outside a backup, for example).
    pub fn backups_kept(&mut self, instance: &InstanceLabels, kept: u64) {
        self.instance(instance)
            .values
            .insert(BACKUPS_KEPT, kept as f64);
    }

    /// Records a drill's result.
    pub fn drill(&mut self, instance: &InstanceLabels, ok: bool, ended: SystemTime) {
        let series = &mut self.instance(instance).values;
        series.insert(DRILL_LAST_RESULT, if ok { 1.0 } else { 0.0 });
        series.insert(DRILL_LAST_TIMESTAMP, epoch_seconds(ended));
    }

    /// Records a shipping to a target: its attempt and result, and its time
    /// as the last success when it succeeded.
    pub fn shipping(&mut self, target: &str, ok: bool, ended: SystemTime) {
        let series = self.targets.entry(target.to_string()).or_default();
        let ended = epoch_seconds(ended);
        series.insert(TARGET_LAST_ATTEMPT, ended);
        series.insert(TARGET_LAST_RESULT, if ok { 1.0 } else { 0.0 });
        if ok {
            series.insert(TARGET_LAST_SUCCESS, ended);
        }
    }

    /// Removes every series of an instance (once decommissioned).
    pub fn forget_instance(&mut self, number: u32) {
        self.instances.remove(&number);
    }

    /// Removes every series of a target (once removed from `girofle.conf`).
    pub fn forget_target(&mut self, target: &str) {
        self.targets.remove(target);
    }
}

/// Changes the textfile at `textfile`: under its sidecar lock, reads it back,
/// applies `change`, and replaces it atomically (mode 0644, for node-exporter).
/// A missing textfile starts empty; its directory must exist.
pub fn update(textfile: &Path, change: impl FnOnce(&mut Metrics)) -> anyhow::Result<()> {
    let _lock = lock(textfile)?;
    let mut metrics = match fs::read_to_string(textfile) {
        Ok(text) => Metrics::parse(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Metrics::default(),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", textfile.display()));
        }
    };
    change(&mut metrics);
    crate::atomic::write(textfile, metrics.render().as_bytes(), TEXTFILE_MODE)
}

/// Records a backup attempt in `textfile`.
pub fn record_backup(textfile: &Path, figures: &BackupFigures) -> anyhow::Result<()> {
    update(textfile, |metrics| metrics.backup(figures))
}

/// Records a drill's result in `textfile`.
pub fn record_drill(
    textfile: &Path,
    instance: &InstanceLabels,
    ok: bool,
    ended: SystemTime,
) -> anyhow::Result<()> {
    update(textfile, |metrics| metrics.drill(instance, ok, ended))
}

/// Records a shipping to `target` in `textfile`.
pub fn record_shipping(
    textfile: &Path,
    target: &str,
    ok: bool,
    ended: SystemTime,
) -> anyhow::Result<()> {
    update(textfile, |metrics| metrics.shipping(target, ok, ended))
}

/// Removes an instance's series from `textfile` (decommission).
pub fn forget_instance(textfile: &Path, number: u32) -> anyhow::Result<()> {
    update(textfile, |metrics| metrics.forget_instance(number))
}

/// Applies `change` to the textfile of `[metrics]` in `conf`, if there is one.
/// A failure never fails the operation: it is logged in `girofle.log` and
/// returned as a warning for the caller to show.
pub fn record(home: &Home, conf: &Conf, change: impl FnOnce(&mut Metrics)) -> Option<String> {
    let section = conf.metrics.as_ref()?;
    let error = update(&section.textfile, change).err()?;
    let warning = crate::redact::secrets(&format!(
        "could not update the metrics in {}: {error:#}",
        section.textfile.display()
    ));
    home.log("metrics", &warning);
    Some(warning)
}

/// Takes the textfile's sidecar lock, waiting up to [`LOCK_TIMEOUT`].
fn lock(textfile: &Path) -> anyhow::Result<File> {
    let mut name = textfile
        .file_name()
        .with_context(|| format!("{} has no file name", textfile.display()))?
        .to_os_string();
    name.push(".lock");
    let path: PathBuf = textfile.with_file_name(name);
    let file = crate::atomic::open_lock_file(&path)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(fs::TryLockError::WouldBlock) => {
                anyhow::bail!(
                    "{} is held by another process; gave up after {}s",
                    path.display(),
                    LOCK_TIMEOUT.as_secs()
                );
            }
            Err(fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

/// Seconds since the epoch, whole (timestamps to the second, as the IDs).
fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs() as f64)
        .unwrap_or(0.0)
}

/// A duration in seconds, to the millisecond.
fn seconds(duration: Duration) -> f64 {
    duration.as_millis() as f64 / 1000.0
}

/// A sample value as the text format writes it.
fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // Rust prints floats without exponent and whole ones without ".0".
        format!("{value}")
    }
}

/// A label value, escaped as the text format wants: `\\`, `\"`, `\n`.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A `# HELP` text, escaped: `\\` and `\n`.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample's labels, `(key, value)` in the order written.
type Labels = Vec<(String, String)>;

/// One sample line: `name{key="value",…} value [timestamp]`.
fn parse_sample(line: &str) -> Option<(&str, Labels, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inside) = rest.strip_prefix('{') {
        let mut chars = inside.char_indices();
        let mut key = String::new();
        loop {
            let (index, c) = chars.next()?;
            match c {
                '}' => {
                    rest = &inside[index + 1..];
                    break;
                }
                ',' | ' ' => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                other => key.push(other),
            }
        }
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some((name, labels, value))
}

#[cfg(test)]
mod tests;
