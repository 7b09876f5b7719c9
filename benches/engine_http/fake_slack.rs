//! A small fake Slack Web API for the engine_http bench: answers like Slack, and notes the time
//! of each `chat.postMessage` that a waiting request cares about (a confirmation card, a grant).
//! Unlike the tests' fake it keeps no bodies, so waiting stays cheap with hundreds of waiters.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A confirmation card as posted: where, and for which request.
#[derive(Debug, Clone)]
pub struct Card {
    pub request_id: String,
    pub channel: String,
    pub ts: String,
    /// When the fake received the post.
    pub at: Instant,
}

#[derive(Debug, Clone)]
pub enum Seen {
    Confirmation(Card),
    /// "Access granted: …" told to the requester.
    Granted,
}

struct Inner {
    posts: Mutex<Vec<(String, Seen)>>,
    count: tokio::sync::watch::Sender<usize>,
    next_ts: AtomicU64,
}

#[derive(Clone)]
pub struct FakeSlack(Arc<Inner>);

impl FakeSlack {
    /// Starts on a random loopback port; returns the fake and its `slack.api_url`.
    pub async fn start() -> anyhow::Result<(Self, String)> {
        let fake = FakeSlack(Arc::new(Inner {
            posts: Mutex::default(),
            count: tokio::sync::watch::Sender::new(0),
            next_ts: AtomicU64::new(1_700_000_000),
        }));
        let app = axum::Router::new()
            .route("/api/{method}", axum::routing::post(call))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((fake, format!("http://{addr}/api")))
    }

    /// How many noted posts there are: a cursor for `wait`.
    pub fn seen(&self) -> usize {
        self.0.posts.lock().expect("posts").len()
    }

    /// The first post noted in `channel` after cursor `from`, waiting at most `wait`.
    pub async fn wait(&self, channel: &str, mut from: usize, wait: Duration) -> Option<Seen> {
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribed before looking, so a post between the look and the wait is not missed.
        let mut changed = self.0.count.subscribe();
        loop {
            {
                let posts = self.0.posts.lock().expect("posts");
                if let Some((_, seen)) = posts[from..].iter().find(|(c, _)| c == channel) {
                    return Some(seen.clone());
                }
                from = posts.len();
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    fn ts(&self) -> String {
        format!("{}.000100", self.0.next_ts.fetch_add(1, Ordering::Relaxed))
    }

    fn note(&self, channel: &str, seen: Seen) {
        self.0
            .posts
            .lock()
            .expect("posts")
            .push((channel.to_string(), seen));
        self.0.count.send_modify(|n| *n += 1);
    }

    fn answer(&self, method: &str, body: &Value) -> Value {
        match method {
            "chat.postMessage" => {
                let at = Instant::now();
                let ts = self.ts();
                let channel = body["channel"].as_str().unwrap_or_default();
                if let Some(request_id) = submit_button(body) {
                    let card = Card {
                        request_id,
                        channel: channel.to_string(),
                        ts: ts.clone(),
                        at,
                    };
                    self.note(channel, Seen::Confirmation(card));
                } else if body["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Access granted"))
                {
                    self.note(channel, Seen::Granted);
                }
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
            _ => json!({ "ok": false, "error": "unknown_method" }),
        }
    }
}

/// The request id on a card's Submit button, if the post has one.
fn submit_button(body: &Value) -> Option<String> {
    body["blocks"]
        .as_array()?
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().into_iter().flatten())
        .find(|e| e["action_id"] == "warden_submit")
        .and_then(|e| e["value"].as_str())
        .map(str::to_string)
}

async fn call(
    State(fake): State<FakeSlack>,
    Path(method): Path<String>,
    body: Bytes,
) -> Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Json(fake.answer(&method, &body))
}
