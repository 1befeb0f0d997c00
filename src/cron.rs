//! Cron entries: one file per instance in `$GIROFLE_CRON_DIR`, never an edit
//! of root's crontab. Cron ignores file names with dots, so none are used.
//!
//! The files carry the home's prefix (`<prefix>-gitlab-<N>`, `<prefix>-state`,
//! `<prefix>-drill-<N>`), so that homes sharing one cron directory never
//! touch each other's; a file of that name that another home wrote is
//! refused, never overwritten or removed. The line a cron entry runs
//! discards stdout (the IDs printed, which `girofle.log` records too) and
//! keeps stderr, so that cron mails failures only.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::home::Home;

/// The default schedule of an instance's backups: every 4 hours.
pub const DEFAULT_SCHEDULE: &str = "0 */4 * * *";

/// The name files had before they carried the home's prefix.
const LEGACY_PREFIX: &str = "girofle";

/// The cron file of instance `number`: `<prefix>-gitlab-<N>`.
pub fn entry_path(home: &Home, number: u32) -> PathBuf {
    home.cron_dir()
        .join(format!("{}-gitlab-{number}", home.prefix()))
}

/// The cron file of Girofle's own state backup: `<prefix>-state`.
pub fn state_entry_path(home: &Home) -> PathBuf {
    home.cron_dir().join(format!("{}-state", home.prefix()))
}

/// The renewal entry's name after the prefix: `<prefix>-tls-renew`.
const RENEWAL_NAME: &str = "tls-renew";

/// When the renewal runs: once a day, at a quiet minute.
pub const RENEWAL_SCHEDULE: &str = "17 3 * * *";

/// The cron file of the daily renewal of the certificates Girofle's
/// authority made: `<prefix>-tls-renew`.
pub fn renewal_entry_path(home: &Home) -> PathBuf {
    home.cron_dir()
        .join(format!("{}-{RENEWAL_NAME}", home.prefix()))
}

/// The renewal entry's command: `girofle-commission --home HOME --renew-certificates`.
pub fn renewal_command(home: &Home) -> Vec<String> {
    vec![
        program("girofle-commission").display().to_string(),
        "--home".to_string(),
        home.root().display().to_string(),
        "--renew-certificates".to_string(),
    ]
}

/// Writes the renewal entry when this home has none (every instance with a
/// certificate of Girofle's authority needs it; one entry renews them all).
pub fn ensure_renewal_entry(home: &Home, command: &[String]) -> anyhow::Result<()> {
    let path = renewal_entry_path(home);
    if !path.exists() {
        let comment = "renewal of the certificates made by Girofle's authority (tls/ca.crt), 30 days before they expire.";
        write_file(home, &path, comment, RENEWAL_SCHEDULE, command)?;
    } else if !belongs_to(home, &path) {
        bail!(
            "{} belongs to another Girofle home (same GIROFLE_PREFIX `{}`): not touched",
            path.display(),
            home.prefix()
        );
    }
    Ok(())
}

/// Whether `name` is one of this home's cron file names (`<prefix>-state`,
/// `<prefix>-tls-renew`, `<prefix>-gitlab-<N>`, `<prefix>-drill-<N>`); another prefix that merely
/// starts the same way (`a` and `a-b`) never matches.
pub fn is_own_name(home: &Home, name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(home.prefix())
        .and_then(|rest| rest.strip_prefix('-'))
    else {
        return false;
    };
    let numbered = |kind: &str| {
        rest.strip_prefix(kind)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    rest == "state" || rest == RENEWAL_NAME || numbered("gitlab-") || numbered("drill-")
}

/// The nicknames cron (Vixie's, as Debian's `/etc/cron.d` reads) accepts
/// that make sense for a backup schedule (`@reboot` does not).
const NICKNAMES: [(&str, &str); 7] = [
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Checks a schedule as cron reads it: five fields (minute hour day month
/// weekday) or a nickname. The `croner` parser checks ranges and syntax; on
/// top of it, what croner accepts but cron does not (seconds, `L`, `W`, `#`,
/// `?`, names in lists or ranges) is refused, and so is a schedule that
/// never comes (`0 0 31 2 *`): cron would accept the file and never run it.
/// The error says what is wrong.
pub fn validate_schedule(schedule: &str) -> Result<(), String> {
    let schedule = schedule.trim();
    let expression = if schedule.starts_with('@') {
        NICKNAMES
            .iter()
            .find(|(nickname, _)| schedule.eq_ignore_ascii_case(nickname))
            .map(|(_, expression)| *expression)
            .ok_or_else(|| {
                let known: Vec<&str> = NICKNAMES.iter().map(|(n, _)| *n).collect();
                format!("`{schedule}` is not a cron nickname ({})", known.join(", "))
            })?
    } else {
        schedule
    };
    let fields: Vec<&str> = expression.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "`{schedule}` has {} fields; a cron schedule has 5 (minute hour day month weekday)",
            fields.len()
        ));
    }
    for (index, field) in fields.iter().enumerate() {
        check_field(index, field)?;
    }
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|error| format!("`{schedule}` is not a valid cron schedule: {error}"))?;
    // Any fixed start will do: the question is whether the schedule ever comes.
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("a valid timestamp");
    parsed
        .find_next_occurrence(&start, false)
        .map_err(|_| format!("`{schedule}` never comes (no such date): cron would never run it"))?;
    Ok(())
}

/// One field: digits and `*/,-` only, or one month (4th) or weekday (5th) name.
fn check_field(index: usize, field: &str) -> Result<(), String> {
    const NAMES: [&str; 5] = ["minute", "hour", "day of month", "month", "weekday"];
    if field
        .chars()
        .all(|c| c.is_ascii_digit() || "*/,-".contains(c))
    {
        // `N/step` is croner's, not cron's: a step follows `*` or a range.
        for part in field.split(',') {
            if let Some((base, _)) = part.split_once('/')
                && base != "*"
                && !base.contains('-')
            {
                return Err(format!(
                    "`{part}` ({}): a step follows `*` or a range in cron",
                    NAMES[index]
                ));
            }
        }
        return Ok(());
    }
    let lower = field.to_ascii_lowercase();
    let named = match index {
        3 => MONTHS.contains(&lower.as_str()),
        4 => WEEKDAYS.contains(&lower.as_str()),
        _ => false,
    };
    if named {
        Ok(())
    } else {
        Err(format!(
            "`{field}` is not a cron {} field (digits, `*`, `/`, `,`, `-`{})",
            NAMES[index],
            match index {
                3 => ", or one month name such as `jan`",
                4 => ", or one weekday name such as `mon`",
                _ => "",
            }
        ))
    }
}

/// Writes (atomically) the entry that runs `command` as root on `schedule`.
/// A file of that name written by another home is refused; the file the
/// previous version wrote for this home under the old name
/// (`girofle-gitlab-<N>`) is removed once the new one is in place.
pub fn write_entry(
    home: &Home,
    number: u32,
    schedule: &str,
    command: &[String],
) -> anyhow::Result<PathBuf> {
    let path = entry_path(home, number);
    let comment = format!(
        "backups of GitLab instance {number}. Written by girofle-commission; removed by girofle-decommission."
    );
    migrate_legacy(home)?;
    write_file(home, &path, &comment, schedule, command)?;
    Ok(path)
}

/// Writes the state entry when this home has none: every 4 hours, Girofle's
/// state is backed up and, when `same-site` is configured, shipped there
/// with every instance's new backups. The previous version's `girofle-state`
/// of this home is migrated to the prefixed name.
pub fn ensure_state_entry(home: &Home, command: &[String]) -> anyhow::Result<()> {
    migrate_legacy(home)?;
    let path = state_entry_path(home);
    if !path.exists() {
        let comment = "its own state, and shipping to the `same-site` target when configured.";
        write_file(home, &path, comment, DEFAULT_SCHEDULE, command)?;
    } else if !belongs_to(home, &path) {
        bail!(
            "{} belongs to another Girofle home (same GIROFLE_PREFIX `{}`): not touched",
            path.display(),
            home.prefix()
        );
    }
    Ok(())
}

/// The words that name this home on an entry's command line.
fn home_words(home: &Home) -> String {
    format!(
        " --home {} ",
        shell_quote(&home.root().display().to_string())
    )
}

/// Whether the cron file at `path` runs a command for this home.
fn belongs_to(home: &Home, path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        let words = home_words(home);
        text.lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .any(|line| line.contains(&words) || line.ends_with(words.trim_end()))
    })
}

/// Migrates this home's files written by the previous version: named
/// `girofle-*` whatever the prefix, their line printing the backup IDs. Each
/// one that runs a command for this home gets its prefixed name and a quiet
/// line; files of other homes are left as they are.
pub fn migrate_legacy(home: &Home) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(home.cron_dir()) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&format!("{LEGACY_PREFIX}-")) else {
            continue;
        };
        let legacy = entry.path();
        let numbered = |kind: &str| {
            rest.strip_prefix(kind)
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        };
        let legacy_name = rest == "state" || numbered("gitlab-") || numbered("drill-");
        if !legacy_name || !belongs_to(home, &legacy) {
            continue;
        }
        let text = fs_err::read_to_string(&legacy)?;
        if text
            .lines()
            .all(|line| !is_command_line(line) || line.ends_with(">/dev/null"))
            && home.prefix() == LEGACY_PREFIX
        {
            continue;
        }
        let quiet: String = text
            .lines()
            .map(|line| {
                if is_command_line(line) && !line.ends_with(">/dev/null") {
                    format!("{line} >/dev/null\n")
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let target = home.cron_dir().join(format!("{}-{rest}", home.prefix()));
        if target != legacy && target.exists() {
            // This home already has its entry under the new name: the old one goes.
            fs_err::remove_file(&legacy)?;
            continue;
        }
        crate::atomic::write(&target, quiet.as_bytes(), 0o644)?;
        if target != legacy {
            fs_err::remove_file(&legacy)
                .with_context(|| format!("cannot remove the old entry {}", legacy.display()))?;
        }
    }
    Ok(())
}

/// Whether a cron file's line is a schedule and a command (not a comment, a
/// blank or an environment setting).
fn is_command_line(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty()
        && !line.starts_with('#')
        && line.split_whitespace().any(|word| word == "root")
        && !line
            .split_whitespace()
            .next()
            .is_some_and(|first| first.contains('='))
}

/// One cron file (atomically): a comment, the environment, one line run as
/// root with stdout discarded (stderr, where failures go, is what cron mails).
pub fn write_file(
    home: &Home,
    path: &Path,
    comment: &str,
    schedule: &str,
    command: &[String],
) -> anyhow::Result<()> {
    if path.exists() && !belongs_to(home, path) {
        bail!(
            "{} belongs to another Girofle home (same GIROFLE_PREFIX `{}`): not overwritten",
            path.display(),
            home.prefix()
        );
    }
    // Whatever the caller read it from, one entry is one line run as root.
    validate_schedule(schedule)
        .map_err(|problem| anyhow::anyhow!("{}: {problem}", path.display()))?;
    if comment.chars().any(char::is_control)
        || command
            .iter()
            .any(|word| word.chars().any(char::is_control))
    {
        bail!(
            "{}: a control character in its comment or command; not written",
            path.display()
        );
    }
    let directory = path.parent().unwrap_or(Path::new("/"));
    fs_err::create_dir_all(directory)
        .with_context(|| format!("cannot create {}", directory.display()))?;
    // The run cron starts sees this home's prefix and cron directory, as
    // the command that wrote the entry did (its state backup copies them).
    let contents = format!(
        "# Girofle: {comment}\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         GIROFLE_PREFIX={}\nGIROFLE_CRON_DIR={}\n{schedule} root {}\n",
        home.prefix(),
        home.cron_dir().display(),
        command_line(command)
    );
    crate::atomic::write(path, contents.as_bytes(), 0o644)
}

/// The shell line of an entry: the quoted words, stdout discarded. The
/// backup IDs it would print are in `girofle.log`; stderr stays, so cron's
/// mail carries failures only.
pub fn command_line(command: &[String]) -> String {
    let words = command
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ");
    format!("{words} >/dev/null")
}

/// The command line of a cron entry: `girofle-backup --home HOME WHAT`.
pub fn backup_command(home: &Home, what: &str) -> Vec<String> {
    vec![
        backup_program().display().to_string(),
        "--home".to_string(),
        home.root().display().to_string(),
        what.to_string(),
    ]
}

/// The `girofle-backup` the cron entry runs: the installed one, else the one
/// beside this binary.
pub fn backup_program() -> PathBuf {
    program("girofle-backup")
}

/// The Girofle binary `name` a cron entry runs: the one beside this binary,
/// else the installed one.
pub fn program(name: &str) -> PathBuf {
    let installed = PathBuf::from("/usr/local/bin").join(name);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(name)))
        .filter(|candidate| candidate.exists())
        .unwrap_or(installed)
}

/// Removes the entry of instance `number` (and the previous version's file
/// for it, if it is this home's); a missing entry is not an error, another
/// home's file of that name is never removed.
pub fn remove_entry(home: &Home, number: u32) -> anyhow::Result<()> {
    let path = entry_path(home, number);
    if path.exists() && !belongs_to(home, &path) {
        bail!(
            "{} belongs to another Girofle home (same GIROFLE_PREFIX `{}`): not removed",
            path.display(),
            home.prefix()
        );
    }
    match fs_err::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(
                anyhow::Error::new(error).context(format!("cannot remove {}", path.display()))
            );
        }
        _ => {}
    }
    // The previous version's file of this instance, if it is this home's.
    let legacy = home
        .cron_dir()
        .join(format!("{LEGACY_PREFIX}-gitlab-{number}"));
    if legacy != path && belongs_to(home, &legacy) {
        fs_err::remove_file(&legacy)?;
    }
    Ok(())
}

/// Quotes a word for the `/bin/sh` that cron runs the line with; `%` is
/// special to cron itself.
fn shell_quote(word: &str) -> String {
    crate::shell::quote(word).replace('%', "\\%")
}

/// The cron file of instance `number`'s weekly drill: `<prefix>-drill-<N>`.
pub fn drill_entry_path(home: &Home, number: u32) -> PathBuf {
    home.cron_dir()
        .join(format!("{}-drill-{number}", home.prefix()))
}

/// The weekly drill of instance `number` when none is given, staggered by
/// its number so that instances do not boot their drills at the same time:
/// minute 17·N mod 60, hour 3 + N mod 3, weekday N mod 7.
pub fn default_drill_schedule(number: u32) -> String {
    format!("{} {} * * {}", 17 * number % 60, 3 + number % 3, number % 7)
}

/// Writes (atomically) the entry that runs instance `number`'s drill; a file
/// of that name written by another home is refused.
pub fn write_drill_entry(
    home: &Home,
    number: u32,
    schedule: &str,
    command: &[String],
) -> anyhow::Result<PathBuf> {
    let path = drill_entry_path(home, number);
    let comment = format!(
        "weekly drill of GitLab instance {number}'s newest backup. Written by girofle-commission; removed by girofle-decommission."
    );
    write_file(home, &path, &comment, schedule, command)?;
    Ok(path)
}

/// Removes instance `number`'s drill entry; a missing entry is not an error,
/// another home's file of that name is never removed.
pub fn remove_drill_entry(home: &Home, number: u32) -> anyhow::Result<()> {
    let path = drill_entry_path(home, number);
    if path.exists() && !belongs_to(home, &path) {
        bail!(
            "{} belongs to another Girofle home (same GIROFLE_PREFIX `{}`): not removed",
            path.display(),
            home.prefix()
        );
    }
    match fs_err::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::Error::new(error).context(format!("cannot remove {}", path.display())))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod interval_tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn intervals_are_the_longest_gap() {
        let from = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let hours = |h: u64| Some(Duration::from_secs(h * 3600));
        assert_eq!(interval("0 */4 * * *", from), hours(4));
        assert_eq!(interval("@daily", from), hours(24));
        assert_eq!(interval("30 2 * * 1-5", from), hours(72));
        assert_eq!(interval("0 3 * * 0", from), hours(24 * 7));
        assert_eq!(
            interval("0 0 1 * *", from).map(|d| d.as_secs() / 86400 >= 28),
            Some(true)
        );
        assert_eq!(interval("not cron", from), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_cron_runs_are_accepted() {
        for good in [
            "0 */4 * * *",
            "* * * * *",
            "@daily",
            "@midnight",
            "@HOURLY",
            "30 2 * * mon",
            "0 0 1 jan *",
            "0 0 * * 7",
            "0-59/15 1,13 1-15 * 1-5",
            "0 0 29 2 *",
        ] {
            assert_eq!(validate_schedule(good), Ok(()), "{good}");
        }
    }

    #[test]
    fn schedules_cron_ignores_are_refused() {
        for (bad, expected) in [
            ("0 */4 * *", "has 4 fields"),
            ("0 * * * * ; rm -rf /", "has 9 fields"),
            ("@sometimes", "not a cron nickname"),
            ("@reboot", "not a cron nickname"),
            ("99 99 * * *", "not a valid cron schedule"),
            ("60 * * * *", "not a valid cron schedule"),
            ("0 24 * * *", "not a valid cron schedule"),
            ("0 0 32 * *", "not a valid cron schedule"),
            ("0 0 * 13 *", "not a valid cron schedule"),
            ("0 0 * * 8", "not a valid cron schedule"),
            ("0 0 L * *", "not a cron day of month field"),
            ("0 0 * * 5#2", "not a cron weekday field"),
            ("0 0 ? * *", "not a cron day of month field"),
            ("0 0 * * mon-fri", "not a cron weekday field"),
            ("0 0 * * jan", "not a cron weekday field"),
            ("5/10 * * * *", "a step follows"),
            ("0 0 31 2 *", "never comes"),
            ("0 0 30 feb *", "never comes"),
            ("0 0 0 0 0 *", "has 6 fields"),
        ] {
            let problem = validate_schedule(bad).expect_err(bad);
            assert!(problem.contains(expected), "{bad}: {problem}");
        }
    }

    #[test]
    fn words_with_spaces_are_quoted_and_stdout_is_discarded() {
        assert_eq!(shell_quote("/girofle home"), "'/girofle home'");
        assert_eq!(
            command_line(&["/usr/local/bin/girofle-backup".into(), "50%".into()]),
            "/usr/local/bin/girofle-backup '50\\%' >/dev/null"
        );
    }

    #[test]
    fn drills_are_weekly_and_staggered_by_instance_number() {
        assert_eq!(default_drill_schedule(1), "17 4 * * 1");
        assert_eq!(default_drill_schedule(2), "34 5 * * 2");
        assert_eq!(default_drill_schedule(3), "51 3 * * 3");
        assert_eq!(default_drill_schedule(7), "59 4 * * 0");
        for number in 0..100 {
            assert!(validate_schedule(&default_drill_schedule(number)).is_ok());
        }
        let home = Home::resolve(Some(Path::new("/girofle")));
        assert_eq!(
            drill_entry_path(&home, 4),
            home.cron_dir().join(format!("{}-drill-4", home.prefix()))
        );
        assert!(is_own_name(&home, &format!("{}-drill-4", home.prefix())));
    }

    #[test]
    fn the_renewal_entry_is_daily_and_one_of_the_homes_names() {
        assert!(validate_schedule(RENEWAL_SCHEDULE).is_ok());
        let home = Home::resolve(Some(Path::new("/girofle")));
        let path = renewal_entry_path(&home);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!("{}-tls-renew", home.prefix()));
        assert!(!name.contains('.'), "cron ignores names with dots");
        assert!(is_own_name(&home, &name));
        assert!(!is_own_name(
            &home,
            &format!("{}-tls-renewal", home.prefix())
        ));
        let command = renewal_command(&home);
        assert!(command[0].ends_with("girofle-commission"), "{command:?}");
        assert_eq!(command[1..], ["--home", "/girofle", "--renew-certificates"]);
    }
}

/// The schedule of the Girofle entry at `path` (the five fields, or a
/// nickname, of its command line); `None` when there is no such entry.
pub fn read_schedule(path: &Path) -> Option<String> {
    let text = fs_err::read_to_string(path).ok()?;
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        // Assignments (`SHELL=/bin/sh`) come before the command line.
        .find(|line| {
            let first = line.split_whitespace().next().unwrap_or_default();
            !first.contains('=')
        })
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words[0].starts_with('@') {
                words[0].to_string()
            } else {
                words.iter().take(5).copied().collect::<Vec<_>>().join(" ")
            }
        })
}

/// How far apart the runs of `schedule` can be: the longest gap between two
/// runs over the week after `from` (a schedule that runs less than weekly:
/// the gap between its next two runs). `None` for a schedule cron would refuse.
pub fn interval(schedule: &str, from: std::time::SystemTime) -> Option<std::time::Duration> {
    validate_schedule(schedule).ok()?;
    let schedule = schedule.trim();
    let expression = NICKNAMES
        .iter()
        .find(|(nickname, _)| schedule.eq_ignore_ascii_case(nickname))
        .map(|(_, expression)| *expression)
        .unwrap_or(schedule);
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expression)
        .ok()?;
    let start_seconds = from.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    let start = chrono::DateTime::from_timestamp(i64::try_from(start_seconds).ok()?, 0)?;
    let week_later = start + chrono::Duration::days(7);
    let mut previous = parsed.find_next_occurrence(&start, false).ok()?;
    let mut longest = chrono::Duration::zero();
    loop {
        let next = parsed.find_next_occurrence(&previous, false).ok()?;
        longest = longest.max(next - previous);
        if next > week_later {
            break;
        }
        previous = next;
    }
    longest.to_std().ok()
}
