//! A fake Slack Web API over real HTTP: records every call and answers like Slack does.
//! It can answer a method with 429 + Retry-After a given number of times, and hold a read of a
//! user group until a second one arrives (so two unserialised read-modify-writes surely overlap). User groups behave as Slack documents:
//! `usergroups.users.update` refuses an empty list, `usergroups.disable` / `usergroups.enable`
//! switch a group off and on (a disabled group keeps its last member list, as Slack does).
//! `apps.connections.open` takes the app-level token only and answers with the Socket Mode
//! address set by `set_socket_url` (`slack_socket::FakeSocketMode`).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    /// The JSON body, or the query parameters of a GET, as JSON.
    pub body: Value,
    pub authorized: bool,
    pub at: Instant,
    /// The status the fake answered with.
    pub status: u16,
    pub response: Value,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    throttle: Mutex<HashMap<String, u32>>,
    usergroups: Mutex<HashMap<String, Vec<String>>>,
    disabled: Mutex<HashSet<String>>,
    /// While armed (until this deadline), a read of user groups waits for a second read.
    pair_reads_until: Mutex<Option<Instant>>,
    reads_seen: AtomicU64,
    emails: Mutex<HashMap<String, String>>,
    /// Whole `users.info` user objects, for shapes other than this workspace's plain member.
    users: Mutex<HashMap<String, Value>>,
    /// The `auth.test` answer: where the app is installed.
    installation: Mutex<Option<Value>>,
    /// What `apps.connections.open` answers with.
    socket_url: Mutex<Option<String>>,
    next_ts: AtomicU64,
}

/// The app-level token (`xapp-…`) the tests configure for Socket Mode.
pub const APP_TOKEN: &str = "xapp-1-A0WARDEN-test";

#[derive(Clone, Default)]
pub struct FakeSlack(Arc<Inner>);

impl FakeSlack {
    /// Starts on a random port; returns the fake and its `slack.api_url`.
    pub async fn start() -> (Self, String) {
        let fake = FakeSlack::default();
        fake.0.next_ts.store(1_700_000_000, Ordering::SeqCst);
        let app = Router::new()
            .route("/api/{method}", axum::routing::post(post).get(get))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, format!("http://{addr}/api"))
    }

    /// Points `apps.connections.open` at a Socket Mode server.
    pub fn set_socket_url(&self, url: &str) {
        *self.0.socket_url.lock().unwrap() = Some(url.to_string());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.0.calls.lock().unwrap().clone()
    }

    /// Successful calls of one method (HTTP 200 with `"ok": true`).
    pub fn ok(&self, method: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.status == 200 && c.response["ok"] == true)
            .collect()
    }

    /// The Home tab views published for one user, oldest first.
    pub fn homes(&self, user: &str) -> Vec<Value> {
        self.ok("views.publish")
            .into_iter()
            .filter(|c| c.body["user_id"] == user)
            .map(|c| c.body["view"].clone())
            .collect()
    }

    /// Calls of one method Slack refused with `"ok": false`, as their error codes.
    pub fn refused(&self, method: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.response["ok"] == false)
            .map(|c| c.response["error"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The next `times` calls of `method` get 429 with `Retry-After: 1`.
    pub fn throttle(&self, method: &str, times: u32) {
        self.0
            .throttle
            .lock()
            .unwrap()
            .insert(method.to_string(), times);
    }

    pub fn set_usergroup(&self, id: &str, users: &[&str]) {
        self.0
            .usergroups
            .lock()
            .unwrap()
            .insert(id.into(), users.iter().map(|u| u.to_string()).collect());
    }

    /// Whether `usergroups.disable` switched the group off (and nothing enabled it since).
    pub fn is_disabled(&self, id: &str) -> bool {
        self.0.disabled.lock().unwrap().contains(id)
    }

    /// The answer to the next read of user groups (`usergroups.list`, `usergroups.users.list`)
    /// is held until a second read has been answered too, or for `patience` if none comes;
    /// later reads are not held.
    pub fn pair_usergroup_reads(&self, patience: Duration) {
        self.0.reads_seen.store(0, Ordering::SeqCst);
        *self.0.pair_reads_until.lock().unwrap() = Some(Instant::now() + patience);
    }

    async fn pace(&self, method: &str) {
        if method != "usergroups.list" && method != "usergroups.users.list" {
            return;
        }
        let Some(until) = *self.0.pair_reads_until.lock().unwrap() else {
            return;
        };
        self.0.reads_seen.fetch_add(1, Ordering::SeqCst);
        while self.0.reads_seen.load(Ordering::SeqCst) < 2 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        *self.0.pair_reads_until.lock().unwrap() = None;
    }

    /// The email `users.info` reports for a user.
    pub fn set_email(&self, user: &str, email: &str) {
        self.0
            .emails
            .lock()
            .unwrap()
            .insert(user.into(), email.into());
    }

    /// The user object `users.info` returns for a user, as it is (Slack Connect, Enterprise Grid,
    /// no `team_id`…).
    pub fn set_user_info(&self, user: &str, info: Value) {
        self.0.users.lock().unwrap().insert(user.into(), info);
    }

    /// Where `auth.test` says the app is installed (default: team T0WARDEN, no Enterprise Grid).
    pub fn set_installation(&self, team_id: &str, enterprise_id: Option<&str>) {
        *self.0.installation.lock().unwrap() = Some(json!({
            "ok": true, "url": "https://warden-test.slack.com/", "team": "Warden Test", "user": "warden",
            "team_id": team_id, "user_id": "U0WARDENBOT", "bot_id": "B0WARDEN",
            "enterprise_id": enterprise_id, "is_enterprise_install": false,
        }));
    }

    pub fn usergroup(&self, id: &str) -> Vec<String> {
        self.0
            .usergroups
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// A user group as Slack describes it; `date_delete` is set while it is disabled.
    fn group_json(&self, id: &str, with_users: bool) -> Value {
        let users = self.usergroup(id);
        let mut g = json!({
            "id": id, "team_id": "T0WARDEN", "is_usergroup": true, "name": id, "handle": id.to_lowercase(),
            "is_external": false, "date_create": 1_700_000_000, "date_update": 1_700_000_000,
            "date_delete": if self.is_disabled(id) { 1_700_000_500 } else { 0 },
            "created_by": "U0ADMIN", "prefs": { "channels": [], "groups": [] }, "user_count": users.len(),
        });
        if with_users {
            g["users"] = json!(users);
        }
        g
    }

    fn ts(&self) -> String {
        format!(
            "{}.{:06}",
            self.0.next_ts.fetch_add(1, Ordering::SeqCst),
            100
        )
    }

    /// Records the call and answers it (429 while throttled).
    fn record(&self, method: &str, body: Value, headers: &HeaderMap) -> Response {
        let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some("Bearer xoxb-test-token");
        let throttled = {
            let mut t = self.0.throttle.lock().unwrap();
            match t.get_mut(method) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            }
        };
        if throttled {
            let response = json!({ "ok": false, "error": "ratelimited" });
            self.0.calls.lock().unwrap().push(Call {
                method: method.to_string(),
                body,
                authorized,
                at: Instant::now(),
                status: 429,
                response: response.clone(),
            });
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                Json(response),
            )
                .into_response();
        }
        let response = match method {
            "apps.connections.open" => self.connections_open(headers),
            _ => self.answer(method, &body),
        };
        self.0.calls.lock().unwrap().push(Call {
            method: method.to_string(),
            body,
            authorized,
            at: Instant::now(),
            status: 200,
            response: response.clone(),
        });
        Json(response).into_response()
    }

    /// Socket Mode's address, for the app-level token only (a bot token is refused).
    fn connections_open(&self, headers: &HeaderMap) -> Value {
        let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
        if bearer != Some(&format!("Bearer {APP_TOKEN}")) {
            return json!({ "ok": false, "error": "not_allowed_token_type" });
        }
        match self.0.socket_url.lock().unwrap().clone() {
            Some(url) => json!({ "ok": true, "url": url }),
            None => json!({ "ok": false, "error": "invalid_auth" }),
        }
    }

    fn answer(&self, method: &str, body: &Value) -> Value {
        match method {
            "chat.postMessage" => {
                let ts = self.ts();
                let channel = body["channel"].as_str().unwrap_or_default();
                json!({ "ok": true, "channel": channel, "ts": ts, "message": { "type": "message", "ts": ts, "text": body["text"], "bot_id": "B0WARDEN" } })
            }
            "chat.update" => {
                json!({ "ok": true, "channel": body["channel"], "ts": body["ts"], "text": body["text"], "message": { "text": body["text"] } })
            }
            "chat.postEphemeral" => json!({ "ok": true, "message_ts": self.ts() }),
            "conversations.open" => {
                let user = body["users"][0]
                    .as_str()
                    .or(body["users"].as_str())
                    .unwrap_or("U0NOBODY");
                json!({ "ok": true, "channel": { "id": format!("D{}", &user[1..]) } })
            }
            "views.open" => {
                let mut view = body["view"].clone();
                view["id"] = json!(format!("V{}", self.ts().replace('.', "")));
                view["team_id"] = json!("T0WARDEN");
                view["hash"] = json!("1700000000.abcdef");
                json!({ "ok": true, "view": view })
            }
            // As Slack answers: the published view with its id and hash; a Home tab only.
            "views.publish" => {
                if body["view"]["type"] != "home" || body["user_id"].as_str().is_none() {
                    return json!({ "ok": false, "error": "invalid_arguments" });
                }
                let mut view = body["view"].clone();
                view["id"] = json!(format!("VH{}", body["user_id"].as_str().unwrap_or_default()));
                view["team_id"] = json!("T0WARDEN");
                view["hash"] = json!(format!("{}.abcdef", self.ts()));
                view["state"] = json!({ "values": {} });
                json!({ "ok": true, "view": view })
            }
            "auth.test" => self.0.installation.lock().unwrap().clone().unwrap_or_else(|| {
                json!({ "ok": true, "url": "https://warden-test.slack.com/", "team": "Warden Test", "user": "warden", "team_id": "T0WARDEN", "user_id": "U0WARDENBOT", "bot_id": "B0WARDEN", "is_enterprise_install": false })
            }),
            "users.info" => {
                let id = body["user"].as_str().unwrap_or_default();
                if let Some(user) = self.0.users.lock().unwrap().get(id) {
                    return json!({ "ok": true, "user": user });
                }
                let email = self
                    .0
                    .emails
                    .lock()
                    .unwrap()
                    .get(body["user"].as_str().unwrap_or_default())
                    .cloned();
                json!({ "ok": true, "user": { "id": body["user"], "team_id": "T0WARDEN", "name": "someone", "deleted": false, "is_bot": false, "profile": { "email": email, "real_name": "Someone" } } })
            }
            "usergroups.users.list" => {
                let id = body["usergroup"].as_str().unwrap_or_default();
                json!({ "ok": true, "users": self.usergroup(id) })
            }
            "usergroups.users.update" => {
                let id = body["usergroup"].as_str().unwrap_or_default().to_string();
                // Slack takes a comma-separated string or a JSON array.
                let users: Vec<String> = match &body["users"] {
                    Value::Array(a) => a
                        .iter()
                        .filter_map(|u| u.as_str())
                        .map(str::to_string)
                        .collect(),
                    other => other
                        .as_str()
                        .unwrap_or_default()
                        .split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(str::to_string)
                        .collect(),
                };
                // "You cannot use this method to remove all members from a user group."
                if users.is_empty() {
                    return json!({ "ok": false, "error": "invalid_users" });
                }
                self.0
                    .usergroups
                    .lock()
                    .unwrap()
                    .insert(id.clone(), users.clone());
                json!({ "ok": true, "usergroup": self.group_json(&id, true) })
            }
            "usergroups.list" => {
                let flag = |k: &str| body[k].as_str() == Some("true") || body[k] == json!(true);
                let (with_disabled, with_users) = (flag("include_disabled"), flag("include_users"));
                let mut ids: Vec<String> =
                    self.0.usergroups.lock().unwrap().keys().cloned().collect();
                ids.sort();
                let groups: Vec<Value> = ids
                    .iter()
                    .filter(|id| with_disabled || !self.is_disabled(id))
                    .map(|id| self.group_json(id, with_users))
                    .collect();
                json!({ "ok": true, "usergroups": groups })
            }
            "usergroups.disable" | "usergroups.enable" => {
                let id = body["usergroup"].as_str().unwrap_or_default().to_string();
                if !self.0.usergroups.lock().unwrap().contains_key(&id) {
                    return json!({ "ok": false, "error": "no_such_subteam" });
                }
                let mut off = self.0.disabled.lock().unwrap();
                let changed = if method == "usergroups.disable" {
                    off.insert(id.clone())
                } else {
                    off.remove(&id)
                };
                drop(off);
                if !changed {
                    let error = if method == "usergroups.disable" {
                        "already_disabled"
                    } else {
                        "already_enabled"
                    };
                    return json!({ "ok": false, "error": error });
                }
                json!({ "ok": true, "usergroup": self.group_json(&id, true) })
            }
            _ => json!({ "ok": false, "error": "unknown_method" }),
        }
    }
}

async fn post(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // The answer is read now; only its delivery waits.
    let answer = fake.record(&method, body, &headers);
    fake.pace(&method).await;
    answer
}

async fn get(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let body = serde_json::to_value(q).unwrap_or(Value::Null);
    // The answer is read now; only its delivery waits.
    let answer = fake.record(&method, body, &headers);
    fake.pace(&method).await;
    answer
}
