//! SQLite's one writer: a thread with its own connection runs each planned write whole, and the
//! writes waiting at that moment in one transaction (group commit), answering each only after
//! the COMMIT. A write never holds SQLite's lock across round trips to an async task, which is
//! what bounded throughput when every statement hopped through sqlx's worker.

use super::plan::{Applied, Stmt, verdict};
use super::read::{bind_sqlite, open_sqlite};
use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// How many waiting writes one transaction takes at most.
const GROUP: usize = 128;

struct Write {
    plan: Vec<Stmt>,
    reply: oneshot::Sender<anyhow::Result<Applied>>,
}

/// A handle to the writer thread; cloned freely, the thread ends when the last handle drops.
#[derive(Clone)]
pub(crate) struct SqliteWriter {
    tx: mpsc::UnboundedSender<Write>,
    /// Transactions committed (each holding one or more writes).
    transactions: Arc<AtomicU64>,
}

impl SqliteWriter {
    /// Opens the writer's connection on the database file and starts its thread.
    pub fn open(path: &str) -> anyhow::Result<Self> {
        let conn = open_sqlite(path, OpenFlags::default())?;
        // A commit's statements vary in shape (the columns it changes, how many log rows and
        // jobs): room for all of them, so none is parsed again after the first time.
        conn.set_prepared_statement_cache_capacity(256);
        let (tx, rx) = mpsc::unbounded_channel();
        let transactions = Arc::new(AtomicU64::new(0));
        let counted = transactions.clone();
        std::thread::Builder::new()
            .name("warden-sqlite-writer".into())
            .spawn(move || run(conn, rx, &counted))
            .context("Failed to start the SQLite writer")?;
        Ok(Self { tx, transactions })
    }

    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Runs a plan as one write; answers once it is durable (or rolled back).
    pub async fn write(&self, plan: Vec<Stmt>) -> anyhow::Result<Applied> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Write { plan, reply })
            .map_err(|_| anyhow::anyhow!("the SQLite writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the SQLite writer stopped during a write"))?
    }
}

fn run(mut conn: Connection, mut rx: mpsc::UnboundedReceiver<Write>, transactions: &AtomicU64) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let outcomes = group(&mut conn, &batch);
        transactions.fetch_add(1, Ordering::Relaxed);
        for (w, outcome) in batch.into_iter().zip(outcomes) {
            let _ = w.reply.send(outcome);
        }
    }
}

/// One transaction for the batch; each write in a savepoint, so one that conflicts or fails
/// rolls back alone. If the COMMIT fails, every write in it fails.
fn group(conn: &mut Connection, batch: &[Write]) -> Vec<anyhow::Result<Applied>> {
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            return batch
                .iter()
                .map(|_| Err(anyhow::anyhow!("Failed to begin: {e}")))
                .collect();
        }
    };
    let outcomes: Vec<_> = batch.iter().map(|w| write_one(&mut tx, &w.plan)).collect();
    if let Err(e) = tx.commit() {
        return batch
            .iter()
            .map(|_| Err(anyhow::anyhow!("Failed to commit: {e}")))
            .collect();
    }
    outcomes
}

/// One write in its own savepoint: kept when done, rolled back on a conflict or an error.
fn write_one(tx: &mut rusqlite::Transaction<'_>, plan: &[Stmt]) -> anyhow::Result<Applied> {
    let sp = tx.savepoint()?;
    let applied = run_plan(&sp, plan)?;
    if let Applied::Done(_) = applied {
        sp.commit()?;
    }
    Ok(applied)
}

fn run_plan(conn: &Connection, plan: &[Stmt]) -> anyhow::Result<Applied> {
    let mut last = 0;
    for s in plan {
        let mut stmt = conn
            .prepare_cached(&s.sql)
            .with_context(|| format!("Failed to prepare: {}", s.sql))?;
        bind_sqlite(&mut stmt, &s.vals)?;
        last = stmt.raw_execute().context("Failed to write")? as u64;
        if let Some(stop) = verdict(s.check, last) {
            return Ok(stop);
        }
    }
    Ok(Applied::Done(last))
}
