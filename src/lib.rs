//! Girofle keeps a fleet of dockerised GitLab CE instances safe.
//!
//! Data flows one way: the binaries in `src/bin` call [`ops`], which use the
//! modules below it. Nothing below [`ops`] prints to the user.
//!
//! The modules stand in layers, each importing only those below it (the
//! README's "Layout of the code" draws them): ground ([`error`], [`atomic`],
//! [`timefmt`], [`redact`], [`shell`], [`net`], [`progress`],
//! [`json_fields`]); the tree and the settings ([`home`], [`conf`]), which
//! every adapter is handed; adapters
//! ([`docker`], [`cron`], [`remote`], [`notify`], [`metrics`], [`tls`]); state
//! ([`inventory`], [`lock`], [`container`], [`settings`], [`shipped`]); lifecycle ([`drill_traces`],
//! [`reconfigure_journal`], [`recovery`], [`signals`], [`guardian`], [`events`]); [`ops`]; then
//! [`render`], [`help`] and [`cli`], which the binaries call. A lower layer
//! that needs a higher one is handed a value or a hook, never an import.

#![warn(missing_docs)]

/// What every binary shares: its `main`, the shared options, printing the error once.
pub mod cli;
/// `girofle.conf`: host name on targets, retention, targets.
pub mod conf;
/// What a GitLab container is: its volumes, run specification, omnibus config.
pub mod container;
/// Cron entries, one file per instance in `$GIROFLE_CRON_DIR`.
pub mod cron;
/// What the binaries with a dialogue of their own say and ask (backup, restore, decommission).
pub mod dialogue;
/// The Docker engine through its CLI.
pub mod docker;
/// What drills leave behind: their locks, scratch copies, containers and results, and their clean-up.
pub mod drill_traces;
/// What an operation's end tells `[notify]` and `[metrics]`.
pub mod events;
/// The guardian process that puts GitLab back after a `kill -9`.
pub mod guardian;
/// What `--help` says after the options; completions and man pages.
pub mod help;
/// The directory tree of `$GIROFLE_HOME` and the environment of the contract.
pub mod home;
/// Rows of `inventory.girofle`: read, lock, atomic replace.
pub mod inventory;
/// How the outcomes' fields are written as data: durations in milliseconds, errors as text.
pub mod json_fields;
/// The per-instance lock, the record of a container taken out of its state, the transition lock.
pub mod lock;
/// Prometheus textfile metrics: last backups, drills and shippings.
pub mod metrics;
/// Addresses and ports of this host.
pub mod net;
/// Alerts: JSON events POSTed to a URL or given to a command.
pub mod notify;
/// One module per operation.
pub mod ops;
/// The journal of a `--reconfigure` under way, undone or finished by recovery.
pub mod reconfigure_journal;
/// What the next run undoes after a run was killed.
pub mod recovery;
/// Backup targets on other machines.
pub mod remote;
/// What the binaries print of an outcome: `--format json` documents and text tables.
pub mod render;
/// What a run is told, settled once at its start: `--home`, the environment, `girofle.conf`.
pub mod settings;
/// Quoting for the remote shell and cron.
pub mod shell;
/// Where each backup was shipped: `<ID>.SHIPPED`, beside the backup.
pub mod shipped;
/// SIGINT, SIGTERM, SIGHUP: containers put back before the process exits.
pub mod signals;
/// Single sign-on (SAML, OpenID Connect) written as GitLab documents it, in the config volume.
pub mod sso;
/// Certificates for `--tls`: Girofle's own authority, its signed certificates, checks of one brought.
pub mod tls;

// The ground both the toolkit and the client stand on, under the paths the
// toolkit has always used.
pub use girofle_base::{atomic, error, progress, redact, timefmt};

// The copy engine, its own crate, under the path the toolkit has always used.
pub use girofle_snapshot as snapshot;

pub use error::{Error, Result};
