//! Retention purges and their records: the only way a context-log payload may become blank.
//!
//! A pass blanks the payloads of purgeable entries older than its age limit (and, where export
//! is on, only those the SIEM already acknowledged) and, in the same transaction, records itself:
//! when it ran, the age limit and the cutoff it implies, whether export was required, and with a
//! chain key a MAC over all of that. `verify_chain` accepts a blank payload only under such a
//! record; any other blank is tampering.

use super::Store;
use super::chain::ChainKey;
use super::codec::Val;
use anyhow::Context;
use futures::TryStreamExt;
use sqlx::Row;

const DAY_MS: i64 = 86_400_000;

/// One retention pass as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeRecord {
    pub id: String,
    pub at: i64,
    pub cutoff: i64,
    pub days: i64,
    pub export_required: bool,
    pub mac: Option<String>,
}

impl PurgeRecord {
    fn signed(&self) -> String {
        format!(
            "retention\n{}\n{}\n{}\n{}\n{}",
            self.id, self.at, self.cutoff, self.days, self.export_required
        )
    }

    /// Whether this record is one a retention pass could have written: its cutoff is exactly
    /// its age limit before it ran, and with a key its MAC holds.
    fn holds(&self, key: Option<&ChainKey>) -> bool {
        let honest = self.days > 0 && self.cutoff == self.at - self.days * DAY_MS;
        let signed = match key {
            Some(k) => self.mac.as_deref() == Some(k.mac_hex(self.signed().as_bytes()).as_str()),
            None => true,
        };
        honest && signed
    }
}

impl Store {
    /// Blanks purgeable payloads older than `days` at `now` (only exported ones when
    /// `export_required`) and records the pass; returns how many it blanked.
    pub async fn purge_payloads(
        &self,
        now: i64,
        days: u64,
        export_required: bool,
    ) -> anyhow::Result<u64> {
        anyhow::ensure!(days > 0, "a retention pass needs an age limit");
        let days = days as i64;
        let mut rec = PurgeRecord {
            id: uuid::Uuid::now_v7().to_string(),
            at: now,
            cutoff: now - days * DAY_MS,
            days,
            export_required,
            mac: None,
        };
        rec.mac = self.chain_key().map(|k| k.mac_hex(rec.signed().as_bytes()));
        let mut tx = self.begin().await?;
        let blanked = sqlx::query(
            "UPDATE context_log SET payload = NULL WHERE at < $1 AND payload IS NOT NULL \
             AND kind IN ('message_in', 'message_out', 'intake_run', 'clarification') \
             AND ($2 = 0 OR seq <= (SELECT exported_seq FROM requests WHERE requests.id = context_log.request_id))",
        )
        .bind(rec.cutoff)
        .bind(export_required as i64)
        .execute(tx.conn())
        .await
        .context("Failed to purge old message bodies")?
        .rows_affected();
        if blanked > 0 {
            sqlx::query("INSERT INTO retention_purges (id, at, cutoff, days, export_required, entries, mac) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(&rec.id)
                .bind(rec.at)
                .bind(rec.cutoff)
                .bind(rec.days)
                .bind(export_required as i64)
                .bind(blanked as i64)
                .bind(rec.mac.as_deref())
                .execute(tx.conn())
                .await
                .context("Failed to record the retention pass")?;
        }
        tx.commit().await?;
        Ok(blanked)
    }

    /// What the recorded retention passes that hold (see [`PurgeRecord`]) allow to be blank in
    /// `request_id` from `since` (its first blank entry) on: the latest cutoff of a pass that
    /// did not wait for export, and of one that did, with the request's export cursor. Newest
    /// first, so a verify reads a row or two per chain however many passes there were.
    pub(crate) async fn purges_for(&self, request_id: &str, since: i64) -> anyhow::Result<Purges> {
        let mut rows = sqlx::query(
            "SELECT id, at, cutoff, days, export_required, mac FROM retention_purges WHERE cutoff > $1 ORDER BY cutoff DESC",
        )
        .bind(since)
        // Streamed, the one read that is: it stops at the first rows that settle the answer.
        .fetch(self.db());
        let mut p = Purges::default();
        while let Some(r) = rows
            .try_next()
            .await
            .context("Failed to read retention records")?
        {
            let rec = PurgeRecord {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                cutoff: r.try_get("cutoff")?,
                days: r.try_get("days")?,
                export_required: r.try_get::<i64, _>("export_required")? != 0,
                mac: r.try_get("mac")?,
            };
            if !rec.holds(self.chain_key()) {
                continue;
            }
            let slot = if rec.export_required {
                &mut p.exported_cutoff
            } else {
                &mut p.cutoff
            };
            slot.get_or_insert(rec.cutoff);
            if p.cutoff.is_some() && p.exported_cutoff.is_some() {
                break;
            }
        }
        drop(rows);
        p.exported_seq = self
            .read_opt(
                "SELECT exported_seq FROM requests WHERE id = $1",
                &[Val::text(request_id)],
                |r| r.get("exported_seq"),
            )
            .await
            .context("Failed to read the export cursor")?
            .unwrap_or(0);
        Ok(p)
    }
}

/// What recorded retention passes allow to be blank in one request.
#[derive(Debug, Default)]
pub(crate) struct Purges {
    /// Latest cutoff of a pass that purged regardless of export.
    cutoff: Option<i64>,
    /// Latest cutoff of a pass that purged only exported entries.
    exported_cutoff: Option<i64>,
    exported_seq: i64,
}

impl Purges {
    /// Whether a recorded pass explains the blank payload of entry `seq`, written at `at`.
    pub(crate) fn explain(&self, seq: i64, at: i64) -> bool {
        let before = |c: Option<i64>| c.is_some_and(|c| at < c);
        before(self.cutoff) || (seq <= self.exported_seq && before(self.exported_cutoff))
    }
}
