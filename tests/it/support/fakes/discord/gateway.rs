//! A fake Discord gateway over a real websocket, speaking the documented protocol: Hello with a
//! heartbeat interval, Identify → READY (`session_id`, `resume_gateway_url`), Heartbeat →
//! Heartbeat ACK, numbered dispatches (`s`), a connection closed with 4000 (resumable), and
//! Resume with the last `seq` → the dispatches after it replayed, then RESUMED. Dispatches sent
//! while no client is connected wait for the resume, as Discord keeps them for the session. A
//! connection can be made a zombie: its heartbeats are no longer acknowledged.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The bot's own user id in READY.
pub const BOT_USER: &str = super::interactions::BOT;
pub const HEARTBEAT_MS: u64 = 1_000;

enum Out {
    Text(String),
    Close(u16, &'static str),
}

/// What the client did, as the gateway saw it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub connections: u32,
    /// The tokens sent with each Identify.
    pub identifies: Vec<String>,
    /// The `seq` sent with each Resume.
    pub resumes: Vec<u64>,
    pub heartbeats: u32,
    pub heartbeat_acks: u32,
    /// Dispatches written to a connection (replays included), by event name.
    pub delivered: Vec<(u64, String)>,
}

#[derive(Default)]
struct State {
    /// The writer of the connection that is open now.
    conn: Option<(u32, UnboundedSender<Out>)>,
    session: Option<String>,
    seq: u64,
    /// Every dispatch of the session, for replay on resume.
    history: Vec<(u64, String, Value)>,
    /// Replay from this seq at the next resume instead of the client's (a redelivery).
    replay_from: Option<u64>,
    /// Heartbeats on this connection go unacknowledged (a zombied connection).
    zombie: Option<u32>,
    seen: Seen,
}

#[derive(Clone)]
pub struct FakeGateway {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeGateway {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let fake = Self {
            url,
            state: Arc::default(),
        };
        let f = fake.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let f = f.clone();
                tokio::spawn(async move { f.serve(tcp).await });
            }
        });
        fake
    }

    /// The address `GET /gateway` answers with.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn seen(&self) -> Seen {
        self.state.lock().unwrap().seen.clone()
    }

    /// Whether a client is connected and its session is ready for dispatches.
    pub fn ready(&self) -> bool {
        let s = self.state.lock().unwrap();
        s.conn.is_some() && s.session.is_some()
    }

    /// Sends a dispatch now (or, with no client connected, keeps it for the resume); its seq.
    pub fn dispatch(&self, event: &str, data: Value) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.seq += 1;
        let seq = s.seq;
        s.history.push((seq, event.to_string(), data.clone()));
        if let Some((_, tx)) = &s.conn
            && tx.send(Out::Text(frame(seq, event, &data))).is_ok()
        {
            s.seen.delivered.push((seq, event.to_string()));
        }
        seq
    }

    /// Closes the connection with 4000 ("unknown error; reconnect"), which lets a client resume.
    pub fn drop_connection(&self) {
        if let Some((_, tx)) = self.state.lock().unwrap().conn.take() {
            let _ = tx.send(Out::Close(4000, "Unknown error"));
        }
    }

    /// From now on the open connection's heartbeats get no ACK, as on a zombied connection.
    pub fn stop_acking_heartbeats(&self) {
        let mut s = self.state.lock().unwrap();
        s.zombie = s.conn.as_ref().map(|(id, _)| *id);
    }

    /// At the next resume, replays from `seq` on, whatever the client says it saw: a redelivery.
    pub fn replay_next_resume_from(&self, seq: u64) {
        self.state.lock().unwrap().replay_from = Some(seq);
    }

    async fn serve(&self, tcp: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = unbounded_channel::<Out>();
        let id = {
            let mut s = self.state.lock().unwrap();
            s.seen.connections += 1;
            let id = s.seen.connections;
            s.conn = Some((id, tx.clone()));
            id
        };
        tokio::spawn(async move {
            while let Some(out) = rx.recv().await {
                let sent = match out {
                    Out::Text(t) => sink.send(Message::Text(t.into())).await,
                    Out::Close(code, reason) => {
                        let close = CloseFrame {
                            code: CloseCode::from(code),
                            reason: reason.into(),
                        };
                        let _ = sink.send(Message::Close(Some(close))).await;
                        break;
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        let hello =
            json!({ "op": 10, "d": { "heartbeat_interval": HEARTBEAT_MS }, "s": null, "t": null });
        let _ = tx.send(Out::Text(hello.to_string()));
        while let Some(Ok(msg)) = stream.next().await {
            let Message::Text(text) = msg else { continue };
            let Ok(payload) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            self.on_payload(id, &tx, &payload);
        }
        let mut s = self.state.lock().unwrap();
        if s.conn.as_ref().is_some_and(|(c, _)| *c == id) {
            s.conn = None;
        }
    }

    fn on_payload(&self, conn: u32, tx: &UnboundedSender<Out>, p: &Value) {
        let mut s = self.state.lock().unwrap();
        match p["op"].as_u64() {
            Some(1) => {
                s.seen.heartbeats += 1;
                if s.zombie != Some(conn)
                    && tx.send(Out::Text(json!({ "op": 11 }).to_string())).is_ok()
                {
                    s.seen.heartbeat_acks += 1;
                }
            }
            Some(2) => {
                let token = p["d"]["token"].as_str().unwrap_or_default().to_string();
                s.seen.identifies.push(token);
                // A new session: its own numbering and history.
                let session = format!("session-{}", s.seen.identifies.len());
                s.session = Some(session.clone());
                s.history.clear();
                s.seq = 1;
                let ready = ready(&session, &self.url);
                s.history.push((1, "READY".into(), ready.clone()));
                s.seen.delivered.push((1, "READY".into()));
                let _ = tx.send(Out::Text(frame(1, "READY", &ready)));
            }
            Some(6) => {
                let seq = p["d"]["seq"].as_u64().unwrap_or(0);
                s.seen.resumes.push(seq);
                if p["d"]["session_id"].as_str() != s.session.as_deref() {
                    // Invalid Session, not resumable: the client identifies again.
                    let _ = tx.send(Out::Text(json!({ "op": 9, "d": false }).to_string()));
                    return;
                }
                let from = s.replay_from.take().unwrap_or(seq);
                let replay: Vec<_> = s
                    .history
                    .iter()
                    .filter(|(n, _, _)| *n > from)
                    .cloned()
                    .collect();
                for (n, event, data) in replay {
                    if tx.send(Out::Text(frame(n, &event, &data))).is_ok() {
                        s.seen.delivered.push((n, event));
                    }
                }
                s.seq += 1;
                let n = s.seq;
                let _ = tx.send(Out::Text(frame(n, "RESUMED", &json!({}))));
                s.history.push((n, "RESUMED".into(), json!({})));
            }
            _ => {}
        }
    }
}

fn frame(seq: u64, event: &str, data: &Value) -> String {
    json!({ "op": 0, "s": seq, "t": event, "d": data }).to_string()
}

fn ready(session: &str, url: &str) -> Value {
    json!({
        "v": 10,
        "user": { "id": BOT_USER, "username": "warden", "discriminator": "0", "global_name": null, "avatar": null, "bot": true, "verified": true, "mfa_enabled": false, "flags": 0 },
        "guilds": [],
        "session_id": session,
        "resume_gateway_url": url,
        "shard": [0, 1],
        "application": { "id": super::interactions::APP_ID, "flags": 0 },
    })
}

/// A MESSAGE_CREATE as the gateway sends it; `guild` is `None` for a DM.
pub fn message_create(
    id: &str,
    author: &str,
    channel: &str,
    guild: Option<&str>,
    content: &str,
) -> Value {
    let mentions: Vec<Value> = if content.contains(&format!("<@{BOT_USER}>")) {
        vec![
            json!({ "id": BOT_USER, "username": "warden", "discriminator": "0", "avatar": null, "bot": true }),
        ]
    } else {
        vec![]
    };
    let mut m = json!({
        "id": id, "channel_id": channel, "type": 0, "content": content, "tts": false,
        "author": { "id": author, "username": format!("user{author}"), "discriminator": "0", "global_name": null, "avatar": null },
        "timestamp": "2026-12-01T00:00:00.000000+00:00", "edited_timestamp": null,
        "mention_everyone": false, "mentions": mentions, "mention_roles": [], "attachments": [],
        "embeds": [], "pinned": false, "flags": 0, "components": [],
    });
    if let Some(g) = guild {
        m["guild_id"] = json!(g);
        m["member"] = json!({ "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0 });
    }
    m
}
