//! Girofle keeps a fleet of dockerised GitLab CE instances safe.
//!
//! Data flows one way: the binaries in `src/bin` call [`ops`], which use the
//! modules below it. Nothing below [`ops`] prints to the user.

pub mod atomic;
pub mod cli;
pub mod conf;
pub mod cron;
pub mod docker;
pub mod error;
pub mod home;
pub mod inventory;
pub mod lock;
pub mod net;
pub mod ops;
pub mod recovery;
pub mod remote;
pub mod shell;
pub mod snapshot;
pub mod timefmt;

pub use error::{Error, Result};
