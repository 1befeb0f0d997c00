//! What `--help` says after the options: the environment a binary honours,
//! its exit codes and two examples, one table for every binary; and the
//! shell completions and man pages generated from the same clap definitions.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap_complete::Shell;

use crate::home::{DEFAULT_CRON_DIR, DEFAULT_HOME, DEFAULT_IMAGE, DEFAULT_PREFIX};

/// An environment variable a binary honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// `GIROFLE_HOME`, and its legacy name `REPERTOIRE_GIROFLE`.
    Home,
    /// `GIROFLE_CRON_DIR`.
    CronDir,
    /// `GIROFLE_IMAGE`.
    Image,
    /// `GIROFLE_PREFIX`.
    Prefix,
    /// `DOCKER_HOST`.
    DockerHost,
    /// `GIROFLE_CLIENT_CONFIG` (the client only).
    ClientConfig,
    /// `XDG_CONFIG_HOME` (the client only).
    XdgConfig,
    /// `XDG_DATA_HOME` (the client only).
    XdgData,
}

impl Var {
    /// The variable's name, and what it means with its default.
    pub fn describe(self) -> (&'static str, String) {
        match self {
            Var::Home => (
                "GIROFLE_HOME",
                format!(
                    "the Girofle directory, when --home is not given [default: {DEFAULT_HOME}]; \
                     the legacy name REPERTOIRE_GIROFLE is honoured too"
                ),
            ),
            Var::CronDir => (
                "GIROFLE_CRON_DIR",
                format!("where cron entries are written [default: {DEFAULT_CRON_DIR}]"),
            ),
            Var::Image => (
                "GIROFLE_IMAGE",
                format!("the image of new instances [default: {DEFAULT_IMAGE}]"),
            ),
            Var::Prefix => (
                "GIROFLE_PREFIX",
                format!(
                    "the container-name prefix, so that several homes can share one engine \
                     [default: {DEFAULT_PREFIX}]"
                ),
            ),
            Var::DockerHost => (
                "DOCKER_HOST",
                "the Docker engine to talk to, as the docker CLI takes it".to_string(),
            ),
            Var::ClientConfig => (
                "GIROFLE_CLIENT_CONFIG",
                "the settings file, when --config is not given \
                 [default: $XDG_CONFIG_HOME/girofle/client.toml]"
                    .to_string(),
            ),
            Var::XdgConfig => (
                "XDG_CONFIG_HOME",
                "where the settings file is looked for [default: ~/.config]".to_string(),
            ),
            Var::XdgData => (
                "XDG_DATA_HOME",
                "where the client keeps its data [default: ~/.local/share]".to_string(),
            ),
        }
    }
}

/// What the help of one binary says after its options.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// The binary's name.
    pub program: &'static str,
    /// The environment variables it honours.
    pub vars: &'static [Var],
    /// What exit 1 means besides a failure, if anything.
    pub one: Option<&'static str>,
    /// What exit 3 means for this binary, when it can be partly done.
    pub partial: Option<&'static str>,
    /// Two examples: the command line and what it does.
    pub examples: [(&'static str, &'static str); 2],
}

/// Every binary's page. The variables are those each one reads: the home
/// for all of them (the log); the engine for those that talk to it; the
/// prefix and the cron directory for those that name containers or write
/// cron entries; the image for the one that makes containers from nothing.
pub const PAGES: &[Page] = &[
    Page {
        program: "girofle-commission",
        vars: &[
            Var::Home,
            Var::CronDir,
            Var::Image,
            Var::Prefix,
            Var::DockerHost,
        ],
        one: None,
        partial: None,
        examples: [
            (
                "girofle-commission docs --ip 10.0.0.5 --hostname gitlab.example.org",
                "a new instance named docs on 10.0.0.5, its ports the next free ones; prints its URL",
            ),
            (
                "girofle-commission --http-port 8081 --backup-schedule '30 */6 * * *'",
                "a new instance on port 8081, backed up every 6 hours at half past",
            ),
        ],
    },
    Page {
        program: "girofle-list",
        vars: &[Var::Home, Var::DockerHost],
        one: Some("also: the Docker engine did not answer (the listing is printed anyway)"),
        partial: None,
        examples: [
            (
                "girofle-list --all",
                "every instance, decommissioned ones too, with its live state",
            ),
            (
                "girofle-list --format json",
                "the same as JSON, for scripts",
            ),
        ],
    },
    Page {
        program: "girofle-backup",
        vars: &[Var::Home, Var::CronDir, Var::Prefix, Var::DockerHost],
        one: None,
        partial: Some(
            "with --all, some instances failed; or a backup was made whose retention or shipping failed",
        ),
        examples: [
            (
                "girofle-backup --all --to off-site",
                "backs up every commissioned instance, each frozen for its second pass only (never \
                 restarted), and ships the backups to the target off-site",
            ),
            (
                "girofle-backup 3 --consistency stop",
                "backs up instance 3 with GitLab stopped for the second pass and started again (a \
                 clean shutdown; GitLab is down until it is healthy)",
            ),
        ],
    },
    Page {
        program: "girofle-restore",
        vars: &[Var::Home, Var::CronDir, Var::Prefix, Var::DockerHost],
        one: None,
        partial: Some("with --all, some instances were not brought back"),
        examples: [
            (
                "girofle-restore girofle-gitlab-3 /girofle/noeud-gitlab-3",
                "puts the newest complete backup of instance 3 back into its container",
            ),
            (
                "girofle-restore",
                "on a terminal: asks for the container, its directory and the backup",
            ),
        ],
    },
    Page {
        program: "girofle-decommission",
        vars: &[Var::Home, Var::CronDir, Var::Prefix, Var::DockerHost],
        one: None,
        partial: None,
        examples: [
            (
                "girofle-decommission 3",
                "a final backup of instance 3, then its container and cron entry removed; its data stays",
            ),
            (
                "girofle-decommission",
                "on a terminal: lists the commissioned instances and asks which one",
            ),
        ],
    },
    Page {
        program: "girofle-ntp-fix",
        vars: &[Var::Home],
        one: None,
        partial: None,
        examples: [
            (
                "girofle-ntp-fix --check",
                "prints the clock's offset from the NTP server; changes nothing",
            ),
            (
                "girofle-ntp-fix --server ntp.example.org",
                "sets the clock from ntp.example.org and keeps it right with chrony",
            ),
        ],
    },
    Page {
        program: "girofle-client",
        vars: &[Var::ClientConfig, Var::XdgConfig, Var::XdgData],
        one: None,
        partial: None,
        examples: [
            (
                "girofle-client setup --server https://gitlab.example.org --token-file ~/token.txt",
                "sets this machine up with the server and your access token",
            ),
            (
                "girofle-client new ~/Documents/thesis",
                "keeps that folder safe on the server from now on",
            ),
        ],
    },
];

/// The page of `program`, if it is one of Girofle's binaries.
pub fn page(program: &str) -> Option<&'static Page> {
    PAGES.iter().find(|page| page.program == program)
}

impl Page {
    /// The text `--help` shows after the options.
    pub fn render(&self) -> String {
        let mut text = String::from("Environment:\n");
        for var in self.vars {
            let (name, meaning) = var.describe();
            text.push_str(&format!("  {name}\n          {meaning}\n"));
        }
        text.push_str("\nExit codes:\n  0  done\n");
        text.push_str(
            "  1  the operation failed (stderr says what failed and in what state it left things)\n",
        );
        if let Some(one) = self.one {
            text.push_str(&format!("     {one}\n"));
        }
        text.push_str("  2  usage error or bad input (nothing was changed)\n");
        if let Some(partial) = self.partial {
            text.push_str(&format!("  3  partly done: {partial}\n"));
        }
        text.push_str("\nExamples:\n");
        for (line, what) in self.examples {
            text.push_str(&format!("  {line}\n          {what}\n"));
        }
        text
    }
}

/// `command` with its binary's page after the options of `--help` (the long
/// help only: `-h` stays short).
pub fn decorate(command: clap::Command, program: &str) -> clap::Command {
    match page(program) {
        Some(page) => command.after_long_help(page.render()),
        None => command,
    }
}

/// What `--generate` makes.
pub const GENERATED: &[&str] = &[
    "completion-bash",
    "completion-zsh",
    "completion-fish",
    "man",
];

/// Writes the completion or man page `what` of `command` to `out`.
pub fn generate(command: clap::Command, what: &str, out: &mut dyn Write) -> std::io::Result<()> {
    let shell = match what {
        "completion-bash" => Shell::Bash,
        "completion-zsh" => Shell::Zsh,
        "completion-fish" => Shell::Fish,
        "man" => return clap_mangen::Man::new(command).render(out),
        other => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("cannot generate {other:?}: one of {}", GENERATED.join(", ")),
            ));
        }
    };
    let mut command = command;
    let name = command.get_name().to_string();
    clap_complete::generate(shell, &mut command, name, out);
    Ok(())
}

/// Handles `BINARY --generate WHAT` before the normal parse, and the exit it
/// ends with; `None` for every other command line.
///
/// The option is hidden and handled here, outside clap's parse, on purpose:
/// the operations' required arguments would otherwise reject it, and it
/// would show in the very completions and man pages it generates. It lives
/// in the binaries themselves so that install.sh can install completions and
/// man pages on a host that has only the prebuilt binaries (no Rust).
pub fn generate_if_asked(command: &clap::Command) -> Option<ExitCode> {
    generate_for(command, std::env::args_os().skip(1).collect())
}

fn generate_for(command: &clap::Command, words: Vec<OsString>) -> Option<ExitCode> {
    if words.first().is_none_or(|word| word != "--generate") {
        return None;
    }
    let program = command.get_name().to_string();
    let what = match words.as_slice() {
        [_, what] => what.to_string_lossy().into_owned(),
        _ => {
            eprintln!(
                "{program}: --generate takes one of {}",
                GENERATED.join(", ")
            );
            return Some(ExitCode::from(2));
        }
    };
    let mut out = Vec::new();
    if let Err(error) = generate(command.clone(), &what, &mut out) {
        eprintln!("{program}: {error}");
        return Some(ExitCode::from(2));
    }
    match std::io::stdout().write_all(&out) {
        Ok(()) => Some(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("{program}: {error}");
            Some(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_names_its_variables_exit_codes_and_two_examples() {
        for page in PAGES {
            let text = page.render();
            for var in page.vars {
                assert!(text.contains(var.describe().0), "{}", page.program);
            }
            assert!(text.contains("\n  2  usage error"), "{}", page.program);
            assert_eq!(page.partial.is_some(), text.contains("\n  3  "));
            for (line, _) in page.examples {
                assert!(line.starts_with(page.program), "{line}");
            }
        }
        assert!(page("girofle-nothing").is_none());
    }

    #[test]
    fn only_the_generate_option_is_taken_before_the_parse() {
        let command = clap::Command::new("girofle-x");
        assert!(generate_for(&command, vec!["--help".into()]).is_none());
        assert!(generate_for(&command, vec![]).is_none());
        assert_eq!(
            generate_for(&command, vec!["--generate".into()]),
            Some(ExitCode::from(2))
        );
        assert_eq!(
            generate_for(
                &command,
                vec!["--generate".into(), "completion-tcsh".into()]
            ),
            Some(ExitCode::from(2))
        );
    }
}
