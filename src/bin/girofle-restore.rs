//! Restores a backup into a GitLab instance (the legacy `restore.sh CONTAINER DIR`).

use std::process::ExitCode;

fn main() -> ExitCode {
    girofle::cli::main(env!("CARGO_BIN_NAME"), girofle::dialogue::restore::run)
}
