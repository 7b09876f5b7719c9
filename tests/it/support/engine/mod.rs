//! A real engine without the HTTP server: on a throwaway database, with the console adapter, the
//! example catalog and directory, a manual clock, and a grant backend that counts.

pub mod doubles;

use super::TestDb;
use super::console::{Drive, EventIds};
use super::wait::{PATIENCE, wait_until};
use doubles::{CountingGrantor, MutableDirectory};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use warden::chat::CardAction;
use warden::chat::ChatPort;
use warden::chat::console::ConsoleChat;
use warden::clock::ManualClock;
use warden::directory::Directory;
use warden::domain::RequestState;
use warden::domain::{AgentRegistry, Catalog};
use warden::grants::{Grantor, GrantorRegistry};
use warden::intake::Intake;
use warden::metrics::Metrics;
use warden::policy::PolicyEngine;
use warden::store::Store;
use warden::workflow::{Engine, EngineParts, WorkflowOptions};

/// What a test changes about the engine; the rest is the example deployment.
pub struct Setup {
    pub catalog: Arc<Catalog>,
    pub policy: Arc<dyn PolicyEngine>,
    pub directory: Arc<dyn Directory>,
    pub intake: Arc<dyn Intake>,
    pub options: WorkflowOptions,
    pub metrics: Arc<Metrics>,
    /// Grant backends besides the counting one (registered under their own names).
    pub grantors: Vec<Arc<dyn Grantor>>,
    /// The agent registry (`ci-migrate` and `docs-bot` by default).
    pub agents: Arc<AgentRegistry>,
}

/// Two agents the engine-level tests make requests for, owned by example directory people.
const TEST_AGENTS: &str = r#"
[[agent]]
id = "ci-migrate"
name = "CI migrations"
owner = "carol"
max_concurrent_grants = 10
[agent.workload]
issuer = "https://issuer.test"
audience = "warden"
subject = "ci-migrate"
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]

[[agent]]
id = "docs-bot"
name = "Docs bot"
owner = "dana"
max_concurrent_grants = 10
[agent.workload]
issuer = "https://issuer.test"
audience = "warden"
subject = "docs-bot"
[[agent.ceiling]]
resource = "staging-db"
roles = ["read"]
[[agent.ceiling]]
resource = "wiki"
roles = ["edit"]
"#;

pub fn test_agents() -> Arc<AgentRegistry> {
    Arc::new(AgentRegistry::from_toml(TEST_AGENTS, &catalog()).expect("test agent registry"))
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            catalog: catalog(),
            policy: Arc::new(warden::policy::embedded::EmbeddedPolicy::shipped().unwrap()),
            directory: Arc::new(MutableDirectory::example()),
            intake: Arc::new(warden::intake::ParserIntake),
            options: WorkflowOptions::default(),
            metrics: Arc::new(Metrics::default()),
            grantors: Vec::new(),
            agents: test_agents(),
        }
    }
}

pub struct TestEngine {
    pub engine: Arc<Engine>,
    pub console: Arc<ConsoleChat>,
    pub clock: Arc<ManualClock>,
    pub grantor: Arc<CountingGrantor>,
    pub store: Store,
    pub db: TestDb,
    ids: EventIds,
}

/// The shipped policy with step-up off (`step_up_risks = []`), for tests about something else
/// on critical access; step-up has its own tests (admin::step_up).
pub fn policy_without_step_up() -> Arc<dyn PolicyEngine> {
    Arc::new(
        warden::policy::embedded::EmbeddedPolicy::shipped()
            .unwrap()
            .with_data(serde_json::from_str(NO_STEP_UP).unwrap())
            .unwrap(),
    )
}

/// `policy.data_file` with step-up off, for tests that run the whole server.
pub const NO_STEP_UP_FILE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/policy/no-step-up.json");
const NO_STEP_UP: &str = include_str!("../../../policy/no-step-up.json");

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
        let mut grantors = GrantorRegistry::default().with(grantor.clone());
        for g in setup.grantors {
            grantors.register(g);
        }
        let mut engine = Engine::new(EngineParts {
            store: store.clone(),
            catalog: setup.catalog,
            directory: setup.directory,
            policy: setup.policy,
            intake: setup.intake,
            grantors,
            chats: vec![console.clone() as Arc<dyn ChatPort>],
            clock: clock.clone(),
            options: setup.options,
            metrics: setup.metrics,
        });
        engine.set_agents(setup.agents);
        Self {
            engine: Arc::new(engine),
            console,
            clock,
            grantor,
            store,
            db,
            ids: EventIds::default(),
        }
    }

    pub fn grants(&self) -> usize {
        self.grantor.grants.load(Ordering::SeqCst)
    }

    pub fn revokes(&self) -> usize {
        self.grantor.revokes.load(Ordering::SeqCst)
    }

    /// `approver` approves `request` and the process dies before the grant call reaches the
    /// backend: the approval is committed, its grant job stays claimed by the dead worker.
    /// Grant calls hang from here on until the test clears `grantor.hang_grants`.
    pub async fn approve_then_die(&self, approver: &str, request: &str) {
        self.grantor.hang_grants.store(true, Ordering::SeqCst);
        let click = {
            let engine = self.engine.clone();
            let event = self.click_event(approver, CardAction::Approve, request, None);
            tokio::spawn(async move { engine.handle(event).await })
        };
        wait_until(PATIENCE, "the approval to commit", || async {
            self.state(request).await == RequestState::Approved
        })
        .await;
        click.abort();
        let _ = click.await;
    }

    /// Moves the clock on and runs the jobs that became due; returns how many ran.
    pub async fn advance(&self, minutes: i64) -> usize {
        self.clock.advance(chrono::Duration::minutes(minutes));
        self.engine.run_due_jobs().await.unwrap()
    }
}

impl Drive for TestEngine {
    fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn ids(&self) -> &EventIds {
        &self.ids
    }

    fn transcript(&self) -> String {
        self.console.text()
    }
}
