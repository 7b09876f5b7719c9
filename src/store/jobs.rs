//! DB-backed jobs: timers, retries and the hand-off between "approved" and "granted".
//!
//! A job runs once: claiming is one UPDATE that takes a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL so instances never wait on each other; SQLite serialises writers). A job whose
//! lease ran out (its worker died) is claimed again.

use super::{Backend, Store, Tx};
use anyhow::Context;
use sqlx::{AssertSqlSafe, Row};

#[derive(Debug, Clone)]
pub struct NewJob {
    /// The de-duplication key: one job per id (e.g. `expire:AR-…`).
    pub id: String,
    pub kind: String,
    pub request_id: Option<String>,
    pub run_at: i64,
    /// Higher runs first among due jobs (revocations before everything else).
    pub priority: i64,
    pub payload: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub request_id: Option<String>,
    pub attempts: i64,
    pub payload: Option<String>,
    pub run_at: i64,
}

impl Tx {
    /// Schedules a job; an existing job with the same id is re-armed at the new time.
    pub async fn enqueue(&mut self, j: &NewJob) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO jobs (id, kind, request_id, run_at, priority, status, attempts, payload) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6) \
             ON CONFLICT (id) DO UPDATE SET run_at = excluded.run_at, status = 'pending', attempts = 0, locked_by = NULL, locked_until = NULL, payload = excluded.payload",
        )
        .bind(&j.id)
        .bind(&j.kind)
        .bind(&j.request_id)
        .bind(j.run_at)
        .bind(j.priority)
        .bind(&j.payload)
        .execute(self.conn())
        .await
        .context("Failed to schedule a job")?;
        Ok(())
    }

    /// Marks a claimed job done, if this worker still holds it.
    pub async fn complete_job(&mut self, id: &str, worker: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2 AND status = 'running'")
            .bind(id)
            .bind(worker)
            .execute(self.conn())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Cancels a pending job (a reminder for a request that was resolved).
    pub async fn cancel_job(&mut self, id: &str) -> anyhow::Result<()> {
        sqlx::query("UPDATE jobs SET status = 'done' WHERE id = $1 AND status = 'pending'")
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Claims up to `limit` due jobs for `worker` with a lease until `lease_until`.
    pub async fn claim_due_jobs(
        &self,
        worker: &str,
        now_ms: i64,
        lease_until: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<Job>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 WHERE id IN (\
             SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $3) OR (status = 'running' AND locked_until < $3) \
             ORDER BY priority DESC, run_at LIMIT $4{lock}) \
             RETURNING id, kind, request_id, attempts, payload, run_at"
        );
        let mut tx = self.begin().await?;
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(lease_until)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(tx.conn())
            .await
            .context("Failed to claim due jobs")?;
        tx.commit().await?;
        let mut jobs: Vec<Job> = rows
            .iter()
            .map(job_from_row)
            .collect::<anyhow::Result<_>>()?;
        jobs.sort_by_key(|j| j.run_at);
        Ok(jobs)
    }

    /// Claims one job by id if it is pending (for running a just-scheduled job inline).
    pub async fn claim_job(
        &self,
        id: &str,
        worker: &str,
        now_ms: i64,
        lease_until: i64,
    ) -> anyhow::Result<Option<Job>> {
        let _gate = self.autocommit().await;
        let row = sqlx::query(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id = $3 AND ((status = 'pending' AND run_at <= $4) OR (status = 'running' AND locked_until < $4)) \
             RETURNING id, kind, request_id, attempts, payload, run_at",
        )
        .bind(worker)
        .bind(lease_until)
        .bind(id)
        .bind(now_ms)
        .fetch_optional(self.db())
        .await
        .context("Failed to claim a job")?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Puts a failed job back for a later attempt.
    pub async fn retry_job(
        &self,
        id: &str,
        worker: &str,
        run_at: i64,
        error: &str,
    ) -> anyhow::Result<()> {
        let _gate = self.autocommit().await;
        sqlx::query("UPDATE jobs SET status = 'pending', run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL WHERE id = $3 AND locked_by = $4")
            .bind(run_at)
            .bind(error)
            .bind(id)
            .bind(worker)
            .execute(self.db())
            .await?;
        Ok(())
    }

    pub async fn complete_job(&self, id: &str, worker: &str) -> anyhow::Result<bool> {
        let mut tx = self.begin().await?;
        let ok = tx.complete_job(id, worker).await?;
        tx.commit().await?;
        Ok(ok)
    }

    pub async fn enqueue(&self, job: &NewJob) -> anyhow::Result<()> {
        let mut tx = self.begin().await?;
        tx.enqueue(job).await?;
        tx.commit().await
    }

    /// Gives every active grant a pending expiry job (one statement, however many grants):
    /// a grant whose job is missing or was closed gets one at its expiry.
    pub async fn arm_missing_expiries(&self) -> anyhow::Result<u64> {
        let _gate = self.autocommit().await;
        let done = sqlx::query(
            "INSERT INTO jobs (id, kind, request_id, run_at, priority, status, attempts) \
             SELECT 'expire:' || request_id, 'expire', request_id, expires_at, 10, 'pending', 0 FROM grants WHERE status = 'active' \
             ON CONFLICT (id) DO UPDATE SET status = 'pending', run_at = excluded.run_at, attempts = 0, locked_by = NULL, locked_until = NULL \
             WHERE jobs.status = 'done'",
        )
        .execute(self.db())
        .await
        .context("Failed to re-arm expiry jobs")?;
        Ok(done.rows_affected())
    }

    pub async fn pending_jobs(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running')")
                .fetch_one(self.db())
                .await?,
        )
    }

    pub async fn job_status(&self, id: &str) -> anyhow::Result<Option<(String, i64)>> {
        let row = sqlx::query("SELECT status, attempts FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db())
            .await?;
        row.map(|r| Ok((r.try_get("status")?, r.try_get("attempts")?)))
            .transpose()
    }
}

fn job_from_row(r: &sqlx::any::AnyRow) -> anyhow::Result<Job> {
    Ok(Job {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        request_id: r.try_get("request_id")?,
        attempts: r.try_get("attempts")?,
        payload: r.try_get("payload")?,
        run_at: r.try_get("run_at")?,
    })
}
