//! OPA over REST.
//!
//! `POST {base}/v1/data/{path}` with `{"input": <PolicyInput>}`; OPA answers
//! `{"result": <RegoDecision document>, "decision_id": "..."}` (the id only when decision logging
//! is on). No `result` (an undefined rule), a non-2xx status, a timeout, a body that is not JSON
//! or a document with unknown fields: all deny.

use super::admin::{ADMIN_RULE, AdminActionInput};
use super::embedded::fault_with_id;
use super::{Decision, PolicyEngine, PolicyInput, RegoDecision};
use crate::http_client::HttpOptions;
use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

/// Largest response body read from a PDP.
pub(super) const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// An OPA server evaluating the policy.
#[derive(Clone)]
pub struct OpaPolicy {
    client: reqwest::Client,
    /// The full endpoint; may carry basic-auth credentials, so never logged.
    endpoint: Url,
    /// The admin-action rule next to the decision rule (`…/access/admin_decision`).
    admin_endpoint: Url,
    /// The endpoint without credentials, query or fragment: the only form that is logged.
    display: String,
    /// OPA's `--authentication=token`: sent as `Authorization: Bearer …`, never logged.
    token: Option<SecretString>,
}

impl std::fmt::Debug for OpaPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaPolicy")
            .field("endpoint", &self.display)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[derive(Serialize)]
struct OpaRequest<'a, I: Serialize> {
    input: &'a I,
}

/// OPA's answer to a data API query. Other top-level fields OPA may add (`metrics`,
/// `provenance`, `warning`) are ignored; the decision document itself is parsed strictly.
#[derive(Deserialize)]
struct OpaResponse {
    #[serde(default)]
    result: Option<serde_json::Value>,
    #[serde(default)]
    decision_id: Option<String>,
}

impl OpaPolicy {
    /// `base_url` is OPA's address (e.g. `http://localhost:8181`), `path` the rule under
    /// `data`, slash-separated (e.g. `access/decision`), `timeout` the limit for the whole call.
    pub fn new(base_url: Url, path: &str, timeout: Duration) -> Result<Self> {
        let path = path.trim_matches('/');
        if path.is_empty() || !path.split('/').all(valid_segment) {
            bail!("policy path must be slash-separated names such as access/decision");
        }
        let endpoint = join(&base_url, &format!("v1/data/{path}"))?;
        let package = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        let admin_path = [package, ADMIN_RULE]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let admin_endpoint = join(&base_url, &format!("v1/data/{admin_path}"))?;
        let client = http_client(timeout)?;
        Ok(Self {
            client,
            display: redact(&endpoint),
            endpoint,
            admin_endpoint,
            token: None,
        })
    }

    /// Sends `token` as a bearer token on every query.
    pub fn with_token(mut self, token: Option<SecretString>) -> Self {
        self.token = token;
        self
    }

    /// The endpoint as it may be logged (no credentials).
    pub fn endpoint(&self) -> &str {
        &self.display
    }

    async fn query(&self, endpoint: &Url, input: &impl Serialize) -> Result<Decision, String> {
        let request = self
            .client
            .post(endpoint.clone())
            .json(&OpaRequest { input });
        let response = bearer(request, self.token.as_ref())?
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("OPA answered HTTP {}", status.as_u16()));
        }
        let body = read_body(response).await?;
        let parsed: OpaResponse = serde_json::from_slice(&body)
            .map_err(|_| "OPA's answer is not a JSON object".to_string())?;
        let decision_id = parsed.decision_id.filter(|id| valid_id(id));
        let Some(result) = parsed.result else {
            return Ok(fault(decision_id, "undefined result"));
        };
        match serde_json::from_value::<RegoDecision>(result) {
            Ok(doc) => Ok(doc.into_decision(decision_id)),
            Err(e) => {
                tracing::warn!(pdp = "opa", endpoint = %self.display, error = %e, "malformed decision document");
                Ok(fault(decision_id, "malformed result"))
            }
        }
    }
}

#[async_trait]
impl PolicyEngine for OpaPolicy {
    fn name(&self) -> &'static str {
        "opa"
    }

    async fn decide(&self, input: &PolicyInput) -> Decision {
        match self.query(&self.endpoint, input).await {
            Ok(decision) => decision,
            Err(reason) => {
                tracing::warn!(pdp = "opa", endpoint = %self.display, error = %reason, "OPA fault; denying");
                Decision::fault(reason)
            }
        }
    }

    async fn decide_admin(&self, input: &AdminActionInput) -> Decision {
        match self.query(&self.admin_endpoint, input).await {
            Ok(decision) => decision,
            Err(reason) => {
                tracing::warn!(pdp = "opa", endpoint = %redact(&self.admin_endpoint), error = %reason, "OPA admin-action fault");
                Decision::fault(reason)
            }
        }
    }
}

fn fault(decision_id: Option<String>, reason: &str) -> Decision {
    match decision_id {
        Some(id) => fault_with_id(reason.to_string(), id),
        None => Decision::fault(reason),
    }
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A decision id worth keeping: short and printable.
pub(super) fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.chars().all(|c| c.is_ascii_graphic())
}

/// `base` + `/` + `tail`, keeping any path prefix of `base` (e.g. `https://pdp.example/opa/`).
pub(super) fn join(base: &Url, tail: &str) -> Result<Url> {
    if !matches!(base.scheme(), "http" | "https") {
        bail!("policy URL must be http or https");
    }
    let mut base = base.clone();
    base.set_query(None);
    base.set_fragment(None);
    let text = format!("{}/{}", base.as_str().trim_end_matches('/'), tail);
    Url::parse(&text).context("policy URL is not valid")
}

/// The URL without credentials, query or fragment.
pub(super) fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// A client with a total timeout that never follows redirects.
pub(super) fn http_client(timeout: Duration) -> Result<reqwest::Client> {
    crate::http_client::client(HttpOptions::new(timeout))
        .context("cannot build the HTTP client for the policy decision point")
}

/// Adds `Authorization: Bearer <token>`, marked sensitive so no debug output shows it.
pub(super) fn bearer(
    request: reqwest::RequestBuilder,
    token: Option<&SecretString>,
) -> Result<reqwest::RequestBuilder, String> {
    let Some(token) = token else {
        return Ok(request);
    };
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| "the policy token is not a valid header value".to_string())?;
    value.set_sensitive(true);
    Ok(request.header(AUTHORIZATION, value))
}

/// A short, secret-free description of a transport error (never the URL).
pub(super) fn describe(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_decode() || err.is_body() {
        "unreadable response"
    } else {
        "request failed"
    };
    format!("policy decision point {what}")
}

/// Reads the body, refusing anything over [`MAX_RESPONSE_BYTES`].
pub(super) async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err("policy decision point answer too large".to_string());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err("policy decision point answer too large".to_string());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_base_path_and_logs_lose_the_credentials() {
        let base = Url::parse("https://user:s3cret@pdp.example/opa/?token=x").unwrap();
        let url = join(&base, "v1/data/access/decision").unwrap();
        assert_eq!(url.path(), "/opa/v1/data/access/decision");
        assert_eq!(url.password(), Some("s3cret"));
        let shown = redact(&url);
        assert_eq!(shown, "https://pdp.example/opa/v1/data/access/decision");
        assert!(!shown.contains("s3cret") && !shown.contains("user"));
    }

    #[test]
    fn policy_paths_must_be_plain_names() {
        let base = Url::parse("http://localhost:8181").unwrap();
        let t = Duration::from_secs(1);
        assert!(OpaPolicy::new(base.clone(), "access/decision", t).is_ok());
        assert_eq!(
            OpaPolicy::new(base.clone(), "/access/decision/", t)
                .unwrap()
                .endpoint(),
            "http://localhost:8181/v1/data/access/decision"
        );
        let opa = OpaPolicy::new(base.clone(), "warden/access/decision", t).unwrap();
        assert_eq!(
            opa.admin_endpoint.path(),
            "/v1/data/warden/access/admin_decision",
            "the admin rule sits next to the decision rule"
        );
        for bad in [
            "",
            "../admin",
            "access/../x",
            "access?x=1",
            "access decision",
        ] {
            assert!(OpaPolicy::new(base.clone(), bad, t).is_err(), "{bad}");
        }
        assert!(
            OpaPolicy::new(Url::parse("file:///tmp/x").unwrap(), "access/decision", t).is_err()
        );
    }
}
