//! A fake PagerDuty REST API (v2) over real HTTP: `GET /users?query=` and `GET /oncalls` with
//! PagerDuty's shapes. Every call needs `Authorization: Token token=<key>` (else 401 with
//! PagerDuty's error object) and the v2 `Accept` header (else 406). `/oncalls` applies
//! `user_ids[]`, `schedule_ids[]` and `escalation_policy_ids[]` (kinds intersect, as PagerDuty
//! does), keeps on-calls overlapping `since`..`until`, and pages by `limit`/`offset`/`more`.

use super::saas::{Common, Fault, reply, serve};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub const API_KEY: &str = "u+pagerduty-test-key";
pub const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";

/// One on-call entry: a user on an escalation policy's level, through a schedule or directly.
#[derive(Clone)]
pub struct Shift {
    pub user: String,
    pub schedule: Option<String>,
    pub escalation_policy: String,
    pub level: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Default)]
pub struct Inner {
    pub common: Common,
    /// (id, name, email).
    users: Mutex<Vec<(String, String, String)>>,
    shifts: Mutex<Vec<Shift>>,
    /// The most `/oncalls` answers per page, whatever `limit` asks (PagerDuty caps it at 100).
    page_cap: Mutex<usize>,
    base: Mutex<String>,
}

#[derive(Clone)]
pub struct FakePagerDuty(pub Arc<Inner>);

impl FakePagerDuty {
    pub async fn start() -> Self {
        let fake = Self(Arc::new(Inner::default()));
        *fake.0.page_cap.lock().unwrap() = 100;
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        *fake.0.base.lock().unwrap() = serve(app).await;
        fake
    }

    pub fn url(&self) -> String {
        self.0.base.lock().unwrap().clone()
    }

    pub fn user(&self, id: &str, name: &str, email: &str) {
        self.0
            .users
            .lock()
            .unwrap()
            .push((id.into(), name.into(), email.into()));
    }

    /// `user` on call through `schedule` on level 1 of `policy` from `start` to `end`.
    pub fn on_call(
        &self,
        user: &str,
        schedule: &str,
        policy: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) {
        self.0.shifts.lock().unwrap().push(Shift {
            user: user.into(),
            schedule: Some(schedule.into()),
            escalation_policy: policy.into(),
            level: 1,
            start,
            end,
        });
    }

    pub fn page_cap(&self, n: usize) {
        *self.0.page_cap.lock().unwrap() = n;
    }

    pub fn fault(&self, f: Fault) {
        self.0.common.push_fault(f);
    }

    pub fn common(&self) -> &Common {
        &self.0.common
    }

    /// The `/oncalls` calls made so far.
    pub fn oncall_calls(&self) -> usize {
        self.0
            .common
            .calls()
            .iter()
            .filter(|c| c.uri.starts_with("/oncalls"))
            .count()
    }
}

/// PagerDuty's error object.
pub fn error(code: u32, message: &str) -> Value {
    json!({ "error": { "message": message, "code": code } })
}

async fn handle(
    State(f): State<FakePagerDuty>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, resp) = answer(&f, &method, &uri, &headers);
    // The recorded authorization is checked by tests; the Accept header is checked here.
    f.0.common.record(&method, &uri, &headers, &body, status);
    resp
}

/// Every value of each query parameter, in order (`schedule_ids[]` repeats).
fn params(uri: &Uri) -> Vec<(String, String)> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn all(p: &[(String, String)], key: &str) -> Vec<String> {
    p.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .collect()
}

fn one(p: &[(String, String)], key: &str) -> Option<String> {
    all(p, key).into_iter().next()
}

fn answer(f: &FakePagerDuty, method: &Method, uri: &Uri, headers: &HeaderMap) -> (u16, Response) {
    let s = &f.0;
    if let Some(fault) = s.common.fault_for(method, uri.path()) {
        let h: Vec<(&str, String)> = fault.headers.iter().map(|(k, v)| (*k, v.clone())).collect();
        return (fault.status, reply(fault.status, &h, Some(&fault.body)));
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Token token={API_KEY}")) {
        return (
            401,
            reply(401, &[], Some(&error(2006, "Invalid Credentials"))),
        );
    }
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some(ACCEPT) {
        return (406, reply(406, &[], Some(&error(2000, "Not Acceptable"))));
    }
    let p = params(uri);
    match (method.clone(), uri.path()) {
        (Method::GET, "/users") => {
            let q = one(&p, "query").unwrap_or_default().to_lowercase();
            let users: Vec<Value> = s
                .users
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, name, email)| {
                    email.to_lowercase().starts_with(&q) || name.to_lowercase().contains(&q)
                })
                .map(|(id, name, email)| {
                    json!({ "id": id, "type": "user", "name": name, "email": email,
                            "summary": name, "self": format!("https://api.pagerduty.com/users/{id}") })
                })
                .collect();
            let body =
                json!({ "users": users, "limit": 25, "offset": 0, "more": false, "total": null });
            (200, reply(200, &[], Some(&body)))
        }
        (Method::GET, "/oncalls") => oncalls(f, &p),
        _ => (404, reply(404, &[], Some(&error(2100, "Not Found")))),
    }
}

fn oncalls(f: &FakePagerDuty, p: &[(String, String)]) -> (u16, Response) {
    let time = |k: &str| {
        one(p, k).map(|v| DateTime::parse_from_rfc3339(&v).map(|t| t.with_timezone(&Utc)))
    };
    let (since, until) = match (time("since"), time("until")) {
        (Some(Ok(s)), Some(Ok(u))) if s <= u => (s, u),
        (None, None) => (Utc::now(), Utc::now()),
        _ => {
            let body = json!({ "error": { "message": "Invalid Input Provided", "code": 2001,
                                           "errors": ["since/until must be a valid range"] } });
            return (400, reply(400, &[], Some(&body)));
        }
    };
    let users = all(p, "user_ids[]");
    let schedules = all(p, "schedule_ids[]");
    let policies = all(p, "escalation_policy_ids[]");
    let matches: Vec<Shift> =
        f.0.shifts
            .lock()
            .unwrap()
            .iter()
            .filter(|sh| users.is_empty() || users.contains(&sh.user))
            .filter(|sh| {
                schedules.is_empty() || sh.schedule.as_ref().is_some_and(|s| schedules.contains(s))
            })
            .filter(|sh| policies.is_empty() || policies.contains(&sh.escalation_policy))
            .filter(|sh| sh.start <= until && since < sh.end)
            .cloned()
            .collect();
    let limit = one(p, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .min(*f.0.page_cap.lock().unwrap());
    let offset = one(p, "offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = matches
        .iter()
        .skip(offset)
        .take(limit)
        .map(|sh| {
            json!({
                "escalation_policy": { "id": sh.escalation_policy, "type": "escalation_policy_reference", "summary": "policy" },
                "escalation_level": sh.level,
                "schedule": sh.schedule.as_ref().map(|id| json!({ "id": id, "type": "schedule_reference", "summary": "schedule" })),
                "user": { "id": sh.user, "type": "user_reference", "summary": "user" },
                "start": sh.start.to_rfc3339(),
                "end": sh.end.to_rfc3339(),
            })
        })
        .collect();
    let body = json!({ "oncalls": page, "limit": limit, "offset": offset,
                       "more": offset + limit < matches.len(), "total": null });
    (200, reply(200, &[], Some(&body)))
}
