//! The MCP server at `/mcp` (streamable HTTP, rmcp) and its OAuth protected-resource metadata: an agent surface over `AgentService`.
//!
//! Authorization follows the MCP specification for a resource server: every request to `/mcp`
//! carries a bearer workload token whose audience is the configured resource URL; a request
//! without one, or with one that does not verify, gets `401` with
//! `WWW-Authenticate: Bearer resource_metadata="…"` pointing at the RFC 9728 metadata, which names
//! the registered issuers as authorization servers. The tools act as the agent the middleware
//! verified (passed in the request's extensions); without one they verify the header
//! themselves, so no tool can run on an unchecked caller.

mod tools;

use super::service::AgentService;
use super::verify::AuthError;
use crate::domain::AgentRegistry;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use tools::WardenTools;

/// Where the protected-resource metadata is served (RFC 9728 §3).
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// A tool call is a few hundred bytes of JSON-RPC; anything much larger is not one.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The configured MCP resource URL, or why it cannot be one: an absolute `https` URL (plain
/// `http` only on a loopback host, for local use) with no query or fragment (RFC 8707 §2).
pub fn resource_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("is not a URL ({e})"))?;
    let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("must be an https URL (http only on a loopback host)".into()),
    }
    if url.host_str().is_none() {
        return Err("must name a host".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query or fragment".into());
    }
    Ok(url)
}

/// What the `/mcp` routes share: the resource and where its metadata is.
#[derive(Clone)]
struct Resource {
    service: AgentService,
    metadata_url: String,
    metadata: Arc<Value>,
}

/// `/mcp` behind the token check, and the metadata document (at the root well-known path and at
/// the path-suffixed one RFC 9728 §3.1 derives from the resource URL).
pub fn routes(
    service: AgentService,
    resource: Url,
    registry: &AgentRegistry,
    shutdown: CancellationToken,
) -> Router {
    let origin = resource.origin().ascii_serialization();
    let metadata = json!({
        "resource": resource.as_str(),
        "authorization_servers": registry.issuers(),
        "bearer_methods_supported": ["header"],
        "resource_name": "Warden access requests",
    });
    let state = Resource {
        service: service.clone(),
        metadata_url: format!("{origin}{METADATA_PATH}"),
        metadata: Arc::new(metadata),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(WardenTools::new(service.clone())),
        Arc::new(NeverSessionManager::default()),
        transport_config(&resource, shutdown),
    );
    let suffixed = format!("{METADATA_PATH}{}", resource.path().trim_end_matches('/'));
    let mut router = Router::new()
        .route_service("/mcp", mcp)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route(METADATA_PATH, get(metadata_document));
    if suffixed != METADATA_PATH {
        router = router.route(&suffixed, get(metadata_document));
    }
    router.with_state(state)
}

/// Stateless (each POST stands alone, so any instance can answer it), JSON answers, and the
/// `Host` allow-list (DNS-rebinding protection) = the resource's host plus loopback.
fn transport_config(resource: &Url, shutdown: CancellationToken) -> StreamableHttpServerConfig {
    let mut hosts = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Some(h) = resource.host_str() {
        hosts.push(h.to_string());
        if let Some(p) = resource.port() {
            hosts.push(format!("{h}:{p}"));
        }
    }
    StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_allowed_hosts(hosts)
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        .with_cancellation_token(shutdown.child_token())
}

async fn metadata_document(State(r): State<Resource>) -> Response {
    Json(r.metadata.as_ref().clone()).into_response()
}

/// Every `/mcp` request needs a token that verifies for the MCP resource; otherwise the
/// challenge the MCP client follows to find out how to get one.
/// The verified agent rides in the request's extensions to the tools, which act as it without
/// verifying the token a second time (a client cannot set an extension).
async fn require_token(State(r): State<Resource>, mut req: Request, next: Next) -> Response {
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match r.service.authenticate(auth).await {
        Ok(who) => {
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        Err(e) => refusal(&r.metadata_url, &e, auth.is_some()),
    }
}

/// 401 with the resource-metadata challenge (RFC 9728 §5.1; RFC 6750 §3: no error code when
/// no credentials were sent), or 403 for an identity that may not act.
fn refusal(metadata_url: &str, e: &AuthError, had_token: bool) -> Response {
    let (status, challenge) = match e {
        AuthError::Unauthenticated(why) if had_token => (
            StatusCode::UNAUTHORIZED,
            format!(
                "Bearer resource_metadata=\"{metadata_url}\", error=\"invalid_token\", error_description=\"{why}\""
            ),
        ),
        AuthError::Unauthenticated(_) => (
            StatusCode::UNAUTHORIZED,
            format!("Bearer resource_metadata=\"{metadata_url}\""),
        ),
        AuthError::Forbidden(_) => (
            StatusCode::FORBIDDEN,
            format!("Bearer resource_metadata=\"{metadata_url}\", error=\"insufficient_scope\""),
        ),
    };
    let body = json!({
        "error": if status == StatusCode::FORBIDDEN { "forbidden" } else { "unauthorized" },
        "error_description": e.to_string(),
    });
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::resource_url;

    #[test]
    fn a_resource_is_an_https_url_without_query_or_fragment() {
        assert!(resource_url("https://warden.example.com/mcp").is_ok());
        assert!(resource_url("http://127.0.0.1:8080/mcp").is_ok());
        assert!(resource_url("http://warden.example.com/mcp").is_err());
        assert!(resource_url("https://warden.example.com/mcp?x=1").is_err());
        assert!(resource_url("https://warden.example.com/mcp#a").is_err());
        assert!(resource_url("warden.example.com/mcp").is_err());
    }
}
