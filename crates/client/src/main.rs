//! The client for people who are not IT technicians: keeps a folder of theirs
//! safe on a Girofle server, the same on each of their machines.

use std::path::Path;
use std::process::ExitCode;

use girofle_base::{edge, help};
use girofle_client::dialogue;
use girofle_client::{git, lang, words};

fn main() -> ExitCode {
    // Run by git as its GIT_ASKPASS (older git, which ignores the token's
    // header): answer its question from the token file, and nothing else.
    if let (Some(file), Some(server)) = (
        std::env::var_os(git::ASKPASS_TOKEN_FILE),
        std::env::var(git::ASKPASS_SERVER).ok(),
    ) {
        let prompt = std::env::args().nth(1).unwrap_or_default();
        if prompt.starts_with("Username for '") || prompt.starts_with("Password for '") {
            return match git::askpass_answer(&prompt, Path::new(&file), &server) {
                Some(answer) => {
                    println!("{answer}");
                    ExitCode::SUCCESS
                }
                None => ExitCode::FAILURE,
            };
        }
    }
    words::init_local_offset();
    lang::init_from_env();
    // The same parse as `Cli::parse()`, with the help's page and `--generate` of every binary.
    let command = dialogue::command();
    if let Some(exit) = help::generate_if_asked(&command) {
        return exit;
    }
    let cli = dialogue::parse(command);
    // The client keeps no log: the error is the person's to read, on stderr.
    edge::finish("girofle-client", dialogue::run(&cli), |_| {})
}
