//! What the admin agents page needs from the requests table: per agent, its active grants and when its requests last changed.

use super::Store;
use anyhow::Context;
use sqlx::Row;
use std::collections::HashMap;

/// One agent's footprint in the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentActivity {
    pub active_grants: i64,
    /// When any of its requests last changed (Unix ms).
    pub last_activity: Option<i64>,
}

impl Store {
    /// Every agent that has made a request, by agent id: one grouped read.
    pub async fn agent_activity(&self) -> anyhow::Result<HashMap<String, AgentActivity>> {
        let rows = sqlx::query(
            "SELECT requester_id, SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS active, MAX(updated_at) AS last FROM requests WHERE platform = 'agent' GROUP BY requester_id",
        )
        .fetch_all(self.db())
        .await
        .context("Failed to read agents' activity")?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>(0)?,
                    AgentActivity {
                        active_grants: r.try_get::<i64, _>(1)?,
                        last_activity: r.try_get::<Option<i64>, _>(2)?,
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("Failed to decode agents' activity")
    }
}
