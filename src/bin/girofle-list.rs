//! Lists the GitLab instances of a Girofle home with their live state.

use std::io::Write;
use std::process::ExitCode;

use girofle::cli::{self, Invocation};
use girofle::error::{Error, Exit};
use girofle::ops::list;
use girofle::render;

fn main() -> ExitCode {
    cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: list::Args, invocation: &Invocation) -> Result<Exit, Error> {
    let outcome = list::run(invocation.home(), &args)?;
    if args.check {
        let problems = list::check(&invocation.settings, &outcome);
        let mut stdout = std::io::stdout();
        for problem in &problems {
            writeln!(stdout, "{problem}")?;
        }
        return Ok(if problems.is_empty() {
            Exit::Done
        } else {
            Exit::Failed
        });
    }
    let text = render::list::render(&outcome.entries, args.format)?;
    std::io::stdout().write_all(text.as_bytes())?;
    let missing: Vec<String> = outcome
        .entries
        .iter()
        .filter(|e| e.state == "commissioned" && e.status == "missing")
        .map(|e| format!("{} ({})", e.number, e.container))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "the container of instance {} is missing: run `girofle-restore --all` to bring it back from its newest backup",
            missing.join(", ")
        );
    }
    match outcome.engine_error {
        Some(error) => Err(Error::failed(format!(
            "the Docker engine did not answer, status is unknown: {error}"
        ))),
        None => Ok(Exit::Done),
    }
}
