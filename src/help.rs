//! What `--help` says after the options: the environment each server binary
//! honours, its exit codes and two examples, one table for every binary. The
//! shape of a page, completions and man pages are `girofle_base::help`'s (the
//! client has its own pages).

pub use girofle_base::help::{GENERATED, generate, generate_if_asked};

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
        }
    }
}

impl girofle_base::help::Variable for Var {
    fn describe(self) -> (&'static str, String) {
        Var::describe(self)
    }
}

/// What the help of one server binary says after its options.
pub type Page = girofle_base::help::Page<Var>;

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
];

/// The page of `program`, if it is one of Girofle's binaries.
pub fn page(program: &str) -> Option<&'static Page> {
    PAGES.iter().find(|page| page.program == program)
}

/// `command` with its binary's page after the options of `--help` (the long
/// help only: `-h` stays short).
pub fn decorate(command: clap::Command, program: &str) -> clap::Command {
    match page(program) {
        Some(page) => page.decorate(command),
        None => command,
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
}
