//! Jobs an admin must see: the dead-letter list (`/admin/jobs`, `/api/v1/jobs`) and its retry.

use super::AdminState;
use super::auth::{ApiUser, PageUser};
use super::errors::{AdminError, ApiError, PageError};
use super::pages::{CsrfForm, merge, page_ctx, render};
use super::tokens::{Principal, Role};
use super::view::time;
use crate::domain::JobStatus;
use crate::store::JobView;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/jobs", get(list_api))
        .route("/api/v1/jobs/{id}/retry", post(retry_api))
        .route("/admin/jobs", get(jobs_page))
        .route("/admin/jobs/{id}/retry", post(retry_form))
}

#[derive(Deserialize)]
struct JobsQuery {
    /// `dead` (the default), `pending` or `running`.
    status: Option<String>,
}

/// Jobs name requests of every person, so requester tokens do not see them.
fn may_list(who: &Principal) -> Result<(), AdminError> {
    match who.role {
        Role::Admin | Role::Viewer => Ok(()),
        Role::Requester => Err(AdminError::Forbidden),
    }
}

async fn jobs_of(state: &AdminState, status: Option<&str>) -> Result<Vec<JobView>, AdminError> {
    let status = match status {
        None => JobStatus::Dead,
        Some(s) => JobStatus::parse(s).ok_or_else(|| {
            AdminError::BadRequest(format!(
                "status must be dead, pending, running or done (got '{s}')"
            ))
        })?,
    };
    Ok(state.app.engine.store().jobs_in(status, 500).await?)
}

async fn retry(state: &AdminState, who: &Principal, id: &str) -> Result<JobView, AdminError> {
    if who.role != Role::Admin {
        return Err(AdminError::Forbidden);
    }
    state
        .app
        .engine
        .retry_dead_job(id, &who.actor())
        .await?
        .ok_or_else(|| {
            AdminError::Conflict(format!(
                "No dead job has id {id}; it may have been retried already."
            ))
        })
}

async fn list_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Value>, ApiError> {
    may_list(&who)?;
    let jobs = jobs_of(&state, q.status.as_deref()).await?;
    Ok(Json(json!({ "jobs": jobs })))
}

async fn retry_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = retry(&state, &who, &id).await?;
    Ok(Json(json!({ "job": job })))
}

async fn jobs_page(
    State(state): State<AdminState>,
    user: PageUser,
) -> Result<Html<String>, PageError> {
    may_list(&user.principal)?;
    let jobs = jobs_of(&state, None).await?;
    let items: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({ "id": j.id, "kind": j.kind, "request_id": j.request_id, "attempts": j.attempts,
                    "since": time(j.run_at), "error": j.last_error })
        })
        .collect();
    let ctx = json!({ "jobs": items, "can_retry": user.principal.role == Role::Admin });
    Ok(render(
        &state,
        "jobs",
        &merge(page_ctx(&user, "Jobs that need an admin"), ctx),
    )?)
}

async fn retry_form(
    State(state): State<AdminState>,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Redirect, PageError> {
    form.check(&user, &id)?;
    retry(&state, &user.principal, &id).await?;
    Ok(Redirect::to("/admin/jobs"))
}
