//! The per-request context log: append-only, each entry hash-chained to the one before.
//!
//! `hash = sha256(prev_hash \n request_id \n seq \n at \n kind \n actor \n payload_digest)` and
//! `payload_digest = sha256(payload)`. Keeping the digest apart from the payload lets retention
//! purge a message body while the chain still verifies. The request row holds the chain head
//! (`log_seq`, `log_head`), so deleting the last entry is detected too.

use super::Store;
use super::codec::Val;
use super::plan::{Stmt, value_rows};
use crate::domain::{ChainHead, Entry, RequestId};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

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

/// Log rows ready to insert, chained from a head, and the new head.
pub(crate) struct ChainRows {
    rows: Vec<LogRow>,
    pub head: ChainHead,
}

struct LogRow {
    request_id: String,
    seq: i64,
    at: i64,
    kind: &'static str,
    actor: String,
    payload: String,
    digest: String,
    prev: String,
    hash: String,
}

/// Chains `entries` after `head`: computed in memory, so a commit needs no read of the head.
pub(crate) fn chain_rows(
    id: &RequestId,
    head: &ChainHead,
    at: i64,
    entries: &[Entry],
) -> ChainRows {
    let mut prev = head.hash.clone();
    let mut seq = head.seq;
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        seq += 1;
        let (kind, payload) = e.evidence.to_parts();
        let payload = payload.to_string();
        let digest = sha256_hex(payload.as_bytes());
        let hash = entry_hash(
            &prev,
            id.as_str(),
            seq,
            at,
            kind.as_str(),
            &e.actor,
            &digest,
        );
        rows.push(LogRow {
            request_id: id.to_string(),
            seq,
            at,
            kind: kind.as_str(),
            actor: e.actor.clone(),
            payload,
            digest,
            prev: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
    }
    ChainRows {
        rows,
        head: ChainHead { seq, hash: prev },
    }
}

impl ChainRows {
    /// The rows as one insert statement, or none when there is nothing to log.
    pub(crate) fn insert(self) -> Option<Stmt> {
        if self.rows.is_empty() {
            return None;
        }
        let sql = format!(
            "INSERT INTO context_log (request_id, seq, at, kind, actor, payload, payload_digest, prev_hash, hash) VALUES {}",
            value_rows(self.rows.len(), 9)
        );
        let mut vals = Vec::with_capacity(self.rows.len() * 9);
        for r in self.rows {
            vals.extend([
                Val::Text(Some(r.request_id)),
                Val::Int(Some(r.seq)),
                Val::Int(Some(r.at)),
                Val::Text(Some(r.kind.to_string())),
                Val::Text(Some(r.actor)),
                Val::Text(Some(r.payload)),
                Val::Text(Some(r.digest)),
                Val::Text(Some(r.prev)),
                Val::Text(Some(r.hash)),
            ]);
        }
        Some(Stmt::new(sql, vals))
    }
}

impl Store {
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
