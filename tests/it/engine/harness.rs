//! Test harness: a real engine on a throwaway SQLite file or PostgreSQL schema, the console
//! adapter, the example catalog and directory, a manual clock, and a grant backend that counts.

use crate::support::TestDb;
use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use warden::chat::console::ConsoleChat;
use warden::chat::{CardAction, ChatEvent, ChatPort, EventKind};
use warden::clock::ManualClock;
use warden::directory::Directory;
use warden::directory::file::FileDirectory;
use warden::domain::{Catalog, Person, PlatformUser, RequestId, RequestState};
use warden::grants::{GrantCall, GrantError, GrantReceipt, Grantor, GrantorRegistry};
use warden::metrics::Metrics;
use warden::policy::PolicyEngine;
use warden::store::{RequestFilter, Store};
use warden::workflow::{Engine, EngineParts, Handled, WorkflowOptions};

pub const CHANNEL: &str = "access-requests";

/// A grant backend that records every call and can be told to fail.
#[derive(Default)]
pub struct CountingGrantor {
    pub grants: AtomicUsize,
    pub revokes: AtomicUsize,
    pub fail_revokes: AtomicUsize,
    /// A grant call that never returns: the process died before the call reached the backend.
    pub hang_grants: AtomicBool,
    pub keys: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Grantor for CountingGrantor {
    fn name(&self) -> &str {
        "log"
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        if self.hang_grants.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.grants.fetch_add(1, Ordering::SeqCst);
        self.keys.lock().unwrap().push(call.idempotency_key.clone());
        Ok(GrantReceipt {
            backend: "counting".into(),
            detail: serde_json::json!({}),
        })
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        if self.fail_revokes.load(Ordering::SeqCst) > 0 {
            self.fail_revokes.fetch_sub(1, Ordering::SeqCst);
            return Err(GrantError::Transient("backend down".into()));
        }
        self.revokes.fetch_add(1, Ordering::SeqCst);
        self.keys.lock().unwrap().push(call.idempotency_key.clone());
        Ok(GrantReceipt {
            backend: "counting".into(),
            detail: serde_json::json!({}),
        })
    }
}

/// A directory that tests can change while the engine runs (people leave, managers change).
pub struct MutableDirectory(pub std::sync::RwLock<FileDirectory>);

impl MutableDirectory {
    pub fn example() -> Self {
        Self(std::sync::RwLock::new(
            FileDirectory::from_toml(warden::app::EXAMPLE_DIRECTORY).unwrap(),
        ))
    }

    /// Marks a person inactive (left the company, removed from the directory).
    pub fn remove(&self, id: &str) {
        let mut d = self.0.write().unwrap();
        let people: Vec<Person> = d
            .people()
            .cloned()
            .map(|mut p| {
                if p.id == id {
                    p.active = false;
                }
                p
            })
            .collect();
        *d = FileDirectory::new(people).unwrap();
    }
}

#[async_trait]
impl Directory for MutableDirectory {
    async fn person_by_account(
        &self,
        account: &PlatformUser,
    ) -> Result<Option<Person>, warden::directory::DirectoryError> {
        let d = self.0.read().unwrap().clone();
        d.person_by_account(account).await
    }

    async fn person(&self, id: &str) -> Result<Option<Person>, warden::directory::DirectoryError> {
        let d = self.0.read().unwrap().clone();
        d.person(id).await
    }

    async fn group_members(
        &self,
        group: &str,
    ) -> Result<Vec<Person>, warden::directory::DirectoryError> {
        let d = self.0.read().unwrap().clone();
        d.group_members(group).await
    }
}

pub struct Setup {
    pub policy: Arc<dyn PolicyEngine>,
    pub directory: Arc<dyn Directory>,
    pub options: WorkflowOptions,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            policy: Arc::new(warden::policy::embedded::EmbeddedPolicy::shipped().unwrap()),
            directory: Arc::new(MutableDirectory::example()),
            options: WorkflowOptions::default(),
        }
    }
}

pub struct TestEngine {
    pub db: TestDb,
    pub engine: Arc<Engine>,
    pub console: Arc<ConsoleChat>,
    pub clock: Arc<ManualClock>,
    pub grantor: Arc<CountingGrantor>,
    pub store: Store,
    seq: AtomicUsize,
}

pub fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::from_toml(warden::app::EXAMPLE_CATALOG).unwrap())
}

impl TestEngine {
    pub async fn start(db: TestDb, setup: Setup) -> Self {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        Self::start_with(db, setup, clock, Arc::new(CountingGrantor::default())).await
    }

    /// Another engine over the same database (a restart, or a second instance).
    pub async fn restart(&self, setup: Setup) -> Self {
        Self::start_with(
            self.db.clone(),
            setup,
            self.clock.clone(),
            self.grantor.clone(),
        )
        .await
    }

    pub async fn start_with(
        db: TestDb,
        setup: Setup,
        clock: Arc<ManualClock>,
        grantor: Arc<CountingGrantor>,
    ) -> Self {
        warden::app::install_crypto();
        let store = Store::open(db.url(), 5).await.expect("store opens");
        let console = Arc::new(ConsoleChat::new(false));
        let engine = Engine::new(EngineParts {
            store: store.clone(),
            catalog: catalog(),
            directory: setup.directory,
            policy: setup.policy,
            intake: Arc::new(warden::intake::ParserIntake),
            grantors: GrantorRegistry::default().with(grantor.clone()),
            chats: vec![console.clone() as Arc<dyn ChatPort>],
            clock: clock.clone(),
            options: setup.options,
            metrics: Arc::new(Metrics::default()),
        });
        Self {
            db,
            engine: Arc::new(engine),
            console,
            clock,
            grantor,
            store,
            seq: AtomicUsize::new(1),
        }
    }

    fn next(&self) -> String {
        format!(
            "ev-{}-{}",
            uuid::Uuid::new_v4().simple(),
            self.seq.fetch_add(1, Ordering::SeqCst)
        )
    }

    pub async fn say(&self, user: &str, text: &str) -> Handled {
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
        self.engine.handle(ev).await.expect("event handled")
    }

    pub async fn reply(&self, user: &str, request: &str, text: &str) -> Handled {
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
        self.engine.handle(ev).await.expect("event handled")
    }

    pub fn click_event(
        &self,
        user: &str,
        action: CardAction,
        request: &str,
        reason: Option<&str>,
    ) -> ChatEvent {
        ChatEvent {
            id: self.next(),
            actor: ConsoleChat::user(user),
            scope: ConsoleChat::scope(CHANNEL),
            kind: EventKind::Action {
                action,
                request_id: RequestId::parse(request).unwrap(),
                reason: reason.map(str::to_string),
            },
        }
    }

    pub async fn click(&self, user: &str, action: CardAction, request: &str) -> Handled {
        self.engine
            .handle(self.click_event(user, action, request, None))
            .await
            .expect("event handled")
    }

    pub async fn click_with(
        &self,
        user: &str,
        action: CardAction,
        request: &str,
        reason: Option<&str>,
    ) -> Handled {
        self.engine
            .handle(self.click_event(user, action, request, reason))
            .await
            .expect("event handled")
    }

    /// Asks and submits: returns the request id.
    pub async fn request(&self, user: &str, text: &str) -> String {
        self.say(user, text).await;
        let id = self.latest(user).await;
        assert_eq!(
            self.state(&id).await,
            RequestState::AwaitingConfirmation,
            "{text}: {}",
            self.console.text()
        );
        self.click(user, CardAction::Submit, &id).await;
        id
    }

    pub async fn latest(&self, person: &str) -> String {
        let rows = self
            .store
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

    pub async fn row(&self, id: &str) -> warden::domain::Request {
        self.store.get_request(id).await.unwrap().unwrap()
    }

    pub async fn state(&self, id: &str) -> RequestState {
        self.row(id).await.state
    }

    pub fn grants(&self) -> usize {
        self.grantor.grants.load(Ordering::SeqCst)
    }

    pub fn revokes(&self) -> usize {
        self.grantor.revokes.load(Ordering::SeqCst)
    }

    pub async fn advance(&self, minutes: i64) -> usize {
        self.clock.advance(chrono::Duration::minutes(minutes));
        self.engine.run_due_jobs().await.unwrap()
    }
}
