//! The store: SQLite (embedded default) or PostgreSQL (several instances), one set of queries.
//!
//! The queries serve both through sqlx's `Any` driver and, on SQLite's hot paths, rusqlite, so
//! values are kept to what both carry: TEXT, BIGINT (times in epoch milliseconds, booleans as 0/1). A request changes only
//! through [`Store::commit`]: one transaction guarded by the request's state and chain head
//! (compare-and-set). On SQLite every write goes through one writer connection (SQLite has one
//! writer at a time; queueing in the pool beats its busy-wait back-off), and reads run on
//! rusqlite connections of their own on the calling thread (`read`).

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

mod agent_activity;
mod agent_credentials;
mod card_items;
mod chain;
mod change;
mod codec;
mod drift;
mod freeze_step_up;
mod freezes;
mod holds;
mod home_viewers;
mod housekeeping;
mod inbox;
mod jobs;
mod leases;
pub mod log;
mod passkeys;
mod plan;
pub mod policy_records;
mod read;
mod requests;
mod retention;
mod sessions;
mod sqlite_writer;
mod sso;
mod step_up;
mod verify;

pub use crate::domain::LogKind;
pub use agent_activity::AgentActivity;
pub use card_items::CardItemRow;
pub use chain::{ChainKey, MIN_KEY_BYTES, Scheme};
pub use change::{Change, Committed, JobClaim, Schedule, UnfinishedLimit};
pub use codec::CodecError;
pub use freezes::Frozen;
pub use holds::{AccessHold, HoldOp};
pub use home_viewers::HomeViewer;
pub use housekeeping::Pruned;
pub use inbox::InboxItem;
pub use jobs::{ClaimedJob, JobView};
pub use log::{ChainStatus, LogEntry};
pub use passkeys::{CeremonyKind, PasskeyListing, StoredPasskey};
pub use requests::RequestFilter;
pub use sessions::{AdminSession, SsoIdentity};
pub use sso::PendingLogin;
use std::sync::atomic::{AtomicU64, Ordering};
pub use verify::ChainHeadRow;

/// How long a pooled connection may sit idle and still be used without a ping first.
const PING_WHEN_IDLE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "database.url must start with sqlite: or postgres:// (got a URL with another scheme)"
            )
        }
    }
}

#[derive(Clone)]
pub struct Store {
    /// Reads (and, on PostgreSQL, writes).
    pool: AnyPool,
    /// Writes: on SQLite a pool of exactly one connection, so writers queue in order.
    writer: AnyPool,
    backend: Backend,
    stats: Arc<Counters>,
    /// SQLite only: the thread every write goes through (see `sqlite_writer`).
    sqlite_writer: Option<sqlite_writer::SqliteWriter>,
    /// SQLite only: the connections reads run on, inline (see `read`).
    readers: Option<Arc<read::SqliteReaders>>,
    /// Keys new context-log entries and verifies keyed ones; never written to the database.
    chain_key: Option<ChainKey>,
}

/// Statements and commits issued, for `warden bench` and `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    statements: AtomicU64,
    commits: AtomicU64,
    transactions: AtomicU64,
}

/// Statements and commits the store has issued since it was opened (`warden bench` divides them
/// by the flows it ran). Counted where a connection is handed to a query and where a write is
/// made durable, so a new query site is counted without anyone remembering to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub statements: u64,
    /// Writes made durable, each all-or-nothing.
    pub commits: u64,
    /// Database transactions they took: fewer than commits where SQLite's writer groups them.
    pub transactions: u64,
}

impl StoreStats {
    /// What happened between `earlier` and this snapshot.
    pub fn since(self, earlier: StoreStats) -> StoreStats {
        StoreStats {
            statements: self.statements.saturating_sub(earlier.statements),
            commits: self.commits.saturating_sub(earlier.commits),
            transactions: self.transactions.saturating_sub(earlier.transactions),
        }
    }
}

/// A transaction on the store. Dropped without `commit`, it rolls back.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    stats: Arc<Counters>,
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connects without migrating.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let opts = sqlx::any::AnyConnectOptions::from_str(&url)
            .context("database.url is not a valid database URL")?;
        let options = |n: u32| {
            // A connection is pinged before use only after it sat idle (a server restart or a
            // dropped idle link is what a ping finds); sqlx's default pings at every acquire,
            // a round trip (on SQLite a worker-thread hand-off) before every read and commit.
            // A connection that breaks while busy fails its statement, which fails closed.
            let mut o = AnyPoolOptions::new()
                .max_connections(n.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_WHEN_IDLE {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                });
            if backend == Backend::Sqlite {
                // WAL with synchronous=NORMAL: a commit survives a crash of Warden; after a power
                // loss the last commits before the last checkpoint may be lost (docs/architecture.md).
                // No memory map: in WAL mode a reader drops its whole mapping (munmap, a TLB
                // shootdown on every core) at each read that follows a commit, which under a
                // steady stream of writes is every read; plain reads of the few pages are cheaper.
                o = o.after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(read::SQLITE_PRAGMAS).await?;
                        Ok(())
                    })
                });
            }
            o
        };
        let pool = options(max_connections)
            .connect_with(opts.clone())
            .await
            .context("Failed to connect to the database")?;
        let writer = match backend {
            Backend::Sqlite => options(1)
                .connect_with(opts)
                .await
                .context("Failed to connect to the database")?,
            Backend::Postgres => pool.clone(),
        };
        let (sqlite_writer, readers) = match backend {
            Backend::Sqlite => {
                let file = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                    .context("database.url is not a valid SQLite URL")?
                    .get_filename()
                    .to_string_lossy()
                    .into_owned();
                (
                    Some(sqlite_writer::SqliteWriter::open(&file)?),
                    Some(Arc::new(read::SqliteReaders::new(file))),
                )
            }
            Backend::Postgres => (None, None),
        };
        Ok(Self {
            pool,
            writer,
            backend,
            stats: Arc::default(),
            sqlite_writer,
            readers,
            chain_key: None,
        })
    }

    /// New log entries are chained with HMAC-SHA256 under `key` (unkeyed SHA-256 without one),
    /// and keyed entries are verified with it.
    pub fn with_chain_key(mut self, key: Option<ChainKey>) -> Self {
        self.chain_key = key;
        self
    }

    /// The chain key, also for checks made outside the store (anchor MACs).
    pub fn chain_key(&self) -> Option<&ChainKey> {
        self.chain_key.as_ref()
    }

    /// Runs one planned write: on SQLite's writer thread, or in a PostgreSQL transaction
    /// (one statement alone needs none).
    pub(crate) async fn run_plan(&self, plan: Vec<plan::Stmt>) -> anyhow::Result<plan::Applied> {
        let single = plan.len() == 1;
        self.write_plan(plan, single).await
    }

    /// [`Store::run_plan`] for a plan whose statements write no row twice (the caller knows
    /// from what it planned): on PostgreSQL one statement, not a transaction (`plan::fold`).
    pub(crate) async fn run_independent(
        &self,
        plan: Vec<plan::Stmt>,
    ) -> anyhow::Result<plan::Applied> {
        self.write_plan(plan, true).await
    }

    async fn write_plan(
        &self,
        plan: Vec<plan::Stmt>,
        independent: bool,
    ) -> anyhow::Result<plan::Applied> {
        for s in &plan {
            tracing::trace!(sql = s.sql, "write");
        }
        if let Some(w) = &self.sqlite_writer {
            self.stats
                .statements
                .fetch_add(plan.len() as u64, Ordering::Relaxed);
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            return w.write(plan).await;
        }
        if let Some(folded) = independent.then(|| plan::fold(&plan)).flatten() {
            self.stats.statements.fetch_add(1, Ordering::Relaxed);
            self.stats.commits.fetch_add(1, Ordering::Relaxed);
            self.stats.transactions.fetch_add(1, Ordering::Relaxed);
            return plan::run_folded(&self.writer, folded).await;
        }
        let mut tx = self.begin().await?;
        let applied = plan::run_in_tx(&mut tx, plan).await?;
        if matches!(applied, plan::Applied::Done(_)) {
            tx.commit().await?;
        }
        Ok(applied)
    }

    /// Connects and applies migrations: what `serve`, `demo` and tests use.
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let store = Self::connect(url, max_connections).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator
            .run(&self.pool)
            .await
            .context("Failed to apply database migrations")?;
        Ok(())
    }

    /// Database reachable and every shipped migration applied.
    pub async fn ready(&self) -> anyhow::Result<()> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = true")
                .fetch_one(&self.pool)
                .await
                .context("Failed to read applied migrations")?;
        let shipped = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.iter().count(),
            Backend::Postgres => POSTGRES_MIGRATOR.iter().count(),
        } as i64;
        anyhow::ensure!(
            applied >= shipped,
            "{applied} of {shipped} migrations applied"
        );
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The read pool, for tests and tools that inspect the database directly.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool a streamed read runs on; counted. Other reads go through [`Store::read`].
    pub(crate) fn db(&self) -> &AnyPool {
        self.count_statement();
        &self.pool
    }

    fn count_statement(&self) {
        self.stats.statements.fetch_add(1, Ordering::Relaxed);
    }

    /// The pool a single-statement write (its own commit) runs on; counted.
    pub(crate) fn write(&self) -> &AnyPool {
        self.stats.statements.fetch_add(1, Ordering::Relaxed);
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        &self.writer
    }

    /// Statements and commits issued so far by this store (and its clones).
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            statements: self.stats.statements.load(Ordering::Relaxed),
            commits: self.stats.commits.load(Ordering::Relaxed),
            transactions: self.stats.transactions.load(Ordering::Relaxed)
                + self.sqlite_writer.as_ref().map_or(0, |w| w.transactions()),
        }
    }

    pub async fn begin(&self) -> anyhow::Result<Tx> {
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
        .context("Failed to begin a transaction")?;
        Ok(Tx {
            tx,
            backend: self.backend,
            stats: self.stats.clone(),
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Whether an inbound delivery was already handled (a click that lost a race asks this).
    pub async fn seen_delivery(&self, event_id: &str) -> anyhow::Result<bool> {
        let n: i64 = self
            .read_one(
                "SELECT COUNT(*) AS n FROM processed_events WHERE id = $1",
                &[codec::Val::text(event_id)],
                |r| r.get("n"),
            )
            .await
            .context("Failed to read inbound deliveries")?;
        Ok(n > 0)
    }
}

impl Tx {
    pub async fn commit(self) -> anyhow::Result<()> {
        self.stats.commits.fetch_add(1, Ordering::Relaxed);
        self.stats.transactions.fetch_add(1, Ordering::Relaxed);
        self.tx.commit().await.context("Failed to commit")
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection a statement in this transaction runs on; counted.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.stats.statements.fetch_add(1, Ordering::Relaxed);
        &mut self.tx
    }
}

/// Creates a fresh PostgreSQL schema and returns a URL whose connections use it: isolated
/// databases for tests and benchmarks on a shared server.
pub async fn fresh_postgres_schema(
    base_url: &str,
    prefix: &str,
) -> anyhow::Result<(String, String)> {
    install_default_drivers();
    let schema = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await
        .context("Failed to connect to PostgreSQL")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await?;
    pool.close().await;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok((
        format!("{base_url}{sep}options=-c%20search_path%3D{schema}"),
        schema,
    ))
}

/// Drops a schema made by `fresh_postgres_schema`.
pub async fn drop_postgres_schema(base_url: &str, schema: &str) -> anyhow::Result<()> {
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&pool)
    .await?;
    pool.close().await;
    Ok(())
}
