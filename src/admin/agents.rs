//! The registered agents for admins: `/admin/agents` and `/api/v1/agents` (owner, binding, active grants, last activity, frozen or not).
//!
//! Read-only; admins and viewers see it, requester tokens do not (it names every agent's owner
//! and workload). "Last activity" is when any of the agent's requests last changed; token
//! verifications that made no request are not recorded.

use super::AdminState;
use super::auth::{ApiUser, PageUser};
use super::errors::{AdminError, ApiError, PageError};
use super::pages::{merge, page_ctx, render};
use super::tokens::{Principal, Role};
use super::view::time;
use crate::domain::{Agent, Freeze, FreezeScope, Subject};
use crate::store::AgentActivity;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/agents", get(list_api))
        .route("/admin/agents", get(page))
}

fn may_list(who: &Principal) -> Result<(), AdminError> {
    match who.role {
        Role::Admin | Role::Viewer => Ok(()),
        Role::Requester => Err(AdminError::Forbidden),
    }
}

/// One agent as the API answers it.
fn agent_json(a: &Agent, activity: AgentActivity, freezes: &[Freeze]) -> Value {
    // Freezes that stop this agent whatever it asks for, and resources of its ceiling frozen.
    let stopping: Vec<Value> = freezes
        .iter()
        .filter(|f| f.scope.covers(Subject::Agent(&a.id), None))
        .map(|f| json!({ "id": f.id, "scope": f.scope.to_string() }))
        .collect();
    let frozen_resources: Vec<&str> = freezes
        .iter()
        .filter_map(|f| match &f.scope {
            FreezeScope::Resource(r) if a.ceiling.iter().any(|c| &c.resource == r) => {
                Some(r.as_str())
            }
            _ => None,
        })
        .collect();
    json!({
        "id": a.id,
        "name": a.name,
        "owner": a.owner,
        "enabled": a.enabled,
        "binding": {
            "issuer": a.workload.issuer,
            "audience": a.workload.audience,
            "subject": a.workload.subject,
            "claims": a.workload.claims,
        },
        "ceiling": a.ceiling.iter().map(|c| json!({ "resource": c.resource, "roles": c.roles })).collect::<Vec<_>>(),
        "max_duration_secs": a.max_duration,
        "max_concurrent_grants": a.max_concurrent_grants,
        "active_grants": activity.active_grants,
        "last_activity_at": activity.last_activity,
        "frozen": !stopping.is_empty(),
        "freezes": stopping,
        "frozen_resources": frozen_resources,
    })
}

async fn agents(state: &AdminState) -> Result<Vec<Value>, AdminError> {
    let engine = &state.app.engine;
    let activity = engine.store().agent_activity().await?;
    let freezes = engine.store().active_freezes().await?;
    Ok(engine
        .agents()
        .agents()
        .iter()
        .map(|a| {
            let seen = activity.get(&a.id).copied().unwrap_or_default();
            agent_json(a, seen, &freezes)
        })
        .collect())
}

async fn list_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
) -> Result<Json<Value>, ApiError> {
    may_list(&who)?;
    Ok(Json(json!({ "agents": agents(&state).await? })))
}

async fn page(State(state): State<AdminState>, user: PageUser) -> Result<Html<String>, PageError> {
    may_list(&user.principal)?;
    let items: Vec<Value> = agents(&state)
        .await?
        .into_iter()
        .map(|mut a| {
            let last = a["last_activity_at"].as_i64().map(time);
            a["last_activity"] = json!(last);
            let claims = a["binding"]["claims"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            a["claim_lines"] = json!(claims);
            a
        })
        .collect();
    let ctx = json!({ "agents": items });
    Ok(render(
        &state,
        "agents",
        &merge(page_ctx(&user, "Agents"), ctx),
    )?)
}
