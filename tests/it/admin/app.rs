//! The composed server with admin tokens, seeded through the engine by console users, and typed
//! HTTP helpers for the admin API and pages.

use crate::support::TestDb;
use crate::support::console::{Drive, EventIds};
use crate::support::server::TestServer;
use secrecy::SecretString;
use std::ops::Deref;
use std::sync::Arc;
use warden::admin::tokens::{Role, file_entry, generate};
use warden::chat::CardAction;
use warden::clock::ManualClock;
use warden::config::Settings;
use warden::domain::RequestState;
use warden::workflow::{Engine, Handled};

/// Bearer tokens by who holds them.
pub struct Tokens {
    /// Admin, standing for dana (an approver) so "waiting on me" has someone to wait on.
    pub admin: String,
    pub viewer: String,
    pub alice: String,
    pub bob: String,
}

/// A `TestServer` (which it derefs to) that admits these tokens.
pub struct TestApp {
    server: TestServer,
    pub clock: Arc<ManualClock>,
    pub tokens: Tokens,
    /// The `admin.tokens_file` the server reads.
    pub tokens_file: std::path::PathBuf,
    ids: EventIds,
    _dir: tempfile::TempDir,
}

impl Deref for TestApp {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl Drive for TestApp {
    fn engine(&self) -> &Arc<Engine> {
        self.server.engine()
    }

    fn ids(&self) -> &EventIds {
        &self.ids
    }
}

impl TestApp {
    /// On a fresh SQLite file.
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDb::sqlite()).await
    }

    pub async fn spawn_on(db: TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    /// On `db`, with the settings changed by `configure` before the server is built.
    pub async fn spawn_with(db: TestDb, configure: impl FnOnce(&mut Settings)) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        Self::spawn_on_listener(db, listener, configure).await
    }

    /// As `spawn_with`, serving on `listener` (its address known before `configure` runs).
    pub async fn spawn_on_listener(
        db: TestDb,
        listener: std::net::TcpListener,
        configure: impl FnOnce(&mut Settings),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut file = String::new();
        let mut token = |name: &str, role: Role, person: Option<&str>| {
            let (secret, hash) = generate();
            file.push_str(&file_entry(name, role, person, &hash));
            secret
        };
        let tokens = Tokens {
            admin: token("ops", Role::Admin, Some("dana")),
            viewer: token("auditor", Role::Viewer, None),
            alice: token("alice", Role::Requester, Some("alice")),
            bob: token("bob", Role::Requester, Some("bob")),
        };
        let tokens_path = dir.path().join("admin-tokens.toml");
        std::fs::write(&tokens_path, file).expect("tokens file");
        let mut s = Settings::default();
        s.database.max_connections = 4;
        s.admin.tokens_file = Some(tokens_path.clone());
        s.admin.session_secret = Some(SecretString::from("test-session-secret-0123456789"));
        configure(&mut s);
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        Self {
            server: TestServer::start_on(s, db, clock.clone(), listener).await,
            clock,
            tokens,
            tokens_file: tokens_path,
            ids: EventIds::default(),
            _dir: dir,
        }
    }

    /// Three requests through real flows: granted at once, granted after the manager's approval,
    /// denied by policy.
    pub async fn seed(&self) -> Seeded {
        let wiki = self
            .request(
                "alice",
                "need edit on the wiki for 2h to fix the onboarding page",
            )
            .await;
        let prod = self
            .request("alice", "need read on the prod billing db for 2h, INC-4411")
            .await;
        assert_eq!(
            self.click("dana", CardAction::Approve, &prod).await,
            Handled::Done
        );
        let denied = self
            .request(
                "bob",
                "/access request prod-db write for 1h because quick hotfix",
            )
            .await;
        assert_eq!(self.state(&wiki).await, RequestState::Active);
        assert_eq!(self.state(&prod).await, RequestState::Active);
        assert_eq!(self.state(&denied).await, RequestState::Denied);
        Seeded { wiki, prod, denied }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let rb = self.http.get(format!("{}{path}", self.base));
        match token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    pub async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
        let resp = self
            .get(path, Some(token))
            .send()
            .await
            .expect("request sent");
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("json")
    }

    /// Overwrites one stored entry's payload, as someone with database access might.
    pub async fn tamper(&self, request_id: &str, seq: i64) {
        sqlx::query("UPDATE context_log SET payload = $1 WHERE request_id = $2 AND seq = $3")
            .bind(r#"{"text":"nothing to see here"}"#)
            .bind(request_id)
            .bind(seq)
            .execute(self.store().pool())
            .await
            .expect("tamper");
    }
}

pub struct Seeded {
    pub wiki: String,
    pub prod: String,
    pub denied: String,
}
