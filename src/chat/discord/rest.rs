//! A small Discord REST client: bot auth, per-route rate-limit buckets and 429 `retry_after`
//! honoured, so a call is delayed rather than dropped.
//!
//! serenity's `Http` is not used for transport: its ratelimiter ignores a proxy base URL (it always
//! calls discord.com) and its error type drops `retry_after`, so against `discord.api_url` it could
//! neither limit nor retry. Bodies are serenity's builders, serialised as they are.

use crate::http_client::{Agent, HttpOptions};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

#[derive(Default)]
struct Limits {
    /// Earliest next call per bucket, after Discord said none remain.
    routes: HashMap<Route, Instant>,
    global: Option<Instant>,
}

pub struct DiscordRest {
    client: reqwest::Client,
    base: String,
    token: Option<SecretString>,
    limits: Mutex<Limits>,
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
            limits: Mutex::new(Limits::default()),
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
        self.send(method, route, path, body, audit_reason, Some(token))
            .await
    }

    /// A call to an interaction webhook (authorised by the interaction token in the path).
    pub async fn call_webhook(
        &self,
        method: Method,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<serde_json::Value, RestError> {
        self.send(
            method,
            Route::new(
                "webhook",
                path.split('/').nth(2).unwrap_or_default().to_string(),
            ),
            path,
            Some(body),
            None,
            None,
        )
        .await
    }

    async fn send(
        &self,
        method: Method,
        route: Route,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
        audit_reason: Option<&str>,
        token: Option<&SecretString>,
    ) -> Result<serde_json::Value, RestError> {
        let label = route.label;
        let bytes = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|_| RestError::Status {
                status: 0,
                route: label,
                code: None,
                message: "unserialisable body".into(),
            })?),
            None => None,
        };
        let url = format!("{}{path}", self.base);
        for attempt in 1..=self.attempts {
            self.wait_for(&route).await;
            let mut req = self.client.request(method.clone(), &url);
            if let Some(t) = token {
                req = req.header("authorization", format!("Bot {}", t.expose_secret()));
            }
            if let Some(r) = audit_reason {
                req = req.header("x-audit-log-reason", percent_encode(r));
            }
            req = match &bytes {
                Some(b) => req
                    .header("content-type", "application/json")
                    .body(b.clone()),
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
                if body["global"].as_bool().unwrap_or(false) {
                    self.lock().global = Some(Instant::now() + wait);
                } else {
                    self.lock()
                        .routes
                        .insert(route.clone(), Instant::now() + wait);
                }
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps while the bucket (or the whole bot) is exhausted.
    async fn wait_for(&self, route: &Route) {
        let until = {
            let l = self.lock();
            [l.routes.get(route).copied(), l.global]
                .into_iter()
                .flatten()
                .max()
        };
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep((until - now).min(self.max_wait)).await;
            }
        }
    }

    fn remember_bucket(&self, route: &Route, headers: &reqwest::header::HeaderMap) {
        let remaining = headers
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        let reset_after = header_secs(headers, "x-ratelimit-reset-after");
        let mut l = self.lock();
        match (remaining, reset_after) {
            (Some(0), Some(secs)) => {
                l.routes.insert(
                    route.clone(),
                    Instant::now() + Duration::from_secs_f64(secs.max(0.0)),
                );
            }
            _ => {
                l.routes.remove(route);
            }
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
