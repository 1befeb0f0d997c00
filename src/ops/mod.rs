//! One module per operation: arguments in, an outcome out, no printing of data.

pub mod backup;
pub mod commission;
pub mod decommission;
pub mod list;
pub mod ntp_fix;
pub mod report;
pub mod restore;
