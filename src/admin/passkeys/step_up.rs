//! `/admin/step-up/{token}`: the page a step-up link opens. The signed-in SSO person the link
//! was sent to confirms with a passkey; the verified assertion goes to the engine, which counts
//! the approval (or the break-glass activation) through its one path.

use crate::admin::AdminState;
use crate::admin::auth::PageUser;
use crate::admin::errors::{AdminError, ApiError, PageError};
use crate::admin::pages::{merge, page_ctx, render};
use crate::admin::session::csrf_matches;
use crate::admin::view::time;
use crate::domain::PasskeyProof;
use crate::domain::step_up::StepUpRefusal;
use crate::workflow::UserError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

const SCRIPT: &str = include_str!("../templates/step_up.js");
/// Where a visitor who is not signed in is sent back to after SSO (read by the callback).
pub const NEXT_COOKIE: &str = "warden_next";

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/static/step_up.js", get(script))
        .route("/admin/step-up/{token}", get(page))
        .route("/admin/step-up/{token}/begin", post(begin))
        .route("/admin/step-up/{token}/finish", post(finish))
        .route("/admin/step-up/{token}/abandon", post(abandon))
}

async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

/// The path the SSO callback may return to: a step-up page, nothing else (no open redirect).
pub fn return_path(next: &str) -> Option<&str> {
    let token = next.strip_prefix("/admin/step-up/")?;
    let ok = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(next)
}

/// The page: what the link confirms and a "Confirm with a passkey" button, or why not.
async fn page(
    State(state): State<AdminState>,
    user: Result<PageUser, PageError>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let user = match user {
        Ok(u) => u,
        Err(PageError(AdminError::Unauthorized)) if state.sso.is_some() => {
            // Sign in with SSO first, then come back here.
            let secure = crate::admin::auth::is_https(&headers);
            let next = format!(
                "{NEXT_COOKIE}=/admin/step-up/{token}; Path=/admin/sso; HttpOnly; SameSite=Lax; Max-Age=600{}",
                if secure { "; Secure" } else { "" }
            );
            let cookie = HeaderValue::from_str(&next).map_err(|_| AdminError::NotFound)?;
            return Ok((
                [(header::SET_COOKIE, cookie)],
                Redirect::to("/admin/sso/start"),
            )
                .into_response());
        }
        Err(e) => return Err(e),
    };
    let (view, error) = match (state.passkeys.as_ref(), user.principal.person.as_deref()) {
        (None, _) => (
            None,
            Some("Passkeys are not set up on this Warden.".to_string()),
        ),
        (_, None) => (
            None,
            Some(
                "Sign in with single sign-on (not a token) to confirm with your passkey."
                    .to_string(),
            ),
        ),
        (Some(_), Some(person)) => match state.app.engine.step_up_view(&token, person).await {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(user_message(e)?)),
        },
    };
    let view = view.map(|v| {
        json!({
            "request_id": v.request_id, "purpose": v.purpose, "approve": v.purpose == "approve",
            "requester": v.requester, "resource": v.resource, "role": v.role,
            "duration": v.duration, "reasons": v.reasons, "step": v.step, "expires": time(v.expires_at),
        })
    });
    let ctx = json!({ "view": view, "error": error, "token": token, "freeze": null,
                      "base": format!("/admin/step-up/{token}") });
    let html = render(
        &state,
        "step_up",
        &merge(page_ctx(&user, "Confirm with a passkey"), ctx),
    )?;
    let mut resp = html.into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(super::routes::PAGE_CSP),
    );
    Ok(resp)
}

/// A workflow refusal's message for the person; anything else is internal.
pub(super) fn user_message(e: anyhow::Error) -> Result<String, AdminError> {
    match e.downcast::<UserError>() {
        Ok(UserError(msg)) => Ok(msg),
        Err(e) => Err(AdminError::Internal(e)),
    }
}

/// The signed-in person, after the CSRF check; their link must be open before any ceremony.
async fn checked<'a>(
    state: &AdminState,
    user: &'a PageUser,
    headers: &HeaderMap,
    token: &str,
) -> Result<Result<&'a str, Response>, AdminError> {
    let presented = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if !csrf_matches(&user.csrf, presented) {
        return Err(AdminError::Csrf);
    }
    let person =
        user.principal.person.as_deref().ok_or_else(|| {
            AdminError::BadRequest("Sign in with single sign-on to confirm.".into())
        })?;
    Ok(match state.app.engine.step_up_view(token, person).await {
        Ok(_) => Ok(person),
        Err(e) => Err(refusal(user_message(e)?)),
    })
}

pub(super) fn refusal(msg: String) -> Response {
    tracing::info!(why = %msg, "step-up refused");
    (StatusCode::CONFLICT, Json(json!({ "error": msg }))).into_response()
}

async fn begin(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let rp = state.passkeys.clone().ok_or(AdminError::NotFound)?;
    let person = match checked(&state, &user, &headers, &token).await? {
        Ok(p) => p,
        Err(refused) => return Ok(refused),
    };
    let store = state.app.engine.store();
    Ok(
        match rp.begin_assertion(store, person, state.now_ms()).await {
            Ok(options) => Json(options).into_response(),
            Err(e) => super::routes::refused(e),
        },
    )
}

async fn finish(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rp = state.passkeys.clone().ok_or(AdminError::NotFound)?;
    let person = match checked(&state, &user, &headers, &token).await? {
        Ok(p) => p,
        Err(refused) => return Ok(refused),
    };
    let engine = &state.app.engine;
    let verified = match rp
        .finish_assertion(engine.store(), person, &body, state.now_ms())
        .await
    {
        Ok(v) => v,
        Err(e) => {
            // Recorded in the request's log too: who tried, and why it did not count.
            if let Some(why) = e.step_up_refusal() {
                engine.step_up_assertion_refused(&token, person, why).await;
            }
            return Ok(super::routes::refused(e));
        }
    };
    let proof = PasskeyProof {
        credential_id: verified.credential_id,
        user_verified: verified.user_verified,
    };
    Ok(match engine.confirm_step_up(&token, person, &proof).await {
        Ok(_) => {
            Json(json!({ "confirmed": true, "credential_id": proof.credential_id })).into_response()
        }
        Err(e) => refusal(user_message(e)?),
    })
}

/// The browser's report that the ceremony failed before an assertion was made (the
/// authenticator could not verify the user, or the person cancelled): recorded on the request,
/// since the server issued a challenge that went unanswered. Only the error's name is read.
async fn abandon(
    State(state): State<AdminState>,
    user: PageUser,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let person = match checked(&state, &user, &headers, &token).await? {
        Ok(p) => p,
        Err(refused) => return Ok(refused),
    };
    let name: String = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    tracing::info!(person, error = %name, "the browser did not complete a step-up passkey ceremony");
    state
        .app
        .engine
        .step_up_assertion_refused(&token, person, StepUpRefusal::NotCompleted)
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
