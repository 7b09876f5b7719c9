//! Throwaway databases: a fresh SQLite file or PostgreSQL schema per test, the schema dropped
//! when the last handle to it goes.

use std::sync::Arc;
use tokio::runtime::{Handle, RuntimeFlavor};

/// Where the PostgreSQL tests run (`WARDEN_TEST_POSTGRES`, else the local default).
pub fn postgres_base() -> String {
    std::env::var("WARDEN_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// One test's database. Clones share it (a restarted engine, a second instance); the SQLite
/// directory is removed and the PostgreSQL schema dropped when the last clone goes.
#[derive(Clone)]
pub struct TestDb(Arc<Inner>);

enum Inner {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres(Schema),
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("warden.db").display());
        Self(Arc::new(Inner::Sqlite { url, _dir: dir }))
    }

    /// A fresh schema on the test PostgreSQL. In CI an unreachable server fails the test;
    /// elsewhere the test is skipped with a note.
    pub async fn postgres() -> Option<Self> {
        let base = postgres_base();
        match warden::store::fresh_postgres_schema(&base, "warden_test").await {
            Ok((url, name)) => Some(Self(Arc::new(Inner::Postgres(Schema { base, name, url })))),
            Err(e) if in_ci() => panic!("PostgreSQL is required in CI: {e:#}"),
            Err(e) => {
                eprintln!("skipping PostgreSQL test: {e:#}");
                None
            }
        }
    }

    /// The `database.url` to give the store or the server.
    pub fn url(&self) -> &str {
        match &*self.0 {
            Inner::Sqlite { url, .. } => url,
            Inner::Postgres(s) => &s.url,
        }
    }

    /// The PostgreSQL schema's name; `None` on SQLite.
    pub fn schema(&self) -> Option<&str> {
        match &*self.0 {
            Inner::Sqlite { .. } => None,
            Inner::Postgres(s) => Some(&s.name),
        }
    }
}

struct Schema {
    base: String,
    name: String,
    url: String,
}

impl Drop for Schema {
    /// Drops the schema on a thread of its own, so it works from any runtime (or none); on a
    /// multi-thread runtime the worker steps aside meanwhile so the server's tasks can finish.
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropping = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the schema on");
            // A transaction a stopped test left open must not hold the drop forever; and a
            // throwaway schema's drop need not wait for the WAL flush.
            let sep = if base.contains('?') { '&' } else { '?' };
            let base = format!(
                "{base}{sep}options=-c%20lock_timeout%3D5000%20-c%20synchronous_commit%3Doff"
            );
            rt.block_on(warden::store::drop_postgres_schema(&base, &name))
        });
        let multi_thread =
            Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        let joined = if multi_thread {
            tokio::task::block_in_place(|| dropping.join())
        } else {
            dropping.join()
        };
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop schema {}: {e:#}", self.name),
            Err(_) => eprintln!("dropping schema {} panicked", self.name),
        }
    }
}

/// Stack for a scenario's thread. A debug build keeps every temporary of an async fn in its poll
/// frame, and the engine runs a step's follow-up inline (commit → after_change → claimed job →
/// backend → a lazy TLS connect): that chain came within tens of KiB of the test thread's
/// default 2 MiB. Release frames are a fraction of that.
const SCENARIO_STACK: usize = 8 << 20;

/// What `#[tokio::test(flavor = "multi_thread", worker_threads = 2)]` does, on a thread with
/// `SCENARIO_STACK`; the scenario's panic is the test's.
pub fn on_roomy_runtime<F, Fut>(scenario: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    // Named as the test, so what the scenario notes (slow waits) says which test it was.
    let name = std::thread::current()
        .name()
        .unwrap_or("scenario")
        .to_string();
    let thread = std::thread::Builder::new()
        .name(name)
        .stack_size(SCENARIO_STACK)
        .spawn(move || {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime")
                .block_on(scenario())
        })
        .expect("scenario thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Runs each scenario (an `async fn(TestDb)` in scope) on SQLite and on PostgreSQL, as tests
/// `<scenario>::on_sqlite` and `<scenario>::on_postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[test]
            fn on_sqlite() {
                $crate::support::db::on_roomy_runtime(|| async {
                    super::$name($crate::support::TestDb::sqlite()).await
                })
            }
            #[test]
            fn on_postgres() {
                $crate::support::db::on_roomy_runtime(|| async {
                    if let Some(db) = $crate::support::TestDb::postgres().await {
                        super::$name(db).await
                    }
                })
            }
        }
    )* };
}

/// Runs each scenario (an `async fn(TestDb)` in scope) on SQLite only, as `<scenario>::on_sqlite`.
#[macro_export]
macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => { $(
        mod $name {
            #[test]
            fn on_sqlite() {
                $crate::support::db::on_roomy_runtime(|| async {
                    super::$name($crate::support::TestDb::sqlite()).await
                })
            }
        }
    )* };
}

#[cfg(test)]
mod tests {
    use super::TestDb;

    async fn schema_exists(name: &str) -> bool {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(&super::postgres_base())
            .await
            .expect("connect");
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = $1",
        )
        .bind(name)
        .fetch_one(&pool)
        .await
        .expect("count schemas");
        pool.close().await;
        n == 1
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_postgres_schema_is_dropped_with_its_last_handle() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let name = db.schema().expect("a schema").to_string();
        let store = warden::store::Store::open(db.url(), 2)
            .await
            .expect("store");
        let restarted = db.clone();
        drop(db);
        assert!(schema_exists(&name).await, "a clone still holds it");
        drop(restarted);
        assert!(!schema_exists(&name).await, "{name} was left behind");
        store.close().await;
    }

    #[tokio::test]
    async fn a_postgres_schema_is_dropped_from_a_current_thread_runtime_too() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        let name = db.schema().expect("a schema").to_string();
        drop(db);
        assert!(!schema_exists(&name).await, "{name} was left behind");
    }
}
