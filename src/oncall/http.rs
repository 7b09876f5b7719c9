//! What the PagerDuty and Opsgenie clients share: one GET with their auth header, and the
//! mapping of HTTP failures onto `OnCallError` (401/403 a refused key, 429 with `Retry-After`,
//! 5xx an outage), with the provider's own error message kept for the log.

use super::OnCallError;
use serde_json::Value;
use std::time::Duration;

/// GETs `url` and returns its JSON body, or the failure as an `OnCallError`.
pub(super) async fn get_json(
    http: &reqwest::Client,
    url: url::Url,
    headers: &[(&str, String)],
) -> Result<Value, OnCallError> {
    let mut req = http.get(url);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| OnCallError::Transport(without_url(&e)))?;
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = resp
        .bytes()
        .await
        .map_err(|e| OnCallError::Transport(without_url(&e)))?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if (200..300).contains(&status) {
        return json.ok_or_else(|| OnCallError::Unexpected {
            status,
            message: "the body is not JSON".into(),
        });
    }
    let message = json.as_ref().map(error_message).unwrap_or_default();
    Err(match status {
        401 | 403 => OnCallError::Unauthorized { status, message },
        429 => OnCallError::RateLimited { retry_after },
        500..=599 => OnCallError::Unavailable { status, message },
        _ => OnCallError::Unexpected { status, message },
    })
}

/// The provider's message: PagerDuty's `error.message` (and `error.errors`), Opsgenie's `message`.
fn error_message(body: &Value) -> String {
    let pd = body.pointer("/error/message").and_then(Value::as_str);
    let og = body.get("message").and_then(Value::as_str);
    let mut msg = pd.or(og).unwrap_or_default().to_string();
    if let Some(details) = body.pointer("/error/errors").and_then(Value::as_array) {
        let details: Vec<&str> = details.iter().filter_map(Value::as_str).collect();
        if !details.is_empty() {
            msg = format!("{msg} ({})", details.join("; "));
        }
    }
    // A provider's message is text it chose; keep the log line bounded.
    msg.chars().take(300).collect()
}

/// reqwest's error text names the URL, whose query names people; the kind is enough.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_decode() || e.is_body() {
        "the body could not be read"
    } else {
        "request failed"
    };
    kind.to_string()
}
