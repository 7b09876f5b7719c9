//! Drift findings: what reconciliation saw on a target, and what was done about it, one row per
//! sighting of one holder (open until a run no longer sees it).

use super::Store;
use super::codec::Val;
use super::read::Row;
use crate::domain::{DriftAction, DriftFinding, DriftKind};
use anyhow::Context;
use sqlx::AssertSqlSafe;

const COLUMNS: &str =
    "id, resource, backend, kind, holder, first_seen, last_seen, resolved_at, action, detail";

fn finding(r: &Row<'_>) -> anyhow::Result<DriftFinding> {
    let kind: String = r.get("kind")?;
    let action: String = r.get("action")?;
    Ok(DriftFinding {
        id: r.get("id")?,
        resource: r.get("resource")?,
        backend: r.get("backend")?,
        kind: DriftKind::parse(&kind)
            .with_context(|| format!("drift finding with unknown kind '{kind}'"))?,
        holder: r.get("holder")?,
        first_seen: r.get("first_seen")?,
        last_seen: r.get("last_seen")?,
        resolved_at: r.get("resolved_at")?,
        action: DriftAction::parse(&action)
            .with_context(|| format!("drift finding with unknown action '{action}'"))?,
        detail: r.get("detail")?,
    })
}

/// The actions a worker may take a finding over from to remove its access: never one that is
/// removed already, nor one another worker holds (unless its hold ran out).
const CLAIMABLE: &str = "action IN ('reported', 'deferred', 'revoke_failed')";

impl Store {
    /// Records that `holder` is drift of `kind` on `resource` now: the open finding, created on
    /// its first sighting (a unique index keeps one open per holder, however many runs race).
    pub async fn sight_drift(
        &self,
        resource: &str,
        backend: &str,
        kind: DriftKind,
        holder: &str,
        now_ms: i64,
    ) -> anyhow::Result<DriftFinding> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        sqlx::query(
            "INSERT INTO drift_findings (id, resource, backend, kind, holder, first_seen, last_seen, action) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, 'reported') ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(resource)
        .bind(backend)
        .bind(kind.as_str())
        .bind(holder)
        .bind(now_ms)
        .execute(self.write())
        .await
        .context("Failed to record a drift finding")?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE drift_findings SET last_seen = $1 WHERE resource = $2 AND kind = $3 AND holder = $4 \
             AND resolved_at IS NULL RETURNING {COLUMNS}"
        )))
        .bind(now_ms)
        .bind(resource)
        .bind(kind.as_str())
        .bind(holder)
        .fetch_one(self.write())
        .await
        .context("Failed to update a drift finding")?;
        finding(&Row::Any(&row))
    }

    /// Closes the open findings of `resource` a run no longer saw (`seen`: the ones it did).
    pub async fn resolve_drift(
        &self,
        resource: &str,
        seen: &[String],
        now_ms: i64,
    ) -> anyhow::Result<u64> {
        let marks: Vec<String> = (3..seen.len() + 3).map(|i| format!("${i}")).collect();
        let not_seen = if seen.is_empty() {
            String::new()
        } else {
            format!(" AND id NOT IN ({})", marks.join(", "))
        };
        let sql = format!(
            "UPDATE drift_findings SET resolved_at = $1 WHERE resource = $2 AND resolved_at IS NULL{not_seen}"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now_ms).bind(resource);
        for id in seen {
            q = q.bind(id);
        }
        let done = q
            .execute(self.write())
            .await
            .context("Failed to resolve drift findings")?;
        Ok(done.rows_affected())
    }

    /// Marks an open finding deferred (revoke mode, but not safe to remove yet), unless a worker
    /// holds it or removed it already.
    pub async fn defer_drift(&self, id: &str, why: &str) -> anyhow::Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE drift_findings SET action = 'deferred', detail = $1 WHERE id = $2 AND {CLAIMABLE}"
        )))
        .bind(why)
        .bind(id)
        .execute(self.write())
        .await
        .context("Failed to defer a drift finding")?;
        Ok(())
    }

    /// Takes an open finding to remove its access, by compare-and-set: `true` for exactly one
    /// worker, however many runs see it at once.
    pub async fn claim_drift(
        &self,
        id: &str,
        worker: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(AssertSqlSafe(format!(
            "UPDATE drift_findings SET action = 'revoking', locked_by = $1, locked_until = $2 \
             WHERE id = $3 AND resolved_at IS NULL AND ({CLAIMABLE} OR (action = 'revoking' AND locked_until < $4))"
        )))
        .bind(worker)
        .bind(until_ms)
        .bind(id)
        .bind(now_ms)
        .execute(self.write())
        .await
        .context("Failed to claim a drift finding")?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how removing a claimed finding's access ended, if this worker still holds it.
    pub async fn finish_drift(
        &self,
        id: &str,
        worker: &str,
        action: DriftAction,
        detail: &str,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE drift_findings SET action = $1, detail = $2, locked_by = NULL, locked_until = NULL \
             WHERE id = $3 AND locked_by = $4 AND action = 'revoking'",
        )
        .bind(action.as_str())
        .bind(detail)
        .bind(id)
        .bind(worker)
        .execute(self.write())
        .await
        .context("Failed to record a drift action")?;
        Ok(done.rows_affected() == 1)
    }

    /// Findings, newest sighting first: open ones only, or all; of one resource, or every one.
    pub async fn drift_findings(
        &self,
        open_only: bool,
        resource: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<DriftFinding>> {
        let open = if open_only {
            " AND resolved_at IS NULL"
        } else {
            ""
        };
        self.read(
            &format!(
                "SELECT {COLUMNS} FROM drift_findings WHERE ($1 = '' OR resource = $1){open} \
                 ORDER BY last_seen DESC, id LIMIT $2"
            ),
            &[Val::text(resource.unwrap_or("")), Val::int(limit)],
            finding,
        )
        .await
        .context("Failed to list drift findings")
    }

    /// Open findings by resource and kind, for `/metrics`.
    pub async fn count_open_drift(&self) -> anyhow::Result<Vec<(String, DriftKind, i64)>> {
        let rows = self
            .read(
                "SELECT resource, kind, COUNT(*) AS n FROM drift_findings WHERE resolved_at IS NULL \
                 GROUP BY resource, kind ORDER BY resource, kind",
                &[],
                |r| {
                    let kind: String = r.get("kind")?;
                    Ok((r.get::<String>("resource")?, DriftKind::parse(&kind), r.get::<i64>("n")?))
                },
            )
            .await
            .context("Failed to count drift findings")?;
        Ok(rows
            .into_iter()
            .filter_map(|(resource, kind, n)| Some((resource, kind?, n)))
            .collect())
    }
}
