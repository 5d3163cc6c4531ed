//! Schema migrations: numbered, append-only lists of statements per backend, applied in
//! order inside a transaction and recorded in `warden_schema`. A database newer than this
//! binary is refused rather than misread.

use sqlx::Row;

use crate::{Store, StoreError};

/// SQLite schema, one entry per version.
const SQLITE: &[&[&str]] = &[
    &[
        "CREATE TABLE warden_sequences (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO warden_sequences (name, value) VALUES ('incident', 0)",
        "CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        dedup_key TEXT NOT NULL,
        runbook TEXT NOT NULL,
        state TEXT NOT NULL,
        active INTEGER NOT NULL,
        severity TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        document TEXT NOT NULL)",
        "CREATE UNIQUE INDEX incidents_one_active_per_key ON incidents (dedup_key) WHERE active = 1",
        "CREATE INDEX incidents_by_key ON incidents (dedup_key, seq)",
        "CREATE INDEX incidents_by_seq ON incidents (seq)",
        "CREATE TABLE actions (
        idempotency_key TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        result TEXT,
        updated_at TEXT NOT NULL)",
        "CREATE INDEX actions_by_incident ON actions (incident_id)",
        "CREATE TABLE approvals (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL,
        step TEXT NOT NULL,
        decision TEXT NOT NULL,
        document TEXT NOT NULL)",
        "CREATE INDEX approvals_by_incident ON approvals (incident_id, step)",
        "CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT,
        at TEXT NOT NULL,
        document TEXT NOT NULL)",
        "CREATE INDEX audit_by_incident ON audit_log (incident_id, seq)",
    ],
    &["ALTER TABLE incidents ADD COLUMN revision INTEGER NOT NULL DEFAULT 0"],
    &[
        "CREATE TABLE warden_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch INTEGER NOT NULL, expires_at TEXT NOT NULL)",
    ],
    &["ALTER TABLE actions ADD COLUMN started_epoch INTEGER"],
];

/// PostgreSQL schema, one entry per version; the same tables as [`SQLITE`].
const POSTGRES: &[&[&str]] = &[
    &[
        "CREATE TABLE warden_sequences (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO warden_sequences (name, value) VALUES ('incident', 0)",
        "CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        dedup_key TEXT NOT NULL,
        runbook TEXT NOT NULL,
        state TEXT NOT NULL,
        active BIGINT NOT NULL,
        severity TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        document TEXT NOT NULL)",
        "CREATE UNIQUE INDEX incidents_one_active_per_key ON incidents (dedup_key) WHERE active = 1",
        "CREATE INDEX incidents_by_key ON incidents (dedup_key, seq)",
        "CREATE INDEX incidents_by_seq ON incidents (seq)",
        "CREATE TABLE actions (
        idempotency_key TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        result TEXT,
        updated_at TEXT NOT NULL)",
        "CREATE INDEX actions_by_incident ON actions (incident_id)",
        "CREATE TABLE approvals (
        seq BIGSERIAL PRIMARY KEY,
        incident_id TEXT NOT NULL,
        step TEXT NOT NULL,
        decision TEXT NOT NULL,
        document TEXT NOT NULL)",
        "CREATE INDEX approvals_by_incident ON approvals (incident_id, step)",
        "CREATE TABLE audit_log (
        seq BIGSERIAL PRIMARY KEY,
        incident_id TEXT,
        at TEXT NOT NULL,
        document TEXT NOT NULL)",
        "CREATE INDEX audit_by_incident ON audit_log (incident_id, seq)",
    ],
    &["ALTER TABLE incidents ADD COLUMN revision BIGINT NOT NULL DEFAULT 0"],
    &[
        "CREATE TABLE warden_lease (name TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL, expires_at TEXT NOT NULL)",
    ],
    &["ALTER TABLE actions ADD COLUMN started_epoch BIGINT"],
];

/// The schema version this binary writes.
pub const CURRENT_VERSION: i64 = 4;

const CREATE_SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS warden_schema (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";

macro_rules! migrate_pool {
    ($pool:expr, $migrations:expr, $target:expr, $lock:expr) => {{
        let query_error = |err: sqlx::Error| StoreError::Query {
            target: $target.to_string(),
            message: format!("migration: {err}"),
        };
        let mut tx = $pool.begin().await.map_err(query_error)?;
        if let Some(lock) = $lock {
            sqlx::query(lock).execute(&mut *tx).await.map_err(query_error)?;
        }
        sqlx::query(CREATE_SCHEMA_TABLE).execute(&mut *tx).await.map_err(query_error)?;
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS version FROM warden_schema")
            .fetch_one(&mut *tx)
            .await
            .map_err(query_error)?;
        let applied: i64 = row.try_get("version").map_err(query_error)?;
        if applied > CURRENT_VERSION {
            return Err(StoreError::Query {
                target: $target.to_string(),
                message: format!(
                    "database schema version {applied} is newer than this warden ({CURRENT_VERSION}); upgrade warden"
                ),
            });
        }
        let now = chrono::Utc::now().to_rfc3339();
        for (index, statements) in $migrations.iter().enumerate() {
            let version = index as i64 + 1;
            if version <= applied {
                continue;
            }
            for statement in statements.iter() {
                sqlx::query(statement).execute(&mut *tx).await.map_err(query_error)?;
            }
            sqlx::query("INSERT INTO warden_schema (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(query_error)?;
        }
        tx.commit().await.map_err(query_error)?;
        Ok(())
    }};
}

/// Brings the schema up to [`CURRENT_VERSION`].
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    match store {
        Store::Sqlite { pool, target } => migrate_pool!(pool, SQLITE, target, None::<&str>),
        // Two Warden replicas starting together must not both migrate.
        Store::Postgres { pool, target } => {
            migrate_pool!(
                pool,
                POSTGRES,
                target,
                Some("SELECT pg_advisory_xact_lock(7346101)")
            )
        }
    }
}
