//! The store: sqlx over SQLite (embedded default) or PostgreSQL (several instances).
//!
//! One set of queries serves both through sqlx's `Any` driver, so values are kept to what it
//! carries: TEXT, BIGINT (times in epoch milliseconds, booleans as 0/1). Every state change is a
//! transaction guarded by the current state (compare-and-set); on SQLite transactions start with
//! `BEGIN IMMEDIATE` so a transaction that reads before it writes never deadlocks.

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

mod jobs;
pub mod log;
mod requests;

pub use jobs::{Job, NewJob};
pub use log::{ChainStatus, LogEntry, LogKind, NewLogEntry};
pub use requests::{
    ApprovalRow, CardRow, GrantRow, NewRequest, RequestChanges, RequestFilter, RequestRow,
};

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
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time. Queuing writers here, in order, beats SQLite's
    /// busy-wait back-off (which sleeps up to 100 ms per retry) by a wide margin at p99.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
    counters: Arc<Counters>,
}

/// Statements and commits the store has issued since it was opened (`warden bench` divides them
/// by the flows it ran). Counted where a connection is handed to a query and where a write is
/// made durable, so a new query site is counted without anyone remembering to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub statements: u64,
    pub commits: u64,
}

impl StoreStats {
    /// What happened between `earlier` and this snapshot.
    pub fn since(self, earlier: StoreStats) -> StoreStats {
        StoreStats {
            statements: self.statements.saturating_sub(earlier.statements),
            commits: self.commits.saturating_sub(earlier.commits),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    statements: AtomicU64,
    commits: AtomicU64,
}

/// A transaction on the store. Dropped without `commit`, it rolls back.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    backend: Backend,
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    counters: Arc<Counters>,
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
        let mut pool = AnyPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool = pool.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA mmap_size = 268435456; PRAGMA temp_store = MEMORY;")
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = pool
            .connect_with(opts)
            .await
            .context("Failed to connect to the database")?;
        let write_gate =
            (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self {
            pool,
            backend,
            write_gate,
            counters: Arc::default(),
        })
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
                .fetch_one(self.db())
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

    /// The raw pool, for admin queries outside the store; these are not counted in `stats`.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Statements and commits issued so far.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            statements: self.counters.statements.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
        }
    }

    /// The pool, for one statement outside a transaction: every store query site takes it here.
    fn db(&self) -> &AnyPool {
        self.counters.statements.fetch_add(1, Ordering::Relaxed);
        &self.pool
    }

    /// Held while a single-statement write runs outside a transaction (SQLite only).
    async fn gate(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.write_gate {
            Some(g) => Some(g.clone().lock_owned().await),
            None => None,
        }
    }

    /// Taken by a single-statement write outside a transaction: it holds the SQLite write gate,
    /// and the write commits on its own, so it counts as a commit.
    async fn autocommit(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.gate().await
    }

    pub async fn begin(&self) -> anyhow::Result<Tx> {
        let gate = self.gate().await;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .context("Failed to begin a transaction")?;
        Ok(Tx {
            tx,
            backend: self.backend,
            _gate: gate,
            counters: self.counters.clone(),
        })
    }

    /// Records the thread a request lives in, once (the first card of a slash command).
    pub async fn set_thread(&self, id: &str, thread: &str) -> anyhow::Result<()> {
        let _gate = self.autocommit().await;
        sqlx::query("UPDATE requests SET thread = $1 WHERE id = $2 AND thread IS NULL")
            .bind(thread)
            .bind(id)
            .execute(self.db())
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records an inbound delivery; false if it was seen before (across restarts and instances).
    pub async fn first_delivery(&self, event_id: &str, now_ms: i64) -> anyhow::Result<bool> {
        let _gate = self.autocommit().await;
        let done = sqlx::query("INSERT INTO processed_events (id, received_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
            .bind(event_id)
            .bind(now_ms)
            .execute(self.db())
            .await
            .context("Failed to record an inbound delivery")?;
        Ok(done.rows_affected() == 1)
    }
}

impl Tx {
    pub async fn commit(self) -> anyhow::Result<()> {
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.tx.commit().await.context("Failed to commit")
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The transaction's connection, for one statement: every query in a transaction takes it here.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        self.counters.statements.fetch_add(1, Ordering::Relaxed);
        &mut self.tx
    }
}

/// Booleans travel as 0/1 through the Any driver.
pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
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
