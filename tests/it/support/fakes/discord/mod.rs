//! A fake Discord: its REST API over real HTTP, which records every call, answers like Discord
//! (with its rate-limit headers: one `X-RateLimit-Bucket` shared by a channel's message routes)
//! and can rate-limit the next matching call once, per bucket or globally; and the
//! Ed25519-signed interactions Discord sends (`interactions`). Guild members hold roles: PUT and
//! DELETE on a member's role change them, `GET /guilds/{guild}/members/{user}` reads them (every
//! user is a member). `GET /gateway` points at the fake gateway (`gateway`) when one is set;
//! a thread started from a message can be started once (Discord's code 160004 after that) and
//! reads back as a thread of its channel (`GET /channels/{id}`); an interaction is acknowledged
//! through its callback once (40060 after that).

pub mod gateway;
pub mod interactions;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The bucket hash Discord reports for creating and editing messages in a channel.
pub const MESSAGES_BUCKET: &str = "3cd1f278bd0ecaf11e0d2391374c011d";

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub body: serde_json::Value,
    pub audit_reason: Option<String>,
    pub authorized: bool,
    /// What the fake answered.
    pub status: u16,
    pub reply: serde_json::Value,
    pub at: Instant,
}

#[derive(Default)]
pub struct FakeDiscord {
    calls: Mutex<Vec<Call>>,
    next_id: AtomicU64,
    /// (method, path prefix, retry_after seconds): answer the next match with one 429.
    rate_limit_next: Mutex<Option<(String, String, f64)>>,
    /// Answer the next call, whatever it is, with a global 429 of this many seconds.
    global_limit_next: Mutex<Option<f64>>,
    /// (guild, user) → the role ids the member holds.
    roles: Mutex<HashMap<(String, String), Vec<String>>>,
    /// What `GET /gateway` answers (a fake gateway's ws:// address).
    gateway_url: Mutex<Option<String>>,
    /// Threads started from messages: the thread's (= the message's) id → its channel.
    threads: Mutex<HashMap<String, String>>,
    /// Interactions acknowledged through their callback (a second callback is refused, 40060).
    acknowledged: Mutex<HashSet<String>>,
}

impl FakeDiscord {
    pub async fn start() -> (Arc<Self>, String) {
        let fake = Arc::new(Self {
            next_id: AtomicU64::new(900_000),
            ..Default::default()
        });
        let f = fake.clone();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let f = f.clone();
                async move { f.answer(method, uri, headers, body) }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, url)
    }

    /// Points `GET /gateway` at a gateway (`gateway::FakeGateway::url`).
    pub fn set_gateway_url(&self, url: &str) {
        *self.gateway_url.lock().unwrap() = Some(url.to_string());
    }

    pub fn rate_limit_next(&self, method: &str, path_prefix: &str, retry_after: f64) {
        *self.rate_limit_next.lock().unwrap() =
            Some((method.into(), path_prefix.into(), retry_after));
    }

    /// The next call of any route gets a global 429 (`"global": true`, `X-RateLimit-Global`).
    pub fn rate_limit_globally_next(&self, retry_after: f64) {
        *self.global_limit_next.lock().unwrap() = Some(retry_after);
    }

    /// Gives a member roles, as if someone had given them before Warden.
    pub fn set_member_roles(&self, guild: &str, user: &str, roles: &[&str]) {
        self.roles.lock().unwrap().insert(
            (guild.into(), user.into()),
            roles.iter().map(|r| r.to_string()).collect(),
        );
    }

    pub fn member_roles(&self, guild: &str, user: &str) -> Vec<String> {
        self.roles
            .lock()
            .unwrap()
            .get(&(guild.to_string(), user.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// Calls whose method matches and whose path starts with `prefix`.
    pub fn find(&self, method: &str, prefix: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path.starts_with(prefix))
            .collect()
    }

    fn id(&self) -> String {
        self.next_id.fetch_add(1, Ordering::SeqCst).to_string()
    }

    fn answer(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let path = uri
            .path()
            .strip_prefix("/api/v10")
            .unwrap_or(uri.path())
            .to_string();
        let json: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        let mut call = Call {
            method: method.to_string(),
            path: path.clone(),
            body: json.clone(),
            audit_reason: headers
                .get("x-audit-log-reason")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            authorized: headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some("Bot test-bot-token"),
            status: 200,
            reply: serde_json::Value::Null,
            at: Instant::now(),
        };
        let global = self.global_limit_next.lock().unwrap().take();
        let limited = {
            let mut rl = self.rate_limit_next.lock().unwrap();
            match rl.as_ref() {
                Some((m, p, after)) if *m == call.method && path.starts_with(p.as_str()) => {
                    let after = *after;
                    *rl = None;
                    Some(after)
                }
                _ => None,
            }
        };
        let (status, reply) = if let Some(after) = global {
            (
                StatusCode::TOO_MANY_REQUESTS,
                serde_json::json!({ "message": "You are being rate limited.", "retry_after": after, "global": true }),
            )
        } else if let Some(after) = limited {
            (
                StatusCode::TOO_MANY_REQUESTS,
                serde_json::json!({ "message": "You are being rate limited.", "retry_after": after, "global": false }),
            )
        } else {
            self.route(&call.method, &path, &json)
        };
        call.status = status.as_u16();
        call.reply = reply.clone();
        self.calls.lock().unwrap().push(call);
        if status == StatusCode::NO_CONTENT {
            return status.into_response();
        }
        let mut resp = (status, axum::Json(reply)).into_response();
        let h = resp.headers_mut();
        if path.starts_with("/channels/") && path.contains("/messages") {
            h.insert("x-ratelimit-bucket", MESSAGES_BUCKET.parse().unwrap());
            h.insert("x-ratelimit-limit", "5".parse().unwrap());
            h.insert("x-ratelimit-remaining", "4".parse().unwrap());
            h.insert("x-ratelimit-reset-after", "0.5".parse().unwrap());
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            h.insert("retry-after", "1".parse().unwrap());
            if global.is_some() {
                h.insert("x-ratelimit-global", "true".parse().unwrap());
                h.insert("x-ratelimit-scope", "global".parse().unwrap());
            } else {
                h.insert("x-ratelimit-scope", "user".parse().unwrap());
            }
        }
        resp
    }

    fn route(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            ("POST", ["users", "@me", "channels"]) => {
                let recipient = body["recipient_id"].as_str().unwrap_or("0");
                (
                    StatusCode::OK,
                    serde_json::json!({ "id": dm_channel(recipient), "type": 1 }),
                )
            }
            ("POST", ["channels", ch, "messages"]) => (
                StatusCode::OK,
                serde_json::json!({ "id": self.id(), "channel_id": ch }),
            ),
            ("PATCH", ["channels", ch, "messages", id]) => (
                StatusCode::OK,
                serde_json::json!({ "id": id, "channel_id": ch }),
            ),
            // A thread started from a message has the message's id; a message has one thread.
            ("POST", ["channels", ch, "messages", id, "threads"]) => {
                let mut threads = self.threads.lock().unwrap();
                if threads.insert(id.to_string(), ch.to_string()).is_some() {
                    return (
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({ "message": "A thread has already been created for this message", "code": 160004 }),
                    );
                }
                (
                    StatusCode::CREATED,
                    serde_json::json!({ "id": id, "parent_id": ch, "type": 11 }),
                )
            }
            ("POST", ["interactions", id, _, "callback"]) => {
                if !self.acknowledged.lock().unwrap().insert(id.to_string()) {
                    return (
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({ "message": "Interaction has already been acknowledged.", "code": 40060 }),
                    );
                }
                (StatusCode::NO_CONTENT, serde_json::Value::Null)
            }
            // A thread Warden started, or else a plain text channel of the guild.
            ("GET", ["channels", id]) => {
                let channel = match self.threads.lock().unwrap().get(*id) {
                    Some(parent) => {
                        serde_json::json!({ "id": id, "type": 11, "guild_id": interactions::GUILD, "parent_id": parent, "name": "Access request" })
                    }
                    None => {
                        serde_json::json!({ "id": id, "type": 0, "guild_id": interactions::GUILD, "name": "access-requests" })
                    }
                };
                (StatusCode::OK, channel)
            }
            ("GET", ["gateway"]) | ("GET", ["gateway", "bot"]) => {
                match self.gateway_url.lock().unwrap().clone() {
                    Some(url) => (
                        StatusCode::OK,
                        serde_json::json!({ "url": url, "shards": 1, "session_start_limit": { "total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1 } }),
                    ),
                    None => (
                        StatusCode::NOT_FOUND,
                        serde_json::json!({ "message": "404: Not Found", "code": 0 }),
                    ),
                }
            }
            ("PUT" | "DELETE", ["guilds", guild, "members", user, "roles", role]) => {
                let mut all = self.roles.lock().unwrap();
                let held = all
                    .entry((guild.to_string(), user.to_string()))
                    .or_default();
                held.retain(|r| r != role);
                if method == "PUT" {
                    held.push(role.to_string());
                }
                (StatusCode::NO_CONTENT, serde_json::Value::Null)
            }
            ("GET", ["guilds", _, "members", user]) => {
                let roles = self.member_roles(parts[1], user);
                (
                    StatusCode::OK,
                    serde_json::json!({ "user": { "id": user, "username": format!("user{user}") }, "roles": roles, "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0 }),
                )
            }
            ("POST", ["webhooks", _, _]) => {
                (StatusCode::OK, serde_json::json!({ "id": self.id() }))
            }
            ("PATCH", ["webhooks", _, _, "messages", "@original"]) => {
                (StatusCode::OK, serde_json::json!({ "id": self.id() }))
            }
            ("PUT", ["applications", ..]) => (StatusCode::OK, body.clone()),
            _ => (
                StatusCode::NOT_FOUND,
                serde_json::json!({ "message": "404: Not Found", "code": 0 }),
            ),
        }
    }
}

/// The DM channel the fake opens with a user.
pub fn dm_channel(user_id: &str) -> String {
    format!("77{user_id}")
}
