//! The dialogue of `girofle-client`: its command line, the questions it asks
//! on a terminal, and what it prints. The actions themselves are
//! [`crate::actions`]'s, which neither print nor read the terminal.

mod autosync;
mod help;
mod machine;
mod review;
mod status;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use girofle_base::edge::read_answer;
use girofle_base::error::{Error, Exit, Result};

use crate::actions;
use crate::config::Location;
use crate::session::{Client, Notes};

pub use help::PAGE;

/// The command line as `main` parses it: the help's page after the options,
/// every word of the help in the person's language.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    help::in_language(PAGE.decorate(Cli::command()))
}

/// The command line parsed by `command`; a mistake in it ends the process
/// (exit 2), said in the person's language.
pub fn parse(command: clap::Command) -> Cli {
    use clap::FromArgMatches;
    Cli::from_arg_matches(&help::matches(command)).unwrap_or_else(|error| help::refuse(error))
}

/// Keep a folder safe on your Girofle server, the same on each of your machines
#[derive(Parser)]
#[command(name = "girofle-client", version)]
pub struct Cli {
    /// The settings file [env: GIROFLE_CLIENT_CONFIG; default ~/.config/girofle/client.toml]
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The saved folder to act on (the one you are in by default)
    #[arg(long, value_name = "DIR", global = true)]
    folder: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Set this machine up: the server, your access token, this machine's name
    Setup {
        /// The server's address, e.g. https://gitlab.example.org
        #[arg(long)]
        server: Option<String>,
        /// A file holding your access token
        #[arg(long, value_name = "FILE", conflicts_with = "token_stdin")]
        token_file: Option<PathBuf>,
        /// Read the access token from standard input
        #[arg(long)]
        token_stdin: bool,
        /// This machine's name, as your other machines will show it [default: its host name]
        #[arg(long)]
        machine: Option<String>,
        /// A certificate authority (PEM) to trust for the server, besides the system's
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
        /// Accept a plain http:// address of another machine (the token and files cross the network unencrypted)
        #[arg(long)]
        insecure_http: bool,
        /// Also send your saved folders by themselves when you leave (as `autosync on`; asked on a terminal)
        #[arg(long, value_enum)]
        autosync: Option<OnOff>,
    },
    /// Make a folder a saved folder (its first version goes to the server)
    New {
        /// The folder (made if missing)
        dir: PathBuf,
    },
    /// Save a new version of every file as it is now (works offline too)
    Save {
        /// A few words about this version
        message: Option<String>,
    },
    /// Send the saved versions to the server, or bring in the server's
    Sync,
    /// Show unsaved changes, versions not sent, and what the server has
    Status,
    /// Bring one of your folders onto this machine (without FOLDER: list them)
    Get {
        /// The folder's name (or owner/name for a folder shared with you)
        #[arg(value_name = "FOLDER")]
        name: Option<String>,
        /// Where to put it [default: a folder of that name here]
        dir: Option<PathBuf>,
        /// Go on even though another machine has changes never sent (they are kept aside there)
        #[arg(long)]
        take_over: bool,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
    },
    /// Bring your changes and the server's newer versions together, file by file
    Resolve {
        /// Which copy to keep for the FILEs named
        #[arg(long, value_enum, requires = "files")]
        keep: Option<KeepArg>,
        /// Files that differ (as listed)
        files: Vec<String>,
    },
    /// Throw away unsaved changes: remake the folder at a version (the newest by default)
    Discard {
        /// The version number (see `status`)
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Remove the set-aside copy of the folder without asking
        #[arg(long)]
        yes: bool,
    },
    /// List each change since the last version, numbered, to sort them into prepared versions
    Review,
    /// Put changes (numbered as `review` lists them) into a prepared version, made if new
    Prepare {
        /// The prepared version's name (it becomes the saved version's name)
        name: String,
        /// The changes' numbers
        #[arg(required = true, value_name = "N")]
        numbers: Vec<usize>,
    },
    /// List the prepared versions in order; remove, rename or save them
    Prepared {
        /// Remove this prepared version (its changes stay in your folder)
        #[arg(long, value_name = "NAME", conflicts_with_all = ["rename", "save"])]
        remove: Option<String>,
        /// Rename a prepared version
        #[arg(long, num_args = 2, value_names = ["OLD", "NEW"], conflicts_with = "save")]
        rename: Option<Vec<String>>,
        /// Save them, in order, as versions; then discard what was left out (kept aside first)
        #[arg(long)]
        save: bool,
    },
    /// Let another person get one of your folders
    Share {
        /// The folder's name
        #[arg(value_name = "FOLDER")]
        name: String,
        /// Their user name on the server
        person: String,
    },
    /// Send your saved folders by themselves when you log out or shut down, now and then, and when another machine asks
    Autosync {
        /// on: set it up; off: remove it; run: what the service runs
        #[arg(value_enum)]
        switch: Switch,
        /// Also save what is not saved yet when you leave (never otherwise)
        #[arg(long)]
        save_on_leave: bool,
        /// Minutes between two sendings while online
        #[arg(long, value_name = "MINUTES", default_value_t = 15)]
        every: u64,
        /// How it is started [default: systemd where it runs, else the desktop's autostart]
        #[arg(long, value_enum)]
        using: Option<UsingArg>,
        /// run: seconds between two looks for another machine's request
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        check_every: u64,
        /// run: send once and end
        #[arg(long)]
        once: bool,
    },
    /// Open the client's page in your browser: your folders, with buttons
    Ui {
        /// Only print the page's address; do not open the browser
        #[arg(long)]
        no_browser: bool,
        /// How often to ask the server for news of your folders, in seconds
        /// (changes made on this machine show at once)
        #[arg(long, value_name = "SECS", default_value_t = 20)]
        check_every: u64,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
    Run,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum UsingArg {
    Systemd,
    Autostart,
}

#[derive(Clone, Copy, ValueEnum)]
enum KeepArg {
    Mine,
    Server,
    Both,
}

/// Carries out the command line: the exit code of the contract, or the
/// error `main` prints once.
pub fn run(cli: &Cli) -> Result<Exit> {
    let location = Location::resolve(cli.config.as_deref())?;
    let folder = cli.folder.as_deref();
    match &cli.action {
        Action::Setup {
            server,
            token_file,
            token_stdin,
            machine,
            ca_file,
            insecure_http,
            autosync: switch,
        } => {
            let done = machine::setup(
                &location,
                server,
                (token_file, *token_stdin),
                machine,
                ca_file,
                *insecure_http,
            )?;
            // Offered on a terminal; a script says it with --autosync.
            let wanted = match switch {
                Some(switch) => *switch == OnOff::On,
                None => {
                    interactive()
                        && said_yes(&read_answer(&format!(
                            "{} {} ",
                            crate::tr!("ask-autosync"),
                            crate::tr!("yes-no")
                        ))?)
                }
            };
            if wanted {
                autosync::on(&location, false, 15, None)?;
            }
            Ok(done)
        }
        Action::Autosync {
            switch,
            save_on_leave,
            every,
            using,
            check_every,
            once,
        } => match switch {
            Switch::On => autosync::on(&location, *save_on_leave, *every, *using),
            Switch::Off => autosync::off(),
            Switch::Run => autosync::run(location, *save_on_leave, *every, *check_every, *once),
        },
        Action::Ui {
            no_browser,
            check_every,
        } => machine::ui(location, *no_browser, *check_every),
        action => {
            let client = Client::open(location)?;
            act(&client, folder, action)
        }
    }
}

fn act(client: &Client, folder: Option<&Path>, action: &Action) -> Result<Exit> {
    match action {
        Action::New { dir } => say(client.new_folder(dir)?),
        Action::Save { message } => say(client.save(folder, message.as_deref())?),
        Action::Sync => say(client.sync(folder)?),
        Action::Status => status::status(client, folder),
        Action::Get { name: None, .. } => {
            let mut out = String::new();
            for project in client.inventory()? {
                // With the folder's own name when the path is not it.
                let name = actions::folder_name(&project);
                if name.eq_ignore_ascii_case(&project.path) {
                    out.push_str(&format!("{}\n", project.path_with_namespace));
                } else {
                    out.push_str(&format!("{} ({name})\n", project.path_with_namespace));
                }
            }
            print(&out)
        }
        Action::Get {
            name: Some(name),
            dir,
            take_over,
            yes,
        } => {
            if *take_over && !*yes {
                confirm(&crate::tr!("confirm-take-over"))?;
            }
            say(client.get(name, dir.as_deref(), *take_over, &mut |line| {
                eprintln!("{line}")
            })?)
        }
        Action::Resolve { keep, files } => status::resolve(client, folder, *keep, files),
        Action::Discard { to, yes } => {
            let (aside, notes) = client.discard(folder, to.as_deref())?;
            say(notes)?;
            let remove = *yes
                || (interactive()
                    && said_yes(&read_answer(&format!(
                        "{} {} ",
                        crate::tr!("ask-remove-aside", dir = aside.display().to_string()),
                        crate::tr!("yes-no")
                    ))?));
            if remove {
                std::fs::remove_dir_all(&aside)?;
                eprintln!(
                    "{}",
                    crate::tr!("removed-aside", dir = aside.display().to_string())
                );
            } else {
                eprintln!(
                    "{}",
                    crate::tr!("kept-aside", dir = aside.display().to_string())
                );
            }
            Ok(Exit::Done)
        }
        Action::Share { name, person } => say(client.share(name, person)?),
        Action::Review => review::review(client, folder),
        Action::Prepare { name, numbers } => say(client.prepare(folder, name, numbers)?),
        Action::Prepared {
            remove,
            rename,
            save,
        } => review::prepared(client, folder, remove.as_deref(), rename.as_deref(), *save),
        Action::Setup { .. } | Action::Ui { .. } | Action::Autosync { .. } => {
            unreachable!("handled before")
        }
    }
}

fn say(notes: Notes) -> Result<Exit> {
    for line in notes.lines {
        eprintln!("{line}");
    }
    Ok(Exit::Done)
}

fn print(text: &str) -> Result<Exit> {
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(Exit::Done)
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn confirm(question: &str) -> Result<()> {
    if !interactive() {
        return Err(Error::usage(crate::tr!("needs-confirmation")));
    }
    if said_yes(&read_answer(&format!(
        "{question} {} ",
        crate::tr!("yes-no")
    ))?) {
        Ok(())
    } else {
        Err(Error::usage(crate::tr!("nothing-done")))
    }
}

/// "y" in English, "o" (oui) in French, and "y" whatever the language: a
/// person used to either is understood.
fn said_yes(answer: &str) -> bool {
    let answer = answer.trim().to_lowercase();
    answer == "y" || answer == crate::tr!("yes-letter") || answer == crate::tr!("yes-word")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{self, Lang};

    #[test]
    fn the_help_speaks_the_persons_language() {
        let english = command().render_long_help().to_string();
        assert!(
            english.contains("Save a new version of every file"),
            "{english}"
        );
        let french = lang::scoped(Lang::Fr, || {
            let mut command = command();
            let save = command
                .find_subcommand_mut("save")
                .unwrap()
                .render_long_help();
            format!("{}\n{save}", command.render_long_help())
        });
        for words in [
            "Utilisation :",
            "Enregistrer une nouvelle version de chaque fichier",
            "Quelques mots sur cette version",
            "Codes de sortie :",
            "Afficher l'aide",
        ] {
            assert!(french.contains(words), "{words:?} in\n{french}");
        }
        for words in [
            "Save a new version",
            "A few words",
            "Exit codes",
            "Print help",
        ] {
            assert!(!french.contains(words), "{words:?} in\n{french}");
        }
    }
}
