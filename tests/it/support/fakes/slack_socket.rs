//! A fake Slack Socket Mode server over a real websocket, speaking the documented protocol:
//! `apps.connections.open` (answered by the fake Web API, `FakeSlack::set_socket_url`) gives
//! this server's address; each connection gets `hello`; `events_api`, `interactive` and
//! `slash_commands` envelopes carry an `envelope_id` the client acknowledges with
//! `{"envelope_id": …}` (and, for commands, a `payload`); `disconnect` (`refresh_requested`,
//! `warning`) asks the client to reconnect, and the old socket is closed soon after. As Slack
//! does, an envelope not acknowledged is delivered again (`retry_attempt` + 1) on the next
//! connection.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_tungstenite::tungstenite::Message;

enum Out {
    Text(String),
    Close,
}

/// One envelope as sent, and the client's acknowledgement once it came.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub envelope_id: String,
    pub kind: String,
    pub payload: Value,
    pub retry_attempt: u32,
    /// Connections it was written to, in order.
    pub sent_on: Vec<u32>,
    pub ack: Option<Value>,
}

#[derive(Default)]
struct State {
    /// Open connections that may carry envelopes, oldest first.
    open: Vec<(u32, UnboundedSender<Out>)>,
    connections: u32,
    hellos: u32,
    envelopes: Vec<Envelope>,
    /// The next acknowledgement is lost, and its connection closed with it.
    lose_next_ack: bool,
}

#[derive(Clone)]
pub struct FakeSocketMode {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeSocketMode {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/link/?ticket=fake", listener.local_addr().unwrap());
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

    /// What `apps.connections.open` answers with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connections made so far (each one opened after an `apps.connections.open`).
    pub fn connections(&self) -> u32 {
        self.state.lock().unwrap().connections
    }

    pub fn open_connections(&self) -> usize {
        self.state.lock().unwrap().open.len()
    }

    pub fn envelopes(&self) -> Vec<Envelope> {
        self.state.lock().unwrap().envelopes.clone()
    }

    /// The acknowledgement of an envelope, once the client sent it.
    pub fn ack(&self, envelope_id: &str) -> Option<Value> {
        self.envelopes()
            .into_iter()
            .find(|e| e.envelope_id == envelope_id)
            .and_then(|e| e.ack)
    }

    /// Sends an envelope on the newest open connection (or, with none, on the next one); its id.
    pub fn send(&self, kind: &str, payload: Value) -> String {
        let mut s = self.state.lock().unwrap();
        let envelope_id = format!("env-{:04}-{}", s.envelopes.len() + 1, uuid::Uuid::new_v4());
        s.envelopes.push(Envelope {
            envelope_id: envelope_id.clone(),
            kind: kind.to_string(),
            payload,
            retry_attempt: 0,
            sent_on: vec![],
            ack: None,
        });
        let last = s.envelopes.len() - 1;
        deliver(&mut s, last);
        envelope_id
    }

    /// Tells the newest connection to go (`refresh_requested`, `warning`…) and closes it a
    /// moment later, as Slack does; nothing more is sent on it.
    pub fn disconnect(&self, reason: &str) {
        let Some((_, tx)) = self.state.lock().unwrap().open.pop() else {
            return;
        };
        let frame = json!({ "type": "disconnect", "reason": reason, "debug_info": { "host": "applink-fake" } });
        let _ = tx.send(Out::Text(frame.to_string()));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = tx.send(Out::Close);
        });
    }

    /// Slack's retry of what was not acknowledged, due now (it also retries on a new connection).
    pub fn retry_unacked(&self) {
        retry_unacked(&mut self.state.lock().unwrap());
    }

    /// The next acknowledgement does not reach Slack: its connection closes as it arrives.
    pub fn lose_next_ack(&self) {
        self.state.lock().unwrap().lose_next_ack = true;
    }

    async fn serve(&self, tcp: tokio::net::TcpStream) {
        let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = unbounded_channel::<Out>();
        tokio::spawn(async move {
            while let Some(out) = rx.recv().await {
                let sent = match out {
                    Out::Text(t) => sink.send(Message::Text(t.into())).await,
                    Out::Close => {
                        let _ = sink.close().await;
                        break;
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        let id = {
            let mut s = self.state.lock().unwrap();
            s.connections += 1;
            s.hellos += 1;
            let id = s.connections;
            let hello = json!({
                "type": "hello", "num_connections": s.open.len() + 1,
                "debug_info": { "host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060 },
                "connection_info": { "app_id": "A0WARDEN" },
            });
            let _ = tx.send(Out::Text(hello.to_string()));
            s.open.push((id, tx.clone()));
            retry_unacked(&mut s);
            id
        };
        while let Some(Ok(msg)) = stream.next().await {
            let Message::Text(text) = msg else { continue };
            let Ok(ack) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let mut s = self.state.lock().unwrap();
            if std::mem::take(&mut s.lose_next_ack) {
                if let Some(pos) = s.open.iter().position(|(c, _)| *c == id) {
                    let (_, tx) = s.open.remove(pos);
                    let _ = tx.send(Out::Close);
                }
                continue;
            }
            if let Some(e) = s
                .envelopes
                .iter_mut()
                .find(|e| ack["envelope_id"] == e.envelope_id.as_str())
            {
                e.ack.get_or_insert(ack);
            }
        }
        self.state.lock().unwrap().open.retain(|(c, _)| *c != id);
    }
}

/// Sends every envelope not acknowledged again (`retry_attempt` + 1 if it was sent before).
fn retry_unacked(s: &mut State) {
    let unacked: Vec<usize> = (0..s.envelopes.len())
        .filter(|&i| s.envelopes[i].ack.is_none())
        .collect();
    for i in unacked {
        if !s.envelopes[i].sent_on.is_empty() {
            s.envelopes[i].retry_attempt += 1;
        }
        deliver(s, i);
    }
}

/// Writes envelope `i` to the newest open connection, if there is one.
fn deliver(s: &mut State, i: usize) {
    let Some((conn, tx)) = s.open.last() else {
        return;
    };
    let e = &s.envelopes[i];
    let frame = json!({
        "envelope_id": e.envelope_id, "type": e.kind, "payload": e.payload,
        "accepts_response_payload": e.kind == "slash_commands",
        "retry_attempt": e.retry_attempt, "retry_reason": if e.retry_attempt > 0 { "timeout" } else { "" },
    });
    if tx.send(Out::Text(frame.to_string())).is_ok() {
        let conn = *conn;
        s.envelopes[i].sent_on.push(conn);
    }
}
