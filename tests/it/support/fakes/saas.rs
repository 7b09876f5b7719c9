//! What the fake SaaS admin APIs (Okta, Microsoft Graph, GitHub) share: a record of every call,
//! canned failures queued for the next matching calls, and tokens that expire.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The test RSA key pair: the private half is what Warden is configured with, the public half
/// what the fakes verify JWTs with (as the real services hold the registered public key).
pub const PRIVATE_KEY: &str = include_str!("keys/app_key.pem");
pub const PUBLIC_KEY: &str = include_str!("keys/app_key.pub.pem");

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub status: u16,
}

/// A canned answer for the next call whose method matches and whose path contains `path`.
#[derive(Clone)]
pub struct Fault {
    pub method: Option<Method>,
    pub path: String,
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Fault {
    pub fn on(method: Option<Method>, path: &str, status: u16, body: Value) -> Self {
        Self {
            method,
            path: path.into(),
            status,
            headers: vec![],
            body,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Default)]
pub struct Common {
    pub calls: Mutex<Vec<Call>>,
    faults: Mutex<VecDeque<Fault>>,
    /// Access tokens issued, with when each stops working.
    tokens: Mutex<HashMap<String, Instant>>,
    pub tokens_issued: Mutex<usize>,
}

impl Common {
    pub fn push_fault(&self, f: Fault) {
        self.faults.lock().unwrap().push_back(f);
    }

    /// The first queued fault for this call, taken off the queue.
    pub fn fault_for(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut q = self.faults.lock().unwrap();
        let i = q.iter().position(|f| {
            f.method.as_ref().is_none_or(|m| m == method) && path.contains(&f.path)
        })?;
        q.remove(i)
    }

    pub fn issue(&self, prefix: &str, lifetime: Duration) -> String {
        let mut n = self.tokens_issued.lock().unwrap();
        *n += 1;
        let token = format!("{prefix}{}-{}", *n, uuid::Uuid::new_v4().simple());
        self.tokens
            .lock()
            .unwrap()
            .insert(token.clone(), Instant::now() + lifetime);
        token
    }

    pub fn issued(&self) -> usize {
        *self.tokens_issued.lock().unwrap()
    }

    /// Whether a `Bearer` header carries a live token this fake issued.
    pub fn bearer_ok(&self, authorization: Option<&str>) -> bool {
        let Some(t) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
            return false;
        };
        self.tokens
            .lock()
            .unwrap()
            .get(t)
            .is_some_and(|until| Instant::now() < *until)
    }

    /// Every token stops working now (revoked, or the service restarted its keys).
    pub fn expire_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }

    pub fn record(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
        status: u16,
    ) {
        let body = serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        self.calls.lock().unwrap().push(Call {
            method: method.to_string(),
            uri: uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body,
            status,
        });
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// A response with a status, headers and an optional JSON body.
pub fn reply(status: u16, headers: &[(&str, String)], body: Option<&Value>) -> Response {
    let mut r = match body {
        Some(b) => (StatusCode::from_u16(status).unwrap(), axum::Json(b.clone())).into_response(),
        None => StatusCode::from_u16(status).unwrap().into_response(),
    };
    for (k, v) in headers {
        r.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    r
}

/// The form fields of an `application/x-www-form-urlencoded` body.
pub fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The query parameters of a request.
pub fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Path segments, percent-decoded.
pub fn segments(uri: &Uri) -> Vec<String> {
    uri.path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Starts an axum app on a random port; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Verifies an RS256 JWT with the test public key; returns its claims.
pub fn verify_jwt(token: &str, audience: Option<&str>) -> Option<Value> {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    match audience {
        Some(a) => v.set_audience(&[a]),
        None => v.validate_aud = false,
    }
    v.set_required_spec_claims(&["exp", "iat"]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .ok()
        .map(|d| d.claims)
}
