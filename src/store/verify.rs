//! Verifying one request's chain: every link, every digest, every hash under its scheme, every
//! blank payload against the retention records, and the head recorded on the request row.

use super::Store;
use super::chain::{Link, Scheme};
use super::codec::Val;
use super::log::{ChainStatus, PURGEABLE_KINDS, sha256_hex};
use anyhow::Context;

impl Store {
    /// Recomputes one request's chain from its stored entries and its recorded head. Keyed
    /// entries need the chain key: without it they are reported, never taken on trust.
    pub async fn verify_chain(&self, request_id: &str) -> anyhow::Result<ChainStatus> {
        let id = [Val::text(request_id)];
        let (head_seq, head_hash): (i64, String) = self
            .read_opt(
                "SELECT log_seq, log_head FROM requests WHERE id = $1",
                &id,
                |r| Ok((r.get("log_seq")?, r.get("log_head")?)),
            )
            .await?
            .with_context(|| format!("no request {request_id}"))?;
        // Raw payload text: the digest is over the exact stored bytes.
        let rows = self
            .read(
                "SELECT seq, at, kind, actor, payload, payload_digest, prev_hash, hash, scheme FROM context_log WHERE request_id = $1 ORDER BY seq",
                &id,
                |r| {
                    Ok(Stored {
                        seq: r.get("seq")?,
                        at: r.get("at")?,
                        kind: r.get("kind")?,
                        actor: r.get("actor")?,
                        payload: r.get("payload")?,
                        digest: r.get("payload_digest")?,
                        prev: r.get("prev_hash")?,
                        hash: r.get("hash")?,
                        scheme: r.get("scheme")?,
                    })
                },
            )
            .await
            .context("Failed to read the context log")?;
        let mut prev = String::new();
        let mut expected_seq = 1;
        let mut keyed_seen = false;
        // Read at the first blank payload, if any.
        let mut purges = None;
        for r in rows {
            let Stored {
                seq,
                at,
                kind,
                actor,
                payload,
                digest,
                prev: stored_prev,
                hash: stored_hash,
                scheme,
            } = r;
            let broken = |why: &str| {
                Ok(ChainStatus::Broken {
                    at_seq: expected_seq,
                    why: why.to_string(),
                })
            };
            if seq != expected_seq {
                return broken("entry missing");
            }
            let Some(scheme) = Scheme::parse(&scheme) else {
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
        self.read(
            "SELECT id, log_seq, log_head FROM requests ORDER BY id",
            &[],
            |r| {
                Ok(ChainHeadRow {
                    id: r.get("id")?,
                    seq: r.get("log_seq")?,
                    hash: r.get("log_head")?,
                })
            },
        )
        .await
        .context("Failed to read the chain heads")
    }

    /// The stored hash of one entry, if it exists.
    pub async fn entry_hash(&self, request_id: &str, seq: i64) -> anyhow::Result<Option<String>> {
        self.read_opt(
            "SELECT hash FROM context_log WHERE request_id = $1 AND seq = $2",
            &[Val::text(request_id), Val::int(seq)],
            |r| r.get("hash"),
        )
        .await
        .context("Failed to read a log entry")
    }

    /// The first entry after `seq` that is not keyed, if any.
    pub async fn first_unkeyed_after(
        &self,
        request_id: &str,
        seq: i64,
    ) -> anyhow::Result<Option<i64>> {
        self.read_one(
            "SELECT MIN(seq) AS seq FROM context_log WHERE request_id = $1 AND seq > $2 AND scheme <> $3",
            &[
                Val::text(request_id),
                Val::int(seq),
                Val::text(Scheme::HmacSha256.as_str()),
            ],
            |r| r.get("seq"),
        )
        .await
        .context("Failed to read log schemes")
    }
}

/// One context-log entry as stored: raw payload text, as its digest covers it.
struct Stored {
    seq: i64,
    at: i64,
    kind: String,
    actor: String,
    payload: Option<String>,
    digest: String,
    prev: String,
    hash: String,
    scheme: String,
}

/// One request's chain head as stored on its row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainHeadRow {
    pub id: String,
    pub seq: i64,
    pub hash: String,
}
