//! What `girofle-client --help` says after its options.

use clap::{Arg, ArgAction, Command};
use girofle_base::help::{Page, Variable};

use crate::lang::{self, Lang};
use crate::tr;

/// An environment variable the client honours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    /// `GIROFLE_CLIENT_CONFIG`.
    ClientConfig,
    /// `XDG_CONFIG_HOME`.
    XdgConfig,
    /// `XDG_DATA_HOME`.
    XdgData,
}

impl Variable for Var {
    fn describe(self) -> (&'static str, String) {
        match self {
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

/// The client's page.
pub const PAGE: Page<Var> = Page {
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
};

/// The help in the person's language: as the derive wrote it in English;
/// in French, every sentence of it from the catalogue.
pub fn in_language(command: Command) -> Command {
    if lang::current() == Lang::En {
        return command;
    }
    let command = french_args(command, "arg")
        .about(tr!("help-about"))
        .after_long_help(french_page())
        .subcommand_help_heading(fixed(format!("{} ", tr!("help-commands"))));
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    names.into_iter().fold(command, |command, name| {
        command.mut_subcommand(&name, |sub| {
            let key = format!("help-{name}");
            french_args(sub, &name).about(lang::text(&key, None))
        })
    })
}

/// A command's arguments in French (`help-<command>-<argument>`, or
/// `help-<argument>` shared by several), its headings and its own flags.
fn french_args(command: Command, of: &str) -> Command {
    let ids: Vec<(String, bool)> = command
        .get_arguments()
        .map(|arg| (arg.get_id().to_string(), arg.is_positional()))
        .collect();
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
        tr!("help-usage")
    );
    let heading = |positional: bool| {
        // French sets a space before clap's colon.
        fixed(format!(
            "{} ",
            if positional {
                tr!("help-arguments")
            } else {
                tr!("help-options")
            }
        ))
    };
    let command = ids
        .into_iter()
        .enumerate()
        .fold(command, |command, (place, (id, positional))| {
            let own = format!("help-{of}-{id}");
            let shared = format!("help-{id}");
            let text = [own, shared]
                .into_iter()
                .map(|key| lang::text(&key, None))
                .find(|text| !text.starts_with("help-"));
            command.mut_arg(&id, |arg| {
                // A new heading would otherwise reorder them.
                let arg = arg.help_heading(heading(positional)).display_order(place);
                match text {
                    Some(text) => arg.help(text),
                    None => arg,
                }
            })
        })
        .help_template(template)
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help(tr!("help-help"))
                .help_heading(heading(false)),
        );
    if of == "arg" {
        command.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help(tr!("help-version"))
                .help_heading(heading(false)),
        )
    } else {
        command
    }
}

/// The command line's matches; a mistake in it is told in the person's
/// language, exit 2 (clap's own words are English only).
pub fn matches(command: Command) -> clap::ArgMatches {
    command
        .try_get_matches()
        .unwrap_or_else(|error| refuse(error))
}

/// Says what was wrong in the command line and ends the process, as clap
/// would, in French when the person reads French.
pub fn refuse(error: clap::Error) -> ! {
    use clap::error::{ContextKind, ErrorKind};
    let shown_by_clap = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if lang::current() == Lang::En || shown_by_clap {
        error.exit()
    }
    let what = [
        ContextKind::InvalidArg,
        ContextKind::InvalidSubcommand,
        ContextKind::InvalidValue,
    ]
    .iter()
    .filter_map(|kind| error.get(*kind))
    .map(|value| value.to_string())
    .collect::<Vec<_>>()
    .join(", ");
    let key = match error.kind() {
        ErrorKind::UnknownArgument => "usage-unknown-argument",
        ErrorKind::InvalidSubcommand => "usage-unknown-command",
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => "usage-bad-value",
        ErrorKind::ArgumentConflict => "usage-conflict",
        ErrorKind::MissingRequiredArgument => "usage-missing",
        ErrorKind::MissingSubcommand => "usage-missing-command",
        _ => "usage-other",
    };
    eprintln!(
        "girofle-client: {}",
        lang::text(
            key,
            Some(&{
                let mut args = lang::FluentArgs::new();
                args.set("what", what);
                args
            })
        )
    );
    eprintln!("{}", tr!("usage-more"));
    std::process::exit(2)
}

/// Clap keeps headings as `'static` text (without its `string` feature):
/// a few words, made once in a process that then prints its help and ends.
fn fixed(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// What `--help` says after the options, in French.
fn french_page() -> String {
    let mut text = format!("{}\n", tr!("help-environment"));
    for (var, key) in [
        (Var::ClientConfig, "help-var-config"),
        (Var::XdgConfig, "help-var-xdg-config"),
        (Var::XdgData, "help-var-xdg-data"),
    ] {
        text.push_str(&format!(
            "  {}\n          {}\n",
            var.describe().0,
            lang::text(key, None)
        ));
    }
    text.push_str(&format!("\n{}\n", tr!("help-exit-codes")));
    for (code, key) in [(0, "help-exit-0"), (1, "help-exit-1"), (2, "help-exit-2")] {
        text.push_str(&format!("  {code}  {}\n", lang::text(key, None)));
    }
    text.push_str(&format!("\n{}\n", tr!("help-examples")));
    for ((line, _), key) in PAGE
        .examples
        .iter()
        .zip(["help-example-setup", "help-example-new"])
    {
        text.push_str(&format!("  {line}\n          {}\n", lang::text(key, None)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_clients_variables_and_two_examples_of_its_own() {
        let text = PAGE.render();
        for var in PAGE.vars {
            assert!(text.contains(var.describe().0));
        }
        assert!(!text.contains("GIROFLE_HOME"));
        assert!(!text.contains("\n  3  "));
        for (line, _) in PAGE.examples {
            assert!(line.starts_with("girofle-client "), "{line}");
        }
    }
}
