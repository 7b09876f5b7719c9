//! Who is calling: a bearer token for the API, a signed session cookie for the pages.

use super::AdminState;
use super::errors::{AdminError, ApiError, PageError};
use super::session::{SESSION_COOKIE, cookie};
use super::tokens::Principal;
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
            .authenticate(token)
            .map(ApiUser)
            .ok_or(ApiError(AdminError::Unauthorized))
    }
}

/// A signed-in page visitor, with the CSRF token for the forms on the page.
pub struct PageUser {
    pub principal: Principal,
    pub csrf: String,
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
        let session = cookie(header, SESSION_COOKIE)
            .and_then(|v| state.key.decode(v, state.now_ms()))
            .ok_or(AdminError::Unauthorized)?;
        // The role comes from the tokens file now, not from when the session began.
        let principal = state
            .tokens
            .by_name(&session.name)
            .ok_or(AdminError::Unauthorized)?;
        let csrf = state.key.csrf_for(&session);
        Ok(PageUser { principal, csrf })
    }
}

/// Whether the visitor reached us over https (a proxy such as fly.io terminates TLS).
pub fn is_https(parts: &axum::http::HeaderMap) -> bool {
    parts
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}
