//! Reads: one way to run a query and decode its rows, served on SQLite by rusqlite connections
//! on the calling thread and on PostgreSQL by the sqlx pool.
//!
//! Why SQLite reads run inline: a read of a few pages in WAL mode takes microseconds and never
//! waits for the writer (readers see the last commit, the writer never blocks them), while
//! sqlx's SQLite driver hands every statement to a worker thread and every row back, two or
//! more context switches per read that cost more CPU than the read itself (`warden bench`'s
//! profile in docs/architecture.md). A read that must wait, on a cold page cache or a WAL
//! recovery, holds its runtime thread for that long; the embedded default's database is small.

use super::Store;
use super::codec::{Val, bind_all};
use anyhow::Context;
use rusqlite::{Connection, OpenFlags, types::Null};
use sqlx::any::AnyRow;
use std::sync::{Mutex, PoisonError};

/// Idle reader connections kept for reuse; more are opened under load and closed after.
const IDLE_READERS: usize = 8;

/// A result row, from either backend. Decoders take it and name the columns they read.
pub(crate) enum Row<'a> {
    Any(&'a AnyRow),
    Sqlite(&'a rusqlite::Row<'a>),
}

/// A value a column decodes to.
pub(crate) trait Get: Sized {
    fn get(row: &Row<'_>, column: &str) -> anyhow::Result<Self>;
}

impl Get for Option<i64> {
    fn get(row: &Row<'_>, column: &str) -> anyhow::Result<Self> {
        Ok(match row {
            Row::Any(r) => sqlx::Row::try_get(*r, column)?,
            Row::Sqlite(r) => r.get(column)?,
        })
    }
}

impl Get for Option<String> {
    fn get(row: &Row<'_>, column: &str) -> anyhow::Result<Self> {
        Ok(match row {
            Row::Any(r) => sqlx::Row::try_get(*r, column)?,
            Row::Sqlite(r) => r.get(column)?,
        })
    }
}

impl Get for i64 {
    fn get(row: &Row<'_>, column: &str) -> anyhow::Result<Self> {
        Option::<i64>::get(row, column)?.context("is NULL")
    }
}

impl Get for String {
    fn get(row: &Row<'_>, column: &str) -> anyhow::Result<Self> {
        Option::<String>::get(row, column)?.context("is NULL")
    }
}

impl Get for bool {
    /// Booleans are stored as 0/1 (the `Any` driver's common ground).
    fn get(row: &Row<'_>, column: &str) -> anyhow::Result<Self> {
        match i64::get(row, column)? {
            0 => Ok(false),
            1 => Ok(true),
            n => anyhow::bail!("{n} is not 0 or 1"),
        }
    }
}

impl Row<'_> {
    /// The value of `column`; an error names the column.
    pub fn get<T: Get>(&self, column: &str) -> anyhow::Result<T> {
        T::get(self, column).with_context(|| format!("column '{column}' does not decode"))
    }
}

/// What every SQLite connection Warden opens is set to, through rusqlite or sqlx. WAL with
/// synchronous=NORMAL: a commit survives a crash of Warden; after a power loss the last
/// commits before the last checkpoint may be lost (docs/architecture.md).
pub(super) const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;";

/// Opens a connection on the database file with the pragmas every Warden connection uses.
pub(super) fn open_sqlite(path: &str, flags: OpenFlags) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("Failed to open the SQLite database {path}"))?;
    conn.execute_batch(SQLITE_PRAGMAS)
        .context("Failed to configure a SQLite connection")?;
    Ok(conn)
}

/// Binds `$1`, `$2`, … by name (a statement may leave some out, as a shared value list does).
pub(super) fn bind_sqlite(stmt: &mut rusqlite::Statement<'_>, vals: &[Val]) -> anyhow::Result<()> {
    for (i, v) in vals.iter().enumerate() {
        let Some(at) = stmt.parameter_index(&format!("${}", i + 1))? else {
            continue;
        };
        match v {
            Val::Text(Some(t)) => stmt.raw_bind_parameter(at, t)?,
            Val::Int(Some(n)) => stmt.raw_bind_parameter(at, n)?,
            Val::Text(None) | Val::Int(None) => stmt.raw_bind_parameter(at, Null)?,
        }
    }
    Ok(())
}

/// SQLite's read connections: taken for one read, put back after.
pub(crate) struct SqliteReaders {
    path: String,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReaders {
    pub fn new(path: String) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn read<T>(
        &self,
        sql: &str,
        vals: &[Val],
        decode: impl Fn(&Row<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(c) => c,
            None => {
                let c = open_sqlite(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                // Reads only: a write through here would bypass the writer's ordering.
                c.execute_batch("PRAGMA query_only = ON;")?;
                c.set_prepared_statement_cache_capacity(64);
                c
            }
        };
        let out = query(&conn, sql, vals, decode);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

fn query<T>(
    conn: &Connection,
    sql: &str,
    vals: &[Val],
    decode: impl Fn(&Row<'_>) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    let mut stmt = conn
        .prepare_cached(sql)
        .with_context(|| format!("Failed to prepare: {sql}"))?;
    bind_sqlite(&mut stmt, vals)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(&Row::Sqlite(row))?);
    }
    Ok(out)
}

impl Store {
    /// Runs a read and decodes every row; counted as one statement.
    pub(crate) async fn read<T>(
        &self,
        sql: &str,
        vals: &[Val],
        decode: impl Fn(&Row<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        self.count_statement();
        tracing::trace!(sql, "read");
        match &self.readers {
            Some(readers) => readers.read(sql, vals, decode),
            None => {
                let rows = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), vals.iter().cloned())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|r| decode(&Row::Any(r))).collect()
            }
        }
    }

    /// The first row a read returns, if any (the query says which is first).
    pub(crate) async fn read_opt<T>(
        &self,
        sql: &str,
        vals: &[Val],
        decode: impl Fn(&Row<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        Ok(self.read(sql, vals, decode).await?.into_iter().next())
    }

    /// The one row a read must return (an aggregate such as `COUNT(*)`).
    pub(crate) async fn read_one<T>(
        &self,
        sql: &str,
        vals: &[Val],
        decode: impl Fn(&Row<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.read_opt(sql, vals, decode)
            .await?
            .context("the query returned no row")
    }
}
