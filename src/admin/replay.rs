//! Policy replay in the admin UI and API: past decisions against the configured policy or a
//! candidate one pasted into the page. Nothing changes.

use super::AdminState;
use super::auth::{ApiUser, PageUser};
use super::errors::{AdminError, ApiError, PageError};
use super::pages::{merge, page_ctx, render};
use super::session::csrf_matches;
use super::tokens::{Principal, Role};
use crate::policy::PolicyEngine;
use crate::policy::embedded::EmbeddedPolicy;
use crate::policy::replay::{Report, replay};
use axum::extract::{Form, Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// Largest candidate policy accepted from the page.
const MAX_POLICY_BYTES: usize = 256 * 1024;

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/policy/replay", get(replay_api))
        .route(
            "/admin/policy/replay",
            get(replay_page).post(replay_candidate),
        )
}

#[derive(Deserialize)]
struct ReplayQuery {
    since: Option<String>,
}

#[derive(Deserialize)]
struct CandidateForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    policy: String,
}

/// Decisions name requests of every person, so requester tokens do not see them.
fn may_replay(who: &Principal) -> Result<(), AdminError> {
    match who.role {
        Role::Admin | Role::Viewer => Ok(()),
        Role::Requester => Err(AdminError::Forbidden),
    }
}

fn since_ms(state: &AdminState, since: Option<&str>) -> Result<(i64, String), AdminError> {
    let since = since.unwrap_or("30d").to_string();
    let secs = crate::domain::duration::parse_duration(&since).ok_or_else(|| {
        AdminError::BadRequest(format!(
            "since must be a duration like 30d or 12h (got '{since}')"
        ))
    })?;
    Ok((state.now_ms() - (secs as i64) * 1000, since))
}

async fn run(
    state: &AdminState,
    policy: &dyn PolicyEngine,
    label: &str,
    since_ms: i64,
) -> Result<Report, AdminError> {
    let store = state.app.engine.store();
    Ok(replay(store, policy, label, since_ms).await?)
}

async fn replay_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Query(q): Query<ReplayQuery>,
) -> Result<Json<Value>, ApiError> {
    may_replay(&who)?;
    let (since, _) = since_ms(&state, q.since.as_deref())?;
    let engine = state.app.engine.clone();
    let report = run(&state, engine.policy(), "the configured policy", since).await?;
    Ok(Json(json!({ "report": report })))
}

async fn replay_page(
    State(state): State<AdminState>,
    user: PageUser,
    Query(q): Query<ReplayQuery>,
) -> Result<Html<String>, PageError> {
    may_replay(&user.principal)?;
    let (since, label) = since_ms(&state, q.since.as_deref())?;
    let engine = state.app.engine.clone();
    let report = run(&state, engine.policy(), "the configured policy", since).await?;
    page(&state, &user, &report, &label, "")
}

/// A candidate Rego policy pasted into the page, evaluated embedded. Admins only: it runs
/// code they wrote over every recorded decision.
async fn replay_candidate(
    State(state): State<AdminState>,
    user: PageUser,
    Form(form): Form<CandidateForm>,
) -> Result<Html<String>, PageError> {
    if !csrf_matches(&user.csrf, form.csrf.as_deref()) {
        return Err(AdminError::Csrf.into());
    }
    if user.principal.role != Role::Admin {
        return Err(AdminError::Forbidden.into());
    }
    if form.policy.trim().is_empty() || form.policy.len() > MAX_POLICY_BYTES {
        return Err(AdminError::BadRequest(format!(
            "Paste a Rego policy of at most {} KiB.",
            MAX_POLICY_BYTES / 1024
        ))
        .into());
    }
    let (since, label) = since_ms(&state, form.since.as_deref())?;
    let candidate = EmbeddedPolicy::from_source("candidate.rego", &form.policy)
        .map_err(|e| AdminError::BadRequest(format!("{e:#}")))?;
    let report = run(&state, &candidate, "the pasted policy", since).await?;
    page(&state, &user, &report, &label, &form.policy)
}

fn page(
    state: &AdminState,
    user: &PageUser,
    report: &Report,
    since: &str,
    candidate: &str,
) -> Result<Html<String>, PageError> {
    let changes: Vec<Value> = report
        .changes
        .iter()
        .map(|(kind, g)| json!({ "kind": kind, "count": g.count, "ids": g.request_ids, "more": g.more }))
        .collect();
    let ctx = json!({
        "report": report, "changes": changes, "since": since, "candidate": candidate,
        "can_paste": user.principal.role == Role::Admin,
    });
    Ok(render(
        state,
        "replay",
        &merge(page_ctx(user, "Policy replay"), ctx),
    )?)
}
