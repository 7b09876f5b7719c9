//! Reading back the policy inputs and decisions the context log recorded, for policy replay.

use super::Store;
use super::codec::Val;
use crate::domain::LogKind;
use anyhow::Context;

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
        self.read(
            "SELECT request_id, at, kind, payload FROM context_log WHERE kind IN ($1, $2) AND at >= $3 ORDER BY request_id, seq LIMIT $4",
            &[
                Val::text(LogKind::PolicyInput.as_str()),
                Val::text(LogKind::PolicyDecision.as_str()),
                Val::int(since_ms),
                Val::int(limit),
            ],
            |r| {
                let kind: String = r.get("kind")?;
                let payload: Option<String> = r.get("payload")?;
                Ok(PolicyRecord {
                    request_id: r.get("request_id")?,
                    at: r.get("at")?,
                    kind: LogKind::parse(&kind).context("unexpected log kind")?,
                    payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
                })
            },
        )
        .await
        .context("Failed to read recorded policy decisions")
    }
}
