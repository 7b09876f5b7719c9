//! Drift findings for admins: `/admin/drift` (recent findings) and `/api/v1/drift`.

use super::AdminState;
use super::auth::{ApiUser, PageUser};
use super::errors::{AdminError, ApiError, PageError};
use super::pages::{merge, page_ctx, render};
use super::tokens::{Principal, Role};
use super::view::time;
use crate::domain::DriftFinding;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/drift", get(list_api))
        .route("/admin/drift", get(drift_page))
}

#[derive(Deserialize)]
struct DriftQuery {
    /// Only this resource.
    resource: Option<String>,
    /// `true`: open findings only (the default); `false`: resolved ones too.
    open: Option<bool>,
    limit: Option<i64>,
}

/// Findings name accounts of every person, so requester tokens do not see them.
fn may_list(who: &Principal) -> Result<(), AdminError> {
    match who.role {
        Role::Admin | Role::Viewer => Ok(()),
        Role::Requester => Err(AdminError::Forbidden),
    }
}

async fn findings(state: &AdminState, q: &DriftQuery) -> Result<Vec<DriftFinding>, AdminError> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    Ok(state
        .app
        .engine
        .store()
        .drift_findings(q.open.unwrap_or(true), q.resource.as_deref(), limit)
        .await?)
}

async fn list_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Query(q): Query<DriftQuery>,
) -> Result<Json<Value>, ApiError> {
    may_list(&who)?;
    Ok(Json(json!({ "findings": findings(&state, &q).await? })))
}

async fn drift_page(
    State(state): State<AdminState>,
    user: PageUser,
) -> Result<Html<String>, PageError> {
    may_list(&user.principal)?;
    let q = DriftQuery {
        resource: None,
        open: Some(false),
        limit: Some(200),
    };
    let items: Vec<Value> = findings(&state, &q)
        .await?
        .iter()
        .map(|f| {
            json!({ "resource": f.resource, "backend": f.backend, "kind": f.kind.as_str(),
                    "holder": f.holder, "first_seen": time(f.first_seen),
                    "last_seen": time(f.last_seen), "open": f.resolved_at.is_none(),
                    "action": f.action.as_str(), "detail": f.detail })
        })
        .collect();
    Ok(render(
        &state,
        "drift",
        &merge(page_ctx(&user, "Drift"), json!({ "findings": items })),
    )?)
}
