//! What the admin agents page needs from the requests table: per agent, its active grants and when its requests last changed.

use super::Store;
use anyhow::Context;
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
        let rows = self
            .read(
                "SELECT requester_id, SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END) AS active, MAX(updated_at) AS last FROM requests WHERE platform = 'agent' GROUP BY requester_id",
                &[],
                |r| {
                    Ok((
                        r.get::<String>("requester_id")?,
                        AgentActivity {
                            active_grants: r.get("active")?,
                            last_activity: r.get("last")?,
                        },
                    ))
                },
            )
            .await
            .context("Failed to read agents' activity")?;
        Ok(rows.into_iter().collect())
    }
}
