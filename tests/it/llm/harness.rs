//! A real engine on a throwaway SQLite file with the model intake pointed at a fake server, and
//! the shipped policy wrapped so tests see exactly what reaches the policy port.

use crate::support::TestDb;
use crate::support::fakes::llm::FakeModel;
use async_trait::async_trait;
use secrecy::SecretString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use warden::chat::console::ConsoleChat;
use warden::chat::{CardAction, ChatEvent, ChatPort, EventKind};
use warden::clock::ManualClock;
use warden::config::LlmSettings;
use warden::directory::file::FileDirectory;
use warden::domain::{Catalog, RequestId, RequestState};
use warden::grants::GrantorRegistry;
use warden::grants::log::LogGrantor;
use warden::intake::llm::LlmIntake;
use warden::metrics::Metrics;
use warden::policy::embedded::EmbeddedPolicy;
use warden::policy::{Decision, PolicyEngine, PolicyInput};
use warden::store::{RequestFilter, Store};
use warden::workflow::{Engine, EngineParts, WorkflowOptions};

pub const CHANNEL: &str = "access-requests";
pub const API_KEY: &str = "sk-test-4f9c2a77e1d0b3c5a6e8";

/// The shipped policy, recording every input it is asked about.
pub struct RecordingPolicy {
    inner: EmbeddedPolicy,
    pub inputs: Mutex<Vec<PolicyInput>>,
}

#[async_trait]
impl PolicyEngine for RecordingPolicy {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn decide(&self, input: &PolicyInput) -> Decision {
        self.inputs.lock().unwrap().push(input.clone());
        self.inner.decide(input).await
    }
}

pub fn settings(fake: &FakeModel) -> LlmSettings {
    LlmSettings {
        base_url: Some(fake.base_url()),
        model: Some("test-model".into()),
        api_key: Some(SecretString::from(API_KEY.to_string())),
        timeout_secs: 5,
        max_retries: 2,
        max_retry_after_secs: 1,
        ..LlmSettings::default()
    }
}

pub struct LlmTest {
    pub fake: FakeModel,
    pub engine: Arc<Engine>,
    pub console: Arc<ConsoleChat>,
    pub policy: Arc<RecordingPolicy>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    _db: TestDb,
    seq: AtomicUsize,
}

impl LlmTest {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts with the default test settings changed by `tweak`.
    pub async fn start_with(tweak: impl FnOnce(&mut LlmSettings)) -> Self {
        warden::app::install_crypto();
        let fake = FakeModel::start().await;
        let mut s = settings(&fake);
        tweak(&mut s);
        let metrics = Arc::new(Metrics::default());
        let intake = LlmIntake::from_settings(&s, metrics.clone()).expect("model intake builds");
        let db = TestDb::sqlite();
        let store = Store::open(db.url(), 5).await.expect("store opens");
        let policy = Arc::new(RecordingPolicy {
            inner: EmbeddedPolicy::shipped().expect("shipped policy"),
            inputs: Mutex::new(vec![]),
        });
        let console = Arc::new(ConsoleChat::new(false));
        let engine = Engine::new(EngineParts {
            store: store.clone(),
            catalog: Arc::new(
                Catalog::from_toml(warden::app::EXAMPLE_CATALOG).expect("example catalog"),
            ),
            directory: Arc::new(
                FileDirectory::from_toml(warden::app::EXAMPLE_DIRECTORY)
                    .expect("example directory"),
            ),
            policy: policy.clone(),
            intake: Arc::new(intake),
            grantors: GrantorRegistry::default().with(Arc::new(LogGrantor)),
            chats: vec![console.clone() as Arc<dyn ChatPort>],
            clock: Arc::new(ManualClock::new(chrono::Utc::now())),
            options: WorkflowOptions::default(),
            metrics: metrics.clone(),
        });
        Self {
            fake,
            engine: Arc::new(engine),
            console,
            policy,
            store,
            metrics,
            _db: db,
            seq: AtomicUsize::new(1),
        }
    }

    fn next(&self) -> String {
        format!("ev-{}", self.seq.fetch_add(1, Ordering::SeqCst))
    }

    /// A new message in the channel; returns the id of the request it opened.
    pub async fn say(&self, user: &str, text: &str) -> String {
        let before = self.request_ids(user).await;
        let id = self.next();
        let ev = ChatEvent {
            id: id.clone(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Message {
                text: text.into(),
                message_id: id,
            },
        };
        self.engine.handle(ev).await.expect("event handled");
        // The manual clock stands still, so "newest" is the one that was not there before.
        self.request_ids(user)
            .await
            .into_iter()
            .find(|id| !before.contains(id))
            .expect("a request was opened")
    }

    async fn request_ids(&self, user: &str) -> Vec<String> {
        let filter = RequestFilter {
            requester_id: Some(user.into()),
            limit: 1000,
            ..Default::default()
        };
        self.store
            .list_requests(&filter)
            .await
            .expect("list requests")
            .into_iter()
            .map(|r| r.id.to_string())
            .collect()
    }

    /// A reply in a request's own thread.
    pub async fn reply(&self, user: &str, request: &str, text: &str) {
        let id = self.next();
        let mut scope = ConsoleChat::scope(CHANNEL);
        scope.thread = Some(request.to_string());
        let ev = ChatEvent {
            id: id.clone(),
            actor: ConsoleChat::user(user),
            scope,
            kind: EventKind::Message {
                text: text.into(),
                message_id: id,
            },
        };
        self.engine.handle(ev).await.expect("event handled");
    }

    pub async fn submit(&self, user: &str, request: &str) {
        let ev = ChatEvent {
            id: self.next(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Action {
                action: CardAction::Submit,
                request_id: RequestId::parse(request).expect("request id"),
                reason: None,
            },
        };
        self.engine.handle(ev).await.expect("event handled");
    }

    pub async fn state(&self, id: &str) -> RequestState {
        self.store
            .get_request(id)
            .await
            .expect("read request")
            .expect("request exists")
            .state
    }

    /// Everything that reached the policy port so far.
    pub fn policy_inputs(&self) -> Vec<PolicyInput> {
        self.policy.inputs.lock().unwrap().clone()
    }

    /// The intake traces logged for a request, oldest first.
    pub async fn traces(&self, id: &str) -> Vec<serde_json::Value> {
        let entries = self.store.log_entries(id).await.expect("log entries");
        entries
            .into_iter()
            .filter(|e| e.kind == "intake_run")
            .filter_map(|e| e.payload.and_then(|p| p.get("trace").cloned()))
            .collect()
    }

    /// The whole context log of a request as one string, for "never appears" checks.
    pub async fn log_text(&self, id: &str) -> String {
        let entries = self.store.log_entries(id).await.expect("log entries");
        entries
            .into_iter()
            .filter_map(|e| e.payload)
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
