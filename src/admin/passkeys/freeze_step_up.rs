//! `/admin/freezes/step-up/{token}`: where an admin confirms a kill-switch action the policy
//! steps up (lifting a freeze, by default) with a passkey. Same page, script and ceremony as
//! the approval step-up; only a verified assertion commits the action, through the engine.

use super::step_up::{refusal, user_message};
use crate::admin::AdminState;
use crate::admin::auth::PageUser;
use crate::admin::errors::{AdminError, ApiError, PageError};
use crate::admin::freezes::refused;
use crate::admin::pages::{merge, page_ctx, render};
use crate::admin::session::csrf_matches;
use crate::admin::tokens::Role;
use crate::admin::view::time;
use crate::domain::{AdminAction, PasskeyProof};
use crate::workflow::DEFAULT_REVOKE_CONCURRENCY;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

const ADMINS_ONLY: &str = "Only admins can change the kill switch; nothing was changed.";

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/freezes/step-up/{token}", get(page))
        .route("/admin/freezes/step-up/{token}/begin", post(begin))
        .route("/admin/freezes/step-up/{token}/finish", post(finish))
}

/// The page: the action, its scope and reason, and a "Confirm with a passkey" button, or why not.
async fn page(
    State(state): State<AdminState>,
    user: PageUser,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let admin = user.principal.role == Role::Admin;
    let (view, error) = match (state.passkeys.as_ref(), user.principal.person.as_deref()) {
        _ if !admin => (None, Some(ADMINS_ONLY.to_string())),
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
        (Some(_), Some(person)) => match state.app.engine.freeze_step_up_view(&token, person).await
        {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(user_message(e)?)),
        },
    };
    let view = view.map(|v| {
        json!({
            "action": v.action, "unfreeze": v.action == AdminAction::Unfreeze.as_str(),
            "freeze_id": v.freeze_id, "scope": v.scope, "reason": v.reason, "revoke": v.revoke,
            "expires": time(v.expires_at),
        })
    });
    let ctx = json!({ "freeze": view, "view": null, "error": error, "token": token,
                      "base": format!("/admin/freezes/step-up/{token}") });
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
    // The link is bound to an admin; one whose role went meanwhile confirms nothing.
    if user.principal.role != Role::Admin {
        return Ok(Err(refusal(ADMINS_ONLY.to_string())));
    }
    let person =
        user.principal.person.as_deref().ok_or_else(|| {
            AdminError::BadRequest("Sign in with single sign-on to confirm.".into())
        })?;
    Ok(
        match state.app.engine.freeze_step_up_view(token, person).await {
            Ok(_) => Ok(person),
            Err(e) => Err(refusal(user_message(e)?)),
        },
    )
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
            tracing::warn!(person, error = %e, "kill-switch step-up: the passkey did not verify");
            return Ok(super::routes::refused(e));
        }
    };
    let proof = PasskeyProof {
        credential_id: verified.credential_id,
        user_verified: verified.user_verified,
    };
    let done = match engine.confirm_freeze_step_up(&token, person, &proof).await {
        Ok(done) => done,
        Err(e) if e.downcast_ref::<crate::workflow::UserError>().is_some() => {
            return Ok(refusal(user_message(e)?));
        }
        Err(e) => return Err(refused(e).into()),
    };
    let revoke = match (done.action, done.revoke) {
        (AdminAction::Freeze, true) => Some(
            engine
                .revoke_frozen(
                    &done.freeze,
                    &done.freeze.actor,
                    DEFAULT_REVOKE_CONCURRENCY,
                    &|_| {},
                )
                .await?,
        ),
        _ => None,
    };
    Ok(Json(
        json!({ "confirmed": true, "credential_id": proof.credential_id,
                    "freeze": done.freeze, "revoke": revoke }),
    )
    .into_response())
}
