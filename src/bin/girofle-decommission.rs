//! Decommissions a GitLab instance: final backup, container removed, data kept.

use std::process::ExitCode;

fn main() -> ExitCode {
    girofle::cli::main(env!("CARGO_BIN_NAME"), girofle::dialogue::decommission::run)
}
