//! A fake Opsgenie Schedule API over real HTTP: `GET /v2/schedules/{identifier}/on-calls`
//! with `scheduleIdentifierType` (id, the default, or name), `flat` and `date`, answered in
//! Opsgenie's envelope (`data`, `took`, `requestId`). `flat=true` gives `onCallRecipients`
//! (usernames); otherwise the nested `onCallParticipants`. A missing or wrong
//! `Authorization: GenieKey <key>` is a 401, an unknown schedule a 404.

use super::saas::{Common, Fault, query, reply, segments, serve};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

pub const API_KEY: &str = "eb243592-faa2-4ba2-a551-1afdf565c889";

struct Schedule {
    id: String,
    name: String,
    /// (username, start, end).
    shifts: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
}

#[derive(Default)]
pub struct Inner {
    pub common: Common,
    schedules: Mutex<Vec<Schedule>>,
    base: Mutex<String>,
}

#[derive(Clone)]
pub struct FakeOpsgenie(pub Arc<Inner>);

impl FakeOpsgenie {
    pub async fn start() -> Self {
        let fake = Self(Arc::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(fake.clone());
        *fake.0.base.lock().unwrap() = serve(app).await;
        fake
    }

    pub fn url(&self) -> String {
        self.0.base.lock().unwrap().clone()
    }

    pub fn schedule(&self, id: &str, name: &str) {
        self.0.schedules.lock().unwrap().push(Schedule {
            id: id.into(),
            name: name.into(),
            shifts: vec![],
        });
    }

    pub fn on_call(
        &self,
        schedule: &str,
        username: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) {
        let mut all = self.0.schedules.lock().unwrap();
        let s = all
            .iter_mut()
            .find(|s| s.name == schedule || s.id == schedule)
            .expect("schedule");
        s.shifts.push((username.into(), start, end));
    }

    pub fn fault(&self, f: Fault) {
        self.0.common.push_fault(f);
    }

    pub fn common(&self) -> &Common {
        &self.0.common
    }
}

/// Opsgenie's error envelope.
pub fn error(message: &str) -> Value {
    json!({ "message": message, "took": 0.002, "requestId": uuid::Uuid::new_v4().to_string() })
}

async fn handle(
    State(f): State<FakeOpsgenie>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, resp) = answer(&f, &method, &uri, &headers);
    f.0.common.record(&method, &uri, &headers, &body, status);
    resp
}

fn answer(f: &FakeOpsgenie, method: &Method, uri: &Uri, headers: &HeaderMap) -> (u16, Response) {
    if let Some(fault) = f.0.common.fault_for(method, uri.path()) {
        let h: Vec<(&str, String)> = fault.headers.iter().map(|(k, v)| (*k, v.clone())).collect();
        return (fault.status, reply(fault.status, &h, Some(&fault.body)));
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("GenieKey {API_KEY}")) {
        return (401, reply(401, &[], Some(&error("Could not authenticate"))));
    }
    let path = segments(uri);
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let [v2, schedules, identifier, on_calls] = p.as_slice() else {
        return (404, reply(404, &[], Some(&error("Not found"))));
    };
    if method != Method::GET || *v2 != "v2" || *schedules != "schedules" || *on_calls != "on-calls"
    {
        return (404, reply(404, &[], Some(&error("Not found"))));
    }
    let q = query(uri);
    let by_name = q.get("scheduleIdentifierType").map(String::as_str) == Some("name");
    let date = match q.get("date").map(|d| DateTime::parse_from_rfc3339(d)) {
        None => Utc::now(),
        Some(Ok(d)) => d.with_timezone(&Utc),
        Some(Err(_)) => return (422, reply(422, &[], Some(&error("Date is invalid")))),
    };
    let all = f.0.schedules.lock().unwrap();
    let Some(s) = all.iter().find(|s| match by_name {
        true => s.name == *identifier,
        false => s.id == *identifier,
    }) else {
        let msg = format!("Schedule with identifier [{identifier}] does not exist");
        return (404, reply(404, &[], Some(&error(&msg))));
    };
    let now: Vec<&String> = s
        .shifts
        .iter()
        .filter(|(_, start, end)| *start <= date && date < *end)
        .map(|(u, _, _)| u)
        .collect();
    let parent = json!({ "id": s.id, "name": s.name, "enabled": true });
    let data = if q.get("flat").map(String::as_str) == Some("true") {
        json!({ "_parent": parent, "onCallRecipients": now })
    } else {
        let participants: Vec<Value> = now
            .iter()
            .map(|u| json!({ "name": u, "type": "user" }))
            .collect();
        json!({ "_parent": parent, "onCallParticipants": participants })
    };
    let body =
        json!({ "data": data, "took": 0.104, "requestId": uuid::Uuid::new_v4().to_string() });
    (200, reply(200, &[], Some(&body)))
}
