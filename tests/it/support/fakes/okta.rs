//! A fake Okta org over real HTTP: the Users and Groups API calls Warden makes, with Okta's
//! documented shapes. `PUT`/`DELETE /api/v1/groups/{g}/users/{u}` answer 204 (whether or not
//! the user was a member), unknown users and groups 404 with `E0000007`, a bad token 401 with
//! `E0000011`, throttling 429 with `X-Rate-Limit-*` headers and `E0000047`. Member lists page
//! by `Link: <…>; rel="next"` with an `after` cursor. OAuth service apps get tokens from
//! `/oauth2/v1/token` for a `private_key_jwt` client assertion signed with the test key.

use super::saas::{Common, Fault, form, query, reply, segments, serve, verify_jwt};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const API_TOKEN: &str = "00okta-test-api-token";
pub const CLIENT_ID: &str = "0oa-warden-service";

#[derive(Default)]
pub struct Inner {
    pub common: Common,
    /// Users by id: (login, email).
    users: Mutex<BTreeMap<String, (String, String)>>,
    groups: Mutex<BTreeMap<String, BTreeSet<String>>>,
    page_size: Mutex<usize>,
    token_lifetime: Mutex<Duration>,
    base: Mutex<String>,
}

#[derive(Clone)]
pub struct FakeOkta(pub Arc<Inner>);

impl FakeOkta {
    pub async fn start() -> Self {
        let fake = Self(Arc::new(Inner::default()));
        *fake.0.page_size.lock().unwrap() = 200;
        *fake.0.token_lifetime.lock().unwrap() = Duration::from_secs(3600);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        *fake.0.base.lock().unwrap() = serve(app).await;
        fake
    }

    pub fn url(&self) -> String {
        self.0.base.lock().unwrap().clone()
    }

    /// A user `id` whose login and email is `email`.
    pub fn user(&self, id: &str, email: &str) {
        self.0
            .users
            .lock()
            .unwrap()
            .insert(id.into(), (email.into(), email.into()));
    }

    pub fn group(&self, id: &str, members: &[&str]) {
        self.0
            .groups
            .lock()
            .unwrap()
            .insert(id.into(), members.iter().map(|m| m.to_string()).collect());
    }

    pub fn members(&self, group: &str) -> Vec<String> {
        self.0
            .groups
            .lock()
            .unwrap()
            .get(group)
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn page_size(&self, n: usize) {
        *self.0.page_size.lock().unwrap() = n;
    }

    pub fn token_lifetime(&self, d: Duration) {
        *self.0.token_lifetime.lock().unwrap() = d;
    }

    /// The next `n` API calls are throttled, the reset `secs` from now.
    pub fn throttle(&self, n: usize, secs: i64) {
        let reset = (chrono::Utc::now().timestamp() + secs).to_string();
        for _ in 0..n {
            self.0.common.push_fault(
                Fault::on(
                    None,
                    "/api/v1/",
                    429,
                    error(
                        "E0000047",
                        "API call exceeded rate limit due to too many requests.",
                    ),
                )
                .header("x-rate-limit-limit", "600")
                .header("x-rate-limit-remaining", "0")
                .header("x-rate-limit-reset", reset.clone()),
            );
        }
    }

    pub fn fault(&self, f: Fault) {
        self.0.common.push_fault(f);
    }

    pub fn common(&self) -> &Common {
        &self.0.common
    }
}

pub fn error(code: &str, summary: &str) -> Value {
    json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", &uuid::Uuid::new_v4().simple().to_string()[..16]),
        "errorCauses": []
    })
}

fn not_found() -> Response {
    reply(
        404,
        &[],
        Some(&error("E0000007", "Not found: Resource not found")),
    )
}

async fn handle(
    State(f): State<FakeOkta>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, resp) = answer(&f, &method, &uri, &headers, &body);
    f.0.common.record(&method, &uri, &headers, &body, status);
    resp
}

fn answer(
    f: &FakeOkta,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (u16, Response) {
    let s = &f.0;
    if let Some(fault) = s.common.fault_for(method, uri.path()) {
        let h: Vec<(&str, String)> = fault.headers.iter().map(|(k, v)| (*k, v.clone())).collect();
        return (fault.status, reply(fault.status, &h, Some(&fault.body)));
    }
    let path = segments(uri);
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    if p == ["oauth2", "v1", "token"] && method == Method::POST {
        return token(f, body);
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("SSWS {API_TOKEN}")) && !s.common.bearer_ok(auth) {
        return (
            401,
            reply(401, &[], Some(&error("E0000011", "Invalid token provided"))),
        );
    }
    let users = s.users.lock().unwrap().clone();
    let find = |key: &str| {
        users
            .iter()
            .find(|(id, (login, _))| *id == key || login.eq_ignore_ascii_case(key))
            .map(|(id, (login, email))| json!({ "id": id, "status": "ACTIVE", "profile": { "login": login, "email": email } }))
    };
    let mut groups = s.groups.lock().unwrap();
    match (method.clone(), p.as_slice()) {
        (Method::GET, ["api", "v1", "users", key]) => match find(key) {
            Some(u) => (200, reply(200, &[], Some(&u))),
            None => (404, not_found()),
        },
        (Method::GET, ["api", "v1", "users", id, "groups"]) => {
            let of: Vec<Value> = groups
                .iter()
                .filter(|(_, m)| m.contains(*id))
                .map(|(g, _)| json!({ "id": g, "type": "OKTA_GROUP", "profile": { "name": g } }))
                .collect();
            (200, reply(200, &[], Some(&Value::Array(of))))
        }
        (Method::GET, ["api", "v1", "groups", g, "users"]) => {
            let Some(members) = groups.get(*g) else {
                return (404, not_found());
            };
            let q = query(uri);
            let after = q.get("after").cloned().unwrap_or_default();
            let size = *s.page_size.lock().unwrap();
            let page: Vec<&String> = members
                .iter()
                .filter(|m| m.as_str() > after.as_str())
                .take(size)
                .collect();
            let list: Vec<Value> = page.iter().filter_map(|id| find(id)).collect();
            let mut h = vec![];
            if let Some(last) = page
                .last()
                .filter(|l| members.iter().any(|m| m.as_str() > l.as_str()))
            {
                let base = s.base.lock().unwrap().clone();
                h.push((
                    "link",
                    format!(
                        "<{base}/api/v1/groups/{g}/users?after={last}&limit={size}>; rel=\"next\""
                    ),
                ));
            }
            (200, reply(200, &h, Some(&Value::Array(list))))
        }
        (m, ["api", "v1", "groups", g, "users", u]) if m == Method::PUT || m == Method::DELETE => {
            if !users.contains_key(*u) {
                return (404, not_found());
            }
            let Some(members) = groups.get_mut(*g) else {
                return (404, not_found());
            };
            if m == Method::PUT {
                members.insert(u.to_string());
            } else {
                members.remove(*u);
            }
            (204, reply(204, &[], None))
        }
        _ => (404, not_found()),
    }
}

/// `private_key_jwt` client credentials (RFC 7523): the assertion names the client as `iss`
/// and `sub`, the token endpoint as `aud`, and is signed with the registered key.
fn token(f: &FakeOkta, body: &Bytes) -> (u16, Response) {
    let form = form(body);
    let aud = format!("{}/oauth2/v1/token", f.url());
    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        && form
            .get("client_assertion")
            .and_then(|a| verify_jwt(a, Some(&aud)))
            .is_some_and(|c| c["iss"] == CLIENT_ID && c["sub"] == CLIENT_ID);
    if !ok {
        let e = json!({ "error": "invalid_client", "error_description": "The client_assertion token is invalid." });
        return (401, reply(401, &[], Some(&e)));
    }
    let lifetime = *f.0.token_lifetime.lock().unwrap();
    let token = f.0.common.issue("okta-at-", lifetime);
    let scope = form.get("scope").cloned().unwrap_or_default();
    let b = json!({ "token_type": "Bearer", "expires_in": lifetime.as_secs(), "access_token": token, "scope": scope });
    (200, reply(200, &[], Some(&b)))
}
