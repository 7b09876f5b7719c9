//! Admin error policy: callers see a status and a short plain message; the cause chain of an
//! unexpected failure goes to the log with a reference the caller can quote.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("sign in with an admin token")]
    Unauthorized,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("the form expired or did not come from this site; reload the page and try again")]
    Csrf,
    #[error("no such request")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// The policy requires a passkey for this kill-switch action, which a token cannot present.
    #[error("The policy requires a passkey confirmation to {}, and a token cannot present one. Do it in the admin web UI (/admin/freezes), signed in with single sign-on, and confirm with your passkey. Nothing was changed.", .0.as_str())]
    StepUpRequired(crate::domain::AdminAction),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AdminError {
    fn status(&self) -> StatusCode {
        match self {
            AdminError::Unauthorized => StatusCode::UNAUTHORIZED,
            AdminError::Forbidden | AdminError::Csrf | AdminError::StepUpRequired(_) => {
                StatusCode::FORBIDDEN
            }
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a caller sees; internal causes are logged, never shown.
    fn public_message(&self) -> String {
        match self {
            AdminError::Internal(err) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(reference, error = ?err, "admin request failed");
                format!(
                    "Something went wrong on Warden's side. Quote ref {reference} to an operator."
                )
            }
            other => other.to_string(),
        }
    }
}

/// JSON errors for `/api/v1`.
pub struct ApiError(pub AdminError);

impl<E: Into<AdminError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body = axum::Json(serde_json::json!({ "error": self.0.public_message() }));
        let mut resp = (status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
        }
        resp
    }
}

/// HTML errors for `/admin`: an unsigned visitor is sent to the sign-in page.
pub struct PageError(pub AdminError);

impl<E: Into<AdminError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if let AdminError::Unauthorized = self.0 {
            return Redirect::to("/admin/sign-in").into_response();
        }
        let status = self.0.status();
        let msg = html_escape(&self.0.public_message());
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Warden admin</title>\
             <link rel=\"stylesheet\" href=\"/admin/static/admin.css\"></head><body><main class=\"narrow\">\
             <h1>{}</h1><p class=\"error\">{msg}</p><p><a href=\"/admin/requests\">Back to requests</a></p></main></body></html>",
            status.canonical_reason().unwrap_or("Error")
        );
        (status, Html(body)).into_response()
    }
}

pub fn html_escape(s: &str) -> String {
    handlebars::html_escape(s)
}
