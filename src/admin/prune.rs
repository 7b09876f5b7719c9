//! Prunes de-duplication records after `workflow.dedup_window` (default 24 h): far longer than
//! any platform redelivers (Slack retries within minutes; Discord does not retry interactions),
//! so a redelivery inside the window is still caught, and the tables stay bounded.

use crate::store::Pruned;
use crate::workflow::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct DedupPruner {
    engine: Arc<Engine>,
    window: chrono::Duration,
}

impl DedupPruner {
    pub fn new(engine: Arc<Engine>, window: chrono::Duration) -> Self {
        Self { engine, window }
    }

    /// One pass at the engine's clock.
    pub async fn run_once(&self) -> anyhow::Result<Pruned> {
        let cutoff = self.engine.clock().now_ms() - self.window.num_milliseconds();
        self.engine.store().prune_dedup(cutoff).await
    }

    /// Prunes at start and then every `interval` until shutdown.
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(p) if p.total() == 0 => {}
                Ok(p) => tracing::info!(
                    deliveries = p.deliveries,
                    jobs = p.jobs,
                    sessions = p.sessions,
                    "pruned de-duplication records older than the window"
                ),
                Err(e) => {
                    tracing::warn!(error = ?e, "pruning de-duplication records failed; will retry")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}
