//! One module per command; each returns the exit code its result means.

pub mod alerts;
pub mod compare;
pub mod config_check;
pub mod config_example;
pub mod context;
pub mod drift;
pub mod evaluate;
pub mod feast;
pub mod incidents;
pub mod loadtest;
pub mod pipelines;
pub mod reviews;
pub mod rollout;
pub mod runbooks;
pub mod up;
pub mod validate;
