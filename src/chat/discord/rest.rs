//! A small Discord REST client: bot auth, Discord's rate-limit buckets and 429 `retry_after`
//! honoured, so a call is delayed rather than dropped.
//!
//! A 429 pauses the whole bucket for every caller of this client (one per process): the bucket
//! Discord names in `X-RateLimit-Bucket` for the route (several routes can share one) within
//! the route's major parameter, or everything on a global limit.
//!
//! serenity's `Http` is not used for transport: its ratelimiter ignores a proxy base URL (it always
//! calls discord.com) and its error type drops `retry_after`, so against `discord.api_url` it could
//! neither limit nor retry. Bodies are serenity's builders, serialised as they are.

use crate::chat::limits::Pauses;
use crate::http_client::{Agent, HttpOptions};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub const DEFAULT_API_URL: &str = "https://discord.com";

/// A rate-limit bucket: a route label plus its major parameter (channel, guild, webhook).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    label: &'static str,
    major: String,
}

impl Route {
    pub fn new(label: &'static str, major: impl Into<String>) -> Self {
        Self {
            label,
            major: major.into(),
        }
    }
}

/// Errors carry the route label only: paths of interaction webhooks contain tokens.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("Discord answered {status} on {route}: {message}")]
    Status {
        status: u16,
        route: &'static str,
        code: Option<i64>,
        message: String,
    },
    #[error("Discord kept rate-limiting {route}")]
    RateLimited { route: &'static str },
    #[error("Discord unreachable on {route}: {kind}")]
    Transport {
        route: &'static str,
        kind: &'static str,
    },
    #[error("Discord bot token is not configured")]
    NoToken,
}

impl RestError {
    /// Worth trying again later (rate limits, 5xx, transport).
    pub fn is_transient(&self) -> bool {
        match self {
            RestError::Status { status, .. } => *status >= 500,
            RestError::RateLimited { .. } | RestError::Transport { .. } => true,
            RestError::NoToken => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What one pause covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bucket {
    /// The bot's global limit: every route.
    Global,
    /// Discord's bucket for a route (its hash once learned, else the route label) within one
    /// major parameter.
    Shared { bucket: String, major: String },
}

pub struct DiscordRest {
    client: reqwest::Client,
    base: String,
    token: Option<SecretString>,
    pauses: Pauses<Bucket>,
    /// Route label → the `X-RateLimit-Bucket` Discord answered it with.
    hashes: Mutex<HashMap<&'static str, String>>,
    attempts: u32,
    max_wait: Duration,
}

impl DiscordRest {
    /// `api_url` overrides `https://discord.com` (tests, proxies); `/api/v10` is appended unless
    /// the URL already names an API version.
    pub fn new(
        api_url: Option<&str>,
        token: Option<SecretString>,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let raw = api_url.unwrap_or(DEFAULT_API_URL).trim_end_matches('/');
        let base = if raw.contains("/api/v") {
            raw.to_string()
        } else {
            format!("{raw}/api/v10")
        };
        let client =
            crate::http_client::client(HttpOptions::new(timeout).with_agent(Agent::DiscordBot))?;
        Ok(Self {
            client,
            base,
            token,
            pauses: Pauses::default(),
            hashes: Mutex::new(HashMap::new()),
            attempts: 5,
            max_wait: Duration::from_secs(30),
        })
    }

    /// How often a rate-limited call is retried and the longest single wait honoured.
    pub fn with_retry_limits(mut self, attempts: u32, max_wait: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.max_wait = max_wait;
        self
    }

    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// One call with the bot token; `path` starts after `/api/v10`.
    pub async fn call(
        &self,
        method: Method,
        route: Route,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
        audit_reason: Option<&str>,
    ) -> Result<serde_json::Value, RestError> {
        let token = self.token.as_ref().ok_or(RestError::NoToken)?;
        let bytes = body.map(serde_json::to_vec).transpose();
        self.send(
            method,
            route,
            path,
            &|| bytes.as_ref().map(Clone::clone).map_err(|_| ()),
            audit_reason,
            Some(token),
        )
        .await
    }

    /// A call whose body is built afresh at every attempt, so an edit that waited out a rate
    /// limit sends the newest content.
    pub async fn call_latest<B: Serialize>(
        &self,
        method: Method,
        route: Route,
        path: &str,
        body: impl Fn() -> B + Sync,
    ) -> Result<serde_json::Value, RestError> {
        let token = self.token.as_ref().ok_or(RestError::NoToken)?;
        let bytes = || serde_json::to_vec(&body()).map(Some).map_err(|_| ());
        self.send(method, route, path, &bytes, None, Some(token))
            .await
    }

    /// A call to an interaction webhook (authorised by the interaction token in the path).
    pub async fn call_webhook(
        &self,
        method: Method,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<serde_json::Value, RestError> {
        let bytes = serde_json::to_vec(body).map(Some);
        self.send(
            method,
            Route::new(
                "webhook",
                path.split('/').nth(2).unwrap_or_default().to_string(),
            ),
            path,
            &|| bytes.as_ref().map(Clone::clone).map_err(|_| ()),
            None,
            None,
        )
        .await
    }

    /// `body` is asked for the bytes at every attempt.
    async fn send(
        &self,
        method: Method,
        route: Route,
        path: &str,
        body: &(dyn Fn() -> Result<Option<Vec<u8>>, ()> + Sync),
        audit_reason: Option<&str>,
        token: Option<&SecretString>,
    ) -> Result<serde_json::Value, RestError> {
        let label = route.label;
        let url = format!("{}{path}", self.base);
        for attempt in 1..=self.attempts {
            self.pauses
                .wait(&[Bucket::Global, self.bucket(&route)], self.max_wait)
                .await;
            let bytes = body().map_err(|_| RestError::Status {
                status: 0,
                route: label,
                code: None,
                message: "unserialisable body".into(),
            })?;
            let mut req = self.client.request(method.clone(), &url);
            if let Some(t) = token {
                req = req.header("authorization", format!("Bot {}", t.expose_secret()));
            }
            if let Some(r) = audit_reason {
                req = req.header("x-audit-log-reason", percent_encode(r));
            }
            req = match bytes {
                Some(b) => req.header("content-type", "application/json").body(b),
                None => req.header("content-length", "0"),
            };
            let resp = req.send().await.map_err(|e| RestError::Transport {
                route: label,
                kind: transport_kind(&e),
            })?;
            self.remember_bucket(&route, resp.headers());
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                let header = header_secs(resp.headers(), "retry-after");
                let global_header = resp
                    .headers()
                    .get("x-ratelimit-global")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
                    || resp
                        .headers()
                        .get("x-ratelimit-scope")
                        .is_some_and(|v| v.as_bytes() == b"global");
                let body: serde_json::Value = resp.json().await.unwrap_or_default();
                let wait = body["retry_after"]
                    .as_f64()
                    .or(header)
                    .unwrap_or(1.0)
                    .max(0.0);
                let wait = Duration::from_secs_f64(wait);
                if wait > self.max_wait || attempt == self.attempts {
                    tracing::warn!(
                        route = label,
                        wait_ms = wait.as_millis() as u64,
                        attempt,
                        "rate limited; giving up for now"
                    );
                    return Err(RestError::RateLimited { route: label });
                }
                tracing::info!(
                    route = label,
                    wait_ms = wait.as_millis() as u64,
                    attempt,
                    "rate limited; waiting as Discord asked"
                );
                let bucket = if global_header || body["global"].as_bool().unwrap_or(false) {
                    Bucket::Global
                } else {
                    self.bucket(&route)
                };
                self.pauses.pause(bucket, wait);
                continue;
            }
            if status.is_success() {
                if status == StatusCode::NO_CONTENT {
                    return Ok(serde_json::Value::Null);
                }
                return Ok(resp.json().await.unwrap_or(serde_json::Value::Null));
            }
            let err: serde_json::Value = resp.json().await.unwrap_or_default();
            return Err(RestError::Status {
                status: status.as_u16(),
                route: label,
                code: err["code"].as_i64(),
                message: err["message"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        Err(RestError::RateLimited { route: label })
    }

    /// The bucket a route's calls count against: Discord's hash for it once an answer named
    /// one, else its own label.
    fn bucket(&self, route: &Route) -> Bucket {
        let hashes = self.hashes.lock().unwrap_or_else(|e| e.into_inner());
        Bucket::Shared {
            bucket: hashes
                .get(route.label)
                .cloned()
                .unwrap_or_else(|| route.label.to_string()),
            major: route.major.clone(),
        }
    }

    /// Learns the route's bucket from the answer, and pauses it when Discord says none remain.
    /// Never lifts a pause: an answer to a call sent earlier says nothing about a 429 since.
    fn remember_bucket(&self, route: &Route, headers: &reqwest::header::HeaderMap) {
        if let Some(hash) = headers
            .get("x-ratelimit-bucket")
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && h.len() <= 64)
        {
            self.hashes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(route.label, hash.to_string());
        }
        let remaining = headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        if let (Some(0), Some(secs)) = (remaining, header_secs(headers, "x-ratelimit-reset-after"))
        {
            self.pauses.pause(
                self.bucket(route),
                Duration::from_secs_f64(secs.clamp(0.0, self.max_wait.as_secs_f64())),
            );
        }
    }
}

fn header_secs(headers: &reqwest::header::HeaderMap, name: &str) -> Option<f64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// reqwest errors print the URL, which for webhooks holds the interaction token.
fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    }
}

/// The audit-log reason header is URL-encoded UTF-8.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .take(512)
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_version_is_appended_unless_the_url_names_one() {
        let t = Duration::from_secs(1);
        assert_eq!(
            DiscordRest::new(None, None, t).unwrap().base,
            "https://discord.com/api/v10"
        );
        assert_eq!(
            DiscordRest::new(Some("http://127.0.0.1:9/"), None, t)
                .unwrap()
                .base,
            "http://127.0.0.1:9/api/v10"
        );
        assert_eq!(
            DiscordRest::new(Some("http://x/api/v9"), None, t)
                .unwrap()
                .base,
            "http://x/api/v9"
        );
    }

    #[test]
    fn audit_reasons_are_percent_encoded() {
        assert_eq!(percent_encode("Warden AR-1: ok"), "Warden%20AR-1%3A%20ok");
    }
}
