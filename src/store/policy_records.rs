//! Reading back the policy inputs and decisions the context log recorded, for policy replay.

use super::Store;
use crate::domain::LogKind;
use anyhow::Context;
use sqlx::Row;

/// One recorded `policy_input` or `policy_decision` entry.
#[derive(Debug, Clone)]
pub struct PolicyRecord {
    pub request_id: String,
    pub at: i64,
    pub kind: LogKind,
    pub payload: Option<serde_json::Value>,
}

impl Store {
    /// Policy inputs and decisions recorded at or after `since_ms`, in each request's log order,
    /// at most `limit` entries.
    pub async fn policy_records_since(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<PolicyRecord>> {
        let rows = sqlx::query(
            "SELECT request_id, at, kind, payload FROM context_log WHERE kind IN ($1, $2) AND at >= $3 ORDER BY request_id, seq LIMIT $4",
        )
        .bind(LogKind::PolicyInput.as_str())
        .bind(LogKind::PolicyDecision.as_str())
        .bind(since_ms)
        .bind(limit)
        .fetch_all(self.db())
        .await
        .context("Failed to read recorded policy decisions")?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get("kind")?;
                let payload: Option<String> = r.try_get("payload")?;
                Ok(PolicyRecord {
                    request_id: r.try_get("request_id")?,
                    at: r.try_get("at")?,
                    kind: LogKind::parse(&kind).context("unexpected log kind")?,
                    payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
                })
            })
            .collect()
    }
}
