//! A fake OpenAI-compatible server over real HTTP: answers from a script, records every call.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One scripted reply.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self {
            status: 200,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One call the server received.
#[derive(Clone, Debug)]
pub struct Call {
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Call {
    /// The user (turn) prompt of a chat completion call.
    pub fn user_prompt(&self) -> String {
        self.message("user")
    }

    pub fn system_prompt(&self) -> String {
        self.message("system")
    }

    fn message(&self, role: &str) -> String {
        self.body["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["role"] == role)
            .filter_map(|m| m["content"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Clone, Default)]
struct State {
    script: Arc<Mutex<VecDeque<Reply>>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

pub struct FakeModel {
    pub addr: SocketAddr,
    state: State,
}

impl FakeModel {
    pub async fn start() -> Self {
        let state = State::default();
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake model");
        let addr = listener.local_addr().expect("fake model address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    /// The base URL to configure as `llm.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn push(&self, reply: Reply) {
        self.state.script.lock().unwrap().push_back(reply);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }
}

async fn handle(
    axum::extract::State(state): axum::extract::State<State>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.calls.lock().unwrap().push(Call {
        uri: uri.to_string(),
        headers,
        body,
    });
    let reply = state.script.lock().unwrap().pop_front();
    let Some(reply) = reply else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no scripted reply").into_response();
    };
    tokio::time::sleep(reply.delay).await;
    let mut response = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (name, value) in reply.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A chat completion whose message content is `content`.
pub fn completion(content: &str) -> Value {
    envelope(json!({ "role": "assistant", "content": content }), "stop")
}

/// A chat completion that calls `name` with `arguments`.
pub fn tool_call(name: &str, arguments: &str) -> Value {
    let message = json!({ "role": "assistant", "content": null, "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": name, "arguments": arguments } }] });
    envelope(message, "tool_calls")
}

pub fn refusal(text: &str) -> Value {
    envelope(
        json!({ "role": "assistant", "content": null, "refusal": text }),
        "stop",
    )
}

fn envelope(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_790_000_000u32, "model": "test-model",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": { "prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540 }
    })
}

/// A full intent answer: the given fields over all-null defaults, as the strict schema requires.
pub fn intent(fields: Value) -> String {
    let mut base = json!({
        "action": "request", "resource": null, "role": null, "duration": null, "justification": null,
        "ticket": null, "request_id": null, "break_glass": false, "unclear": []
    });
    for (k, v) in fields.as_object().expect("fields object") {
        base[k] = v.clone();
    }
    base.to_string()
}
