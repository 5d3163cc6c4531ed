//! The one-line view of an incident that lists show (CLI `incidents list`, API
//! `GET /api/v1/incidents`): the same fields in both, so scripts can use either.

use serde::Serialize;
use warden_core::{Incident, IncidentState};

/// An incident's list entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentSummary {
    /// Its id.
    pub id: String,
    /// Its runbook.
    pub runbook: String,
    /// Its title.
    pub title: String,
    /// Its state.
    pub state: IncidentState,
    /// Its severity.
    pub severity: String,
    /// What it is about, `kind/namespace/name`.
    pub target: String,
    /// When it was opened (RFC 3339).
    pub opened_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// How many findings folded into it.
    pub finding_count: u32,
}

impl From<&Incident> for IncidentSummary {
    fn from(incident: &Incident) -> Self {
        Self {
            id: incident.id.0.clone(),
            runbook: incident.runbook.to_string(),
            title: incident.title.clone(),
            state: incident.state,
            severity: incident.severity.to_string(),
            target: incident.target.to_string(),
            opened_at: incident.opened_at.to_rfc3339(),
            updated_at: incident.updated_at.to_rfc3339(),
            finding_count: incident.finding_count,
        }
    }
}
