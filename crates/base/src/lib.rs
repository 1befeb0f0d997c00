//! What Girofle's server toolkit and its client both stand on. Nothing here
//! knows of GitLab, Docker or a Girofle home: each piece is needed by both
//! binaries' crates, and a crate cannot reach up into the other.

#![warn(missing_docs)]

/// Files written whole or not at all.
pub mod atomic;
/// The end of every binary: the error printed once, the exit code; answers read from the terminal.
pub mod edge;
/// One error type that carries its exit code.
pub mod error;
/// What `--help` says after the options; completions and man pages.
pub mod help;
/// How far a long operation has gone: counted by the copy, shown by the binaries on a terminal.
pub mod progress;
/// Secrets (passwords, tokens) out of what is logged and printed.
pub mod redact;
/// Timestamps as Girofle writes them.
pub mod timefmt;

pub use error::{Error, Exit, Result};
