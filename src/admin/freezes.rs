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
use crate::domain::{AdminAction, Confirmation, Freeze, FreezeScope};
use crate::store::Frozen;
use crate::workflow::{
    AdminActor, AdminVia, DEFAULT_REVOKE_CONCURRENCY, RevokeSummary, StepUpRequired, UserError,
};
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

/// An engine refusal (no reason, unknown resource) is the caller's to fix: a 400. A passkey
/// the policy requires is a 403 naming the web UI (the form answers it with the step-up page).
pub(super) fn refused(e: anyhow::Error) -> AdminError {
    if let Some(StepUpRequired(action)) = e.downcast_ref::<StepUpRequired>() {
        return AdminError::StepUpRequired(*action);
    }
    match e.downcast_ref::<UserError>() {
        Some(UserError(msg)) => AdminError::BadRequest(msg.clone()),
        None => AdminError::Internal(e),
    }
}

fn actor(who: &Principal, via: AdminVia) -> AdminActor {
    AdminActor::new(who.actor(), who.person.as_deref(), via)
}

async fn apply(
    state: &AdminState,
    who: &Principal,
    body: &FreezeBody,
    via: AdminVia,
) -> Result<(Frozen, Option<RevokeSummary>), AdminError> {
    may_change(who)?;
    let scope = parse_scope(body)?;
    let engine = &state.app.engine;
    let frozen = engine
        .freeze(&scope, &actor(who, via), &body.reason)
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

fn parse_scope(body: &FreezeBody) -> Result<FreezeScope, AdminError> {
    FreezeScope::parse(&body.scope, body.target.as_deref())
        .map_err(|e| AdminError::BadRequest(e.to_string()))
}

async fn lift(
    state: &AdminState,
    who: &Principal,
    id: &str,
    reason: &str,
    via: AdminVia,
) -> Result<Freeze, AdminError> {
    may_change(who)?;
    state
        .app
        .engine
        .unfreeze(id, &actor(who, via), reason)
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
    let (frozen, revoke) = apply(&state, &who, &body, AdminVia::Api).await?;
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
    let freeze = lift(&state, &who, &id, &body.reason, AdminVia::Api).await?;
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
                    "confirmed": f.confirmation.as_ref().map(confirmed),
                    "lifted": f.lifted.as_ref().map(|l| json!({ "by": l.by, "reason": l.reason, "at": time(l.at),
                                                                "confirmed": l.confirmation.as_ref().map(confirmed) })) })
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

/// How the page shows a confirmation: who, with which passkey, or the local override.
fn confirmed(c: &Confirmation) -> String {
    match c {
        Confirmation::Passkey {
            person,
            credential_id,
            ..
        } => format!("confirmed by {person} with passkey {credential_id}"),
        Confirmation::LocalOverride { host_user } => {
            format!("without the passkey, by {host_user} on the host (--break-glass-local)")
        }
    }
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
    let (frozen, summary) = match apply(&state, &user.principal, &body, AdminVia::Web).await {
        Err(AdminError::StepUpRequired(action)) => {
            let scope = parse_scope(&body)?;
            let to = step_up(
                &state,
                &user,
                action,
                None,
                &scope,
                &body.reason,
                body.revoke,
            )
            .await?;
            return Ok(to);
        }
        done => done?,
    };
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
    let f = match lift(&state, &user.principal, &id, &form.reason, AdminVia::Web).await {
        Err(AdminError::StepUpRequired(action)) => {
            let engine = &state.app.engine;
            let f = engine
                .store()
                .freeze_by_id(&id)
                .await?
                .ok_or(AdminError::NotFound)?;
            let to = step_up(
                &state,
                &user,
                action,
                Some(&f.id),
                &f.scope,
                &form.reason,
                false,
            )
            .await?;
            return Ok(to);
        }
        done => done?,
    };
    Ok(Redirect::to(&format!(
        "/admin/freezes?done=lifted&id={}",
        f.id
    )))
}

/// The policy wants a passkey for this action: an SSO-signed-in admin is sent to the step-up
/// page with a fresh link bound to them, the action and the scope (or freeze); anyone else is
/// told how to get there. Nothing is changed until the passkey verifies.
#[allow(clippy::too_many_arguments)]
async fn step_up(
    state: &AdminState,
    user: &PageUser,
    action: AdminAction,
    freeze_id: Option<&str>,
    scope: &FreezeScope,
    reason: &str,
    revoke: bool,
) -> Result<Redirect, AdminError> {
    let Some(person) = user.principal.person.as_deref() else {
        return Err(AdminError::BadRequest(format!(
            "The policy requires a passkey confirmation to {}. Sign in with single sign-on (not a token) and try again; nothing was changed.",
            action.as_str()
        )));
    };
    if state.passkeys.is_none() {
        return Err(AdminError::BadRequest(format!(
            "The policy requires a passkey confirmation to {}, but passkeys are not set up on this Warden; nothing was changed.",
            action.as_str()
        )));
    }
    let who = actor(&user.principal, AdminVia::Web);
    let token = state
        .app
        .engine
        .ask_freeze_step_up(action, &who, person, freeze_id, scope, reason, revoke)
        .await?;
    Ok(Redirect::to(&format!(
        "/admin/freezes/step-up/{}",
        token.as_str()
    )))
}
