//! A scripted HTTP fake on wiremock: it answers from a queue of replies, then with a standing
//! reply, and records every call together with the status it answered.

use axum::http::HeaderMap;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// One answer: status, headers, body, and how long to wait before sending it.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<(Vec<u8>, String)>,
    delay: Duration,
}

impl Reply {
    /// A status with no body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: None,
            delay: Duration::ZERO,
        }
    }

    /// 200 with a JSON body.
    pub fn ok(body: Value) -> Self {
        Self::json(200, body)
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self::raw(status, &body.to_string(), "application/json")
    }

    /// A status with a body sent as JSON, whether or not it parses.
    pub fn status(status: u16, body: &str) -> Self {
        Self::raw(status, body, "application/json")
    }

    pub fn raw(status: u16, body: &str, content_type: &str) -> Self {
        Self {
            body: Some((body.as_bytes().to_vec(), content_type.into())),
            ..Self::empty(status)
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

    fn template(&self) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(self.status).set_delay(self.delay);
        if let Some((body, content_type)) = &self.body {
            t = t.set_body_raw(body.clone(), content_type);
        }
        for (name, value) in &self.headers {
            t = t.insert_header(*name, value.as_str());
        }
        t
    }
}

/// One call the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    /// Path and query, as the server saw them.
    pub uri: String,
    pub headers: HeaderMap,
    /// The body exactly as sent.
    pub raw: Vec<u8>,
    /// The body as JSON; `Null` when it is not JSON.
    pub body: Value,
    /// The status the fake answered with.
    pub status: u16,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Computes a reply from the request body: a fake that behaves like its server, not a script.
pub type Behaviour = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

struct State {
    queue: VecDeque<Reply>,
    standing: Reply,
    behaviour: Option<Behaviour>,
    calls: Vec<Call>,
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let reply = match (state.queue.pop_front(), &state.behaviour) {
            (Some(r), _) => r,
            (None, Some(behave)) => behave(&body),
            (None, None) => state.standing.clone(),
        };
        let url = &request.url;
        state.calls.push(Call {
            uri: match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_string(),
            },
            headers: request.headers.clone(),
            raw: request.body.clone(),
            body,
            status: reply.status,
        });
        reply.template()
    }
}

pub struct Scripted {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl Scripted {
    /// Answers every request.
    pub async fn start(standing: Reply) -> Self {
        Self::mount(Mock::given(wiremock::matchers::any()), standing).await
    }

    /// Answers `verb path` only; anything else gets a 404 and is not recorded.
    pub async fn route(verb: &str, at: &str, standing: Reply) -> Self {
        Self::mount(Mock::given(method(verb)).and(path(at)), standing).await
    }

    async fn mount(mock: wiremock::MockBuilder, standing: Reply) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            queue: VecDeque::new(),
            standing,
            behaviour: None,
            calls: vec![],
        }));
        mock.respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// Also answers `verb path` with a fixed reply (not recorded): a second resource on the same
    /// server, such as a PDP's metadata document.
    pub async fn also(&self, verb: &str, at: &str, reply: Reply) {
        Mock::given(method(verb))
            .and(path(at))
            .respond_with(reply.template())
            .mount(&self.server)
            .await;
    }

    /// How many requests reached `path`, recorded or not.
    pub async fn hits(&self, at: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == at)
            .count()
    }

    /// The server's base URL, without a trailing slash.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Answers the next call that has no earlier reply queued.
    pub fn push(&self, reply: Reply) {
        self.state.lock().unwrap().queue.push_back(reply);
    }

    /// Computes the answer to every call after the queue is empty.
    pub fn behave(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = Some(behaviour);
    }

    /// Answers every call after the queue is empty.
    pub fn answer(&self, standing: Reply) {
        self.state.lock().unwrap().standing = standing;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }
}
