//! Retention: after `admin.retention_days`, message bodies and prompts are purged.
//!
//! Purging sets the payload of `message_in`, `message_out`, `intake_run` and `clarification`
//! entries to NULL and keeps `payload_digest`, so `verify_chain` still proves the chain (see
//! `store::log`), and records the pass, the only thing that makes a blank payload valid (see
//! `store::retention`). With SIEM export on, only exported entries are purged. The decision
//! record — intents, policy input and decision, approvals, grant and revoke calls, state
//! changes — is never purged.

use crate::workflow::Engine;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Entry kinds whose payloads hold what people wrote or what a model was shown.
pub const PURGEABLE: [&str; 4] = crate::store::log::PURGEABLE_KINDS;

pub struct Retention {
    engine: Arc<Engine>,
    days: u64,
    export_required: bool,
}

impl Retention {
    pub fn new(engine: Arc<Engine>, days: u64) -> Self {
        Self {
            engine,
            days,
            export_required: false,
        }
    }

    /// With SIEM export on, only entries the SIEM acknowledged are purged: a body is never
    /// lost before it left the database.
    pub fn export_required(mut self, on: bool) -> Self {
        self.export_required = on;
        self
    }

    /// One pass at the engine's clock.
    pub async fn run_once(&self) -> anyhow::Result<u64> {
        let now = self.engine.clock().now_ms();
        self.engine
            .store()
            .purge_payloads(now, self.days, self.export_required)
            .await
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
