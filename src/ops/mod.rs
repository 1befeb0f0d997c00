//! One module per operation: arguments in, an outcome out, no printing of data.

pub mod commission;
pub mod list;
