//! One module per operation: arguments in, an outcome out, no printing of data.

pub mod args;
pub mod backup;
pub mod commission;
pub mod decommission;
pub mod list;
pub mod ntp_fix;
pub mod restore;

/// Registers the recovery hook of every operation that leaves something only
/// it knows how to finish (see [`crate::recovery::register`]). Called once,
/// first thing, by every binary's `main`, before a guardian, a signal or a
/// run may recover an instance.
pub fn register_recovery_hooks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| crate::recovery::register(restore::finish_interrupted));
}
