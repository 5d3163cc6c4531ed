//! Connection pools: an embedded SQLite file (WAL journal) or a PostgreSQL server, behind
//! one [`Store`] value; connecting, pinging and redacting database URLs for messages.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};
use thiserror::Error;
use warden_config::StoreConfig;

/// How long to wait for a connection before reporting the store unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A store error, naming the database (file path, or URL without password).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The incident changed since it was read (another writer saved first); read it again
    /// and reapply the change.
    #[error("incident {0} was changed by another writer")]
    Conflict(String),
    /// Another active incident already has this dedup key (the database enforces one).
    #[error("an active incident with dedup key {0:?} already exists")]
    DuplicateActive(String),
    /// Stored data could not be decoded (a newer schema, or corruption).
    #[error("{target}: corrupt record {what}: {message}")]
    Corrupt {
        /// The database.
        target: String,
        /// Which record.
        what: String,
        /// Why.
        message: String,
    },
    /// The evidence directory could not be read or written.
    #[error("{path}: {message}")]
    Evidence {
        /// The file or directory.
        path: String,
        /// Why.
        message: String,
    },
    /// The database could not be opened or reached.
    #[error("{target}: cannot connect: {message}")]
    Connect {
        /// The database.
        target: String,
        /// Why.
        message: String,
    },
    /// A statement failed.
    #[error("{target}: {message}")]
    Query {
        /// The database.
        target: String,
        /// Why.
        message: String,
    },
    /// The connection URL secret could not be resolved.
    #[error("store.postgres.url: {0}")]
    Secret(#[from] warden_config::SecretError),
}

/// An open store.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite.
    Sqlite {
        /// The pool.
        pool: SqlitePool,
        /// The database file, for messages.
        target: String,
    },
    /// PostgreSQL.
    Postgres {
        /// The pool.
        pool: PgPool,
        /// The URL without password, for messages.
        target: String,
    },
}

/// What [`Store::ping`] learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreInfo {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The database file or URL (password hidden).
    pub target: String,
    /// The server's (or library's) version.
    pub version: String,
}

/// `url` with its password replaced by `***`; unparsable URLs are hidden entirely.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "<unparsable database URL>".to_string(),
    }
}

impl Store {
    /// Opens the configured store: creates the SQLite file (and its directory) if missing, or
    /// connects to PostgreSQL.
    ///
    /// # Errors
    /// [`StoreError::Connect`] naming the database; [`StoreError::Secret`] for an
    /// unresolvable URL reference.
    pub async fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        match config {
            StoreConfig::Sqlite { path } => Self::open_sqlite(path).await,
            StoreConfig::Postgres {
                url,
                max_connections,
            } => {
                let url = url.resolve()?;
                Self::open_postgres(url.expose(), *max_connections).await
            }
        }
    }

    /// Connects like [`Store::connect`] and brings the schema up to date: what every command
    /// that reads or writes incidents uses. (`warden config check --connect` only connects.)
    ///
    /// # Errors
    /// As [`Store::connect`], and migration failures.
    pub async fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let store = Self::connect(config).await?;
        crate::migrate::migrate(&store).await?;
        Ok(store)
    }

    /// Brings the schema of an already connected store up to date (what [`Store::open`] does
    /// after connecting).
    ///
    /// # Errors
    /// Migration failures, naming the database.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::migrate::migrate(self).await
    }

    /// Opens (creating if needed) the SQLite database at `path`, in WAL mode.
    ///
    /// # Errors
    /// [`StoreError::Connect`] naming the file.
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let target = path.display().to_string();
        let connect_error = |message: String| StoreError::Connect {
            target: target.clone(),
            message,
        };
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|err| {
                connect_error(format!(
                    "cannot create directory {}: {err}",
                    parent.display()
                ))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL survives any crash of the process (only power loss can drop the
            // last commits) and makes every commit an append instead of an fsync.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(CONNECT_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|err| connect_error(err.to_string()))?;
        Ok(Store::Sqlite { pool, target })
    }

    /// Connects to PostgreSQL at `url`.
    ///
    /// # Errors
    /// [`StoreError::Connect`] naming the URL without its password.
    pub async fn open_postgres(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let target = redact_url(url);
        let options: PgConnectOptions =
            url.parse()
                .map_err(|err: sqlx::Error| StoreError::Connect {
                    target: target.clone(),
                    message: err.to_string(),
                })?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|err| StoreError::Connect {
                target: target.clone(),
                message: err.to_string(),
            })?;
        Ok(Store::Postgres { pool, target })
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "sqlite",
            Store::Postgres { .. } => "postgres",
        }
    }

    /// The database, for messages (password hidden).
    pub fn target(&self) -> &str {
        match self {
            Store::Sqlite { target, .. } | Store::Postgres { target, .. } => target,
        }
    }

    /// Runs a trivial query and reports the backend's version.
    ///
    /// # Errors
    /// [`StoreError::Query`] when the database does not answer.
    pub async fn ping(&self) -> Result<StoreInfo, StoreError> {
        let query_error = |err: sqlx::Error| StoreError::Query {
            target: self.target().to_string(),
            message: err.to_string(),
        };
        let version: String = match self {
            Store::Sqlite { pool, .. } => sqlx::query_scalar("SELECT sqlite_version()")
                .fetch_one(pool)
                .await
                .map_err(query_error)?,
            Store::Postgres { pool, .. } => sqlx::query_scalar("SHOW server_version")
                .fetch_one(pool)
                .await
                .map_err(query_error)?,
        };
        Ok(StoreInfo {
            backend: self.backend(),
            target: self.target().to_string(),
            version,
        })
    }

    /// Closes every pooled connection.
    pub async fn close(&self) {
        match self {
            Store::Sqlite { pool, .. } => pool.close().await,
            Store::Postgres { pool, .. } => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_hide_passwords() {
        assert_eq!(
            redact_url("postgres://warden:hunter2@db:5432/warden"),
            "postgres://warden:***@db:5432/warden"
        );
        assert_eq!(redact_url("postgres://db/warden"), "postgres://db/warden");
        assert_eq!(redact_url("not a url hunter2"), "<unparsable database URL>");
    }
}
