//! The console's pages: the incident list, an incident, its evidence and post-mortem, the
//! runbooks, and the server-sent event stream that keeps a page live.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::fmt::Write;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use warden_core::{Incident, IncidentId, IncidentState, Severity};
use warden_engine::registry::EntryKind;
use warden_engine::steps::{StepGroup, StepView, step_views};
use warden_runbook::{Phase, Runbook, StepKind};
use warden_store::{IncidentFilter, IncidentStore};

use super::html::{self, badge, button_form, esc, time, url_part};
use super::{Caller, caller, markdown, message};
use crate::AppState;

/// Most incidents the list shows.
const LIST_LIMIT: u32 = 1000;
/// Rows each of the "waiting" and "failed" panels lists (the rest are counted).
const PANEL_ROWS: usize = 50;
/// Largest evidence rendered in a page (the raw bytes are downloadable whole).
const RENDER_LIMIT: usize = 2 * 1024 * 1024;

mod evidence;
mod incident;
mod list;
mod live;
mod runbooks;

pub use evidence::*;
pub use incident::*;
pub use list::*;
pub use live::*;
pub use runbooks::*;
