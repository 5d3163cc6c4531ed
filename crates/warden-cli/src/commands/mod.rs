//! One module per command; each returns the exit code its result means.

pub mod alerts;
pub mod config_check;
pub mod config_example;
pub mod context;
pub mod drift;
pub mod feast;
pub mod incidents;
pub mod loadtest;
pub mod runbooks;
pub mod up;
