//! The operations' outcomes as the binaries print them: `--format json`
//! documents and the text tables, one file per operation. Above the
//! operations, beside the binaries: no operation renders its own result or
//! another's.
//!
//! A document is the outcome's own serialisation (each outcome derives
//! `Serialize`, its durations as `*_ms`) inside the envelope every document
//! shares (`operation`, `exit_code`, `instances`, `errors`, `warnings`):
//! where the README's shape is not the outcome's (a backup's figures joined
//! to its instance, a restore that failed), a document struct built from the
//! outcome says how, so that no key is written twice.

pub mod backup;
pub mod commission;
pub mod decommission;
pub mod list;
pub mod restore;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::json_fields::error_text;

/// The document of an operation that failed as a whole, with no outcome to
/// describe: no instance, the reason in `errors`.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// The operation's word: `backup`, `restore`, `commission`, `decommission`.
    pub operation: &'static str,
    /// The exit code the binary ends with.
    pub exit_code: u8,
    /// Always empty: nothing was attempted.
    pub instances: [(); 0],
    /// Why, with its chain of context.
    pub errors: [String; 1],
    /// Always empty.
    pub warnings: [String; 0],
}

impl Failure {
    /// `operation` stopped by `error` before anything was attempted.
    pub fn new(operation: &'static str, error: &Error) -> Failure {
        Failure {
            operation,
            exit_code: error.exit() as u8,
            instances: [],
            errors: [error_text(error)],
            warnings: [],
        }
    }
}

/// The document of a `--dry-run`: the plan the operation would carry out,
/// and the mark that nothing was done.
#[derive(Debug, Serialize)]
pub struct DryRun<'a, P: Serialize> {
    /// The operation's word: `backup`, `restore`, `commission`, `decommission`.
    pub operation: &'static str,
    /// Always true: nothing was changed.
    pub dry_run: bool,
    /// The plan, as the operation computed it.
    pub plan: &'a P,
}

impl<'a, P: Serialize> DryRun<'a, P> {
    /// The dry run of `operation`, whose plan is `plan`.
    pub fn new(operation: &'static str, plan: &'a P) -> DryRun<'a, P> {
        DryRun {
            operation,
            dry_run: true,
            plan,
        }
    }
}

/// A document as it is printed: every string redacted
/// ([`crate::redact::secrets`]), since errors quote logs and command lines.
pub fn printable(document: &impl Serialize) -> serde_json::Result<Value> {
    let mut value = serde_json::to_value(document)?;
    redact_strings(&mut value);
    Ok(value)
}

/// Prints a dry run: its plan as a [`DryRun`] document with `json`, else
/// its numbered steps (`text`).
pub fn print_dry_run(
    operation: &'static str,
    plan: &impl Serialize,
    text: &str,
    json: bool,
) -> std::io::Result<()> {
    if json {
        print_json(&DryRun::new(operation, plan))
    } else {
        std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())
    }
}

/// Prints a document on stdout, pretty (one document, for people and `jq`)
/// and redacted ([`printable`]).
pub fn print_json(document: &impl Serialize) -> std::io::Result<()> {
    use std::io::Write;
    let value = printable(document)?;
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, &value)?;
    writeln!(stdout)
}

/// Every string of `value`, redacted in place.
fn redact_strings(value: &mut Value) {
    match value {
        Value::String(text) => *text = crate::redact::secrets(text),
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(fields) => fields.values_mut().for_each(redact_strings),
        _ => {}
    }
}

#[cfg(test)]
mod readme;
#[cfg(test)]
mod tests;
