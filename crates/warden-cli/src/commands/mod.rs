//! One module per command; each returns the exit code its result means.

pub mod config_check;
pub mod config_example;
pub mod runbooks;
