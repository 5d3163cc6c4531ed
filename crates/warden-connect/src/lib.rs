//! Clients for the systems around Warden. Each client wraps one system's HTTP (or Redis) API
//! behind typed requests and responses; errors always carry the URL that failed and are
//! classified so callers can tell "unreachable" from "answered with an error".
//!
//! Shared pieces: [`http`] (one configured HTTP client and error mapping) and [`probe`]
//! (the connectivity checks behind `warden config check --connect`).

pub mod airflow;
pub mod error;
pub mod http;
pub mod inference;
pub mod kfp;
pub mod mlflow;
pub mod notify;
pub mod probe;
pub mod prometheus;
pub mod redis_store;

pub use airflow::AirflowClient;
pub use error::ConnectError;
pub use http::HttpClient;
pub use inference::InferenceClient;
pub use kfp::KfpClient;
pub use mlflow::MlflowClient;
pub use probe::{ProbeReport, ProbeStatus, probe_connectors};
pub use prometheus::PrometheusClient;
pub use redis_store::RedisClient;
