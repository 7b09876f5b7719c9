//! One HTTP call to a SaaS admin API, with the retries every target needs: throttling honoured
//! (Retry-After, `X-Rate-Limit-Reset`, `x-ratelimit-reset`) within a bound, 5xx and transport
//! errors retried with backoff, a rejected token refreshed once.

use super::token::Auth;
use crate::grants::GrantError;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

/// How hard one call tries before the grant job's own retry takes over.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    /// The longest wait a throttled answer may ask for; a longer one fails the call as
    /// transient at once (the job comes back later) instead of holding a worker.
    pub max_wait: Duration,
    pub base_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            max_wait: Duration::from_secs(30),
            base_backoff: Duration::from_millis(250),
        }
    }
}

/// The answer the caller interprets (2xx, or a refusal the target explained).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    /// An earlier attempt of this call timed out or got a 5xx: it may have taken effect.
    pub after_doubt: bool,
}

impl Answer {
    /// A refusal: permanent, or `Uncertain` when an earlier attempt may have applied.
    pub fn refused(&self, why: String) -> GrantError {
        if self.after_doubt {
            GrantError::Uncertain(why)
        } else {
            GrantError::Permanent(why)
        }
    }
}

/// A client for one target's API: its base URL, its credentials, its retry rule.
pub struct Api {
    pub client: reqwest::Client,
    pub base: url::Url,
    pub auth: Auth,
    pub retry: Retry,
    /// The target's name for messages (`Okta`, `Microsoft Graph`, `GitHub`).
    pub target: &'static str,
    /// Headers every call carries (GitHub's API version).
    pub fixed_headers: Vec<(&'static str, &'static str)>,
}

impl Api {
    /// `path` joined to the base URL (the path may carry a query).
    pub fn url(&self, path: &str) -> Result<url::Url, GrantError> {
        self.base
            .join(path)
            .map_err(|_| GrantError::Permanent(format!("{}: a bad API path", self.target)))
    }

    /// Whether `next` (a paging link the target gave) points at this API: credentials are never
    /// sent to another origin, whatever a response says.
    pub fn same_origin(&self, next: &url::Url) -> bool {
        next.origin() == self.base.origin()
    }

    pub async fn call(
        &self,
        method: Method,
        url: url::Url,
        body: Option<&Value>,
    ) -> Result<Answer, GrantError> {
        let mut doubt = false;
        let mut refreshed = false;
        let mut last = GrantError::Transient(format!("{} not reached", self.target));
        let mut attempt = 0;
        while attempt < self.retry.attempts {
            attempt += 1;
            let mut req = self
                .client
                .request(method.clone(), url.clone())
                .header("accept", "application/json")
                .header("authorization", self.auth.header(&self.client).await?);
            for (k, v) in &self.fixed_headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    // A request that timed out may have been applied.
                    doubt |= e.is_timeout() || !e.is_connect();
                    last = GrantError::Transient(format!("{}: {}", self.target, transport(&e)));
                    tokio::time::sleep(self.backoff(attempt)).await;
                    continue;
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.json::<Value>().await.unwrap_or(Value::Null);
            if status == StatusCode::UNAUTHORIZED && !refreshed && self.auth.refreshable() {
                // An expired or revoked token: get a new one, once, without using an attempt.
                tracing::info!(target_api = self.target, "token refused; refreshing it");
                self.auth.invalidate().await;
                refreshed = true;
                attempt -= 1;
                continue;
            }
            if let Some(wait) = throttled(status, &headers) {
                last = GrantError::Transient(format!(
                    "{} is rate limiting (retry in {}s)",
                    self.target,
                    wait.as_secs()
                ));
                if wait > self.retry.max_wait || attempt == self.retry.attempts {
                    return Err(last);
                }
                tracing::warn!(
                    target_api = self.target,
                    wait_ms = wait.as_millis() as u64,
                    "throttled; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() {
                doubt = true;
                last = GrantError::Transient(format!("{} answered {status}", self.target));
                tokio::time::sleep(self.backoff(attempt)).await;
                continue;
            }
            return Ok(Answer {
                status,
                headers,
                body,
                after_doubt: doubt,
            });
        }
        Err(last)
    }

    /// Every item of a paged list: pages follow the `Link: <…>; rel="next"` header (Okta,
    /// GitHub) or `@odata.nextLink` (Graph), only within this API's origin. Items are the body
    /// when it is an array, else its `value` array.
    pub async fn list(&self, first: url::Url) -> Result<Vec<Value>, GrantError> {
        let mut items = Vec::new();
        let mut next = Some(first);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(GrantError::Transient(format!(
                    "{}: too many pages",
                    self.target
                )));
            }
            let a = self.call(Method::GET, url, None).await?;
            if !a.status.is_success() {
                return Err(GrantError::Permanent(format!(
                    "{} refused a list ({}{})",
                    self.target,
                    a.status,
                    error_code(&a.body)
                        .map(|c| format!(", {c}"))
                        .unwrap_or_default()
                )));
            }
            let page = match &a.body {
                Value::Array(v) => v.clone(),
                other => other["value"].as_array().cloned().unwrap_or_default(),
            };
            items.extend(page);
            let link = next_link(&a.headers).or_else(|| {
                a.body["@odata.nextLink"]
                    .as_str()
                    .and_then(|u| url::Url::parse(u).ok())
            });
            if let Some(l) = link {
                if !self.same_origin(&l) {
                    return Err(GrantError::Permanent(format!(
                        "{} sent a next page on another host; not followed",
                        self.target
                    )));
                }
                next = Some(l);
            }
        }
        Ok(items)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.retry.base_backoff * 2u32.pow(attempt.saturating_sub(1).min(6))
    }
}

/// A bound on paging, so a target that keeps linking never holds a worker forever.
const MAX_PAGES: usize = 1000;

/// The `rel="next"` target of a `Link` header (RFC 8288), as Okta and GitHub page.
pub fn next_link(headers: &HeaderMap) -> Option<url::Url> {
    headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| {
            let start = part.find('<')? + 1;
            let end = part.find('>')?;
            url::Url::parse(part.get(start..end)?).ok()
        })
}

/// The target's own error code, for messages and logs (never the free text, which may echo
/// input): Okta's `errorCode`, Graph's `error.code`, GitHub's `message` is free text so none.
pub fn error_code(body: &Value) -> Option<String> {
    body["errorCode"]
        .as_str()
        .or_else(|| body["error"]["code"].as_str())
        .map(str::to_string)
}

/// How long a throttled answer asks to wait, or `None` when it is not a throttle. 429 always
/// is; 503 (Graph's "service unavailable, retry after") and 403 (GitHub's rate limits) are when
/// they carry a wait or say the quota is spent. A plain 403 is a refusal.
pub fn throttled(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    let text = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    let number = |k: &str| text(k).and_then(|v| v.trim().parse::<u64>().ok());
    let retry_after = number("retry-after").map(Duration::from_secs);
    // Okta's X-Rate-Limit-Reset and GitHub's x-ratelimit-reset: epoch seconds of the reset.
    let reset = number("x-rate-limit-reset")
        .or_else(|| number("x-ratelimit-reset"))
        .map(|at| {
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            Duration::from_secs(at.saturating_sub(now).max(1))
        });
    let spent = text("x-ratelimit-remaining") == Some("0");
    let wait = retry_after.or(reset);
    match status.as_u16() {
        429 => Some(wait.unwrap_or(Duration::from_secs(1))),
        503 if retry_after.is_some() => retry_after,
        403 if retry_after.is_some() || spent => wait.or(Some(Duration::from_secs(60))),
        _ => None,
    }
}

/// reqwest errors print the URL; keep the kind only.
pub fn transport(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        let h = headers(&[(
            "link",
            "<https://x.okta.com/api/v1/groups/g/users?limit=2>; rel=\"self\", <https://x.okta.com/api/v1/groups/g/users?after=u2&limit=2>; rel=\"next\"".into(),
        )]);
        assert_eq!(
            next_link(&h).unwrap().as_str(),
            "https://x.okta.com/api/v1/groups/g/users?after=u2&limit=2"
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }

    #[test]
    fn throttles_are_told_apart_from_refusals() {
        let s = |n| StatusCode::from_u16(n).unwrap();
        let after = headers(&[("retry-after", "7".into())]);
        assert_eq!(throttled(s(429), &after), Some(Duration::from_secs(7)));
        assert_eq!(throttled(s(503), &after), Some(Duration::from_secs(7)));
        assert_eq!(throttled(s(403), &after), Some(Duration::from_secs(7)));
        assert_eq!(
            throttled(s(403), &HeaderMap::new()),
            None,
            "a plain 403 refuses"
        );
        assert_eq!(
            throttled(s(503), &HeaderMap::new()),
            None,
            "a 5xx, retried as such"
        );
        let reset = (chrono::Utc::now().timestamp() + 20).to_string();
        let okta = headers(&[("x-rate-limit-reset", reset.clone())]);
        let wait = throttled(s(429), &okta).unwrap();
        assert!((18..=20).contains(&wait.as_secs()), "{wait:?}");
        let github = headers(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset),
        ]);
        assert!(throttled(s(403), &github).unwrap() >= Duration::from_secs(18));
    }
}
