//! The per-request context log: append-only, each entry hash-chained to the one before.
//!
//! `hash = sha256(prev_hash \n request_id \n seq \n at \n kind \n actor \n payload_digest)` and
//! `payload_digest = sha256(payload)`. Keeping the digest apart from the payload lets retention
//! purge a message body while the chain still verifies. The request row holds the chain head
//! (`log_seq`, `log_head`), so deleting the last entry is detected too.

use super::{Store, Tx};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    MessageIn,
    MessageOut,
    IntakeRun,
    IntentProposed,
    Clarification,
    IntentConfirmed,
    PolicyInput,
    PolicyDecision,
    ApproversResolved,
    Approval,
    Refusal,
    StateChange,
    GrantCall,
    RevokeCall,
    Alert,
    Review,
    Redaction,
    Error,
}

impl LogKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LogKind::MessageIn => "message_in",
            LogKind::MessageOut => "message_out",
            LogKind::IntakeRun => "intake_run",
            LogKind::IntentProposed => "intent_proposed",
            LogKind::Clarification => "clarification",
            LogKind::IntentConfirmed => "intent_confirmed",
            LogKind::PolicyInput => "policy_input",
            LogKind::PolicyDecision => "policy_decision",
            LogKind::ApproversResolved => "approvers_resolved",
            LogKind::Approval => "approval",
            LogKind::Refusal => "refusal",
            LogKind::StateChange => "state_change",
            LogKind::GrantCall => "grant_call",
            LogKind::RevokeCall => "revoke_call",
            LogKind::Alert => "alert",
            LogKind::Review => "review",
            LogKind::Redaction => "redaction",
            LogKind::Error => "error",
        }
    }
}

/// An entry to append.
#[derive(Debug, Clone)]
pub struct NewLogEntry {
    pub kind: LogKind,
    /// Who caused it: a directory id, "warden", "policy:<engine>", "scheduler".
    pub actor: String,
    pub payload: serde_json::Value,
}

impl NewLogEntry {
    pub fn new(kind: LogKind, actor: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind,
            actor: actor.into(),
            payload,
        }
    }
}

/// A stored entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub request_id: String,
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub actor: String,
    /// None once retention purged it; the digest still proves what it was.
    pub payload: Option<serde_json::Value>,
    pub payload_digest: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The outcome of checking one request's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ChainStatus {
    Intact {
        entries: i64,
    },
    /// The first entry that does not verify (or the position where one is missing).
    Broken {
        at_seq: i64,
        why: String,
    },
}

/// Entries whose payload retention may purge (message bodies and prompts). Every other
/// entry must keep its payload for the chain to verify.
pub const PURGEABLE_KINDS: [&str; 4] = ["message_in", "message_out", "intake_run", "clarification"];

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn entry_hash(
    prev: &str,
    request_id: &str,
    seq: i64,
    at: i64,
    kind: &str,
    actor: &str,
    payload_digest: &str,
) -> String {
    sha256_hex(
        format!("{prev}\n{request_id}\n{seq}\n{at}\n{kind}\n{actor}\n{payload_digest}").as_bytes(),
    )
}

impl Tx {
    /// Appends entries to a request's chain. Takes the request row's lock first.
    pub async fn append_log(
        &mut self,
        request_id: &str,
        at: i64,
        entries: &[NewLogEntry],
    ) -> anyhow::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let n = entries.len() as i64;
        let row = sqlx::query(
            "UPDATE requests SET log_seq = log_seq + $1 WHERE id = $2 RETURNING log_seq, log_head",
        )
        .bind(n)
        .bind(request_id)
        .fetch_optional(self.conn())
        .await
        .context("Failed to advance the log head")?
        .with_context(|| format!("no request {request_id} to log against"))?;
        let last_seq: i64 = row.try_get("log_seq")?;
        let mut prev: String = row.try_get("log_head")?;
        let mut seq = last_seq - n;
        for e in entries {
            seq += 1;
            let payload = serde_json::to_string(&e.payload)?;
            let digest = sha256_hex(payload.as_bytes());
            let hash = entry_hash(
                &prev,
                request_id,
                seq,
                at,
                e.kind.as_str(),
                &e.actor,
                &digest,
            );
            sqlx::query(
                "INSERT INTO context_log (request_id, seq, at, kind, actor, payload, payload_digest, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(request_id)
            .bind(seq)
            .bind(at)
            .bind(e.kind.as_str())
            .bind(&e.actor)
            .bind(&payload)
            .bind(&digest)
            .bind(&prev)
            .bind(&hash)
            .execute(self.conn())
            .await
            .context("Failed to append to the context log")?;
            prev = hash;
        }
        sqlx::query("UPDATE requests SET log_head = $1 WHERE id = $2")
            .bind(&prev)
            .bind(request_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Appends entries in their own transaction (messages that change no state).
    pub async fn append_log(
        &self,
        request_id: &str,
        at: i64,
        entries: &[NewLogEntry],
    ) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        tx.append_log(request_id, at, entries).await?;
        tx.commit().await
    }

    pub async fn log_entries(&self, request_id: &str) -> anyhow::Result<Vec<LogEntry>> {
        let rows = sqlx::query(
            "SELECT request_id, seq, at, kind, actor, payload, payload_digest, prev_hash, hash FROM context_log WHERE request_id = $1 ORDER BY seq",
        )
        .bind(request_id)
        .fetch_all(self.db())
        .await
        .context("Failed to read the context log")?;
        rows.iter()
            .map(|r| {
                let payload: Option<String> = r.try_get("payload")?;
                Ok(LogEntry {
                    request_id: r.try_get("request_id")?,
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    actor: r.try_get("actor")?,
                    payload: payload
                        .map(|p| serde_json::from_str(&p).unwrap_or(serde_json::Value::String(p))),
                    payload_digest: r.try_get("payload_digest")?,
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect()
    }

    /// Recomputes one request's chain from its stored entries and its recorded head.
    pub async fn verify_chain(&self, request_id: &str) -> anyhow::Result<ChainStatus> {
        let head = sqlx::query("SELECT log_seq, log_head FROM requests WHERE id = $1")
            .bind(request_id)
            .fetch_optional(self.db())
            .await?
            .with_context(|| format!("no request {request_id}"))?;
        let (head_seq, head_hash): (i64, String) =
            (head.try_get("log_seq")?, head.try_get("log_head")?);
        // Raw payload text: the digest is over the exact stored bytes.
        let rows = sqlx::query("SELECT seq, at, kind, actor, payload, payload_digest, prev_hash, hash FROM context_log WHERE request_id = $1 ORDER BY seq")
            .bind(request_id)
            .fetch_all(self.db())
            .await?;
        let mut prev = String::new();
        let mut expected_seq = 1;
        for r in &rows {
            let seq: i64 = r.try_get("seq")?;
            let broken = |why: &str| {
                Ok(ChainStatus::Broken {
                    at_seq: expected_seq,
                    why: why.to_string(),
                })
            };
            if seq != expected_seq {
                return broken("entry missing");
            }
            let payload: Option<String> = r.try_get("payload")?;
            let digest: String = r.try_get("payload_digest")?;
            let stored_prev: String = r.try_get("prev_hash")?;
            let stored_hash: String = r.try_get("hash")?;
            let (at, kind, actor): (i64, String, String) =
                (r.try_get("at")?, r.try_get("kind")?, r.try_get("actor")?);
            match &payload {
                Some(p) if sha256_hex(p.as_bytes()) != digest => return broken("payload edited"),
                // Only retention empties payloads, and only of these kinds; the decision record never.
                None if !PURGEABLE_KINDS.contains(&kind.as_str()) => {
                    return broken("payload removed");
                }
                _ => {}
            }
            if stored_prev != prev {
                return broken("link to previous entry broken");
            }
            if entry_hash(&prev, request_id, seq, at, &kind, &actor, &digest) != stored_hash {
                return broken("entry edited");
            }
            prev = stored_hash;
            expected_seq += 1;
        }
        if expected_seq - 1 != head_seq || prev != head_hash {
            return Ok(ChainStatus::Broken {
                at_seq: expected_seq,
                why: "entries missing at the end".into(),
            });
        }
        Ok(ChainStatus::Intact { entries: head_seq })
    }
}
