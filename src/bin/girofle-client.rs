//! The client for people who are not IT technicians: keeps a folder of theirs
//! safe on a Girofle server, the same on each of their machines.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use girofle::cli;
use girofle::client::config::Location;
use girofle::client::ops::{self, Client, Keep, Notes};
use girofle::client::words;
use girofle::error::{Error, Exit, Result};

/// Keep a folder safe on your Girofle server, the same on each of your machines
#[derive(Parser)]
#[command(name = "girofle-client", version)]
struct Cli {
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
    /// Let another person get one of your folders
    Share {
        /// The folder's name
        #[arg(value_name = "FOLDER")]
        name: String,
        /// Their user name on the server
        person: String,
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

#[derive(Clone, Copy, ValueEnum)]
enum KeepArg {
    Mine,
    Server,
    Both,
}

fn main() -> ExitCode {
    // Run by git as its GIT_ASKPASS (older git, which ignores the token's
    // header): answer its question from the token file, and nothing else.
    if let (Some(file), Some(server)) = (
        std::env::var_os(girofle::client::git::ASKPASS_TOKEN_FILE),
        std::env::var(girofle::client::git::ASKPASS_SERVER).ok(),
    ) {
        let prompt = std::env::args().nth(1).unwrap_or_default();
        if prompt.starts_with("Username for '") || prompt.starts_with("Password for '") {
            return match girofle::client::git::askpass_answer(&prompt, Path::new(&file), &server) {
                Some(answer) => {
                    println!("{answer}");
                    ExitCode::SUCCESS
                }
                None => ExitCode::FAILURE,
            };
        }
    }
    words::init_local_offset();
    // The same parse as `Cli::parse()`, with the help's page and `--generate` of every binary.
    let command = girofle::help::decorate(Cli::command(), "girofle-client");
    if let Some(exit) = girofle::help::generate_if_asked(&command) {
        return exit;
    }
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit());
    let result = run(&cli);
    cli::finish("girofle-client", None, result)
}

fn run(cli: &Cli) -> Result<Exit> {
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
        } => setup(
            &location,
            server,
            (token_file, *token_stdin),
            machine,
            ca_file,
            *insecure_http,
        ),
        Action::Ui {
            no_browser,
            check_every,
        } => ui(location, *no_browser, *check_every),
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
        Action::Status => status(client, folder),
        Action::Get { name: None, .. } => {
            let mut out = String::new();
            for project in client.inventory()? {
                // With the folder's own name when the path is not it.
                let name = ops::folder_name(&project);
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
                confirm(
                    "Take the folder over? Changes never sent from the other machine will be kept \
                     aside there, not brought here.",
                )?;
            }
            say(client.get(name, dir.as_deref(), *take_over)?)
        }
        Action::Resolve { keep, files } => resolve(client, folder, *keep, files),
        Action::Discard { to, yes } => {
            let (aside, notes) = client.discard(folder, to.as_deref())?;
            say(notes)?;
            let remove = *yes
                || (interactive()
                    && cli::read_answer(&format!(
                        "Your folder as it was is in {}. Remove it? [y/N] ",
                        aside.display()
                    ))?
                    .eq_ignore_ascii_case("y"));
            if remove {
                std::fs::remove_dir_all(&aside)?;
                eprintln!("Removed {}.", aside.display());
            } else {
                eprintln!(
                    "Your folder as it was is kept in {}; remove it when you no longer need it.",
                    aside.display()
                );
            }
            Ok(Exit::Done)
        }
        Action::Share { name, person } => say(client.share(name, person)?),
        Action::Setup { .. } | Action::Ui { .. } => unreachable!("handled before"),
    }
}

fn setup(
    location: &Location,
    server: &Option<String>,
    (token_file, token_stdin): (&Option<PathBuf>, bool),
    machine: &Option<String>,
    ca_file: &Option<PathBuf>,
    insecure_http: bool,
) -> Result<Exit> {
    let server = match server {
        Some(server) => server.clone(),
        None if interactive() => {
            cli::read_answer("Server address (e.g. https://gitlab.example.org): ")?
        }
        None => return Err(Error::usage("--server is needed")),
    };
    // Before a token is asked for: it would be sent unencrypted.
    girofle::client::config::check_server(server.trim(), insecure_http)?;
    let token = if token_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Some(line)
    } else if token_file.is_none() {
        if !interactive() {
            return Err(Error::usage("--token-file or --token-stdin is needed"));
        }
        Some(ask_hidden("Your access token (it is not shown): ")?)
    } else {
        None
    };
    let machine = match machine {
        Some(machine) => Some(machine.clone()),
        None if interactive() => {
            let default = girofle::client::config::default_machine_name();
            let answer = cli::read_answer(&format!("This machine's name [{default}]: "))?;
            Some(if answer.is_empty() { default } else { answer })
        }
        None => None,
    };
    let config = ops::setup(
        location,
        &ops::SetupArgs {
            server,
            token,
            token_file: token_file.clone(),
            machine,
            ca_file: ca_file.clone(),
            insecure_http,
        },
    )?;
    let git = girofle::client::git::version()
        .map(|(_, words)| format!(", with git {words}"))
        .unwrap_or_default();
    eprintln!(
        "Set up: {} on {}, this machine is {:?} ({}{git}).",
        config.person,
        config.server,
        config.machine,
        location.file.display()
    );
    Ok(Exit::Done)
}

fn ui(location: Location, no_browser: bool, check_every: u64) -> Result<Exit> {
    let page = girofle::client::ui::Page::start(
        location,
        girofle::client::ui::Options {
            refresh: std::time::Duration::from_secs(check_every.max(1)),
        },
    )?;
    // The address is always printed: the browser may not open by itself.
    println!("{}", page.url());
    std::io::stdout().flush()?;
    eprintln!(
        "Your page is at the address above. Keep this running while you use it; Ctrl-C closes it."
    );
    if !no_browser {
        if let Ok(opener) = which::which("xdg-open") {
            let opened = std::process::Command::new(opener)
                .arg(page.opener()?)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
            match opened {
                // Reaped when it ends (it hands the address to the browser).
                Ok(mut child) => drop(std::thread::spawn(move || child.wait())),
                Err(_) => {
                    eprintln!("The browser could not be opened: open the address above in it.")
                }
            }
        } else {
            eprintln!("Open the address above in your browser.");
        }
    }
    page.run()?;
    Ok(Exit::Done)
}

fn status(client: &Client, folder: Option<&Path>) -> Result<Exit> {
    let (status, notes) = client.status(folder)?;
    say(notes)?;
    let mut out = format!(
        "{} ({}), version {}\n",
        status.dir.display(),
        status.folder,
        status.version
    );
    if status.unsaved.is_empty() {
        out.push_str("No unsaved changes.\n");
    } else {
        out.push_str(&format!(
            "Unsaved changes ({}):\n",
            words::count(status.unsaved.len(), "file", "files")
        ));
        for (letter, path) in &status.unsaved {
            let what = match letter {
                'N' => "new",
                'D' => "deleted",
                _ => "changed",
            };
            out.push_str(&format!("  {what:<8} {path}\n"));
        }
    }
    match status.unsent {
        0 => out.push_str("Every saved version is on the server.\n"),
        n => out.push_str(&format!(
            "{} not sent yet.\n",
            words::count(n, "saved version", "saved versions")
        )),
    }
    match status.server_ahead {
        None => out.push_str("The server cannot be reached.\n"),
        Some(0) => out.push_str("The server has nothing this machine lacks.\n"),
        Some(n) => out.push_str(&format!(
            "The server has {} this machine lacks.\n",
            words::count(n, "version", "versions")
        )),
    }
    if !status.pending.is_empty() {
        out.push_str("Waiting for your choice (girofle-client resolve):\n");
        for file in &status.pending {
            out.push_str(&format!("  {file}\n"));
        }
    }
    if !status.versions.is_empty() {
        out.push_str("Newest versions:\n");
        for (number, when, message) in &status.versions {
            out.push_str(&format!("  {number:>4}  {when:<17} {message}\n"));
        }
    }
    for other in &status.others {
        out.push_str(&format!("Not sent yet: {other}.\n"));
    }
    print(&out)
}

fn resolve(
    client: &Client,
    folder: Option<&Path>,
    keep: Option<KeepArg>,
    files: &[String],
) -> Result<Exit> {
    let choice = |arg: KeepArg| match arg {
        KeepArg::Mine => Keep::Mine,
        KeepArg::Server => Keep::Server,
        KeepArg::Both => Keep::Both,
    };
    let (mut pending, notes) = match keep {
        Some(arg) => client.resolve_keep(folder, choice(arg), files)?,
        None => client.resolve_start(folder)?,
    };
    say(notes)?;
    if keep.is_none() && interactive() {
        while let Some(file) = pending.first().cloned() {
            let answer = cli::read_answer(&format!(
                "{file} differs. Keep (m)ine, the (s)erver's, or (b)oth? "
            ))?;
            let keep = match answer.to_ascii_lowercase().as_str() {
                "m" | "mine" => Keep::Mine,
                "s" | "server" => Keep::Server,
                "b" | "both" => Keep::Both,
                _ => continue,
            };
            let (rest, notes) = client.resolve_keep(folder, keep, std::slice::from_ref(&file))?;
            say(notes)?;
            pending = rest;
        }
    }
    if pending.is_empty() {
        return Ok(Exit::Done);
    }
    let mut out = String::new();
    for file in &pending {
        out.push_str(&format!("{file}\n"));
    }
    print(&out)?;
    // The job is done: the files to choose are listed, and how to choose.
    eprintln!("Choose for each: girofle-client resolve --keep mine|server|both FILE...");
    Ok(Exit::Done)
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
        return Err(Error::usage(
            "this needs your confirmation: run it on a terminal, or add --yes",
        ));
    }
    if cli::read_answer(&format!("{question} [y/N] "))?.eq_ignore_ascii_case("y") {
        Ok(())
    } else {
        Err(Error::usage("nothing was done"))
    }
}

/// Asks without echoing what is typed (a token is a password).
fn ask_hidden(question: &str) -> Result<String> {
    use nix::sys::termios::{self, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(&stdin).map_err(|e| Error::failed(e.to_string()))?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(&stdin, SetArg::TCSANOW, &quiet)
        .map_err(|e| Error::failed(e.to_string()))?;
    let answer = cli::read_answer(question);
    let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    answer
}
