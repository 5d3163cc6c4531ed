//! Leadership as a lease in the store (R6.10): one row per lease name with its holder, an
//! epoch that increases on every change of holder, and when it expires. Every replica tries
//! to take or renew it; the store lets one succeed. An action is started only with the
//! current holder's epoch ([`crate::IncidentStore::start_action_fenced`]), so a replica that
//! was paused or cut off past its lease cannot start one after it wakes: the epoch moved on.
//!
//! Times are each replica's own clock; replicas are expected to keep it in sync (NTP), and a
//! leader stops acting well before its lease can expire (see the daemon's leadership loop).

use crate::incidents::{on_pool, parse_time, time_text};
use crate::{Store, StoreError};
use warden_core::Timestamp;

/// The lease every replica of one Warden competes for.
pub const LEADER: &str = "leader";

/// A lease as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it (a replica's name: the pod name, or host and process id).
    pub holder: String,
    /// Increases on every change of holder.
    pub epoch: i64,
    /// When it lapses unless renewed.
    pub expires_at: Timestamp,
}

/// A fence: the holder and epoch an action start must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The holder.
    pub holder: String,
    /// Its epoch.
    pub epoch: i64,
}

impl Store {
    /// Takes lease `name` for `holder` until `expires_at`, or renews it — only when `holder`
    /// holds it already or it lapsed by `now`. Returns the lease as it stands afterwards:
    /// `holder` leads when the returned holder is itself.
    ///
    /// # Errors
    /// Database errors.
    pub async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Lease, StoreError> {
        let error = |err: sqlx::Error| StoreError::Query {
            target: self.target().to_string(),
            message: format!("lease {name}: {err}"),
        };
        let row: (String, i64, String) = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO warden_lease (name, holder, epoch, expires_at) VALUES ($1, $2, 1, $3) \
                 ON CONFLICT (name) DO UPDATE SET \
                 epoch = CASE WHEN warden_lease.holder = excluded.holder THEN warden_lease.epoch ELSE warden_lease.epoch + 1 END, \
                 holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE warden_lease.holder = excluded.holder OR warden_lease.expires_at <= $4",
            )
            .bind(name)
            .bind(holder)
            .bind(time_text(&expires_at))
            .bind(time_text(&now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(error)?;
            sqlx::query_as("SELECT holder, epoch, expires_at FROM warden_lease WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await
                .map_err(error)?
        });
        Ok(Lease {
            holder: row.0,
            epoch: row.1,
            expires_at: parse_time(&row.2).map_err(|message| StoreError::Query {
                target: self.target().to_string(),
                message,
            })?,
        })
    }

    /// Lease `name` as it stands, if anyone ever took it.
    ///
    /// # Errors
    /// Database errors.
    pub async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let error = |err: sqlx::Error| StoreError::Query {
            target: self.target().to_string(),
            message: format!("lease {name}: {err}"),
        };
        let row: Option<(String, i64, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT holder, epoch, expires_at FROM warden_lease WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(error)?
        });
        row.map(|(holder, epoch, expires_at)| {
            Ok(Lease {
                holder,
                epoch,
                expires_at: parse_time(&expires_at).map_err(|message| StoreError::Query {
                    target: self.target().to_string(),
                    message,
                })?,
            })
        })
        .transpose()
    }

    /// Gives lease `name` up if `holder` holds it (it lapses now), so another replica takes
    /// over without waiting for the expiry: a clean shutdown.
    ///
    /// # Errors
    /// Database errors.
    pub async fn release_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let error = |err: sqlx::Error| StoreError::Query {
            target: self.target().to_string(),
            message: format!("lease {name}: {err}"),
        };
        on_pool!(self, pool => sqlx::query(
            "UPDATE warden_lease SET expires_at = $1 WHERE name = $2 AND holder = $3",
        )
        .bind(time_text(&now))
        .bind(name)
        .bind(holder)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(error)?);
        Ok(())
    }
}
