//! A fake Microsoft identity platform and Graph over real HTTP, with Graph's documented shapes:
//! client-credentials tokens at `/{tenant}/oauth2/v2.0/token` (`invalid_client` for a wrong
//! secret); `POST /v1.0/groups/{id}/members/$ref` answers 204, or 400 `Request_BadRequest`
//! "One or more added object references already exist…" for a member; `DELETE
//! …/members/{id}/$ref` 204, or 404 `Request_ResourceNotFound`; member lists page by an absolute
//! `@odata.nextLink` carrying `$skiptoken`; an expired token gets 401
//! `InvalidAuthenticationToken`; throttling is 429 or 503 with Retry-After.

use super::saas::{Common, Fault, form, query, reply, segments, serve};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const TENANT: &str = "contoso-tenant-id";
pub const CLIENT_ID: &str = "warden-app-client-id";
pub const CLIENT_SECRET: &str = "entra-test-secret";

#[derive(Default)]
pub struct Inner {
    pub common: Common,
    /// Users by object id: (userPrincipalName, mail).
    users: Mutex<BTreeMap<String, (String, String)>>,
    groups: Mutex<BTreeMap<String, BTreeSet<String>>>,
    page_size: Mutex<usize>,
    token_lifetime: Mutex<Duration>,
    base: Mutex<String>,
}

#[derive(Clone)]
pub struct FakeEntra(pub Arc<Inner>);

pub fn error(code: &str, message: &str) -> Value {
    json!({ "error": { "code": code, "message": message, "innerError": { "request-id": uuid::Uuid::new_v4().to_string() } } })
}

impl FakeEntra {
    pub async fn start() -> Self {
        let fake = Self(Arc::new(Inner::default()));
        *fake.0.page_size.lock().unwrap() = 100;
        *fake.0.token_lifetime.lock().unwrap() = Duration::from_secs(3599);
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        *fake.0.base.lock().unwrap() = serve(app).await;
        fake
    }

    /// Both the login and the Graph base URL (one server plays both).
    pub fn url(&self) -> String {
        self.0.base.lock().unwrap().clone()
    }

    pub fn user(&self, id: &str, upn: &str, mail: &str) {
        self.0
            .users
            .lock()
            .unwrap()
            .insert(id.into(), (upn.into(), mail.into()));
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

    /// The next `n` Graph calls answer `status` (429 or 503) with `Retry-After: secs`.
    pub fn throttle(&self, n: usize, status: u16, secs: u64) {
        for _ in 0..n {
            let code = if status == 429 {
                "TooManyRequests"
            } else {
                "ServiceUnavailable"
            };
            self.0.common.push_fault(
                Fault::on(
                    None,
                    "/v1.0/",
                    status,
                    error(code, "Too many requests from the application."),
                )
                .header("retry-after", secs.to_string()),
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

async fn handle(
    State(f): State<FakeEntra>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, resp) = answer(&f, &method, &uri, &headers, &body);
    f.0.common.record(&method, &uri, &headers, &body, status);
    resp
}

fn not_found() -> (u16, Response) {
    let e = error(
        "Request_ResourceNotFound",
        "Resource does not exist or one of its queried reference-property objects are not present.",
    );
    (404, reply(404, &[], Some(&e)))
}

fn answer(
    f: &FakeEntra,
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
    if p == [TENANT, "oauth2", "v2.0", "token"] && method == Method::POST {
        return token(f, body);
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if !s.common.bearer_ok(auth) {
        let e = error(
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        );
        return (401, reply(401, &[], Some(&e)));
    }
    let users = s.users.lock().unwrap().clone();
    let mut groups = s.groups.lock().unwrap();
    let q = query(uri);
    match (method.clone(), p.as_slice()) {
        (Method::GET, ["v1.0", "users", key]) => {
            match users
                .iter()
                .find(|(id, (upn, _))| *id == key || upn.eq_ignore_ascii_case(key))
            {
                Some((id, (upn, mail))) => (
                    200,
                    reply(
                        200,
                        &[],
                        Some(&json!({ "id": id, "userPrincipalName": upn, "mail": mail })),
                    ),
                ),
                None => not_found(),
            }
        }
        (Method::GET, ["v1.0", "users"]) => {
            let filter = q.get("$filter").cloned().unwrap_or_default();
            let mail = filter
                .strip_prefix("mail eq '")
                .and_then(|r| r.strip_suffix('\''))
                .unwrap_or_default();
            let found: Vec<Value> = users
                .iter()
                .filter(|(_, (_, m))| m.eq_ignore_ascii_case(mail))
                .map(|(id, _)| json!({ "id": id }))
                .collect();
            (200, reply(200, &[], Some(&json!({ "value": found }))))
        }
        (Method::GET, ["v1.0", "groups", g, "members"]) => {
            let Some(members) = groups.get(*g) else {
                return not_found();
            };
            let skip: usize = q
                .get("$skiptoken")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let size = *s.page_size.lock().unwrap();
            let page: Vec<Value> = members
                .iter()
                .skip(skip)
                .take(size)
                .map(|id| json!({ "@odata.type": "#microsoft.graph.user", "id": id }))
                .collect();
            let mut b = json!({ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)", "value": page });
            if skip + size < members.len() {
                let base = s.base.lock().unwrap().clone();
                b["@odata.nextLink"] = json!(format!(
                    "{base}/v1.0/groups/{g}/members?$select=id&$skiptoken={}",
                    skip + size
                ));
            }
            (200, reply(200, &[], Some(&b)))
        }
        (Method::POST, ["v1.0", "groups", g, "members", "$ref"]) => {
            let body: Value = serde_json::from_slice(body).unwrap_or_default();
            let reference = body["@odata.id"].as_str().unwrap_or_default();
            let Some(u) = reference.split("/v1.0/directoryObjects/").nth(1) else {
                let e = error("Request_BadRequest", "Invalid object identifier.");
                return (400, reply(400, &[], Some(&e)));
            };
            if !users.contains_key(u) {
                return not_found();
            }
            let Some(members) = groups.get_mut(*g) else {
                return not_found();
            };
            if !members.insert(u.to_string()) {
                let e = error(
                    "Request_BadRequest",
                    "One or more added object references already exist for the following modified properties: 'members'.",
                );
                return (400, reply(400, &[], Some(&e)));
            }
            (204, reply(204, &[], None))
        }
        (Method::DELETE, ["v1.0", "groups", g, "members", u, "$ref"]) => {
            let Some(members) = groups.get_mut(*g) else {
                return not_found();
            };
            if !members.remove(*u) {
                return not_found();
            }
            (204, reply(204, &[], None))
        }
        _ => not_found(),
    }
}

fn token(f: &FakeEntra, body: &Bytes) -> (u16, Response) {
    let form = form(body);
    let ok = form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && form.get("scope").is_some_and(|s| s.ends_with("/.default"));
    if !ok {
        let e = json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
            "error_codes": [7000215]
        });
        return (401, reply(401, &[], Some(&e)));
    }
    let lifetime = *f.0.token_lifetime.lock().unwrap();
    let token = f.0.common.issue("eyJ0eXAiOiJKV1Qi.graph-", lifetime);
    let b = json!({ "token_type": "Bearer", "expires_in": lifetime.as_secs(), "ext_expires_in": lifetime.as_secs(), "access_token": token });
    (200, reply(200, &[], Some(&b)))
}
