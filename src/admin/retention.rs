//! Retention: after `admin.retention_days`, message bodies and prompts are purged.
//!
//! Purging sets the payload of `message_in`, `message_out`, `intake_run` and `clarification`
//! entries to NULL and keeps `payload_digest`, so `verify_chain` still proves the chain (see
//! `store::log`). The decision record — intents, policy input and decision, approvals, grant and
//! revoke calls, state changes — is never purged.

use crate::store::Store;
use crate::workflow::Engine;
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Entry kinds whose payloads hold what people wrote or what a model was shown.
pub const PURGEABLE: [&str; 4] = crate::store::log::PURGEABLE_KINDS;

/// Purges the payloads of purgeable entries written before `before_ms`; returns how many.
pub async fn purge(store: &Store, before_ms: i64) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE context_log SET payload = NULL WHERE at < $1 AND payload IS NOT NULL \
         AND kind IN ('message_in', 'message_out', 'intake_run', 'clarification')",
    )
    .bind(before_ms)
    .execute(store.pool())
    .await
    .context("Failed to purge old message bodies")?;
    Ok(done.rows_affected())
}

pub struct Retention {
    engine: Arc<Engine>,
    days: u64,
}

impl Retention {
    pub fn new(engine: Arc<Engine>, days: u64) -> Self {
        Self { engine, days }
    }

    /// One pass at the engine's clock.
    pub async fn run_once(&self) -> anyhow::Result<u64> {
        let cutoff = self.engine.clock().now_ms() - (self.days as i64) * 86_400_000;
        purge(self.engine.store(), cutoff).await
    }

    /// Purges at start and then every `interval` until shutdown.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    entries = n,
                    days = self.days,
                    "retention purged old message bodies and prompts"
                ),
                Err(e) => tracing::warn!(error = ?e, "retention purge failed; will retry"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
