//! Holds the database to its anchors: what `warden audit verify` reports beyond each chain.
//!
//! The anchor file is read line by line (each must follow the one before and, when keyed, carry
//! a MAC that verifies), folded into the last anchored head of every request, and compared with
//! the database: a request gone, a chain shorter than anchored, an anchored entry whose hash
//! changed, or an entry written without the key after the key was in use is a finding.

use super::anchor::AnchorLine;
use crate::store::{ChainKey, Store, log::sha256_hex};
use anyhow::Context;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The anchor file, folded.
#[derive(Debug, Default)]
pub struct AnchorLog {
    /// The last anchored (seq, hash) of each request.
    pub heads: BTreeMap<String, (i64, String)>,
    /// Whether the last line was written with a chain key.
    pub keyed: bool,
    pub lines: usize,
    /// Problems with the file itself.
    pub problems: Vec<String>,
}

impl AnchorLog {
    /// Reads and checks the file; a missing file is an empty log with a problem noted.
    pub fn read(path: &Path, key: Option<&ChainKey>) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    problems: vec![format!("no anchor file at {}", path.display())],
                    ..Self::default()
                });
            }
            Err(e) => {
                return Err(e).with_context(|| format!("Failed to read {}", path.display()));
            }
        };
        Ok(Self::parse(&text, key))
    }

    pub fn parse(text: &str, key: Option<&ChainKey>) -> Self {
        let mut log = Self::default();
        let mut prev = String::new();
        let mut missing_key_noted = false;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let n = i + 1;
            log.lines += 1;
            let Ok(a) = serde_json::from_str::<AnchorLine>(line) else {
                log.problems
                    .push(format!("anchor file line {n}: not an anchor"));
                prev = sha256_hex(line.as_bytes());
                continue;
            };
            if a.body.prev != prev {
                log.problems.push(format!(
                    "anchor file line {n}: does not follow the line before (lines removed or edited)"
                ));
            }
            if a.body.keyed {
                match key {
                    Some(k) if a.mac.as_deref() != Some(a.body.mac(k).as_str()) => {
                        log.problems.push(format!(
                            "anchor file line {n}: its MAC does not verify (edited, or another key)"
                        ));
                    }
                    None if !missing_key_noted => {
                        missing_key_noted = true;
                        log.problems.push(
                            "the anchors are keyed: set evidence.chain_key to verify them".into(),
                        );
                    }
                    _ => {}
                }
            }
            for h in a.body.heads {
                log.heads.insert(h.id, (h.seq, h.hash));
            }
            log.keyed = a.body.keyed;
            prev = sha256_hex(line.as_bytes());
        }
        log
    }
}

/// Every way the database departs from the anchors, one line each (empty when it holds).
pub async fn check(store: &Store, log: &AnchorLog) -> anyhow::Result<Vec<String>> {
    let db: HashMap<String, i64> = store
        .chain_heads()
        .await?
        .into_iter()
        .map(|h| (h.id, h.seq))
        .collect();
    if db.is_empty() && log.lines == 0 {
        // A fresh installation: nothing to hold to anything yet.
        return Ok(Vec::new());
    }
    let mut findings = log.problems.clone();
    for (id, (seq, hash)) in &log.heads {
        match db.get(id) {
            None => findings.push(format!(
                "{id}: deleted (anchored at entry {seq}; no such request in the database)"
            )),
            Some(held) if held < seq => findings.push(format!(
                "{id}: truncated (anchored at entry {seq}; the database holds {held})"
            )),
            Some(_) => match store.entry_hash(id, *seq).await? {
                Some(h) if &h == hash => {}
                Some(_) => findings.push(format!(
                    "{id}: rewritten (entry {seq} differs from the anchor)"
                )),
                None => findings.push(format!("{id}: truncated (anchored entry {seq} is missing)")),
            },
        }
    }
    // Once anchors are keyed Warden writes only keyed entries: an unkeyed one past the anchored
    // head was written by someone without the key (a request made up whole included).
    if log.keyed {
        let mut ids: Vec<&String> = db.keys().collect();
        ids.sort();
        for id in ids {
            let from = log.heads.get(id).map_or(0, |(s, _)| *s);
            if let Some(seq) = store.first_unkeyed_after(id, from).await? {
                findings.push(format!(
                    "{id}: entry {seq} was written without the chain key after the anchors were keyed"
                ));
            }
        }
    }
    Ok(findings)
}
