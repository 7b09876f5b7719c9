//! A real engine without the HTTP server: on a throwaway database, with the console adapter, the
//! example catalog and directory, a manual clock, and a grant backend that counts.

pub mod doubles;

use super::TestDb;
use super::console::{Drive, EventIds};
use doubles::{CountingGrantor, MutableDirectory};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use warden::chat::ChatPort;
use warden::chat::console::ConsoleChat;
use warden::clock::ManualClock;
use warden::directory::Directory;
use warden::domain::Catalog;
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
        let engine = Engine::new(EngineParts {
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
