//! The kill switch for admins: `/api/v1/freezes` and the `/admin/freezes` page with its forms.
//!
//! Admins freeze and unfreeze; viewers see the list; requester tokens see nothing here. The
//! actor recorded is the admin token's name; a freeze with `revoke` answers with the summary.

use super::AdminState;
use super::auth::{ApiUser, PageUser};
use super::errors::{AdminError, ApiError, PageError};
use super::pages::{merge, page_ctx, render};
use super::session::csrf_matches;
use super::tokens::{Principal, Role};
use super::view::time;
use crate::domain::{Freeze, FreezeScope};
use crate::store::Frozen;
use crate::workflow::{DEFAULT_REVOKE_CONCURRENCY, RevokeSummary, UserError};
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/freezes", get(list_api).post(freeze_api))
        .route("/api/v1/freezes/{id}/unfreeze", post(unfreeze_api))
        .route("/admin/freezes", get(page).post(freeze_form))
        .route("/admin/freezes/{id}/unfreeze", post(unfreeze_form))
}

/// A freeze as the API and the page ask for it.
#[derive(Deserialize)]
struct FreezeBody {
    /// agent | all_agents | resource | everything
    scope: String,
    #[serde(default)]
    target: Option<String>,
    reason: String,
    #[serde(default)]
    revoke: bool,
}

#[derive(Deserialize)]
struct UnfreezeBody {
    reason: String,
}

fn may_list(who: &Principal) -> Result<(), AdminError> {
    match who.role {
        Role::Admin | Role::Viewer => Ok(()),
        Role::Requester => Err(AdminError::Forbidden),
    }
}

fn may_change(who: &Principal) -> Result<(), AdminError> {
    match who.role {
        Role::Admin => Ok(()),
        Role::Viewer | Role::Requester => Err(AdminError::Forbidden),
    }
}

/// An engine refusal (no reason, unknown resource) is the caller's to fix: a 400.
fn refused(e: anyhow::Error) -> AdminError {
    match e.downcast_ref::<UserError>() {
        Some(UserError(msg)) => AdminError::BadRequest(msg.clone()),
        None => AdminError::Internal(e),
    }
}

async fn apply(
    state: &AdminState,
    who: &Principal,
    body: &FreezeBody,
) -> Result<(Frozen, Option<RevokeSummary>), AdminError> {
    may_change(who)?;
    let scope = FreezeScope::parse(&body.scope, body.target.as_deref())
        .map_err(|e| AdminError::BadRequest(e.to_string()))?;
    let engine = &state.app.engine;
    let frozen = engine
        .freeze(&scope, &who.actor(), &body.reason)
        .await
        .map_err(refused)?;
    if !body.revoke {
        return Ok((frozen, None));
    }
    let summary = engine
        .revoke_frozen(
            frozen.freeze(),
            &who.actor(),
            DEFAULT_REVOKE_CONCURRENCY,
            &|_| {},
        )
        .await?;
    Ok((frozen, Some(summary)))
}

async fn lift(
    state: &AdminState,
    who: &Principal,
    id: &str,
    reason: &str,
) -> Result<Freeze, AdminError> {
    may_change(who)?;
    state
        .app
        .engine
        .unfreeze(id, &who.actor(), reason)
        .await
        .map_err(refused)?
        .ok_or_else(|| AdminError::Conflict(format!("No active freeze has id {id}.")))
}

async fn list_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
) -> Result<Json<Value>, ApiError> {
    may_list(&who)?;
    let freezes = state.app.engine.store().list_freezes(500).await?;
    Ok(Json(json!({ "freezes": freezes })))
}

async fn freeze_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Json(body): Json<FreezeBody>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let (frozen, revoke) = apply(&state, &who, &body).await?;
    let status = match frozen {
        Frozen::New(_) => axum::http::StatusCode::CREATED,
        Frozen::Existing(_) => axum::http::StatusCode::OK,
    };
    let created = matches!(frozen, Frozen::New(_));
    Ok((
        status,
        Json(json!({ "freeze": frozen.freeze(), "created": created, "revoke": revoke })),
    ))
}

async fn unfreeze_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Path(id): Path<String>,
    Json(body): Json<UnfreezeBody>,
) -> Result<Json<Value>, ApiError> {
    let freeze = lift(&state, &who, &id, &body.reason).await?;
    Ok(Json(json!({ "freeze": freeze })))
}

/// What the page says after a form post: typed numbers, never text from the URL.
#[derive(Deserialize, Default)]
struct Notice {
    done: Option<String>,
    id: Option<String>,
    revoked: Option<usize>,
    total: Option<usize>,
    still: Option<usize>,
}

impl Notice {
    fn text(&self) -> Option<String> {
        let id = self.id.as_deref().filter(|i| Freeze::looks_like_id(i))?;
        let mut text = match self.done.as_deref()? {
            "frozen" => format!("Freeze {id} is in force."),
            "lifted" => format!("Freeze {id} is lifted."),
            _ => return None,
        };
        if let (Some(r), Some(t)) = (self.revoked, self.total) {
            text.push_str(&format!(" Revoked {r} of {t} active grants."));
        }
        if let Some(s) = self.still.filter(|s| *s > 0) {
            text.push_str(&format!(
                " {s} still active: the backend is failing and Warden keeps retrying."
            ));
        }
        Some(text)
    }
}

async fn page(
    State(state): State<AdminState>,
    user: PageUser,
    Query(notice): Query<Notice>,
) -> Result<Html<String>, PageError> {
    may_list(&user.principal)?;
    let freezes = state.app.engine.store().list_freezes(200).await?;
    let rows: Vec<Value> = freezes
        .iter()
        .map(|f| {
            json!({ "id": f.id, "scope": f.scope.to_string(), "actor": f.actor, "reason": f.reason,
                    "since": time(f.created_at), "active": f.is_active(),
                    "lifted": f.lifted.as_ref().map(|l| json!({ "by": l.by, "reason": l.reason, "at": time(l.at) })) })
        })
        .collect();
    let resources: Vec<&str> = state
        .app
        .engine
        .catalog()
        .resources()
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    // Offered from the registry, so the page cannot freeze a misspelt agent.
    let agents: Vec<&str> = state
        .app
        .engine
        .agents()
        .agents()
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    let ctx = json!({ "freezes": rows, "can_change": user.principal.role == Role::Admin,
                      "resources": resources, "agents": agents, "notice": notice.text() });
    Ok(render(
        &state,
        "freezes",
        &merge(page_ctx(&user, "Kill switch"), ctx),
    )?)
}

#[derive(Deserialize)]
struct FreezeForm {
    #[serde(default)]
    csrf: Option<String>,
    scope: String,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    reason: String,
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    revoke: Option<String>,
}

fn check_csrf(user: &PageUser, presented: Option<&str>, target: &str) -> Result<(), AdminError> {
    if csrf_matches(&user.csrf, presented) {
        return Ok(());
    }
    tracing::warn!(token = %user.principal.name, target, "admin form post without a valid CSRF token refused");
    Err(AdminError::Csrf)
}

async fn freeze_form(
    State(state): State<AdminState>,
    user: PageUser,
    Form(form): Form<FreezeForm>,
) -> Result<Redirect, PageError> {
    check_csrf(&user, form.csrf.as_deref(), "freeze")?;
    let target = match form.scope.as_str() {
        "agent" => form.agent.clone(),
        "resource" => form.resource.clone(),
        _ => None,
    };
    let body = FreezeBody {
        scope: form.scope.clone(),
        target,
        reason: form.reason.clone(),
        revoke: form.revoke.is_some(),
    };
    let (frozen, summary) = apply(&state, &user.principal, &body).await?;
    let mut to = format!("/admin/freezes?done=frozen&id={}", frozen.freeze().id);
    if let Some(s) = summary {
        to.push_str(&format!(
            "&revoked={}&total={}&still={}",
            s.revoked,
            s.total,
            s.still_active.len()
        ));
    }
    Ok(Redirect::to(&to))
}

#[derive(Deserialize)]
struct UnfreezeForm {
    #[serde(default)]
    csrf: Option<String>,
    reason: String,
}

async fn unfreeze_form(
    State(state): State<AdminState>,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<UnfreezeForm>,
) -> Result<Redirect, PageError> {
    check_csrf(&user, form.csrf.as_deref(), &id)?;
    let f = lift(&state, &user.principal, &id, &form.reason).await?;
    Ok(Redirect::to(&format!(
        "/admin/freezes?done=lifted&id={}",
        f.id
    )))
}
