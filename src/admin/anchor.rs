//! Anchors: the chain heads, written periodically (and at shutdown) outside the database.
//!
//! Each anchor is one JSON line appended to `evidence.anchor_file` (and posted to the SIEM when
//! one is configured): the heads (`id`, `seq`, `hash`) of the requests whose chain moved since
//! the line before — every request on the first line after a start — the digest of the line
//! before (`prev`), and with a chain key an HMAC over the line (`mac`). Folding the lines gives
//! the last head seen of every request; `warden audit verify` holds the database to it
//! (`anchor_check`), so a deleted request, a truncated chain or one rewritten end to end shows.

use super::siem::SiemTarget;
use crate::clock::from_ms;
use crate::store::{ChainHeadRow, ChainKey, log::sha256_hex};
use crate::workflow::Engine;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// One anchor line, without its MAC. Field order is the signed form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnchorBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub v: u32,
    pub at: String,
    pub at_ms: i64,
    /// Whether Warden chained with a key when it wrote this line.
    pub keyed: bool,
    /// Whether `heads` holds every request (first line after a start), else only those that moved.
    pub full: bool,
    /// Why the line was written.
    pub reason: AnchorReason,
    pub heads: Vec<ChainHeadRow>,
    /// sha256 of the previous line's text; empty on the first line.
    pub prev: String,
}

/// Why an anchor line was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnchorReason {
    /// The first line of a process: every request's head.
    Start,
    /// Heads moved since the line before.
    Interval,
    /// The last line of a process, written even when nothing moved: it ended cleanly here.
    Shutdown,
}

/// A line as stored: the body and, when keyed, its MAC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnchorLine {
    #[serde(flatten)]
    pub body: AnchorBody,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl AnchorBody {
    /// The MAC of this body under `key`.
    pub fn mac(&self, key: &ChainKey) -> String {
        let signed = serde_json::to_string(self).unwrap_or_default();
        key.mac_hex(format!("anchor\n{signed}").as_bytes())
    }
}

/// What the anchorer remembers between lines: the heads it last wrote and the last line's digest.
#[derive(Default)]
struct Written {
    heads: HashMap<String, (i64, String)>,
    prev: String,
    /// False until the first line of this process, which anchors every request.
    started: bool,
}

/// Writes anchors to the file and the SIEM. Clones share one state.
#[derive(Clone)]
pub struct Anchorer {
    /// Its store's chain key signs the lines; its clock dates them.
    engine: Arc<Engine>,
    file: Option<PathBuf>,
    siem: Option<SiemTarget>,
    written: Arc<Mutex<Written>>,
}

impl Anchorer {
    /// `None` when there is nowhere to anchor to.
    pub fn new(
        engine: Arc<Engine>,
        file: Option<PathBuf>,
        siem: Option<SiemTarget>,
    ) -> anyhow::Result<Option<Self>> {
        if file.is_none() && siem.is_none() {
            return Ok(None);
        }
        let mut written = Written::default();
        if let Some(path) = &file {
            written.prev = last_line_digest(path)?;
        }
        Ok(Some(Self {
            engine,
            file,
            siem,
            written: Arc::new(Mutex::new(written)),
        }))
    }

    /// Writes one anchor of the heads that moved (all of them on the first call); returns how
    /// many heads it wrote, 0 when nothing moved. The file is written before the SIEM is told.
    pub async fn anchor_once(&self) -> anyhow::Result<usize> {
        self.anchor(false).await
    }

    /// The last anchor of this process, after its last commit: written even if nothing moved.
    pub async fn anchor_final(&self) -> anyhow::Result<usize> {
        self.anchor(true).await
    }

    async fn anchor(&self, last: bool) -> anyhow::Result<usize> {
        let mut written = self.written.lock().await;
        let store = self.engine.store();
        let key = store.chain_key();
        let heads = store.chain_heads().await?;
        let full = !written.started;
        let moved: Vec<ChainHeadRow> = heads
            .into_iter()
            .filter(|h| {
                full || written
                    .heads
                    .get(&h.id)
                    .is_none_or(|(s, x)| *s != h.seq || *x != h.hash)
            })
            .collect();
        if moved.is_empty() && !full && !last {
            return Ok(0);
        }
        let reason = match (full, last) {
            (_, true) => AnchorReason::Shutdown,
            (true, false) => AnchorReason::Start,
            (false, false) => AnchorReason::Interval,
        };
        let now = self.engine.clock().now_ms();
        let body = AnchorBody {
            kind: "anchor".into(),
            v: 1,
            at: from_ms(now).to_rfc3339(),
            at_ms: now,
            keyed: key.is_some(),
            full,
            reason,
            heads: moved,
            prev: written.prev.clone(),
        };
        let mac = key.map(|k| body.mac(k));
        let count = body.heads.len();
        let line = serde_json::to_string(&AnchorLine {
            body: body.clone(),
            mac,
        })?;
        if let Some(path) = &self.file {
            append_line(path, &line)?;
        }
        if let Some(siem) = &self.siem {
            // The file is the anchor of record; a SIEM outage is logged, and the next line
            // carries the heads again only if they move (the file has them meanwhile).
            if let Err(e) = siem.post_ndjson(format!("{line}\n")).await {
                tracing::warn!(error = ?e, "could not send the chain anchor to the SIEM");
            }
        }
        for h in body.heads {
            written.heads.insert(h.id, (h.seq, h.hash));
        }
        written.prev = sha256_hex(line.as_bytes());
        written.started = true;
        Ok(count)
    }

    /// Anchors every `interval` until shutdown (the final anchor is the caller's, after the
    /// last in-flight work has committed).
    pub async fn run(self, interval: Duration, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.anchor_once().await {
                tracing::warn!(error = ?e, "writing the chain anchor failed; will retry");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

/// Appends one line and syncs it to disk before returning.
fn append_line(path: &Path, line: &str) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("Failed to open evidence.anchor_file {}", path.display()))?;
    writeln!(f, "{line}")
        .and_then(|_| f.sync_data())
        .with_context(|| format!("Failed to write evidence.anchor_file {}", path.display()))
}

/// The digest of the file's last line, so a restart continues its chain of lines.
fn last_line_digest(path: &Path) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .map(|l| sha256_hex(l.as_bytes()))
            .unwrap_or_default()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e)
            .with_context(|| format!("Failed to read evidence.anchor_file {}", path.display())),
    }
}
