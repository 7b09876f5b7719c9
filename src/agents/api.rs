//! The agent HTTP API under `/api/v1/agent/`: thin handlers over `AgentService`, errors as RFC 9457 problem documents.
//!
//! Error policy: 401/403 carry the verifier's fixed reason; 4xx carry a plain message and a
//! stable `code`; a 500 shows only a reference, and its cause chain goes to the log.

use super::service::{AgentApiError, AgentService};
use super::verify::AuthError;
use crate::domain::AgentAsk;
use crate::workflow::{AgentOpError, ConflictKind};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// An ask is a few hundred bytes; anything much larger is not one.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// The routes, ready to merge into the server's router.
pub fn routes(service: AgentService) -> Router {
    Router::new()
        .route("/api/v1/agent/requests", post(create).get(list))
        .route("/api/v1/agent/requests/{id}", get(status))
        .route("/api/v1/agent/requests/{id}/release", post(release))
        .route("/api/v1/agent/requests/{id}/cancel", post(cancel))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

async fn create(
    State(svc): State<AgentService>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let auth = authorization(&headers);
    // Authenticate before reading the body: an unauthenticated caller learns nothing of the schema.
    let who = svc.authenticate(auth).await.map_err(AgentApiError::from)?;
    let ask: AgentAsk = serde_json::from_slice(&body).map_err(|e| {
        AgentApiError::BadRequest(format!(
            "the body must be JSON with resource, role, duration, task and optional ticket ({})",
            e.classify_message()
        ))
    })?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            AgentApiError::BadRequest("Idempotency-Key must be visible ASCII".into())
        })?),
    };
    let created = svc.create(&who, &ask, key).await?;
    let status = if created.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = created.view.task["status_endpoint"]
        .as_str()
        .and_then(|s| HeaderValue::from_str(s).ok());
    let mut resp = (status, Json(created.view)).into_response();
    if let Some(l) = location {
        resp.headers_mut().insert(header::LOCATION, l);
    }
    Ok(resp)
}

trait Classify {
    fn classify_message(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    /// serde's message may quote the input; the category is enough and echoes nothing.
    fn classify_message(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Data => "a field is missing, unknown or of the wrong type",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "not valid JSON"
            }
            serde_json::error::Category::Io => "unreadable body",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    wait: Option<u64>,
}

async fn status(
    State(svc): State<AgentService>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<StatusQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) =
        query.map_err(|_| AgentApiError::BadRequest("wait must be a number of seconds".into()))?;
    let view = svc.status(authorization(&headers), &id, q.wait).await?;
    Ok(Json(view).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
}

async fn list(
    State(svc): State<AgentService>,
    headers: HeaderMap,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Problem> {
    let Query(q) =
        query.map_err(|_| AgentApiError::BadRequest("the only filter is state".into()))?;
    let views = svc
        .list(authorization(&headers), q.state.as_deref())
        .await?;
    Ok(Json(json!({ "requests": views })).into_response())
}

async fn release(
    State(svc): State<AgentService>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let view = svc.release(authorization(&headers), &id).await?;
    Ok(Json(view).into_response())
}

async fn cancel(
    State(svc): State<AgentService>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let view = svc.cancel(authorization(&headers), &id).await?;
    Ok(Json(view).into_response())
}

/// An error as `application/problem+json` (RFC 9457), with the AuthZEN access-request problem
/// types where one fits and `urn:warden:agent:error:<code>` otherwise.
pub struct Problem(AgentApiError);

impl From<AgentApiError> for Problem {
    fn from(e: AgentApiError) -> Self {
        Problem(e)
    }
}

const AUTHZEN_ERR: &str = "urn:openid:authzen:access-request:error:";

/// How an agent-call error is reported on any surface: an HTTP status, a stable code, plain
/// words for the agent, and the AuthZEN problem type where one fits. An internal error gets a
/// reference here and its cause chain goes to the log, so no surface can show the cause.
pub(crate) struct Classified {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub authzen: Option<&'static str>,
}

pub(crate) fn classify(e: &AgentApiError) -> Classified {
    let (status, code, detail, authzen) = match e {
        AgentApiError::Auth(AuthError::Unauthenticated(why)) => (
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            why.to_string(),
            None,
        ),
        AgentApiError::Auth(AuthError::Forbidden(why)) => {
            (StatusCode::FORBIDDEN, "forbidden", why.clone(), None)
        }
        AgentApiError::BadRequest(why) => {
            (StatusCode::BAD_REQUEST, "bad_request", why.clone(), None)
        }
        AgentApiError::Op(op) => match op {
            AgentOpError::Ask(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                e.code(),
                e.to_string(),
                None,
            ),
            AgentOpError::NotFound => (
                StatusCode::NOT_FOUND,
                "unknown_task",
                "no such request".into(),
                Some("unknown_task"),
            ),
            AgentOpError::Conflict { kind, message } => (
                StatusCode::CONFLICT,
                kind.as_str(),
                message.clone(),
                match kind {
                    ConflictKind::KeyReused => Some("duplicate_request"),
                    ConflictKind::KeyInProgress => None,
                    ConflictKind::NotActive
                    | ConflictKind::NotCancellable
                    | ConflictKind::StateChanged => Some("invalid_task_state"),
                },
            ),
            AgentOpError::Frozen { .. } => (StatusCode::LOCKED, "frozen", op.to_string(), None),
            AgentOpError::TooMany { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "concurrent_limit",
                op.to_string(),
                None,
            ),
            AgentOpError::Internal(err) => {
                let reference = uuid::Uuid::new_v4().simple().to_string();
                tracing::error!(reference, error = ?err, "agent call failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    format!(
                        "Something went wrong on Warden's side; nothing more was changed. Quote ref {reference} to an operator."
                    ),
                    None,
                )
            }
        },
    };
    Classified {
        status,
        code,
        detail,
        authzen,
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let Classified {
            status,
            code,
            detail,
            authzen,
        } = classify(&self.0);
        let kind = match authzen {
            Some(t) => format!("{AUTHZEN_ERR}{t}"),
            None => format!("urn:warden:agent:error:{code}"),
        };
        let mut body = json!({
            "type": kind,
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "code": code,
            "detail": detail,
        });
        if let AgentApiError::Op(AgentOpError::Frozen { freeze, .. }) = &self.0 {
            // The reference an operator lifts; the agent should wait, not retry in a loop.
            body["freeze"] = json!(freeze);
        }
        let mut resp = (status, body.to_string()).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        resp
    }
}
