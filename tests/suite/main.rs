//! Every integration test of the server toolkit, one module per area, in
//! one binary: linked once, with one shared harness (`tests/common`), as
//! uutils groups its tests. Each test still runs in its own process under
//! nextest, against the real engine.

#[path = "../common/mod.rs"]
mod common;

mod alerts;
mod backup;
mod commission;
mod disaster;
mod drill;
mod help;
mod install;
mod list;
mod notify_metrics;
mod ntp;
mod progress;
mod remote;
mod restic;
mod restore;
mod scale;
mod sso;
mod staleness;
mod standin;
mod stop_window;
mod tls;
mod tls_acme;
mod tls_reconfigure;
mod trust_cron;
mod trust_restore;
mod trust_root;
mod trust_signals;
mod trust_targets;
