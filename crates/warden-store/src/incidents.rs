//! The [`IncidentStore`] trait and its implementation for both backends. Incidents are stored
//! as a JSON document (the domain type, timeline and evidence included) next to the columns
//! that queries need; the database enforces at most one active incident per dedup key, which
//! is what keeps an alert storm from opening duplicates even across processes.

use std::future::Future;

use chrono::{DateTime, SecondsFormat, Utc};
use warden_core::{
    ActionRecord, ActionStatus, Approval, AuditEntry, Incident, IncidentId, IncidentState,
    Timestamp,
};

use crate::{Store, StoreError};

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only these states (all when empty).
    pub states: Vec<IncidentState>,
    /// Only active (not resolved or closed) incidents.
    pub active_only: bool,
    /// At most this many, newest first (0 means 100).
    pub limit: u32,
}

/// Persistence of incidents and everything that happens to them. Implemented by [`Store`] for
/// SQLite and PostgreSQL with identical behaviour (checked by the conformance suite).
pub trait IncidentStore: Send + Sync {
    /// Allocates the next incident id (`INC-1`, `INC-2`, …); ids are never reused.
    ///
    /// # Errors
    /// Database errors.
    fn next_incident_id(&self) -> impl Future<Output = Result<IncidentId, StoreError>> + Send;

    /// Inserts a new incident.
    ///
    /// # Errors
    /// [`StoreError::DuplicateActive`] when an active incident with the same dedup key exists
    /// (the caller should attach to that one instead); database errors.
    fn insert_incident(
        &self,
        incident: &Incident,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Opens many incidents in one transaction: allocates each one's id (replacing the id it
    /// carries, in its audit entry too), inserts it and appends its audit entry. All or
    /// nothing: a webhook payload of many distinct alerts costs one commit, not three per
    /// alert.
    ///
    /// # Errors
    /// [`StoreError::DuplicateActive`] when any of them has the dedup key of an active incident
    /// (nothing is written: the caller opens them one by one, attaching where it must);
    /// database errors.
    fn open_incidents(
        &self,
        opened: Vec<(Incident, AuditEntry)>,
    ) -> impl Future<Output = Result<Vec<IncidentId>, StoreError>> + Send;

    /// Replaces a stored incident with `incident` (same id), if the stored one is still at
    /// `incident.revision`; on success both advance by one.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when another writer saved first (read again and reapply);
    /// [`StoreError::DuplicateActive`] when reopening would make two active incidents with one
    /// key; [`StoreError::Query`] when the incident does not exist; database errors.
    fn save_incident(
        &self,
        incident: &mut Incident,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One incident.
    ///
    /// # Errors
    /// Database errors, [`StoreError::Corrupt`] for an undecodable record.
    fn get_incident(
        &self,
        id: &IncidentId,
    ) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;

    /// The newest incident with `dedup_key` (active or not): the candidate to attach to or
    /// reopen.
    ///
    /// # Errors
    /// As [`IncidentStore::get_incident`].
    fn latest_incident_for(
        &self,
        dedup_key: &str,
    ) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;

    /// Incidents matching `filter`, newest first.
    ///
    /// # Errors
    /// As [`IncidentStore::get_incident`].
    fn list_incidents(
        &self,
        filter: &IncidentFilter,
    ) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;

    /// Every active incident's id, oldest first, with no cap: what recovery and the periodic
    /// advance walk (a listing with a limit would leave the oldest incidents behind).
    ///
    /// # Errors
    /// Database errors.
    fn active_incident_ids(
        &self,
    ) -> impl Future<Output = Result<Vec<IncidentId>, StoreError>> + Send;

    /// How many incidents are in each state (states with none are left out).
    ///
    /// # Errors
    /// Database errors.
    fn count_by_state(&self)
    -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;

    /// How many action records are in each status (statuses with none are left out).
    ///
    /// # Errors
    /// Database errors.
    fn count_actions_by_status(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;

    /// The action record for `(incident, step)`, created as pending if it does not exist yet.
    /// Calling it again returns the stored record unchanged: the idempotency guarantee.
    ///
    /// # Errors
    /// Database errors.
    fn claim_action(
        &self,
        incident: &IncidentId,
        step: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<ActionRecord, StoreError>> + Send;

    /// Marks an action as started, only if it is still in the state `from` with `from_attempts`
    /// attempts (compare-and-set): of two executors racing for one step, exactly one gets
    /// `true` and executes it. Sets `running`, `attempts = from_attempts + 1`, `updated_at`.
    /// A finished action (succeeded, failed, skipped) is never started again this way, whatever
    /// `from` says: a retry of a failed step resets it to pending first.
    ///
    /// # Errors
    /// Database errors.
    fn start_action(
        &self,
        record: &ActionRecord,
        from: ActionStatus,
        from_attempts: u32,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// [`IncidentStore::start_action`], only while `fence` (holder and epoch) still holds the
    /// leader lease: an action is never started by a replica that lost leadership, however
    /// long it was paused. A store without leases starts it unfenced.
    ///
    /// # Errors
    /// Database errors.
    fn start_action_fenced(
        &self,
        record: &ActionRecord,
        from: ActionStatus,
        from_attempts: u32,
        fence: &crate::lease::Fence,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        let _ = fence;
        self.start_action(record, from, from_attempts)
    }

    /// Stores a changed action record.
    ///
    /// # Errors
    /// Database errors.
    fn update_action(
        &self,
        record: &ActionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every action record of an incident, by step.
    ///
    /// # Errors
    /// Database errors.
    fn actions_for(
        &self,
        incident: &IncidentId,
    ) -> impl Future<Output = Result<Vec<ActionRecord>, StoreError>> + Send;

    /// Records an approval or rejection.
    ///
    /// # Errors
    /// Database errors.
    fn record_approval(
        &self,
        approval: &Approval,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every decision on an incident, oldest first.
    ///
    /// # Errors
    /// Database errors.
    fn approvals_for(
        &self,
        incident: &IncidentId,
    ) -> impl Future<Output = Result<Vec<Approval>, StoreError>> + Send;

    /// Appends to the audit log.
    ///
    /// # Errors
    /// Database errors.
    fn append_audit(
        &self,
        entry: &AuditEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The audit log of an incident, oldest first.
    ///
    /// # Errors
    /// Database errors.
    fn audit_for(
        &self,
        incident: &IncidentId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}

/// Timestamps are stored as fixed-width RFC 3339 text (microseconds, `Z`), so text order is
/// time order on both backends.
pub(crate) fn time_text(at: &Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(text: &str) -> Result<Timestamp, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|err| format!("bad timestamp {text:?}: {err}"))
}

/// Runs `$body` with `$pool` bound to whichever pool the store has; the body is compiled once
/// per backend, so one SQL text (with `$n` parameters, which both accept) serves both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            Store::Sqlite { pool: $pool, .. } => $body,
            Store::Postgres { pool: $pool, .. } => $body,
        }
    };
}
pub(crate) use on_pool;

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

impl Store {
    fn query_error(&self, what: &str) -> impl Fn(sqlx::Error) -> StoreError + '_ {
        let what = what.to_string();
        move |err| StoreError::Query {
            target: self.target().to_string(),
            message: format!("{what}: {err}"),
        }
    }

    fn corrupt(&self, what: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            target: self.target().to_string(),
            what: what.into(),
            message: message.into(),
        }
    }

    fn decode_incident(&self, document: &str) -> Result<Incident, StoreError> {
        serde_json::from_str(document).map_err(|err| self.corrupt("incident", err.to_string()))
    }

    fn encode<T: serde::Serialize>(&self, what: &str, value: &T) -> Result<String, StoreError> {
        serde_json::to_string(value).map_err(|err| self.corrupt(what, err.to_string()))
    }

    async fn incidents_where(
        &self,
        sql: &str,
        binds: &[String],
        limit: i64,
    ) -> Result<Vec<Incident>, StoreError> {
        let error = self.query_error("list incidents");
        let documents: Vec<String> = on_pool!(self, pool => {
            let mut query = sqlx::query_scalar::<_, String>(sql);
            for bind in binds {
                query = query.bind(bind);
            }
            query.bind(limit).fetch_all(pool).await.map_err(error)?
        });
        documents
            .iter()
            .map(|document| self.decode_incident(document))
            .collect()
    }

    /// The JSON documents `sql` selects for `incident` (its one parameter), decoded.
    async fn documents_of<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        incident: &IncidentId,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        let error = self.query_error(what);
        let documents: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(sql)
            .bind(&incident.0)
            .fetch_all(pool)
            .await
            .map_err(error)?);
        documents
            .iter()
            .map(|document| {
                serde_json::from_str(document).map_err(|err| self.corrupt(what, err.to_string()))
            })
            .collect()
    }

    async fn count_grouped(&self, sql: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let error = self.query_error("count");
        let rows: Vec<(String, i64)> =
            on_pool!(self, pool => sqlx::query_as(sql).fetch_all(pool).await.map_err(error)?);
        Ok(rows
            .into_iter()
            .map(|(key, count)| (key, u64::try_from(count).unwrap_or(0)))
            .collect())
    }

    fn decode_action(&self, row: ActionRow) -> Result<ActionRecord, StoreError> {
        let (key, incident_id, step, status, attempts, result, updated_at, started_epoch) = row;
        Ok(ActionRecord {
            status: ActionStatus::parse(&status).map_err(|err| self.corrupt(&key, err))?,
            attempts: u32::try_from(attempts).map_err(|err| self.corrupt(&key, err.to_string()))?,
            updated_at: parse_time(&updated_at).map_err(|err| self.corrupt(&key, err))?,
            idempotency_key: key,
            incident_id: IncidentId(incident_id),
            step,
            result,
            started_epoch,
        })
    }
}

const INSERT_INCIDENT: &str = "INSERT INTO incidents (id, seq, dedup_key, runbook, state, active, \
     severity, opened_at, updated_at, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

const INSERT_AUDIT: &str = "INSERT INTO audit_log (incident_id, at, document) VALUES ($1, $2, $3)";

type ActionRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    String,
    Option<i64>,
);

const ACTION_COLUMNS: &str =
    "idempotency_key, incident_id, step, status, attempts, result, updated_at, started_epoch";

impl IncidentStore for Store {
    async fn next_incident_id(&self) -> Result<IncidentId, StoreError> {
        let error = self.query_error("allocate incident id");
        let value: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "UPDATE warden_sequences SET value = value + 1 WHERE name = 'incident' RETURNING value",
        )
        .fetch_one(pool)
        .await
        .map_err(error)?);
        Ok(IncidentId(format!("INC-{value}")))
    }

    async fn open_incidents(
        &self,
        mut opened: Vec<(Incident, AuditEntry)>,
    ) -> Result<Vec<IncidentId>, StoreError> {
        if opened.is_empty() {
            return Ok(Vec::new());
        }
        let count = i64::try_from(opened.len()).unwrap_or(i64::MAX);
        let error = self.query_error("open incidents");
        let result: Result<Vec<IncidentId>, sqlx::Error> = on_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let last: i64 = sqlx::query_scalar(
                "UPDATE warden_sequences SET value = value + $1 WHERE name = 'incident' RETURNING value",
            )
            .bind(count)
            .fetch_one(&mut *tx)
            .await?;
            let mut ids = Vec::with_capacity(opened.len());
            for (index, (incident, audit)) in opened.iter_mut().enumerate() {
                let seq = last - count + 1 + i64::try_from(index).unwrap_or(i64::MAX);
                incident.id = IncidentId(format!("INC-{seq}"));
                audit.incident_id = Some(incident.id.clone());
                let document = serde_json::to_string(&*incident)
                    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                sqlx::query(INSERT_INCIDENT)
                    .bind(&incident.id.0)
                    .bind(seq)
                    .bind(&incident.dedup_key)
                    .bind(incident.runbook.as_str())
                    .bind(incident.state.as_str())
                    .bind(i64::from(incident.state.is_active()))
                    .bind(incident.severity.as_str())
                    .bind(time_text(&incident.opened_at))
                    .bind(time_text(&incident.updated_at))
                    .bind(&document)
                    .execute(&mut *tx)
                    .await?;
                let audit_document = serde_json::to_string(&*audit)
                    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
                sqlx::query(INSERT_AUDIT)
                    .bind(&incident.id.0)
                    .bind(time_text(&audit.at))
                    .bind(&audit_document)
                    .execute(&mut *tx)
                    .await?;
                ids.push(incident.id.clone());
            }
            tx.commit().await?;
            Ok(ids)
        }
        .await);
        match result {
            Ok(ids) => Ok(ids),
            Err(err) if is_unique_violation(&err) => {
                let keys: Vec<&str> = opened.iter().map(|(i, _)| i.dedup_key.as_str()).collect();
                Err(StoreError::DuplicateActive(format!(
                    "one of {} keys ({}…)",
                    keys.len(),
                    keys.first().copied().unwrap_or_default()
                )))
            }
            Err(err) => Err(error(err)),
        }
    }

    async fn insert_incident(&self, incident: &Incident) -> Result<(), StoreError> {
        let document = self.encode("incident", incident)?;
        let seq: i64 = incident
            .id
            .0
            .strip_prefix("INC-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                self.corrupt("incident id", format!("{} is not INC-<n>", incident.id))
            })?;
        let result = on_pool!(self, pool => sqlx::query(INSERT_INCIDENT)
        .bind(&incident.id.0)
        .bind(seq)
        .bind(&incident.dedup_key)
        .bind(incident.runbook.as_str())
        .bind(incident.state.as_str())
        .bind(i64::from(incident.state.is_active()))
        .bind(incident.severity.as_str())
        .bind(time_text(&incident.opened_at))
        .bind(time_text(&incident.updated_at))
        .bind(&document)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()));
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::DuplicateActive(incident.dedup_key.clone()))
            }
            Err(err) => Err(self.query_error("insert incident")(err)),
        }
    }

    async fn save_incident(&self, incident: &mut Incident) -> Result<(), StoreError> {
        let mut next = incident.clone();
        next.revision = incident.revision + 1;
        let document = self.encode("incident", &next)?;
        let revision = i64::try_from(incident.revision).unwrap_or(i64::MAX);
        let result = on_pool!(self, pool => sqlx::query(
            "UPDATE incidents SET state = $1, active = $2, severity = $3, updated_at = $4, \
             document = $5, revision = $6 WHERE id = $7 AND revision = $8",
        )
        .bind(next.state.as_str())
        .bind(i64::from(next.state.is_active()))
        .bind(next.severity.as_str())
        .bind(time_text(&next.updated_at))
        .bind(&document)
        .bind(revision + 1)
        .bind(&next.id.0)
        .bind(revision)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()));
        match result {
            Ok(1) => {
                incident.revision = next.revision;
                Ok(())
            }
            Ok(_) if self.get_incident(&incident.id).await?.is_some() => {
                Err(StoreError::Conflict(incident.id.0.clone()))
            }
            Ok(_) => Err(StoreError::Query {
                target: self.target().to_string(),
                message: format!("save incident: no incident {}", incident.id),
            }),
            Err(err) if is_unique_violation(&err) => {
                Err(StoreError::DuplicateActive(incident.dedup_key.clone()))
            }
            Err(err) => Err(self.query_error("save incident")(err)),
        }
    }

    async fn get_incident(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError> {
        let error = self.query_error("get incident");
        let document: Option<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT document FROM incidents WHERE id = $1",
        )
        .bind(&id.0)
        .fetch_optional(pool)
        .await
        .map_err(error)?);
        document
            .map(|document| self.decode_incident(&document))
            .transpose()
    }

    async fn latest_incident_for(&self, dedup_key: &str) -> Result<Option<Incident>, StoreError> {
        let mut found = self
            .incidents_where(
                "SELECT document FROM incidents WHERE dedup_key = $1 ORDER BY seq DESC LIMIT $2",
                &[dedup_key.to_string()],
                1,
            )
            .await?;
        Ok(found.pop())
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        let limit = if filter.limit == 0 {
            100
        } else {
            i64::from(filter.limit)
        };
        let mut conditions = Vec::new();
        let mut binds = Vec::new();
        if filter.active_only {
            conditions.push("active = 1".to_string());
        }
        if !filter.states.is_empty() {
            let placeholders: Vec<String> = filter
                .states
                .iter()
                .map(|state| {
                    binds.push(state.as_str().to_string());
                    format!("${}", binds.len())
                })
                .collect();
            conditions.push(format!("state IN ({})", placeholders.join(", ")));
        }
        let mut sql = "SELECT document FROM incidents".to_string();
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT ${}", binds.len() + 1));
        self.incidents_where(&sql, &binds, limit).await
    }

    async fn active_incident_ids(&self) -> Result<Vec<IncidentId>, StoreError> {
        let error = self.query_error("list active incidents");
        let ids: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT id FROM incidents WHERE active = 1 ORDER BY seq",
        )
        .fetch_all(pool)
        .await
        .map_err(error)?);
        Ok(ids.into_iter().map(IncidentId).collect())
    }

    async fn count_by_state(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.count_grouped("SELECT state, COUNT(*) FROM incidents GROUP BY state ORDER BY state")
            .await
    }

    async fn count_actions_by_status(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.count_grouped("SELECT status, COUNT(*) FROM actions GROUP BY status ORDER BY status")
            .await
    }

    async fn claim_action(
        &self,
        incident: &IncidentId,
        step: &str,
        now: Timestamp,
    ) -> Result<ActionRecord, StoreError> {
        let pending = ActionRecord::pending(incident, step, now);
        let error = self.query_error("claim action");
        let row: ActionRow = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO actions (idempotency_key, incident_id, step, status, attempts, result, \
                 updated_at) VALUES ($1, $2, $3, $4, 0, NULL, $5) ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&pending.idempotency_key)
            .bind(&incident.0)
            .bind(step)
            .bind(pending.status.as_str())
            .bind(time_text(&now))
            .execute(pool)
            .await
            .map_err(&error)?;
            sqlx::query_as(&format!("SELECT {ACTION_COLUMNS} FROM actions WHERE idempotency_key = $1"))
                .bind(&pending.idempotency_key)
                .fetch_one(pool)
                .await
                .map_err(&error)?
        });
        self.decode_action(row)
    }

    async fn start_action(
        &self,
        record: &ActionRecord,
        from: ActionStatus,
        from_attempts: u32,
    ) -> Result<bool, StoreError> {
        let error = self.query_error("start action");
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE actions SET status = 'running', attempts = $1, updated_at = $2 \
             WHERE idempotency_key = $3 AND status = $4 AND attempts = $5 \
             AND status IN ('pending', 'running')",
        )
        .bind(i64::from(from_attempts) + 1)
        .bind(time_text(&record.updated_at))
        .bind(&record.idempotency_key)
        .bind(from.as_str())
        .bind(i64::from(from_attempts))
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(error)?);
        Ok(changed == 1)
    }

    async fn start_action_fenced(
        &self,
        record: &ActionRecord,
        from: ActionStatus,
        from_attempts: u32,
        fence: &crate::lease::Fence,
    ) -> Result<bool, StoreError> {
        let error = self.query_error("start action");
        let changed = on_pool!(self, pool => sqlx::query(
            "UPDATE actions SET status = 'running', attempts = $1, updated_at = $2, started_epoch = $8 \
             WHERE idempotency_key = $3 AND status = $4 AND attempts = $5 \
             AND status IN ('pending', 'running') \
             AND EXISTS (SELECT 1 FROM warden_lease WHERE name = $6 AND holder = $7 AND epoch = $8)",
        )
        .bind(i64::from(from_attempts) + 1)
        .bind(time_text(&record.updated_at))
        .bind(&record.idempotency_key)
        .bind(from.as_str())
        .bind(i64::from(from_attempts))
        .bind(crate::lease::LEADER)
        .bind(&fence.holder)
        .bind(fence.epoch)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(error)?);
        Ok(changed == 1)
    }

    async fn update_action(&self, record: &ActionRecord) -> Result<(), StoreError> {
        let error = self.query_error("update action");
        on_pool!(self, pool => sqlx::query(
            "UPDATE actions SET status = $1, attempts = $2, result = $3, updated_at = $4 \
             WHERE idempotency_key = $5",
        )
        .bind(record.status.as_str())
        .bind(i64::from(record.attempts))
        .bind(&record.result)
        .bind(time_text(&record.updated_at))
        .bind(&record.idempotency_key)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(error)?);
        Ok(())
    }

    async fn actions_for(&self, incident: &IncidentId) -> Result<Vec<ActionRecord>, StoreError> {
        let error = self.query_error("list actions");
        let rows: Vec<ActionRow> = on_pool!(self, pool => sqlx::query_as(&format!(
            "SELECT {ACTION_COLUMNS} FROM actions WHERE incident_id = $1 ORDER BY step"
        ))
        .bind(&incident.0)
        .fetch_all(pool)
        .await
        .map_err(error)?);
        rows.into_iter()
            .map(|row| self.decode_action(row))
            .collect()
    }

    async fn record_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        let document = self.encode("approval", approval)?;
        let error = self.query_error("record approval");
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO approvals (incident_id, step, decision, document) VALUES ($1, $2, $3, $4)",
        )
        .bind(&approval.incident_id.0)
        .bind(&approval.step)
        .bind(approval.decision.as_str())
        .bind(&document)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(error)?);
        Ok(())
    }

    async fn approvals_for(&self, incident: &IncidentId) -> Result<Vec<Approval>, StoreError> {
        self.documents_of(
            "SELECT document FROM approvals WHERE incident_id = $1 ORDER BY seq",
            incident,
            "approval",
        )
        .await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let document = self.encode("audit entry", entry)?;
        let error = self.query_error("append audit");
        on_pool!(self, pool => sqlx::query(INSERT_AUDIT)
        .bind(entry.incident_id.as_ref().map(|id| id.0.clone()))
        .bind(time_text(&entry.at))
        .bind(&document)
        .execute(pool)
        .await
        .map(|done| done.rows_affected())
        .map_err(error)?);
        Ok(())
    }

    async fn audit_for(&self, incident: &IncidentId) -> Result<Vec<AuditEntry>, StoreError> {
        self.documents_of(
            "SELECT document FROM audit_log WHERE incident_id = $1 ORDER BY seq",
            incident,
            "audit entry",
        )
        .await
    }
}
