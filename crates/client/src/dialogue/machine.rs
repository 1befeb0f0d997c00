//! Setting a machine up, and opening the page: the two subcommands that need
//! no saved folder.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use girofle_base::edge::read_answer;
use girofle_base::error::{Error, Exit, Result};

use super::interactive;
use crate::actions;
use crate::config::Location;
use crate::tr;

pub(super) fn setup(
    location: &Location,
    server: &Option<String>,
    (token_file, token_stdin): (&Option<PathBuf>, bool),
    machine: &Option<String>,
    ca_file: &Option<PathBuf>,
    insecure_http: bool,
) -> Result<Exit> {
    let server = match server {
        Some(server) => server.clone(),
        None if interactive() => read_answer(&format!("{} ", tr!("ask-server")))?,
        None => return Err(Error::usage(tr!("server-needed"))),
    };
    // Before a token is asked for: it would be sent unencrypted.
    crate::config::check_server(server.trim(), insecure_http)?;
    let token = if token_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Some(line)
    } else if token_file.is_none() {
        if !interactive() {
            return Err(Error::usage(tr!("token-needed")));
        }
        Some(ask_hidden(&format!("{} ", tr!("ask-token")))?)
    } else {
        None
    };
    let machine = match machine {
        Some(machine) => Some(machine.clone()),
        None if interactive() => {
            let default = crate::config::default_machine_name();
            let answer = read_answer(&format!(
                "{} ",
                tr!("ask-machine", default = default.clone())
            ))?;
            Some(if answer.is_empty() { default } else { answer })
        }
        None => None,
    };
    let config = actions::setup(
        location,
        &actions::SetupArgs {
            server,
            token,
            token_file: token_file.clone(),
            machine,
            ca_file: ca_file.clone(),
            insecure_http,
        },
    )?;
    let git = crate::git::version()
        .map(|(_, words)| tr!("with-git", version = words))
        .unwrap_or_default();
    eprintln!(
        "{}",
        tr!(
            "set-up",
            person = config.person.clone(),
            server = config.server.clone(),
            machine = format!("{:?}", config.machine),
            file = format!("{}{git}", location.file.display())
        )
    );
    Ok(Exit::Done)
}

pub(super) fn ui(location: Location, no_browser: bool, check_every: u64) -> Result<Exit> {
    let page = crate::ui::Page::start(
        location,
        crate::ui::Options {
            refresh: std::time::Duration::from_secs(check_every.max(1)),
        },
    )?;
    // The address is always printed: the browser may not open by itself.
    println!("{}", page.url());
    std::io::stdout().flush()?;
    eprintln!("{}", tr!("page-running"));
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
                    eprintln!("{}", tr!("browser-failed"))
                }
            }
        } else {
            eprintln!("{}", tr!("open-browser"));
        }
    }
    page.run()?;
    Ok(Exit::Done)
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
    let answer = read_answer(question);
    let _ = termios::tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    answer
}
