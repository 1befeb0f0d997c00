//! What the binaries with a dialogue of their own say and ask, above the
//! operations: each binary in `src/bin` parses, then hands its arguments to
//! its module here, which calls the operation, renders its outcome and
//! chooses the exit.

pub mod backup;
pub mod backup_plan;
pub mod decommission;
pub mod decommission_plan;
pub mod restore;
