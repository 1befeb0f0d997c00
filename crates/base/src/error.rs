//! One error type that carries the exit code of the contract.

use std::fmt;

/// The exit codes every Girofle binary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The operation was done.
    Done = 0,
    /// The operation failed; the message says in what state it left things.
    Failed = 1,
    /// Usage error or bad input: nothing was changed.
    Usage = 2,
    /// Partly done: with `--all`, some items failed; or a backup made whose
    /// retention or shipping failed. An operation's outcome says so (it is
    /// never an error: what was done is reported too).
    Partial = 3,
}

/// An error on its way to `main`, which prints it once and exits with its code.
#[derive(Debug)]
pub enum Error {
    /// Bad arguments or bad input, detected before anything was changed.
    Usage(String),
    /// The operation failed; the chain of context says where and why.
    Failed(anyhow::Error),
}

impl Error {
    /// A usage error (exit 2) with this message.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    /// A failure (exit 1) with this message.
    pub fn failed(message: impl Into<String>) -> Error {
        Error::Failed(anyhow::anyhow!(message.into()))
    }

    /// The same error with `context` in front of a failure's chain; a usage
    /// error keeps its own message.
    pub fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Error {
        match self {
            Error::Failed(inner) => Error::Failed(inner.context(context)),
            other => other,
        }
    }

    /// The exit code this error ends the process with.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) => Exit::Usage,
            Error::Failed(_) => Exit::Failed,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => f.write_str(message),
            // `{:#}` prints the whole context chain on one line: "a: b: c".
            Error::Failed(error) => write!(f, "{error:#}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Error {
        Error::Failed(error)
    }
}

impl From<std::io::Error> for Error {
    fn from(error: std::io::Error) -> Error {
        Error::Failed(error.into())
    }
}

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
