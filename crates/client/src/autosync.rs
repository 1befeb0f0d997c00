//! The user service that sends the saved folders by itself: when the person
//! logs out or the machine shuts down, now and then while online, and when
//! another of their machines asks. Where systemd is the user's init, a
//! systemd user service (the loop that answers requests and sends when it
//! is stopped) and a timer (the regular sending); elsewhere an XDG autostart
//! entry that starts the same loop with the desktop session, which sends
//! when the session ends it (SIGTERM or SIGHUP).
//!
//! Every file is under the person's configuration directory
//! (`$XDG_CONFIG_HOME`, `~/.config` by default), written whole or not at all
//! (a temporary file renamed over it), and writing them again changes
//! nothing: `on` twice is `on` once.

use std::path::{Path, PathBuf};

use girofle_base::error::{Error, Result};

use crate::tr;

/// The loop's systemd unit.
pub const SERVICE: &str = "girofle-client.service";
/// The regular sending's unit, started by the timer.
pub const SYNC_SERVICE: &str = "girofle-client-sync.service";
/// The timer of the regular sending.
pub const TIMER: &str = "girofle-client-sync.timer";
/// The XDG autostart entry.
pub const DESKTOP: &str = "girofle-client.desktop";

/// How the service is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// By the person's systemd user manager.
    Systemd,
    /// By the desktop session, from an XDG autostart entry.
    Autostart,
}

impl Kind {
    /// Systemd where it is the init (`/run/systemd/system` exists, as
    /// `sd_booted()` checks), the autostart entry otherwise.
    pub fn detect() -> Kind {
        if Path::new("/run/systemd/system").is_dir() {
            Kind::Systemd
        } else {
            Kind::Autostart
        }
    }
}

/// What the person chose.
#[derive(Debug, Clone)]
pub struct Choice {
    /// Save what is not saved before sending, when leaving.
    pub save_on_leave: bool,
    /// Minutes between two regular sendings (at least one).
    pub every_minutes: u64,
}

/// The files of the service, under a configuration directory.
#[derive(Debug, Clone)]
pub struct Files {
    /// `systemd/user/girofle-client.service`.
    pub service: PathBuf,
    /// `systemd/user/girofle-client-sync.service`.
    pub sync_service: PathBuf,
    /// `systemd/user/girofle-client-sync.timer`.
    pub timer: PathBuf,
    /// `systemd/user/default.target.wants/girofle-client.service` (a link).
    pub service_wanted: PathBuf,
    /// `systemd/user/timers.target.wants/girofle-client-sync.timer` (a link).
    pub timer_wanted: PathBuf,
    /// `autostart/girofle-client.desktop`.
    pub desktop: PathBuf,
}

impl Files {
    /// The files under the person's configuration directory.
    pub fn here() -> Result<Files> {
        let base = match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
            Some(dir) if dir.is_absolute() => dir,
            _ => std::env::var_os("HOME")
                .filter(|home| !home.is_empty())
                .map(|home| PathBuf::from(home).join(".config"))
                .ok_or_else(|| Error::usage(tr!("no-home")))?,
        };
        Ok(Files::under(&base))
    }

    /// The files under the configuration directory `base`.
    pub fn under(base: &Path) -> Files {
        let user = base.join("systemd").join("user");
        Files {
            service: user.join(SERVICE),
            sync_service: user.join(SYNC_SERVICE),
            timer: user.join(TIMER),
            service_wanted: user.join("default.target.wants").join(SERVICE),
            timer_wanted: user.join("timers.target.wants").join(TIMER),
            desktop: base.join("autostart").join(DESKTOP),
        }
    }

    /// Every file and link, for removing them.
    fn all(&self) -> [&Path; 6] {
        [
            &self.service_wanted,
            &self.timer_wanted,
            &self.service,
            &self.sync_service,
            &self.timer,
            &self.desktop,
        ]
    }

    /// How the service is installed, if it is.
    pub fn installed(&self) -> Option<Kind> {
        if self.service.symlink_metadata().is_ok() {
            Some(Kind::Systemd)
        } else if self.desktop.symlink_metadata().is_ok() {
            Some(Kind::Autostart)
        } else {
            None
        }
    }
}

/// The loop's arguments after the program, as the service runs it: the
/// settings file named only when the person named it (`--config` or
/// `GIROFLE_CLIENT_CONFIG`): a named file keeps its data beside it, so
/// naming the default one would move the data.
pub fn loop_args(config: Option<&Path>, kind: Kind, choice: &Choice) -> Vec<String> {
    let mut args = config_args(config);
    args.extend([
        "autosync".into(),
        "run".into(),
        "--every".into(),
        // Under systemd the timer sends regularly (it survives suspend).
        match kind {
            Kind::Systemd => "0".into(),
            Kind::Autostart => choice.every_minutes.to_string(),
        },
    ]);
    if choice.save_on_leave {
        args.push("--save-on-leave".into());
    }
    args
}

fn config_args(config: Option<&Path>) -> Vec<String> {
    match config {
        Some(file) => vec!["--config".into(), file.display().to_string()],
        None => vec![],
    }
}

/// The XDG directories of this session, absolute ones only, for the systemd
/// unit: the user manager does not read the person's shell profile, and the
/// settings and data must be found where the person's own commands find them.
pub fn session_environment() -> Vec<(String, String)> {
    ["XDG_CONFIG_HOME", "XDG_DATA_HOME"]
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok()?;
            Path::new(&value)
                .is_absolute()
                .then(|| (name.to_string(), value))
        })
        .collect()
}

/// Writes the service's files for `kind` (and removes the other kind's):
/// `program` run with the settings file `config` when the person named one,
/// and, under systemd, with `environment`. Returns the files written.
pub fn install(
    files: &Files,
    kind: Kind,
    program: &Path,
    (config, environment): (Option<&Path>, &[(String, String)]),
    choice: &Choice,
) -> Result<Vec<PathBuf>> {
    let args = loop_args(config, kind, choice);
    let mut written = Vec::new();
    match kind {
        Kind::Systemd => {
            remove_file(&files.desktop)?;
            let exec = systemd_command(program, &args);
            let environment: String = environment
                .iter()
                .map(|(name, value)| {
                    format!(
                        "Environment={}\n",
                        systemd_environment_quote(&format!("{name}={value}"))
                    )
                })
                .collect();
            write(
                &files.service,
                &format!(
                    "[Unit]\n\
                     Description=Girofle: sends your saved folders when you leave, and when another of your machines asks\n\
                     \n\
                     [Service]\n\
                     Type=simple\n\
                     {environment}\
                     ExecStart={exec}\n\
                     # The last sending is made when the service is stopped (logout,\n\
                     # shutdown): the signal goes to the loop alone, which sends and ends.\n\
                     KillMode=mixed\n\
                     TimeoutStopSec=120\n\
                     Restart=on-failure\n\
                     RestartSec=60\n\
                     \n\
                     [Install]\n\
                     WantedBy=default.target\n"
                ),
            )?;
            let mut once = config_args(config);
            once.extend(["autosync".into(), "run".into(), "--once".into()]);
            let once = systemd_command(program, &once);
            write(
                &files.sync_service,
                &format!(
                    "[Unit]\n\
                     Description=Girofle: sends your saved folders\n\
                     \n\
                     [Service]\n\
                     Type=oneshot\n\
                     {environment}\
                     ExecStart={once}\n"
                ),
            )?;
            write(
                &files.timer,
                &format!(
                    "[Unit]\n\
                     Description=Girofle: sends your saved folders every {0} minutes\n\
                     \n\
                     [Timer]\n\
                     OnStartupSec=5min\n\
                     OnUnitActiveSec={0}min\n\
                     \n\
                     [Install]\n\
                     WantedBy=timers.target\n",
                    choice.every_minutes.max(1)
                ),
            )?;
            // What `systemctl --user enable` makes, made here so that it holds
            // without a running user manager too.
            link(&files.service_wanted, Path::new(&format!("../{SERVICE}")))?;
            link(&files.timer_wanted, Path::new(&format!("../{TIMER}")))?;
            written.extend([
                files.service.clone(),
                files.sync_service.clone(),
                files.timer.clone(),
                files.service_wanted.clone(),
                files.timer_wanted.clone(),
            ]);
        }
        Kind::Autostart => {
            for path in [
                &files.service_wanted,
                &files.timer_wanted,
                &files.service,
                &files.sync_service,
                &files.timer,
            ] {
                remove_file(path)?;
            }
            write(
                &files.desktop,
                &format!(
                    "[Desktop Entry]\n\
                     Type=Application\n\
                     Name=Girofle\n\
                     Comment=Sends your saved folders when you leave, and when another of your machines asks\n\
                     Exec={}\n\
                     Terminal=false\n\
                     NoDisplay=true\n\
                     X-GNOME-Autostart-enabled=true\n",
                    desktop_command(program, &args)
                ),
            )?;
            written.push(files.desktop.clone());
        }
    }
    Ok(written)
}

/// Removes every file of the service; the ones removed.
pub fn remove(files: &Files) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for path in files.all() {
        if remove_file(path)? {
            removed.push(path.to_path_buf());
        }
    }
    Ok(removed)
}

fn remove_file(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(Error::failed(format!("{}: {error}", path.display()))),
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    girofle_base::atomic::write(path, text.as_bytes(), 0o644)?;
    Ok(())
}

/// A symbolic link at `at` to `to`, made beside and renamed over it.
fn link(at: &Path, to: &Path) -> Result<()> {
    let parent = at.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent)?;
    let temporary = parent.join(format!(
        ".{}.{}",
        at.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(to, &temporary)?;
    std::fs::rename(&temporary, at)?;
    Ok(())
}

/// A command line for systemd's `ExecStart=`: each word in double quotes,
/// with systemd's escapes (`\`, `"`), its specifiers (`%`) and its variables
/// (`$`) doubled.
pub fn systemd_command(program: &Path, args: &[String]) -> String {
    std::iter::once(program.display().to_string())
        .chain(args.iter().cloned())
        .map(|word| systemd_quote(&word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word for a systemd unit, quoted and escaped.
fn systemd_quote(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    format!("\"{escaped}\"")
}

/// One `Environment=` assignment for a systemd unit, quoted: specifiers
/// (`%`) are expanded there but variables (`$`) are not, so a `$` in a path
/// stays as it is (doubled, it would name another directory).
fn systemd_environment_quote(assignment: &str) -> String {
    let escaped = assignment
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

/// A command line for a desktop entry's `Exec=`: each word in double quotes
/// with the Desktop Entry specification's escapes (`"`, `` ` ``, `$`, `\`
/// inside quotes; then `\` again as a string value; `%` doubled as it is a
/// field code).
pub fn desktop_command(program: &Path, args: &[String]) -> String {
    std::iter::once(program.display().to_string())
        .chain(args.iter().cloned())
        .map(|word| {
            let mut quoted = String::from("\"");
            for c in word.chars() {
                match c {
                    '"' | '`' | '$' | '\\' => {
                        quoted.push('\\');
                        quoted.push(c);
                    }
                    '%' => quoted.push_str("%%"),
                    _ => quoted.push(c),
                }
            }
            quoted.push('"');
            // The value's own escape: each backslash written twice.
            quoted.replace('\\', "\\\\")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_keep_odd_paths_whole() {
        let args = vec!["--config".to_string(), "/home/a b/100%/$x\"y".to_string()];
        assert_eq!(
            systemd_command(Path::new("/opt/g c"), &args),
            r#""/opt/g c" "--config" "/home/a b/100%%/$$x\"y""#
        );
        assert_eq!(
            desktop_command(Path::new("/opt/g c"), &args),
            r#""/opt/g c" "--config" "/home/a b/100%%/\\$x\\"y""#
        );
        // systemd expands variables on a command line, not in Environment=.
        assert_eq!(
            systemd_environment_quote("XDG_DATA_HOME=/home/a$b/100%"),
            r#""XDG_DATA_HOME=/home/a$b/100%%""#
        );
    }

    #[test]
    fn on_twice_is_on_once_and_off_removes_all() {
        let base = tempfile::tempdir().unwrap();
        let files = Files::under(base.path());
        let choice = Choice {
            save_on_leave: false,
            every_minutes: 15,
        };
        let config = (
            None,
            &[("XDG_DATA_HOME".to_string(), "/d a".to_string())][..],
        );
        let program = Path::new("/usr/bin/girofle-client");
        install(&files, Kind::Systemd, program, config, &choice).unwrap();
        let first = std::fs::read_to_string(&files.service).unwrap();
        assert!(
            first.contains("Environment=\"XDG_DATA_HOME=/d a\"\n"),
            "{first}"
        );
        install(&files, Kind::Systemd, program, config, &choice).unwrap();
        assert_eq!(std::fs::read_to_string(&files.service).unwrap(), first);
        assert_eq!(files.installed(), Some(Kind::Systemd));
        assert!(std::fs::read_to_string(&files.service_wanted).is_ok());
        install(&files, Kind::Autostart, program, config, &choice).unwrap();
        assert_eq!(files.installed(), Some(Kind::Autostart));
        assert!(!files.service.exists() && !files.timer_wanted.exists());
        assert_eq!(remove(&files).unwrap(), vec![files.desktop.clone()]);
        assert_eq!(files.installed(), None);
        assert!(remove(&files).unwrap().is_empty());
    }
}
