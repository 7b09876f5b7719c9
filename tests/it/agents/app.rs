//! The composed server with agents registered, a fake OIDC issuer with real keys, the fake Slack
//! API for the owner's cards and a fake grant webhook that counts backend calls.

use super::auth::{AUDIENCE, SUBJECT, good_claims};
use crate::slack::app::{TestApp, cards_with_button};
use crate::support::TestDb;
use crate::support::fakes::oidc::{FakeIssuer, TestKey};
use crate::support::fakes::receiver::Receiver;
use crate::support::fakes::scripted::Reply;
use jsonwebtoken::Algorithm;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::ops::Deref;
use warden::config::Settings;

/// The second agent's workload subject.
pub const OTHER_SUBJECT: &str = "system:serviceaccount:reports:report-bot";

/// A catalog whose resources grant through the webhook, so every backend call is seen.
const CATALOG: &str = r#"
[[resource]]
id = "staging-db"
name = "Staging database"
roles = ["read", "write"]
owners = ["carol"]
risk = "low"
max_duration = "1d"
default_duration = "1h"
grant = { backend = "webhook" }

[[resource]]
id = "prod-billing-db"
name = "Production billing database"
roles = ["read", { name = "write", risk = "critical", max_duration = "2h" }]
owners = ["erin"]
risk = "high"
max_duration = "8h"
default_duration = "1h"
grant = { backend = "webhook" }

[[resource]]
id = "grafana"
name = "Grafana"
roles = ["viewer"]
owners = ["erin"]
risk = "low"
max_duration = "1w"
default_duration = "8h"
grant = { backend = "webhook" }
"#;

fn registry(issuer: &str) -> String {
    format!(
        r#"
[[agent]]
id = "ci-migrate"
name = "Billing migrations"
owner = "carol"
max_duration = "30m"
max_concurrent_grants = 2
[agent.workload]
issuer = "{issuer}"
audience = "{AUDIENCE}"
subject = "{SUBJECT}"
claims = {{ repository = "acme/billing", job_workflow_ref = "acme/billing/.github/workflows/migrate.yml@refs/heads/main", "kubernetes.io/namespace" = "ci" }}
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]
[[agent.ceiling]]
resource = "prod-billing-db"
roles = ["read", "write"]

[[agent]]
id = "report-bot"
name = "Report bot"
owner = "erin"
[agent.workload]
issuer = "{issuer}"
audience = "{AUDIENCE}"
subject = "{OTHER_SUBJECT}"
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]
"#
    )
}

/// A `TestApp` (the server and fake Slack) with agents, their issuer and the grant receiver.
pub struct AgentApp {
    app: TestApp,
    pub issuer: FakeIssuer,
    pub key: TestKey,
    pub grants: Receiver,
    _files: tempfile::TempDir,
}

impl Deref for AgentApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl AgentApp {
    pub async fn start(db: TestDb) -> Self {
        Self::start_with(db, |_| {}).await
    }

    /// The same with some settings changed (workflow timings).
    pub async fn start_with(
        db: TestDb,
        change: impl FnOnce(&mut Settings) + Send + 'static,
    ) -> Self {
        let key = TestKey::generate("rsa-1", Algorithm::RS256);
        let issuer = FakeIssuer::start(&[&key]).await;
        let grants = Receiver::start("/grants").await;
        grants.answer(Reply::ok(json!({ "ok": true })));
        let files = tempfile::tempdir().expect("temp dir");
        let catalog = files.path().join("catalog.toml");
        std::fs::write(&catalog, CATALOG).unwrap();
        let agents = files.path().join("agents.toml");
        std::fs::write(&agents, registry(&issuer.issuer())).unwrap();
        let webhook = grants.url();
        let app = TestApp::start_with(db, 0, move |s| {
            s.catalog.file = Some(catalog);
            s.agents.file = Some(agents);
            s.grants.webhook_url = Some(webhook);
            s.grants.webhook_secret = Some(SecretString::from("hook-secret"));
            change(s);
        })
        .await;
        Self {
            app,
            issuer,
            key,
            grants,
            _files: files,
        }
    }

    /// A valid token for ci-migrate.
    pub fn token(&self) -> String {
        self.key.sign(&good_claims(&self.issuer.issuer()))
    }

    /// A valid token for report-bot.
    pub fn other_token(&self) -> String {
        let mut c = good_claims(&self.issuer.issuer());
        c["sub"] = json!(OTHER_SUBJECT);
        self.key.sign(&c)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/agent{path}", self.base)
    }

    /// POSTs an ask with a token (and a key); returns the status and the JSON body.
    pub async fn create(&self, token: &str, ask: &Value, key: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.url("/requests"))
            .bearer_auth(token)
            .json(ask);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        read(req.send().await.expect("sent")).await
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        read(
            self.http
                .get(self.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("sent"),
        )
        .await
    }

    pub async fn post(&self, token: &str, path: &str) -> (u16, Value) {
        read(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .send()
                .await
                .expect("sent"),
        )
        .await
    }

    /// Backend calls the grant webhook received for one request, by operation.
    pub fn backend_calls(&self, request: &str, op: &str) -> usize {
        self.grants
            .calls()
            .iter()
            .filter(|c| c.body["request_id"] == request && c.body["op"] == op)
            .count()
    }

    /// The approval card posted for `request` (channel, ts), once it is there.
    pub async fn approval_card(&self, request: &str) -> (String, String) {
        self.wait_for("an approval card for the agent's request", |_| {
            cards_with_button(self, "approve")
                .iter()
                .any(|c| c.request_id == request)
        })
        .await;
        let c = cards_with_button(self, "approve")
            .into_iter()
            .find(|c| c.request_id == request)
            .unwrap();
        (c.channel, c.ts)
    }
}

async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// An ask for ci-migrate's read on the production billing database (high risk: owner approves).
pub fn prod_read() -> Value {
    json!({
        "resource": "prod-billing-db",
        "role": "read",
        "duration": "20m",
        "task": "run migration 42 dry-run checks",
        "ticket": "INC-42",
    })
}

/// A low-risk ask inside the ceiling: granted at once.
pub fn staging_read() -> Value {
    json!({ "resource": "staging-db", "role": "read", "duration": 600, "task": "seed staging" })
}
