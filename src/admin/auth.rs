//! Who is calling: a bearer token for the API, a signed session cookie for the pages.
//!
//! A session cookie is only a signed pointer to a session held in the store; it admits its
//! holder while that session is live and its token is still in the tokens file with the hash it
//! had at sign-in. Otherwise the session is ended there and then.

use super::AdminState;
use super::errors::{AdminError, ApiError, PageError};
use super::session::{SESSION_COOKIE, cookie};
use super::tokens::{Principal, Role};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

/// An API caller, authenticated by `Authorization: Bearer <token>`.
pub struct ApiUser(pub Principal);

impl FromRequestParts<AdminState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or(AdminError::Unauthorized)?;
        state
            .tokens
            .current()
            .await
            .and_then(|t| t.authenticate(token))
            .map(ApiUser)
            .ok_or(ApiError(AdminError::Unauthorized))
    }
}

/// A signed-in page visitor, with the CSRF token for the forms on the page.
pub struct PageUser {
    pub principal: Principal,
    pub csrf: String,
    /// The stored session's key, to end it on sign-out.
    pub sid_hash: String,
}

/// The key a session is held under: a hash of its id, so the table alone opens nothing.
pub fn session_hash(s: &super::session::Session) -> String {
    crate::store::log::sha256_hex(s.sid.as_bytes())
}

impl FromRequestParts<AdminState> for PageUser {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok());
        let now = state.now_ms();
        let session = cookie(header, SESSION_COOKIE)
            .and_then(|v| state.key.decode(v, now))
            .ok_or(AdminError::Unauthorized)?;
        let store = state.app.engine.store();
        let sid_hash = session_hash(&session);
        let held = store
            .admin_session(&sid_hash)
            .await?
            .filter(|h| h.live_at(now) && h.token_name == session.name)
            .ok_or(AdminError::Unauthorized)?;
        if let Some(sso) = &held.sso {
            // An SSO session keeps the role its groups claim gave at sign-in; one that does not
            // decode to a page role admits nobody.
            let role = Role::parse(&sso.role).filter(|r| matches!(r, Role::Admin | Role::Viewer));
            let Some(role) = role else {
                store
                    .end_admin_session(&sid_hash, now, "unknown role")
                    .await?;
                return Err(AdminError::Unauthorized.into());
            };
            return Ok(PageUser {
                principal: Principal {
                    name: session.name.clone(),
                    role,
                    person: Some(sso.person.clone()),
                },
                csrf: state.key.csrf_for(&session),
                sid_hash,
            });
        }
        // The role comes from the tokens file now, not from when the session began; the token
        // must be the very one the session was opened with.
        let tokens = state
            .tokens
            .current()
            .await
            .ok_or(AdminError::Unauthorized)?;
        let ended = match tokens.by_name(&session.name) {
            Some((principal, hash)) if hash == held.token_hash => {
                let csrf = state.key.csrf_for(&session);
                return Ok(PageUser {
                    principal,
                    csrf,
                    sid_hash,
                });
            }
            Some(_) => "token rotated",
            None => "token removed",
        };
        store.end_admin_session(&sid_hash, now, ended).await?;
        tracing::info!(token = %session.name, reason = ended, "admin session ended");
        Err(AdminError::Unauthorized.into())
    }
}

/// Whether the visitor reached us over https (a proxy such as fly.io terminates TLS).
pub fn is_https(parts: &axum::http::HeaderMap) -> bool {
    parts
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}
