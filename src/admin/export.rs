//! Streaming export: ships every new context-log entry to a SIEM webhook as JSON lines.
//!
//! Each request row keeps `exported_seq`, the last entry of its chain the SIEM acknowledged
//! (2xx). A round reads the requests with entries beyond it, posts those entries in time order
//! as one `application/x-ndjson` body, and only then advances the cursors. A failed post changes
//! nothing and is retried next round, so nothing is lost across restarts and nothing is sent
//! twice, except when the process dies between the SIEM's 2xx and the cursor update: for that
//! window every line carries a stable `id` (`<request>:<seq>`) the SIEM can de-duplicate on.

use super::siem::SiemTarget;
use crate::clock::from_ms;
use crate::config::AdminSettings;
use crate::store::{LogEntry, Store};
use anyhow::Context;
use serde_json::{Value, json};
use sqlx::Row;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Requests per round, and entries per post.
const REQUESTS_PER_ROUND: i64 = 200;
const MAX_LINES: usize = 2000;

pub struct SiemShipper {
    store: Store,
    target: SiemTarget,
}

/// One log entry as the SIEM receives it.
pub fn entry_json(e: &LogEntry) -> Value {
    json!({
        "id": format!("{}:{}", e.request_id, e.seq),
        "request_id": e.request_id,
        "seq": e.seq,
        "at": from_ms(e.at).to_rfc3339(),
        "kind": e.kind,
        "actor": e.actor,
        "payload": e.payload,
        "payload_digest": e.payload_digest,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
        "scheme": e.scheme,
    })
}

impl SiemShipper {
    /// A shipper to `url`, without an authentication header.
    pub fn new(store: Store, url: &str) -> anyhow::Result<Self> {
        Ok(Self::to(store, SiemTarget::new(url)?))
    }

    pub fn to(store: Store, target: SiemTarget) -> Self {
        Self { store, target }
    }

    /// The shipper `admin.*` configures (URL and authentication header), if any.
    pub fn from_settings(store: Store, s: &AdminSettings) -> anyhow::Result<Option<Self>> {
        Ok(SiemTarget::from_settings(s)?.map(|t| Self::to(store, t)))
    }

    /// One round: returns how many entries the SIEM acknowledged (0 when nothing is new).
    pub async fn ship_once(&self) -> anyhow::Result<usize> {
        let rows = sqlx::query("SELECT id, exported_seq, log_seq FROM requests WHERE log_seq > exported_seq ORDER BY created_at, id LIMIT $1")
            .bind(REQUESTS_PER_ROUND)
            .fetch_all(self.store.pool())
            .await
            .context("Failed to find requests with unexported log entries")?;
        let mut batch: Vec<LogEntry> = Vec::new();
        let mut cursors: Vec<(String, i64)> = Vec::new();
        for r in &rows {
            if batch.len() >= MAX_LINES {
                break;
            }
            let (id, done, head): (String, i64, i64) = (
                r.try_get("id")?,
                r.try_get("exported_seq")?,
                r.try_get("log_seq")?,
            );
            let new: Vec<LogEntry> = self
                .store
                .log_entries(&id)
                .await?
                .into_iter()
                .filter(|e| e.seq > done && e.seq <= head)
                .collect();
            if let Some(last) = new.last() {
                cursors.push((id, last.seq));
                batch.extend(new);
            }
        }
        if batch.is_empty() {
            return Ok(0);
        }
        batch.sort_by(|a, b| (a.at, &a.request_id, a.seq).cmp(&(b.at, &b.request_id, b.seq)));
        let mut body = String::new();
        for e in &batch {
            body.push_str(&entry_json(e).to_string());
            body.push('\n');
        }
        self.target.post_ndjson(body).await?;
        for (id, seq) in &cursors {
            sqlx::query(
                "UPDATE requests SET exported_seq = $1 WHERE id = $2 AND exported_seq < $1",
            )
            .bind(*seq)
            .bind(id)
            .execute(self.store.pool())
            .await
            .context("Failed to advance the SIEM export cursor")?;
        }
        Ok(batch.len())
    }

    /// Ships until shutdown; a backlog drains round after round, then it polls every `interval`.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        let mut failures = 0u32;
        loop {
            let wait = match self.ship_once().await {
                Ok(n) if n > 0 => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => interval,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = ?e, failures, "SIEM export failed; will retry");
                    interval * failures.min(30)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
