//! The engine killed at every step of a flow and restarted over the same database: each call
//! out of the engine (chat, directory, policy, grant backend) is a crash point. At each point the
//! process "dies" (the call never returns and the engine's task is dropped), a new engine starts,
//! the platform redelivers the event in flight, and the flow goes on. At the end the request is
//! consistent, each grant and revoke happened once per idempotency key, and nothing outlives its
//! expiry. The wrappers live here, in the test: production types carry no crash hooks.

use super::group_policy;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::CHANNEL;
use crate::support::engine::doubles::{CountingGrantor, MutableDirectory};
use async_trait::async_trait;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use warden::chat::console::ConsoleChat;
use warden::chat::{
    Card, CardAction, CardTarget, ChatError, ChatEvent, ChatPort, EventKind, MessageRef, Scope,
};
use warden::clock::ManualClock;
use warden::directory::{Directory, DirectoryError};
use warden::domain::{Person, Platform, PlatformUser, RequestState};
use warden::grants::{GrantCall, GrantError, GrantReceipt, Grantor, GrantorRegistry};
use warden::policy::{Decision, PolicyEngine, PolicyInput};
use warden::store::{ChainStatus, RequestFilter, Store};
use warden::workflow::{Engine, EngineParts, WorkflowOptions};

on_both_databases!(the_engine_killed_at_every_step_of_a_flow_ends_consistent_with_each_call_once,);

/// Counts calls out of the engine; the `crash_at`-th never returns.
#[derive(Default)]
struct CrashPoints {
    calls: AtomicUsize,
    /// 0: never crash.
    crash_at: AtomicUsize,
    crashed: Notify,
    seen: Mutex<Vec<String>>,
}

impl CrashPoints {
    async fn enter(&self, what: &str) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen.lock().unwrap().push(what.to_string());
        if n == self.crash_at.load(Ordering::SeqCst) {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

struct Chat(Arc<ConsoleChat>, Arc<CrashPoints>);

#[async_trait]
impl ChatPort for Chat {
    fn platform(&self) -> Platform {
        self.0.platform()
    }
    async fn send(&self, scope: &Scope, text: &str) -> Result<MessageRef, ChatError> {
        self.1.enter("chat.send").await;
        self.0.send(scope, text).await
    }
    async fn notify(&self, user: &PlatformUser, text: &str) -> Result<MessageRef, ChatError> {
        self.1.enter("chat.notify").await;
        self.0.notify(user, text).await
    }
    async fn post_card(&self, target: &CardTarget, card: &Card) -> Result<MessageRef, ChatError> {
        self.1.enter("chat.post_card").await;
        self.0.post_card(target, card).await
    }
    async fn update_card(&self, message: &MessageRef, card: &Card) -> Result<(), ChatError> {
        self.1.enter("chat.update_card").await;
        self.0.update_card(message, card).await
    }
    async fn ephemeral(
        &self,
        scope: &Scope,
        user: &PlatformUser,
        text: &str,
    ) -> Result<(), ChatError> {
        self.1.enter("chat.ephemeral").await;
        self.0.ephemeral(scope, user, text).await
    }
}

struct Backend(Arc<CountingGrantor>, Arc<CrashPoints>);

#[async_trait]
impl Grantor for Backend {
    fn name(&self) -> &str {
        self.0.name()
    }
    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.1.enter("backend.grant").await;
        self.0.grant(call).await
    }
    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.1.enter("backend.revoke").await;
        self.0.revoke(call).await
    }
}

struct People(Arc<MutableDirectory>, Arc<CrashPoints>);

#[async_trait]
impl Directory for People {
    async fn person_by_account(
        &self,
        account: &PlatformUser,
    ) -> Result<Option<Person>, DirectoryError> {
        self.1.enter("directory.person_by_account").await;
        self.0.person_by_account(account).await
    }
    async fn person(&self, id: &str) -> Result<Option<Person>, DirectoryError> {
        self.1.enter("directory.person").await;
        self.0.person(id).await
    }
    async fn group_members(&self, group: &str) -> Result<Vec<Person>, DirectoryError> {
        self.1.enter("directory.group_members").await;
        self.0.group_members(group).await
    }
}

struct Policy(Arc<dyn PolicyEngine>, Arc<CrashPoints>);

#[async_trait]
impl PolicyEngine for Policy {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    async fn decide(&self, input: &PolicyInput) -> Decision {
        self.1.enter("policy.decide").await;
        self.0.decide(input).await
    }
}

/// What outlives a "process": the database, the clock, the backend's record of calls.
struct World {
    db: TestDb,
    clock: Arc<ManualClock>,
    backend: Arc<CountingGrantor>,
    directory: Arc<MutableDirectory>,
    console: Arc<ConsoleChat>,
}

impl World {
    /// A fresh process: a new engine (new worker id) over the same database.
    async fn start(&self, points: &Arc<CrashPoints>) -> (Arc<Engine>, Store) {
        let store = Store::open(self.db.url(), 5).await.expect("store opens");
        let setup = group_policy(1);
        let engine = Engine::new(EngineParts {
            store: store.clone(),
            catalog: setup.catalog,
            directory: Arc::new(People(self.directory.clone(), points.clone())),
            policy: Arc::new(Policy(setup.policy, points.clone())),
            intake: setup.intake,
            grantors: GrantorRegistry::default()
                .with(Arc::new(Backend(self.backend.clone(), points.clone()))),
            chats: vec![Arc::new(Chat(self.console.clone(), points.clone())) as Arc<dyn ChatPort>],
            clock: self.clock.clone(),
            options: WorkflowOptions::default(),
            metrics: setup.metrics,
        });
        (Arc::new(engine), store)
    }
}

/// The flow: alice asks, submits, carol approves, the grant expires and is revoked.
#[derive(Clone, Copy, Debug)]
enum Step {
    Ask,
    Submit,
    Approve,
    Expire,
}

const STEPS: [Step; 4] = [Step::Ask, Step::Submit, Step::Approve, Step::Expire];

async fn alices_request(store: &Store) -> Option<String> {
    let rows = store
        .list_requests(&RequestFilter {
            requester_id: Some("alice".into()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    rows.first().map(|r| r.id.to_string())
}

fn event(id: &str, user: &str, kind: EventKind) -> ChatEvent {
    ChatEvent {
        id: id.into(),
        actor: ConsoleChat::user(user),
        scope: ConsoleChat::scope(CHANNEL),
        kind,
    }
}

fn click(id: &str, user: &str, action: CardAction, request: &str) -> ChatEvent {
    let request_id = warden::domain::RequestId::parse(request).expect("a request id");
    event(
        id,
        user,
        EventKind::Action {
            action,
            request_id,
            reason: None,
            items: vec![],
        },
    )
}

/// Runs one step to its end on `engine`. Events keep their ids across redeliveries.
async fn run(step: Step, engine: Arc<Engine>, store: Store, clock: Arc<ManualClock>) {
    match step {
        Step::Ask => {
            let text = "need read on staging db for 1h".into();
            let ev = event(
                "ev-ask",
                "alice",
                EventKind::Message {
                    text,
                    message_id: "m-ask".into(),
                },
            );
            engine.handle(ev).await.unwrap();
        }
        Step::Submit | Step::Approve => {
            let id = alices_request(&store).await.expect("the request exists");
            let (ev_id, user, action) = match step {
                Step::Submit => ("ev-submit", "alice", CardAction::Submit),
                _ => ("ev-approve", "carol", CardAction::Approve),
            };
            engine
                .handle(click(ev_id, user, action, &id))
                .await
                .unwrap();
        }
        Step::Expire => {
            clock.advance(chrono::Duration::minutes(61));
            engine.run_due_jobs().await.unwrap();
        }
    }
}

/// The whole flow with a crash at call `crash_at` (0: none); returns the calls made.
async fn flow(db: TestDb, crash_at: usize) -> Vec<String> {
    let world = World {
        db,
        clock: Arc::new(ManualClock::new(chrono::Utc::now())),
        backend: Arc::new(CountingGrantor::default()),
        directory: Arc::new(MutableDirectory::example()),
        console: Arc::new(ConsoleChat::new(false)),
    };
    let points = Arc::new(CrashPoints::default());
    points.crash_at.store(crash_at, Ordering::SeqCst);
    let (mut engine, mut store) = world.start(&points).await;
    let mut crashed = false;
    for step in STEPS {
        let task = tokio::spawn(run(
            step,
            engine.clone(),
            store.clone(),
            world.clock.clone(),
        ));
        let abort = task.abort_handle();
        tokio::select! {
            done = task => done.expect("the step ran"),
            _ = points.crashed.notified() => {
                // The process dies here: its task is dropped mid-call.
                abort.abort();
                crashed = true;
                drop(engine);
                let calm = Arc::new(CrashPoints::default());
                (engine, store) = world.start(&calm).await;
                // The dead worker's leases lapse; the new process recovers, then the platform
                // redelivers the event that was in flight.
                world.clock.advance(chrono::Duration::minutes(2));
                engine.recover().await.unwrap();
                run(step, engine.clone(), store.clone(), world.clock.clone()).await;
            }
        }
    }
    assert_eq!(
        crashed,
        crash_at > 0,
        "crash point {crash_at} was never reached"
    );
    // One more start-up after the flow: nothing is left to do twice.
    engine.recover().await.unwrap();

    let id = alices_request(&store).await.expect("the request exists");
    let req = store.get_request(&id).await.unwrap().unwrap();
    let at = format!(
        "crash point {crash_at} ({:?})",
        points.seen.lock().unwrap().last()
    );
    assert_eq!(
        req.state,
        RequestState::Expired,
        "{at}: {}",
        world.console.text()
    );
    let keys = world.backend.keys.lock().unwrap().clone();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        keys.len(),
        unique.len(),
        "{at}: a call repeated its key: {keys:?}"
    );
    assert_eq!(
        world.backend.grants.load(Ordering::SeqCst),
        1,
        "{at}: granted once"
    );
    assert_eq!(
        world.backend.revokes.load(Ordering::SeqCst),
        1,
        "{at}: revoked once"
    );
    assert!(
        store.active_grants(10).await.unwrap().is_empty(),
        "{at}: nothing outlives expiry"
    );
    assert!(
        matches!(
            store.verify_chain(&req.id).await.unwrap(),
            ChainStatus::Intact { .. }
        ),
        "{at}: the context log is intact"
    );
    points.seen.lock().unwrap().clone()
}

async fn the_engine_killed_at_every_step_of_a_flow_ends_consistent_with_each_call_once(db: TestDb) {
    let postgres = db.url().starts_with("postgres");
    let calls = flow(db, 0).await;
    assert!(calls.len() > 10, "{calls:?}");
    for crash_at in 1..=calls.len() {
        let db = if postgres {
            TestDb::postgres().await.expect("PostgreSQL is still there")
        } else {
            TestDb::sqlite()
        };
        flow(db, crash_at).await;
    }
    println!(
        "crash points covered: {} ({})",
        calls.len(),
        calls.join(", ")
    );
}
