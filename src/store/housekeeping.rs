//! Pruning de-duplication records once no platform can redeliver what they guard against.

use super::Store;
use anyhow::Context;

/// How many records one prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Handled inbound deliveries (`processed_events`).
    pub deliveries: u64,
    /// Finished jobs, whose ids are de-duplication keys too (`expire:AR-…`).
    pub jobs: u64,
    /// Admin sessions that expired.
    pub sessions: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.deliveries + self.jobs + self.sessions
    }
}

impl Store {
    /// Removes deliveries received, finished jobs due, and admin sessions expired before
    /// `before_ms`. Pending, running and any other unfinished jobs are kept whatever their age.
    pub async fn prune_dedup(&self, before_ms: i64) -> anyhow::Result<Pruned> {
        let deliveries = sqlx::query("DELETE FROM processed_events WHERE received_at < $1")
            .bind(before_ms)
            .execute(self.write())
            .await
            .context("Failed to prune handled deliveries")?
            .rows_affected();
        let jobs = sqlx::query("DELETE FROM jobs WHERE status = 'done' AND run_at < $1")
            .bind(before_ms)
            .execute(self.write())
            .await
            .context("Failed to prune finished jobs")?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM admin_sessions WHERE expires_at < $1")
            .bind(before_ms)
            .execute(self.write())
            .await
            .context("Failed to prune expired admin sessions")?
            .rows_affected()
            + sqlx::query("DELETE FROM sso_logins WHERE expires_at < $1")
                .bind(before_ms)
                .execute(self.write())
                .await
                .context("Failed to prune unfinished SSO sign-ins")?
                .rows_affected()
            + sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at < $1")
                .bind(before_ms)
                .execute(self.write())
                .await
                .context("Failed to prune unfinished passkey ceremonies")?
                .rows_affected();
        Ok(Pruned {
            deliveries,
            jobs,
            sessions,
        })
    }
}
