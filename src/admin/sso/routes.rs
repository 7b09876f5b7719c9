//! `/admin/sso/start` and `/admin/sso/callback`: the browser's side of single sign-on.

use super::Callback;
use super::Refusal;
use crate::admin::AdminState;
use crate::admin::auth::{is_https, session_hash};
use crate::admin::errors::{AdminError, PageError};
use crate::admin::pages::sign_in_response;
use crate::admin::passkeys::step_up::{NEXT_COOKIE, return_path};
use crate::admin::session::{SESSION_COOKIE, SESSION_HOURS, cookie, set_cookie};
use axum::Router;
use axum::extract::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

/// Binds a begun sign-in to the browser that began it. `SameSite=Lax`, unlike the session
/// cookie: it must come back on the provider's cross-site redirect to the callback.
pub const SSO_COOKIE: &str = "warden_sso";

pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/sso/start", get(start))
        .route("/admin/sso/callback", get(callback))
        .route("/admin/sso/backchannel-logout", post(backchannel_logout))
}

fn sso_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    format!(
        "{SSO_COOKIE}={value}; Path=/admin/sso; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

async fn start(State(state): State<AdminState>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(sso) = state.sso.clone() else {
        return Err(AdminError::NotFound.into());
    };
    match sso.begin(state.app.engine.store(), state.now_ms()).await {
        Ok((url, binding)) => {
            let c = sso_cookie(&binding, super::LOGIN_TTL_MS / 1000, is_https(&headers));
            Ok(([(header::SET_COOKIE, c)], Redirect::to(url.as_str())).into_response())
        }
        Err(r) => refused(&state, &headers, r).await,
    }
}

async fn callback(
    State(state): State<AdminState>,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> Result<Response, PageError> {
    let Some(sso) = state.sso.clone() else {
        return Err(AdminError::NotFound.into());
    };
    let binding = cookie(
        headers.get(header::COOKIE).and_then(|v| v.to_str().ok()),
        SSO_COOKIE,
    );
    let now = state.now_ms();
    let engine = &state.app.engine;
    let signed = match sso
        .finish(engine.store(), engine.directory(), &cb, binding, now)
        .await
    {
        Ok(s) => s,
        Err(r) => return refused(&state, &headers, r).await,
    };
    let name = format!("sso:{}", signed.identity.person);
    let session = state.key.new_session(&name, now);
    engine
        .store()
        .open_sso_session(
            &session_hash(&session),
            &name,
            &signed.identity,
            now,
            session.exp,
        )
        .await?;
    tracing::info!(person = %signed.identity.person, role = signed.role.as_str(), "admin signed in by SSO");
    let secure = is_https(&headers);
    // A page, not a redirect: after the provider's cross-site redirect, a browser withholds the
    // SameSite=Strict session cookie for the rest of that redirect chain; a navigation this
    // page starts is same-site.
    // Back to the step-up page that sent the person to sign in, else the request list.
    let next = cookie(
        headers.get(header::COOKIE).and_then(|v| v.to_str().ok()),
        NEXT_COOKIE,
    )
    .and_then(return_path)
    .unwrap_or("/admin/requests");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta http-equiv=\"refresh\" content=\"0; url={next}\"><title>Signed in · Warden admin</title>\
        <link rel=\"stylesheet\" href=\"/admin/static/admin.css\"></head><body><main class=\"narrow\">\
        <p id=\"signed-in\">Signed in. <a href=\"{next}\">Continue to Warden</a>.</p></main></body></html>"
    );
    let mut resp = (StatusCode::OK, Html(body)).into_response();
    let h = resp.headers_mut();
    for c in [
        set_cookie(
            SESSION_COOKIE,
            &state.key.encode(&session),
            SESSION_HOURS * 3600,
            secure,
        ),
        sso_cookie("", 0, secure),
        format!("{NEXT_COOKIE}=; Path=/admin/sso; HttpOnly; SameSite=Lax; Max-Age=0"),
    ] {
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&c).map_err(|e| AdminError::Internal(e.into()))?,
        );
    }
    Ok(resp)
}

#[derive(serde::Deserialize)]
struct LogoutForm {
    #[serde(default)]
    logout_token: String,
}

/// The provider's back-channel logout (OpenID Connect Back-Channel Logout 1.0): the sessions of
/// the provider session it names end at once. 200 when the token verified, 400 otherwise.
async fn backchannel_logout(
    State(state): State<AdminState>,
    Form(form): Form<LogoutForm>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    match sso
        .logout(state.app.engine.store(), &form.logout_token, state.now_ms())
        .await
    {
        Ok(ended) => {
            tracing::info!(
                ended,
                "SSO sessions ended by the provider's back-channel logout"
            );
            (StatusCode::OK, no_store).into_response()
        }
        Err(why) => {
            tracing::warn!(reason = %why, "back-channel logout refused");
            let status = match why {
                Refusal::Directory(_) | Refusal::ProviderUnavailable(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::BAD_REQUEST,
            };
            (
                status,
                no_store,
                axum::Json(serde_json::json!({ "error": "invalid_request" })),
            )
                .into_response()
        }
    }
}

/// The sign-in page with a short reason and a reference; the cause goes to the log only.
async fn refused(
    state: &AdminState,
    headers: &HeaderMap,
    why: Refusal,
) -> Result<Response, PageError> {
    let mut reference = uuid::Uuid::new_v4().simple().to_string();
    reference.truncate(12);
    tracing::warn!(reference, reason = %why, "SSO sign-in refused");
    let status = match why {
        Refusal::ProviderUnavailable(_) | Refusal::TokenExchange(_) | Refusal::Directory(_) => {
            StatusCode::BAD_GATEWAY
        }
        _ => StatusCode::FORBIDDEN,
    };
    let msg = format!("{} (ref {reference})", why.user_message());
    let mut resp = sign_in_response(state, headers, status, Some(&msg)).await?;
    if let Ok(v) = HeaderValue::from_str(&sso_cookie("", 0, is_https(headers))) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}
