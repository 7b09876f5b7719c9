//! The durable inbox: inbound events stored before they are acknowledged, handled from here.
//!
//! Storing goes through the one write path (on SQLite the writer thread, which commits a burst of
//! arrivals together, so the acknowledgement stays fast while every acknowledged event is on
//! disk). Handling claims a few at a time with a lease, like jobs, so a crashed worker's events
//! are taken over when the lease lapses and work in memory stays bounded however long the queue.

use super::codec::Val;
use super::plan::{Applied, Stmt};
use super::{Backend, Store};
use anyhow::Context;
use sqlx::{AssertSqlSafe, Row};

/// One stored event, claimed by this worker.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
}

impl Store {
    /// Stores an event before it is acknowledged. `false`: it was stored already (a redelivery).
    pub async fn enqueue_inbound(
        &self,
        id: &str,
        kind: &str,
        payload: &str,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        let stmt = Stmt::new(
            "INSERT INTO inbox (id, kind, payload, received_at, attempts) VALUES ($1, $2, $3, $4, 0) ON CONFLICT (id) DO NOTHING",
            vec![
                Val::Text(Some(id.to_string())),
                Val::Text(Some(kind.to_string())),
                Val::Text(Some(payload.to_string())),
                Val::Int(Some(now_ms)),
            ],
        );
        let applied = self
            .run_plan(vec![stmt])
            .await
            .context("Failed to store an inbound event")?;
        Ok(matches!(applied, Applied::Done(1)))
    }

    /// Claims up to `limit` stored events, oldest first: new ones, and those whose worker's lease
    /// lapsed (it died while handling them).
    pub async fn claim_inbound(
        &self,
        worker: &str,
        now_ms: i64,
        lease_until: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<InboxItem>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE inbox SET locked_by = $1, locked_until = $2, attempts = attempts + 1 WHERE id IN (\
             SELECT id FROM inbox WHERE locked_until IS NULL OR locked_until < $3 \
             ORDER BY received_at, id LIMIT $4{lock}) RETURNING id, kind, payload, attempts, received_at"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(lease_until)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(self.write())
            .await
            .context("Failed to claim inbound events")?;
        let mut items = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>("received_at")?,
                    InboxItem {
                        id: r.try_get("id")?,
                        kind: r.try_get("kind")?,
                        payload: r.try_get("payload")?,
                        attempts: r.try_get("attempts")?,
                    },
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // RETURNING has no order: handle them in the order they arrived.
        items.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        Ok(items.into_iter().map(|(_, item)| item).collect())
    }

    /// Removes a handled event (the engine's own de-duplication remembers it from here on).
    pub async fn finish_inbound(&self, id: &str) -> anyhow::Result<()> {
        self.run_plan(vec![Stmt::new(
            "DELETE FROM inbox WHERE id = $1",
            vec![Val::Text(Some(id.to_string()))],
        )])
        .await
        .context("Failed to clear a handled inbound event")?;
        Ok(())
    }

    /// Events stored and not yet handled, for `/metrics` and tests.
    pub async fn inbox_depth(&self) -> anyhow::Result<i64> {
        self.read_one("SELECT COUNT(*) AS n FROM inbox", &[], |r| r.get("n"))
            .await
            .context("Failed to count the inbox")
    }
}
