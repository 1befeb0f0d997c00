//! Backs up GitLab instances; prints the ID of each backup made.

use std::process::ExitCode;

fn main() -> ExitCode {
    girofle::cli::main(env!("CARGO_BIN_NAME"), girofle::dialogue::backup::run)
}
