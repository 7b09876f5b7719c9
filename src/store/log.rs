//! The per-request context log: append-only, each entry hash-chained to the one before.
//!
//! `hash = H(prev_hash \n request_id \n seq \n at \n kind \n actor \n payload_digest)` and
//! `payload_digest = sha256(payload)`, where `H` is HMAC-SHA256 with the chain key when one is
//! configured, else SHA-256 (`scheme` says which; see `chain`). Keeping the digest apart from the
//! payload lets retention purge a message body while the chain still verifies. The request row
//! holds the chain head (`log_seq`, `log_head`), so deleting the last entry is detected too;
//! deleting a whole request or rewriting a chain is caught against the anchors (`admin::anchor`).

use super::Store;
use super::chain::{ChainKey, Link, Scheme};
use super::codec::Val;
use super::plan::{Stmt, value_rows};
use crate::domain::{ChainHead, Entry, RequestId};
use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use super::chain::sha256_hex;

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
    /// `sha256` or `hmac-sha256`.
    pub scheme: String,
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
    scheme: Scheme,
}

/// Chains `entries` after `head`, keyed when `key` is set: computed in memory, so a commit needs
/// no read of the head.
pub(crate) fn chain_rows(
    id: &RequestId,
    head: &ChainHead,
    at: i64,
    entries: &[Entry],
    key: Option<&ChainKey>,
) -> ChainRows {
    let scheme = Scheme::for_key(key);
    let mut prev = head.hash.clone();
    let mut seq = head.seq;
    let mut rows = Vec::with_capacity(entries.len());
    for e in entries {
        seq += 1;
        let (kind, payload) = e.evidence.to_parts();
        let payload = payload.to_string();
        let digest = sha256_hex(payload.as_bytes());
        let hash = Link {
            prev: &prev,
            request_id: id.as_str(),
            seq,
            at,
            kind: kind.as_str(),
            actor: &e.actor,
            payload_digest: &digest,
        }
        .hash(scheme, key)
        .expect("the scheme was chosen for this key");
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
            scheme,
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
            "INSERT INTO context_log (request_id, seq, at, kind, actor, payload, payload_digest, prev_hash, hash, scheme) VALUES {}",
            value_rows(self.rows.len(), 10)
        );
        let mut vals = Vec::with_capacity(self.rows.len() * 10);
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
                Val::Text(Some(r.scheme.as_str().to_string())),
            ]);
        }
        Some(Stmt::new(sql, vals))
    }
}

impl Store {
    pub async fn log_entries(&self, request_id: &str) -> anyhow::Result<Vec<LogEntry>> {
        self.read(
            "SELECT request_id, seq, at, kind, actor, payload, payload_digest, prev_hash, hash, scheme FROM context_log WHERE request_id = $1 ORDER BY seq",
            &[Val::text(request_id)],
            |r| {
                let payload: Option<String> = r.get("payload")?;
                Ok(LogEntry {
                    request_id: r.get("request_id")?,
                    seq: r.get("seq")?,
                    at: r.get("at")?,
                    kind: r.get("kind")?,
                    actor: r.get("actor")?,
                    payload: payload
                        .map(|p| serde_json::from_str(&p).unwrap_or(serde_json::Value::String(p))),
                    payload_digest: r.get("payload_digest")?,
                    prev_hash: r.get("prev_hash")?,
                    hash: r.get("hash")?,
                    scheme: r.get("scheme")?,
                })
            },
        )
        .await
        .context("Failed to read the context log")
    }
}
