//! A running Warden (`Server::build` + `spawn_local`) with admin tokens, driven through the
//! engine with console events, and typed HTTP helpers.

use crate::support::TestDb;
use secrecy::SecretString;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use warden::admin::tokens::{Role, file_entry, generate};
use warden::app::Server;
use warden::chat::console::ConsoleChat;
use warden::chat::{CardAction, ChatEvent, EventKind};
use warden::clock::ManualClock;
use warden::config::Settings;
use warden::domain::{RequestId, RequestState};
use warden::server::AppState;
use warden::store::{RequestFilter, Store};
use warden::workflow::{Engine, Handled};

pub const CHANNEL: &str = "access-requests";

/// Bearer tokens by who holds them.
pub struct Tokens {
    /// Admin, standing for dana (an approver) so "waiting on me" has someone to wait on.
    pub admin: String,
    pub viewer: String,
    pub alice: String,
    pub bob: String,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub tokens: Tokens,
    pub http: reqwest::Client,
    pub db: TestDb,
    _dir: tempfile::TempDir,
    seq: AtomicUsize,
}

impl TestApp {
    /// On a fresh SQLite file.
    pub async fn spawn() -> Self {
        Self::spawn_on(TestDb::sqlite()).await
    }

    pub async fn spawn_on(db: TestDb) -> Self {
        warden::app::install_crypto();
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
        s.database.url = db.url().to_string();
        s.database.max_connections = 4;
        s.admin.tokens_file = Some(tokens_path);
        s.admin.session_secret = Some(SecretString::from("test-session-secret-0123456789"));
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let server = Server::build(&s, clock.clone())
            .await
            .expect("server builds");
        let (addr, state) = server.spawn_local().await.expect("server listens");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            base: format!("http://{addr}"),
            state,
            clock,
            tokens,
            http,
            db,
            _dir: dir,
            seq: AtomicUsize::new(1),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.state.engine
    }

    pub fn store(&self) -> &Store {
        self.state.engine.store()
    }

    fn next_id(&self) -> String {
        format!(
            "ev-{}-{}",
            uuid::Uuid::new_v4().simple(),
            self.seq.fetch_add(1, Ordering::SeqCst)
        )
    }

    pub async fn say(&self, user: &str, text: &str) -> Handled {
        let id = self.next_id();
        let ev = ChatEvent {
            id: id.clone(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Message {
                text: text.into(),
                message_id: id,
            },
        };
        self.engine().handle(ev).await.expect("event handled")
    }

    pub async fn click(&self, user: &str, action: CardAction, request: &str) -> Handled {
        let ev = ChatEvent {
            id: self.next_id(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Action {
                action,
                request_id: RequestId::parse(request).expect("request id"),
                reason: None,
            },
        };
        self.engine().handle(ev).await.expect("event handled")
    }

    pub async fn latest(&self, person: &str) -> String {
        let rows = self
            .store()
            .list_requests(&RequestFilter {
                requester_id: Some(person.into()),
                limit: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        rows.into_iter()
            .next()
            .map(|r| r.id.to_string())
            .unwrap_or_else(|| panic!("{person} has no request"))
    }

    /// Asks and submits; returns the request id.
    pub async fn request(&self, user: &str, text: &str) -> String {
        self.say(user, text).await;
        let id = self.latest(user).await;
        self.click(user, CardAction::Submit, &id).await;
        id
    }

    pub async fn state_of(&self, id: &str) -> RequestState {
        self.store().get_request(id).await.unwrap().unwrap().state
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
        assert_eq!(self.state_of(&wiki).await, RequestState::Active);
        assert_eq!(self.state_of(&prod).await, RequestState::Active);
        assert_eq!(self.state_of(&denied).await, RequestState::Denied);
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
