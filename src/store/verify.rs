//! Verifying one request's chain: every link, every digest, every hash under its scheme, every
//! blank payload against the retention records, and the head recorded on the request row.

use super::Store;
use super::chain::{Link, Scheme};
use super::log::{ChainStatus, PURGEABLE_KINDS, sha256_hex};
use anyhow::Context;
use sqlx::Row;

impl Store {
    /// Recomputes one request's chain from its stored entries and its recorded head. Keyed
    /// entries need the chain key: without it they are reported, never taken on trust.
    pub async fn verify_chain(&self, request_id: &str) -> anyhow::Result<ChainStatus> {
        let head = sqlx::query("SELECT log_seq, log_head FROM requests WHERE id = $1")
            .bind(request_id)
            .fetch_optional(self.db())
            .await?
            .with_context(|| format!("no request {request_id}"))?;
        let (head_seq, head_hash): (i64, String) =
            (head.try_get("log_seq")?, head.try_get("log_head")?);
        // Raw payload text: the digest is over the exact stored bytes.
        let rows = sqlx::query("SELECT seq, at, kind, actor, payload, payload_digest, prev_hash, hash, scheme FROM context_log WHERE request_id = $1 ORDER BY seq")
            .bind(request_id)
            .fetch_all(self.db())
            .await?;
        let mut prev = String::new();
        let mut expected_seq = 1;
        let mut keyed_seen = false;
        // Read at the first blank payload, if any.
        let mut purges = None;
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
            let Some(scheme) = Scheme::parse(&r.try_get::<String, _>("scheme")?) else {
                return broken("unknown hash scheme");
            };
            match &payload {
                Some(p) if sha256_hex(p.as_bytes()) != digest => return broken("payload edited"),
                Some(_) => {}
                // Only retention empties payloads, and only of these kinds; the decision record never.
                None if !PURGEABLE_KINDS.contains(&kind.as_str()) => {
                    return broken("payload removed");
                }
                None => {
                    if purges.is_none() {
                        purges = Some(self.purges_for(request_id, at).await?);
                    }
                    if !purges.as_ref().is_some_and(|p| p.explain(seq, at)) {
                        return broken(
                            "payload removed, and no retention pass purged it (too recent, or not yet exported)",
                        );
                    }
                }
            }
            if stored_prev != prev {
                return broken("link to previous entry broken");
            }
            // Warden keys every entry once a key is configured: an unkeyed entry after a keyed
            // one was written by someone without the key.
            match scheme {
                Scheme::HmacSha256 => keyed_seen = true,
                Scheme::Sha256 if keyed_seen => {
                    return broken("unkeyed entry after a keyed one");
                }
                Scheme::Sha256 => {}
            }
            let link = Link {
                prev: &prev,
                request_id,
                seq,
                at,
                kind: &kind,
                actor: &actor,
                payload_digest: &digest,
            };
            match link.hash(scheme, self.chain_key()) {
                None => {
                    return broken(
                        "keyed entry, but no evidence.chain_key is configured to check it",
                    );
                }
                Some(h) if h != stored_hash => return broken("entry edited"),
                Some(_) => {}
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

    /// Every request's chain head: what an anchor records.
    pub async fn chain_heads(&self) -> anyhow::Result<Vec<ChainHeadRow>> {
        let rows = sqlx::query("SELECT id, log_seq, log_head FROM requests ORDER BY id")
            .fetch_all(self.db())
            .await
            .context("Failed to read the chain heads")?;
        rows.iter()
            .map(|r| {
                Ok(ChainHeadRow {
                    id: r.try_get("id")?,
                    seq: r.try_get("log_seq")?,
                    hash: r.try_get("log_head")?,
                })
            })
            .collect()
    }

    /// The stored hash of one entry, if it exists.
    pub async fn entry_hash(&self, request_id: &str, seq: i64) -> anyhow::Result<Option<String>> {
        sqlx::query_scalar("SELECT hash FROM context_log WHERE request_id = $1 AND seq = $2")
            .bind(request_id)
            .bind(seq)
            .fetch_optional(self.db())
            .await
            .context("Failed to read a log entry")
    }

    /// The first entry after `seq` that is not keyed, if any.
    pub async fn first_unkeyed_after(
        &self,
        request_id: &str,
        seq: i64,
    ) -> anyhow::Result<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MIN(seq) FROM context_log WHERE request_id = $1 AND seq > $2 AND scheme <> $3",
        )
        .bind(request_id)
        .bind(seq)
        .bind(Scheme::HmacSha256.as_str())
        .fetch_one(self.db())
        .await
        .context("Failed to read log schemes")
    }
}

/// One request's chain head as stored on its row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainHeadRow {
    pub id: String,
    pub seq: i64,
    pub hash: String,
}
