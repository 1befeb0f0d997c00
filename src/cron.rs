//! Cron entries: one file per instance in `$GIROFLE_CRON_DIR`, never an edit
//! of root's crontab. Cron ignores file names with dots, so none are used.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// The default schedule of an instance's backups: every 4 hours.
pub const DEFAULT_SCHEDULE: &str = "0 */4 * * *";

/// The cron file of instance `number`.
pub fn entry_path(cron_dir: &Path, number: u32) -> PathBuf {
    cron_dir.join(format!("girofle-gitlab-{number}"))
}

/// Checks a five-field schedule (or an `@daily`-style nickname); the error
/// says what is wrong.
pub fn validate_schedule(schedule: &str) -> Result<(), String> {
    const NICKNAMES: [&str; 7] = [
        "@hourly",
        "@daily",
        "@midnight",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
    ];
    let schedule = schedule.trim();
    if schedule.starts_with('@') {
        return if NICKNAMES.contains(&schedule) {
            Ok(())
        } else {
            Err(format!(
                "`{schedule}` is not a cron nickname ({})",
                NICKNAMES.join(", ")
            ))
        };
    }
    let fields: Vec<&str> = schedule.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "`{schedule}` has {} fields; a cron schedule has 5 (minute hour day month weekday)",
            fields.len()
        ));
    }
    for field in fields {
        if !field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "*/,-".contains(c))
        {
            return Err(format!("`{field}` is not a cron field"));
        }
    }
    Ok(())
}

/// Writes (atomically) the entry that runs `command` as root on `schedule`.
pub fn write_entry(
    cron_dir: &Path,
    number: u32,
    schedule: &str,
    command: &[String],
) -> anyhow::Result<PathBuf> {
    let path = entry_path(cron_dir, number);
    let comment = format!(
        "backups of GitLab instance {number}. Written by girofle-commission; removed by girofle-decommission."
    );
    write_file(&path, &comment, schedule, command)?;
    Ok(path)
}

/// The cron file of Girofle's own state backup (and shipping to `same-site`).
pub fn state_entry_path(cron_dir: &Path) -> PathBuf {
    cron_dir.join("girofle-state")
}

/// Writes the state entry when there is none: every 4 hours, Girofle's state
/// is backed up and, when `same-site` is configured, shipped there with every
/// instance's new backups.
pub fn ensure_state_entry(cron_dir: &Path, command: &[String]) -> anyhow::Result<()> {
    let path = state_entry_path(cron_dir);
    if path.exists() {
        return Ok(());
    }
    let comment = "its own state, and shipping to the `same-site` target when configured.";
    write_file(&path, comment, DEFAULT_SCHEDULE, command)
}

/// One cron file (atomically): a comment, the environment, one line run as root.
pub fn write_file(
    path: &Path,
    comment: &str,
    schedule: &str,
    command: &[String],
) -> anyhow::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("/"));
    fs_err::create_dir_all(directory)
        .with_context(|| format!("cannot create {}", directory.display()))?;
    let line = command
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ");
    let contents = format!(
        "# Girofle: {comment}\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         {schedule} root {line}\n"
    );
    crate::atomic::write(path, contents.as_bytes(), 0o644)
}

/// The command line of a cron entry: `girofle-backup --home HOME WHAT`.
pub fn backup_command(home: &crate::home::Home, what: &str) -> Vec<String> {
    vec![
        backup_program().display().to_string(),
        "--home".to_string(),
        home.root().display().to_string(),
        what.to_string(),
    ]
}

/// The `girofle-backup` a cron entry runs: the installed one, else the one
/// beside this binary.
pub fn backup_program() -> PathBuf {
    let installed = PathBuf::from("/usr/local/bin/girofle-backup");
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("girofle-backup")))
        .filter(|candidate| candidate.exists())
        .unwrap_or(installed)
}

/// Removes the entry of instance `number`; a missing entry is not an error.
pub fn remove_entry(cron_dir: &Path, number: u32) -> anyhow::Result<()> {
    let path = entry_path(cron_dir, number);
    match fs_err::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(anyhow::Error::new(error).context(format!("cannot remove {}", path.display())))
        }
        _ => Ok(()),
    }
}

/// Quotes a word for the `/bin/sh` that cron runs the line with; `%` is
/// special to cron itself.
fn shell_quote(word: &str) -> String {
    crate::shell::quote(word).replace('%', "\\%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert!(validate_schedule("0 */4 * * *").is_ok());
        assert!(validate_schedule("* * * * *").is_ok());
        assert!(validate_schedule("@daily").is_ok());
        assert!(validate_schedule("0 */4 * *").is_err());
        assert!(validate_schedule("0 * * * * ; rm -rf /").is_err());
        assert!(validate_schedule("@sometimes").is_err());
    }

    #[test]
    fn words_with_spaces_are_quoted() {
        assert_eq!(shell_quote("/girofle home"), "'/girofle home'");
        assert_eq!(
            shell_quote("/usr/local/bin/girofle-backup"),
            "/usr/local/bin/girofle-backup"
        );
    }
}
