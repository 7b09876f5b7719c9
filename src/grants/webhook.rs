//! The signed webhook backend: POSTs each grant and revoke to a URL the operator runs.
//!
//! Body: the `GrantCall` as JSON. Headers: `X-Warden-Signature: sha256=<hex HMAC-SHA256 of
//! "<timestamp>.<body>">`, `X-Warden-Timestamp`, `Idempotency-Key`. A 2xx means done; 429 and
//! 5xx and transport errors are retried with backoff; other statuses are permanent failures.
//! A refusal after an attempt that may have reached the receiver (a timeout, a 5xx) is reported
//! as `Uncertain`, so the workflow withdraws what may be in place. A receiver that found the
//! access already there answers `{"effect": "already_held"}` and the revoke then leaves it alone.

use super::{GrantCall, GrantError, GrantReceipt, Grantor};
use crate::http_client::HttpOptions;
use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::time::Duration;

pub struct WebhookGrantor {
    client: reqwest::Client,
    url: url::Url,
    secret: SecretString,
    attempts: u32,
    base_backoff: Duration,
}

impl WebhookGrantor {
    pub fn new(url: url::Url, secret: SecretString, timeout: Duration) -> anyhow::Result<Self> {
        let client = crate::http_client::client(HttpOptions::new(timeout))?;
        Ok(Self {
            client,
            url,
            secret,
            attempts: 4,
            base_backoff: Duration::from_millis(200),
        })
    }

    /// Fewer attempts and shorter waits, for tests.
    pub fn with_retries(mut self, attempts: u32, base_backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.base_backoff = base_backoff;
        self
    }

    fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    async fn send_once(&self, call: &GrantCall, body: &[u8]) -> Result<GrantReceipt, GrantError> {
        let ts = chrono::Utc::now().timestamp();
        let resp = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("x-warden-timestamp", ts.to_string())
            .header("x-warden-signature", self.sign(ts, body))
            .header("idempotency-key", &call.idempotency_key)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                GrantError::Transient(format!("webhook unreachable: {}", without_url(&e)))
            })?;
        let status = resp.status();
        if status.is_success() {
            let detail = resp
                .json::<serde_json::Value>()
                .await
                .unwrap_or(serde_json::Value::Null);
            let held = detail["effect"] == "already_held";
            let detail = serde_json::json!({ "status": status.as_u16(), "response": detail });
            return Ok(if held {
                GrantReceipt::unchanged("webhook", detail)
            } else {
                GrantReceipt::applied("webhook", detail)
            });
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(GrantError::Transient(format!("webhook answered {status}")))
        } else {
            Err(GrantError::Permanent(format!("webhook answered {status}")))
        }
    }
}

/// reqwest errors print the URL, which may carry a token: keep the kind only.
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "transport error".into()
    }
}

#[async_trait]
impl Grantor for WebhookGrantor {
    fn name(&self) -> &str {
        "webhook"
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.apply_with_retries(call).await
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.apply_with_retries(call).await
    }
}

impl WebhookGrantor {
    async fn apply_with_retries(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let body = serde_json::to_vec(call).map_err(|e| GrantError::Permanent(e.to_string()))?;
        let mut last = GrantError::Transient("not attempted".into());
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(self.base_backoff * 2u32.pow(attempt - 1)).await;
            }
            match self.send_once(call, &body).await {
                Ok(r) => return Ok(r),
                // An earlier attempt may have been applied before its answer was lost.
                Err(GrantError::Permanent(m)) if attempt > 0 => {
                    return Err(GrantError::Uncertain(m));
                }
                Err(GrantError::Permanent(m)) => return Err(GrantError::Permanent(m)),
                Err(e) => {
                    tracing::warn!(key = %call.idempotency_key, attempt, error = %e, "webhook grant attempt failed");
                    last = e;
                }
            }
        }
        Err(last)
    }
}
