//! Feast with a Redis online store, as runbook 4 ("Feature Store Outage or Staleness") needs
//! it: the registry (feature views, TTLs, materialization intervals, schemas), online values
//! read through the feature server and straight from Redis, the freshness and health
//! assessment that detects an incident, the schema check for CI, and the fallback feature
//! proxy that contains one.
//!
//! Feast 0.67's own online statuses cannot be trusted with Redis (a missing entity is
//! `PRESENT` with `null` and a 1970 timestamp; an expired value is `PRESENT`), so every
//! judgement here is made from event timestamps and the view's TTL.

pub mod causes;
pub mod closure;
pub mod freshness;
pub mod online;
mod protobuf;
pub mod proxy;
pub mod redis_layout;
pub mod registry;
pub mod registry_file;
pub mod schema;
pub mod status;

pub use online::{FeatureServerClient, OnlineAnswer};
pub use registry::{FeatureView, RegistryClient, RegistrySource};
