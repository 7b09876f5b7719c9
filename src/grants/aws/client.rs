//! A SigV4-signed client for AWS JSON 1.1 APIs (sso-admin, identitystore), with bounded
//! retries on throttling, 5xx and transport errors.
//!
//! Each call is `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body. Errors
//! name their type in the body's `__type` (possibly `namespace#Type`) or the
//! `x-amzn-ErrorType` header. Throttling gets exponential backoff with jitter, or the
//! server's `Retry-After` when it sends one (capped).

use super::credentials::CredentialProvider;
use super::sts::StsError;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The two AWS services the backend calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    SsoAdmin,
    IdentityStore,
}

impl Service {
    /// The SigV4 signing name (the credential scope's service).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::SsoAdmin => "sso",
            Service::IdentityStore => "identitystore",
        }
    }

    fn target_prefix(self) -> &'static str {
        match self {
            Service::SsoAdmin => "SWBExternalService",
            Service::IdentityStore => "AWSIdentityStore",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// AWS answered with an error it means (`AccessDeniedException`, `ConflictException`, …).
    /// `after_uncertain`: an earlier attempt of this call may have taken effect.
    #[error("AWS {code} ({status}): {message}")]
    Refused {
        code: String,
        message: String,
        status: u16,
        after_uncertain: bool,
    },
    /// Throttled, 5xx or unreachable through every attempt.
    #[error("AWS temporarily failed: {0}")]
    Transient(String),
    #[error(transparent)]
    Credentials(#[from] StsError),
    /// A local failure (signing): retrying will not help.
    #[error("AWS request could not be made: {0}")]
    Local(String),
}

impl AwsError {
    /// The error type AWS named, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// How hard one call tries.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_retry_after: Duration,
}

pub struct AwsClient {
    http: reqwest::Client,
    region: String,
    credentials: Arc<CredentialProvider>,
    retry: RetryPolicy,
}

/// What one attempt came to.
enum Attempt {
    Done(serde_json::Value),
    Retry {
        why: String,
        wait: Option<Duration>,
        may_have_applied: bool,
    },
    Refused {
        code: String,
        message: String,
        status: u16,
    },
}

impl AwsClient {
    pub fn new(
        http: reqwest::Client,
        region: &str,
        credentials: Arc<CredentialProvider>,
        retry: RetryPolicy,
    ) -> Self {
        Self {
            http,
            region: region.to_string(),
            credentials,
            retry,
        }
    }

    /// Calls `operation` on `service` at `endpoint`, retrying what is worth retrying.
    pub async fn call(
        &self,
        service: Service,
        endpoint: &url::Url,
        operation: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        let body = serde_json::to_vec(body).map_err(|e| AwsError::Local(e.to_string()))?;
        let target = format!("{}.{operation}", service.target_prefix());
        // Only a create or delete can have taken effect unseen; reads are safe to repeat.
        let mutates = operation.starts_with("Create") || operation.starts_with("Delete");
        let mut uncertain = false;
        let mut last = String::from("not attempted");
        for attempt in 1..=self.retry.attempts.max(1) {
            match self.once(service, endpoint, &target, &body).await? {
                Attempt::Done(v) => return Ok(v),
                Attempt::Refused {
                    code,
                    message,
                    status,
                } => {
                    return Err(AwsError::Refused {
                        code,
                        message,
                        status,
                        after_uncertain: uncertain,
                    });
                }
                Attempt::Retry {
                    why,
                    wait,
                    may_have_applied,
                } => {
                    tracing::warn!(operation, attempt, error = %why, "AWS call failed; retrying");
                    uncertain |= may_have_applied && mutates;
                    last = why;
                    if attempt < self.retry.attempts {
                        tokio::time::sleep(wait.unwrap_or_else(|| self.backoff(attempt))).await;
                    }
                }
            }
        }
        Err(AwsError::Transient(last))
    }

    /// Exponential from `backoff`, with full jitter over the upper half.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.retry.backoff * 2u32.saturating_pow(attempt.saturating_sub(1));
        let ms = ceiling.as_millis().min(60_000) as u64;
        Duration::from_millis(ms / 2 + rand::random_range(0..=ms / 2))
    }

    async fn once(
        &self,
        service: Service,
        endpoint: &url::Url,
        target: &str,
        body: &[u8],
    ) -> Result<Attempt, AwsError> {
        let creds = self.credentials.current().await?;
        let identity = creds.for_signing().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service.signing_name())
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| AwsError::Local(e.to_string()))?
            .into();
        let headers = [("content-type", CONTENT_TYPE), ("x-amz-target", target)];
        let signable = SignableRequest::new(
            "POST",
            endpoint.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| AwsError::Local(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| AwsError::Local(e.to_string()))?
            .into_parts();
        let mut request = self.http.post(endpoint.clone()).body(body.to_vec());
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let resp = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Ok(Attempt::Retry {
                    why: transport_kind(&e).into(),
                    wait: None,
                    // A request that timed out may have been carried out.
                    may_have_applied: !e.is_connect(),
                });
            }
        };
        let status = resp.status();
        let retry_after = retry_after(resp.headers()).map(|d| d.min(self.retry.max_retry_after));
        let header_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_string());
        let text = resp.bytes().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_slice(&text).unwrap_or_default();
        if status.is_success() {
            return Ok(Attempt::Done(json));
        }
        let code = json["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
            .or(header_type)
            .unwrap_or_else(|| format!("HTTP{}", status.as_u16()));
        let message = json["message"]
            .as_str()
            .or(json["Message"].as_str())
            .unwrap_or_default()
            .to_string();
        let throttled = status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || [
                "ThrottlingException",
                "TooManyRequestsException",
                "Throttling",
            ]
            .contains(&code.as_str());
        if throttled || status.is_server_error() || code == "InternalServerException" {
            return Ok(Attempt::Retry {
                why: format!("{code} ({status})"),
                wait: retry_after,
                may_have_applied: !throttled,
            });
        }
        Ok(Attempt::Refused {
            code,
            message,
            status: status.as_u16(),
        })
    }
}

/// `Retry-After` in seconds (the only form AWS and proxies in front of it send).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs: f64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// reqwest errors print the URL; keep the kind only.
pub(super) fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    }
}
