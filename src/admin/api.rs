//! The `/api/v1` JSON API: the same data as the pages, for scripts (see docs/openapi.yaml).

use super::AdminState;
use super::auth::ApiUser;
use super::errors::{AdminError, ApiError};
use super::filters::{ListQuery, list};
use super::tokens::Principal;
use super::view::{approval_doc, request_doc};
use crate::domain::{Request, RequestState};
use crate::workflow::UserError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/requests", get(list_requests))
        .route("/api/v1/requests/{id}", get(get_request))
        .route("/api/v1/grants", get(list_grants))
        .route("/api/v1/grants/{request_id}/revoke", post(revoke_grant))
}

/// A request this principal may read; anyone else's is "not found", never "forbidden", so ids
/// cannot be probed.
pub(super) async fn load_request(
    state: &AdminState,
    who: &Principal,
    id: &str,
) -> Result<Request, AdminError> {
    match state.app.engine.store().get_request(id).await? {
        Some(r) if who.may_read(&r.requester_id) => Ok(r),
        _ => Err(AdminError::NotFound),
    }
}

/// Revokes a grant now through the engine, with the admin as the logged actor.
/// Returns the request's state afterwards (still `active` while a failing backend is retried).
pub(super) async fn revoke(
    state: &AdminState,
    who: &Principal,
    id: &str,
    reason: &str,
) -> Result<RequestState, AdminError> {
    let req = load_request(state, who, id).await?;
    if !who.can_revoke() {
        return Err(AdminError::Forbidden);
    }
    let engine = &state.app.engine;
    let reason: String = crate::domain::text::sanitize_free_text(reason, 200);
    match engine.revoke_early(&req, &who.actor(), &reason, None).await {
        Ok(_) => {}
        Err(e) => {
            if let Some(UserError(msg)) = e.downcast_ref::<UserError>() {
                return Err(AdminError::Conflict(msg.clone()));
            }
            return Err(AdminError::Internal(e));
        }
    }
    tracing::info!(request = %req.id, admin = %who.name, "grant revoked by an admin");
    let after = engine
        .store()
        .get_request(&req.id)
        .await?
        .ok_or(AdminError::NotFound)?;
    Ok(after.state)
}

async fn list_requests(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = list(&state, &who, &q).await?;
    Ok(Json(
        json!({ "requests": page.rows.iter().map(request_doc).collect::<Vec<_>>(), "next_cursor": page.next_cursor }),
    ))
}

async fn get_request(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let req = load_request(&state, &who, &id).await?;
    let store = state.app.engine.store();
    let chain = store.verify_chain(&req.id).await?;
    let log = store.log_entries(&req.id).await?;
    let approvals = store.approvals(&req.id).await?;
    let grant = store.grant(&req.id).await?;
    Ok(Json(
        json!({ "request": request_doc(&req), "chain": chain, "log": log, "approvals": approvals.iter().map(approval_doc).collect::<Vec<_>>(), "grant": grant }),
    ))
}

async fn list_grants(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
) -> Result<Json<Value>, ApiError> {
    let grants = state.app.engine.store().active_grants(1000).await?;
    let mine: Vec<_> = grants
        .iter()
        .filter_map(Request::grant_summary)
        .filter(|g| who.may_read(&g.person_id))
        .collect();
    Ok(Json(json!({ "grants": mine })))
}

#[derive(Deserialize, Default)]
struct RevokeBody {
    reason: Option<String>,
}

async fn revoke_grant(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Path(id): Path<String>,
    body: Option<Json<RevokeBody>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let reason = body
        .and_then(|Json(b)| b.reason)
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "revoked by an admin".into());
    let after = revoke(&state, &who, &id, &reason).await?;
    // Still active means the backend call failed and the scheduler keeps retrying it.
    let status = if after == RequestState::Active {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "request_id": id, "state": after }))))
}
