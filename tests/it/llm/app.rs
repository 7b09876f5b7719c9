//! The engine with the model intake pointed at a fake OpenAI-compatible server, and the shipped
//! policy wrapped so tests see exactly what reaches the policy port.

use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::doubles::RecordingPolicy;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::llm::FakeModel;
use secrecy::SecretString;
use std::ops::Deref;
use std::sync::Arc;
use warden::chat::CardAction;
use warden::config::LlmSettings;
use warden::intake::Prefer;
use warden::intake::llm::LlmIntake;
use warden::metrics::Metrics;
use warden::policy::PolicyInput;
use warden::store::RequestFilter;

pub const API_KEY: &str = "sk-test-4f9c2a77e1d0b3c5a6e8";

pub fn settings(fake: &FakeModel) -> LlmSettings {
    LlmSettings {
        base_url: Some(fake.base_url()),
        model: Some("test-model".into()),
        api_key: Some(SecretString::from(API_KEY.to_string())),
        timeout_secs: 5,
        max_retries: 2,
        max_retry_after_secs: 1,
        // These tests are about the model's reading; most of their messages the parser could
        // read alone, which the default (`parser`) would answer without the model.
        prefer: Prefer::Model,
        ..LlmSettings::default()
    }
}

/// A `TestEngine` on SQLite (which it derefs to) whose intake asks the fake model.
pub struct LlmTest {
    engine: TestEngine,
    pub fake: FakeModel,
    pub policy: Arc<RecordingPolicy>,
    pub metrics: Arc<Metrics>,
}

impl Deref for LlmTest {
    type Target = TestEngine;
    fn deref(&self) -> &TestEngine {
        &self.engine
    }
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
        let policy = Arc::new(RecordingPolicy::shipped());
        let setup = Setup {
            policy: policy.clone(),
            intake: Arc::new(intake),
            metrics: metrics.clone(),
            ..Setup::default()
        };
        Self {
            engine: TestEngine::start(TestDb::sqlite(), setup).await,
            fake,
            policy,
            metrics,
        }
    }

    /// A new message in the channel; returns the id of the request it opened.
    pub async fn say(&self, user: &str, text: &str) -> String {
        let before = self.request_ids(user).await;
        self.engine.say(user, text).await;
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

    pub async fn submit(&self, user: &str, request: &str) {
        self.engine.click(user, CardAction::Submit, request).await;
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
