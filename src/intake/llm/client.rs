//! The HTTP side of the model intake: an async-openai client for any OpenAI-compatible server,
//! with a per-attempt timeout and Warden's own retries.
//!
//! async-openai's built-in retry layer honours `Retry-After` without an upper bound, so a
//! hostile or broken server could hold a request for as long as it likes. It is replaced (via
//! the `middleware` feature) by [`CappedRetry`]: retries on 429, 5xx and connection failures,
//! exponential backoff with jitter, `Retry-After` honoured up to `llm.max_retry_after_secs`.
//! Timeouts are not retried: the requester has already waited once.

use crate::http_client::HttpOptions;
use anyhow::Context;
use async_openai::Client;
use async_openai::config::Config;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Where and how to call the model. Azure-style deployments (an `api_version` is set) get the
/// key in an `api-key` header and `?api-version=…` on every call; others a Bearer token.
#[derive(Clone)]
pub struct Endpoint {
    base: String,
    key: SecretString,
    headers: HeaderMap,
    query: Vec<(String, String)>,
}

impl Endpoint {
    pub fn new(
        base_url: &str,
        key: Option<&SecretString>,
        api_version: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        if let Some(key) = key.filter(|k| !k.expose_secret().is_empty()) {
            let (name, value) = match api_version {
                Some(_) => ("api-key", key.expose_secret().to_string()),
                None => (
                    AUTHORIZATION.as_str(),
                    format!("Bearer {}", key.expose_secret()),
                ),
            };
            // The error would carry no secret, but say nothing about the value anyway.
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                anyhow::anyhow!("llm.api_key contains characters not allowed in an HTTP header")
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let query = api_version
            .map(|v| vec![("api-version".to_string(), v.to_string())])
            .unwrap_or_default();
        Ok(Self {
            base: base_url.trim_end_matches('/').to_string(),
            key: key
                .cloned()
                .unwrap_or_else(|| SecretString::from(String::new())),
            headers,
            query,
        })
    }
}

impl Config for Endpoint {
    fn headers(&self) -> HeaderMap {
        self.headers.clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn query(&self) -> Vec<(&str, &str)> {
        self.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn api_base(&self) -> &str {
        &self.base
    }

    fn api_key(&self) -> &SecretString {
        &self.key
    }
}

/// Retry limits for [`CappedRetry`].
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub max_retry_after: Duration,
    /// First backoff delay when the server gives no `Retry-After`; doubles per attempt.
    pub base_delay: Duration,
}

/// The transport: reqwest plus Warden's retry rules (see the module doc).
#[derive(Clone)]
pub struct CappedRetry {
    http: reqwest::Client,
    policy: RetryPolicy,
}

type Reply = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for CappedRetry {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Reply;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, factory: HttpRequestFactory) -> Self::Future {
        let (http, policy) = (self.http.clone(), self.policy);
        Box::pin(async move {
            let mut attempt = 0;
            loop {
                let request = factory.build().await?;
                let outcome = http.execute(request).await;
                let retryable = match &outcome {
                    Ok(r) => r.status().as_u16() == 429 || r.status().is_server_error(),
                    Err(e) => e.is_connect(),
                };
                if !retryable || attempt >= policy.max_retries {
                    return outcome.map_err(OpenAIError::Reqwest);
                }
                let delay = policy.delay(attempt, outcome.as_ref().ok().map(|r| r.headers()));
                tracing::warn!(attempt = attempt + 1, status = ?outcome.as_ref().ok().map(|r| r.status().as_u16()), delay_ms = delay.as_millis() as u64, "model server busy or failing; retrying");
                drop(outcome);
                attempt += 1;
                tokio::time::sleep(delay).await;
            }
        })
    }
}

impl RetryPolicy {
    /// `Retry-After` (seconds or an HTTP date) up to the cap, else backoff with jitter.
    pub fn delay(&self, attempt: u32, headers: Option<&HeaderMap>) -> Duration {
        if let Some(wait) = headers.and_then(retry_after) {
            return wait.min(self.max_retry_after);
        }
        let backoff = self.base_delay.saturating_mul(2u32.saturating_pow(attempt));
        let jitter = 0.75 + rand::random::<f64>() * 0.5;
        backoff.mul_f64(jitter).min(self.max_retry_after)
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

pub type ModelClient = Client<Endpoint>;

/// A client whose every attempt is bounded by `timeout`.
pub fn build(
    endpoint: Endpoint,
    timeout: Duration,
    policy: RetryPolicy,
) -> anyhow::Result<ModelClient> {
    let http = crate::http_client::client(HttpOptions::new(timeout))
        .context("Failed to build the HTTP client for the model")?;
    Ok(Client::with_config(endpoint).with_http_service(CappedRetry { http, policy }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_honoured_only_up_to_the_cap() {
        let policy = RetryPolicy {
            max_retries: 2,
            max_retry_after: Duration::from_secs(3),
            base_delay: Duration::from_millis(200),
        };
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        assert_eq!(policy.delay(0, Some(&h)), Duration::from_secs(1));
        h.insert(RETRY_AFTER, HeaderValue::from_static("86400"));
        assert_eq!(policy.delay(0, Some(&h)), Duration::from_secs(3));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2099 07:28:00 GMT"),
        );
        assert_eq!(policy.delay(0, Some(&h)), Duration::from_secs(3));
        let backoff = policy.delay(1, None);
        assert!(
            backoff >= Duration::from_millis(300) && backoff <= Duration::from_millis(500),
            "{backoff:?}"
        );
    }

    #[test]
    fn azure_style_endpoints_send_the_key_as_api_key_with_the_version() {
        let key = SecretString::from("k-123".to_string());
        let azure = Endpoint::new(
            "https://r.openai.azure.com/openai/deployments/d/",
            Some(&key),
            Some("2024-10-21"),
        )
        .unwrap();
        assert_eq!(
            azure.url("/chat/completions"),
            "https://r.openai.azure.com/openai/deployments/d/chat/completions"
        );
        assert_eq!(azure.query(), vec![("api-version", "2024-10-21")]);
        assert!(
            azure.headers().get("api-key").is_some()
                && azure.headers().get(AUTHORIZATION).is_none()
        );
        let openai = Endpoint::new("https://api.openai.com/v1", Some(&key), None).unwrap();
        assert!(openai.headers().get(AUTHORIZATION).is_some());
        assert!(
            !format!("{:?}", openai.headers()).contains("k-123"),
            "the key never prints"
        );
        assert!(
            Endpoint::new("http://localhost:11434/v1", None, None)
                .unwrap()
                .headers()
                .is_empty()
        );
    }
}
