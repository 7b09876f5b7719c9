//! `/admin/passkeys` (self-service registration, and the admins' list with removal) and
//! `/api/v1/passkeys` (list and remove for automation).

use super::{PasskeyError, RelyingParty};
use crate::admin::AdminState;
use crate::admin::auth::{ApiUser, PageUser};
use crate::admin::errors::{AdminError, ApiError, PageError};
use crate::admin::pages::{merge, page_ctx, render};
use crate::admin::session::csrf_matches;
use crate::admin::tokens::{Principal, Role};
use crate::admin::view::time;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

const SCRIPT: &str = include_str!("../templates/passkeys.js");
/// The admin pages allow no script; this page runs its own file (and nothing inline).
pub(super) const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The header the page's script sends its CSRF token in.
const CSRF_HEADER: &str = "x-csrf-token";

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/static/passkeys.js", get(script))
        .route("/admin/passkeys", get(page))
        .route("/admin/passkeys/register/begin", post(begin))
        .route("/admin/passkeys/register/finish", post(finish))
        .route("/admin/passkeys/check/begin", post(check_begin))
        .route("/admin/passkeys/check/finish", post(check_finish))
        .route("/admin/passkeys/{id}/remove", post(remove_form))
        .route("/api/v1/passkeys", get(list_api))
        .route("/api/v1/passkeys/{id}", axum::routing::delete(remove_api))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

fn rp(state: &AdminState) -> Result<&RelyingParty, AdminError> {
    state.passkeys.as_deref().ok_or(AdminError::NotFound)
}

/// Only an SSO session names a directory person, and only a person has passkeys.
fn person(user: &PageUser) -> Result<&str, AdminError> {
    user.principal.person.as_deref().ok_or_else(|| {
        AdminError::BadRequest("Sign in with single sign-on to manage your passkeys.".into())
    })
}

#[derive(Deserialize, Default)]
struct Notice {
    done: Option<String>,
}

async fn page(
    State(state): State<AdminState>,
    user: PageUser,
    Query(notice): Query<Notice>,
) -> Result<Response, PageError> {
    rp(&state)?;
    let store = state.app.engine.store();
    let mine = match user.principal.person.as_deref() {
        Some(p) => store.list_passkeys(Some(p)).await?,
        None => Vec::new(),
    };
    let is_admin = user.principal.role == Role::Admin;
    let everyone = if is_admin {
        store.list_passkeys(None).await?
    } else {
        Vec::new()
    };
    let row = |p: &crate::store::PasskeyListing| json!({ "id": p.credential_id, "person": p.person, "created": time(p.created_at), "used": p.last_used_at.map(time) });
    let notice = match notice.done.as_deref() {
        Some("removed") => Some("The passkey is removed."),
        _ => None,
    };
    let ctx = json!({
        "has_person": user.principal.person.is_some(),
        "mine": mine.iter().map(row).collect::<Vec<_>>(),
        "is_admin": is_admin,
        "everyone": everyone.iter().map(row).collect::<Vec<_>>(),
        "notice": notice,
    });
    let html = render(&state, "passkeys", &merge(page_ctx(&user, "Passkeys"), ctx))?;
    let mut resp = html.into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    Ok(resp)
}

fn check_csrf(user: &PageUser, presented: Option<&str>) -> Result<(), AdminError> {
    if csrf_matches(&user.csrf, presented) {
        return Ok(());
    }
    tracing::warn!(token = %user.principal.name, "passkey call without a valid CSRF token refused");
    Err(AdminError::Csrf)
}

fn header_csrf(headers: &HeaderMap) -> Option<&str> {
    headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())
}

/// A ceremony failure as JSON for the page's script: the message, never the cause.
pub(super) fn refused(e: PasskeyError) -> Response {
    let status = match &e {
        PasskeyError::Internal(err) => {
            return ApiError(AdminError::Internal(anyhow::anyhow!("{err:#}"))).into_response();
        }
        PasskeyError::AlreadyRegistered => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    let cause = match &e {
        PasskeyError::Malformed(c) | PasskeyError::Refused(c) => c.as_str(),
        _ => "",
    };
    tracing::info!(error = %e, cause, "passkey ceremony refused");
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

async fn begin(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_csrf(&user, header_csrf(&headers))?;
    let rp = rp(&state)?;
    let engine = &state.app.engine;
    let who = person(&user)?;
    let found = engine
        .directory()
        .person(who)
        .await
        .map_err(|e| AdminError::Internal(anyhow::anyhow!("directory: {e}")))?
        .filter(|p| p.active)
        .ok_or(AdminError::Forbidden)?;
    Ok(
        match rp
            .begin_registration(engine.store(), &found, state.now_ms())
            .await
        {
            Ok(options) => Json(options).into_response(),
            Err(e) => refused(e),
        },
    )
}

async fn finish(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_csrf(&user, header_csrf(&headers))?;
    let rp = rp(&state)?;
    let who = person(&user)?;
    let store = state.app.engine.store();
    Ok(
        match rp
            .finish_registration(store, who, &body, state.now_ms())
            .await
        {
            Ok(p) => {
                tracing::info!(person = who, credential = %p.credential_id, "passkey registered");
                (
                    StatusCode::CREATED,
                    Json(json!({ "credential_id": p.credential_id })),
                )
                    .into_response()
            }
            Err(e) => refused(e),
        },
    )
}

async fn check_begin(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_csrf(&user, header_csrf(&headers))?;
    let rp = rp(&state)?;
    let who = person(&user)?;
    let store = state.app.engine.store();
    Ok(match rp.begin_assertion(store, who, state.now_ms()).await {
        Ok(options) => Json(options).into_response(),
        Err(e) => refused(e),
    })
}

/// Verifies a passkey of the signed-in person: what step-up approvals rest on, offered here so
/// people can check theirs works before they need it.
async fn check_finish(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_csrf(&user, header_csrf(&headers))?;
    let rp = rp(&state)?;
    let who = person(&user)?;
    let store = state.app.engine.store();
    Ok(
        match rp.finish_assertion(store, who, &body, state.now_ms()).await {
            Ok(v) => {
                tracing::info!(person = who, credential = %v.credential_id, user_verified = v.user_verified, "passkey verified");
                Json(json!({ "credential_id": v.credential_id, "user_verified": v.user_verified }))
                    .into_response()
            }
            Err(e) => refused(e),
        },
    )
}

/// Admins remove anyone's passkey; a person removes their own.
async fn remove(state: &AdminState, who: &Principal, id: &str) -> Result<(), AdminError> {
    let store = state.app.engine.store();
    let found = store.passkey(id).await?.ok_or(AdminError::NotFound)?;
    let own = who.person.as_deref() == Some(found.person.as_str());
    if who.role != Role::Admin && !own {
        return Err(AdminError::Forbidden);
    }
    store.remove_passkey(id).await?;
    tracing::info!(actor = %who.name, person = %found.person, credential = id, "passkey removed");
    Ok(())
}

#[derive(Deserialize)]
struct RemoveForm {
    #[serde(default)]
    csrf: Option<String>,
}

async fn remove_form(
    State(state): State<AdminState>,
    user: PageUser,
    Path(id): Path<String>,
    Form(form): Form<RemoveForm>,
) -> Result<Redirect, PageError> {
    check_csrf(&user, form.csrf.as_deref())?;
    rp(&state)?;
    remove(&state, &user.principal, &id).await?;
    Ok(Redirect::to("/admin/passkeys?done=removed"))
}

#[derive(Deserialize)]
struct ListQuery {
    person: Option<String>,
}

async fn list_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if !matches!(who.role, Role::Admin | Role::Viewer) {
        return Err(AdminError::Forbidden.into());
    }
    let list = state
        .app
        .engine
        .store()
        .list_passkeys(q.person.as_deref())
        .await?;
    Ok(Json(json!({ "passkeys": list })))
}

async fn remove_api(
    State(state): State<AdminState>,
    ApiUser(who): ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if who.role != Role::Admin {
        return Err(AdminError::Forbidden.into());
    }
    remove(&state, &who, &id).await?;
    Ok(Json(json!({ "removed": id })))
}
