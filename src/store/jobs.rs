//! DB-backed jobs: timers, retries and the hand-off between "approved" and "granted".
//!
//! A job runs once: claiming is one UPDATE that takes a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL so instances never wait on each other; SQLite serialises writers). A job whose
//! lease ran out (its worker died) is claimed again. Jobs are typed (`domain::Job`); a stored job
//! that does not decode comes back as an error for the scheduler to raise, never dropped here.

use super::change::{JobClaim, Schedule};
use super::codec::Val;
use super::plan::{Applied, Stmt, value_rows};
use super::read::Row;
use super::{Backend, Store};
use crate::domain::jobs::JobDecodeError;
use crate::domain::{Job, JobStatus, Lane, RequestId};
use anyhow::Context;
use sqlx::AssertSqlSafe;

/// A job this worker holds.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub claim: JobClaim,
    pub request_id: Option<RequestId>,
    pub job: Result<Job, JobDecodeError>,
    pub attempts: i64,
    pub run_at: i64,
    pub priority: i64,
}

const RETURNING: &str = "RETURNING id, kind, request_id, attempts, payload, run_at, priority";

/// Upserts jobs in one statement; an existing job with the same id is re-armed.
pub(crate) fn schedule_stmt(request: &RequestId, jobs: &[Schedule]) -> Stmt {
    let sql = format!(
        "INSERT INTO jobs (id, kind, request_id, run_at, priority, status, attempts, payload, locked_by, locked_until) VALUES {} \
         ON CONFLICT (id) DO UPDATE SET run_at = excluded.run_at, status = excluded.status, attempts = excluded.attempts, \
         locked_by = excluded.locked_by, locked_until = excluded.locked_until, payload = excluded.payload, last_error = NULL",
        value_rows(jobs.len(), 10)
    );
    let mut vals = Vec::with_capacity(jobs.len() * 10);
    for s in jobs {
        let (status, attempts, by, until) = match &s.claim {
            Some(c) => ("running", 1i64, Some(c.worker.clone()), Some(c.lease_until)),
            None => ("pending", 0, None, None),
        };
        vals.extend([
            Val::Text(Some(s.job.id_for(request))),
            Val::Text(Some(s.job.kind().as_str().into())),
            Val::Text(Some(request.to_string())),
            Val::Int(Some(s.run_at)),
            Val::Int(Some(s.job.kind().priority())),
            Val::Text(Some(status.into())),
            Val::Int(Some(attempts)),
            Val::Text(s.job.payload()),
            Val::Text(by),
            Val::Int(until),
        ]);
    }
    Stmt::new(sql, vals)
}

/// Cancels pending jobs by id, in one statement.
pub(crate) fn cancel_stmt(ids: &[String]) -> Stmt {
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "UPDATE jobs SET status = 'done' WHERE status = 'pending' AND id IN ({})",
        marks.join(", ")
    );
    Stmt::new(
        sql,
        ids.iter().map(|id| Val::Text(Some(id.clone()))).collect(),
    )
}

/// Marks a claimed job done, if this worker still holds it.
pub(crate) fn complete_stmt(claim: &JobClaim) -> Stmt {
    Stmt::new(
        "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2 AND status = 'running'",
        vec![
            Val::Text(Some(claim.job_id.clone())),
            Val::Text(Some(claim.worker.clone())),
        ],
    )
}

impl Store {
    /// Claims up to `limit` due jobs of one lane for `worker` with a lease until `lease_until`,
    /// in the order they must run: by priority, then by due time.
    pub async fn claim_due_jobs(
        &self,
        lane: Lane,
        worker: &str,
        now_ms: i64,
        lease_until: i64,
        limit: i64,
    ) -> anyhow::Result<Vec<ClaimedJob>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // The kinds are this build's own constants, never input.
        let kinds: Vec<String> = Lane::revocation_kinds()
            .map(|k| format!("'{}'", k.as_str()))
            .collect();
        let in_lane = match lane {
            Lane::Revocations => format!("kind IN ({})", kinds.join(", ")),
            Lane::Work => format!("kind NOT IN ({})", kinds.join(", ")),
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 WHERE id IN (\
             SELECT id FROM jobs WHERE {in_lane} AND ((status = 'pending' AND run_at <= $3) OR (status = 'running' AND locked_until < $3)) \
             ORDER BY priority DESC, run_at LIMIT $4{lock}) {RETURNING}"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(lease_until)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(self.write())
            .await
            .context("Failed to claim due jobs")?;
        let mut jobs: Vec<ClaimedJob> = rows
            .iter()
            .map(|r| claimed(&Row::Any(r), worker, lease_until))
            .collect::<anyhow::Result<_>>()?;
        // RETURNING has no order: restore the claim order.
        jobs.sort_by_key(|j| (std::cmp::Reverse(j.priority), j.run_at));
        Ok(jobs)
    }

    /// Puts a failed job back for a later attempt.
    pub async fn retry_job(
        &self,
        claim: &JobClaim,
        run_at: i64,
        error: &str,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE jobs SET status = 'pending', run_at = $1, last_error = $2, locked_by = NULL, locked_until = NULL WHERE id = $3 AND locked_by = $4")
            .bind(run_at)
            .bind(error)
            .bind(&claim.job_id)
            .bind(&claim.worker)
            .execute(self.write())
            .await?;
        Ok(())
    }

    /// Marks a claimed job done on its own (no request change goes with it).
    pub async fn complete_job(&self, claim: &JobClaim) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2 AND status = 'running'")
            .bind(&claim.job_id)
            .bind(&claim.worker)
            .execute(self.write())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Claims one job by id if it is due or its lease ran out (running a job inline).
    pub async fn claim_job(
        &self,
        id: &str,
        worker: &str,
        now_ms: i64,
        lease_until: i64,
    ) -> anyhow::Result<Option<ClaimedJob>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
             WHERE id = $3 AND ((status = 'pending' AND run_at <= $4) OR (status = 'running' AND locked_until < $4)) {RETURNING}"
        )))
        .bind(worker)
        .bind(lease_until)
        .bind(id)
        .bind(now_ms)
        .fetch_optional(self.write())
        .await
        .context("Failed to claim a job")?;
        row.as_ref()
            .map(|r| claimed(&Row::Any(r), worker, lease_until))
            .transpose()
    }

    /// Gives every active grant a pending expiry job (one statement, however many grants):
    /// a grant whose job is missing or was closed gets one at its expiry.
    pub async fn arm_missing_expiries(&self) -> anyhow::Result<u64> {
        let done = self
            .run_plan(vec![Stmt::new(
                "INSERT INTO jobs (id, kind, request_id, run_at, priority, status, attempts) \
                 SELECT 'expire:' || id, 'expire', id, COALESCE(expires_at, 0), 10, 'pending', 0 FROM requests WHERE state = 'active' \
                 ON CONFLICT (id) DO UPDATE SET status = 'pending', run_at = excluded.run_at, attempts = 0, locked_by = NULL, locked_until = NULL \
                 WHERE jobs.status = 'done'",
                vec![],
            )])
            .await
            .context("Failed to re-arm expiry jobs")?;
        Ok(match done {
            Applied::Done(n) => n,
            _ => 0,
        })
    }

    pub async fn pending_jobs(&self) -> anyhow::Result<i64> {
        self.read_one(
            "SELECT COUNT(*) AS n FROM jobs WHERE status IN ('pending', 'running')",
            &[],
            |r| r.get("n"),
        )
        .await
        .context("Failed to count pending jobs")
    }

    pub async fn job_status(&self, id: &str) -> anyhow::Result<Option<(String, i64)>> {
        self.read_opt(
            "SELECT status, attempts FROM jobs WHERE id = $1",
            &[Val::text(id)],
            |r| Ok((r.get("status")?, r.get("attempts")?)),
        )
        .await
        .context("Failed to read a job's status")
    }
}

fn claimed(r: &Row<'_>, worker: &str, lease_until: i64) -> anyhow::Result<ClaimedJob> {
    let kind: String = r.get("kind")?;
    let payload: Option<String> = r.get("payload")?;
    let request: Option<String> = r.get("request_id")?;
    Ok(ClaimedJob {
        claim: JobClaim {
            job_id: r.get("id")?,
            worker: worker.to_string(),
            lease_until,
        },
        request_id: request.as_deref().and_then(RequestId::parse),
        job: Job::decode(&kind, payload.as_deref()),
        attempts: r.get("attempts")?,
        run_at: r.get("run_at")?,
        priority: r.get("priority")?,
    })
}

impl Store {
    /// Schedules a job outside any request change (a card update to retry).
    pub async fn schedule(&self, request: &RequestId, job: Schedule) -> anyhow::Result<()> {
        self.run_plan(vec![schedule_stmt(request, &[job])]).await?;
        Ok(())
    }
}

/// A job as an admin sees it (the dead-letter list, `/api/v1/jobs`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobView {
    pub id: String,
    /// As stored: a kind this build does not know is shown as it is.
    pub kind: String,
    pub request_id: Option<String>,
    pub status: JobStatus,
    pub attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
}

const JOB_VIEW: &str = "id, kind, request_id, status, attempts, run_at, last_error";

fn job_view(r: &Row<'_>) -> anyhow::Result<JobView> {
    let status: String = r.get("status")?;
    Ok(JobView {
        id: r.get("id")?,
        kind: r.get("kind")?,
        request_id: r.get("request_id")?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("job has an unknown status '{status}'"))?,
        attempts: r.get("attempts")?,
        run_at: r.get("run_at")?,
        last_error: r.get("last_error")?,
    })
}

impl Store {
    /// Moves a claimed job to the dead-letter state, if this worker still holds it.
    pub async fn dead_letter_job(&self, claim: &JobClaim, error: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("UPDATE jobs SET status = 'dead', last_error = $1, locked_by = NULL, locked_until = NULL WHERE id = $2 AND locked_by = $3")
            .bind(error)
            .bind(&claim.job_id)
            .bind(&claim.worker)
            .execute(self.write())
            .await
            .context("Failed to dead-letter a job")?;
        Ok(done.rows_affected() == 1)
    }

    /// Jobs in one status, newest due first.
    pub async fn jobs_in(&self, status: JobStatus, limit: i64) -> anyhow::Result<Vec<JobView>> {
        self.read(
            &format!(
                "SELECT {JOB_VIEW} FROM jobs WHERE status = $1 ORDER BY run_at DESC, id LIMIT $2"
            ),
            &[Val::text(status.as_str()), Val::int(limit)],
            job_view,
        )
        .await
        .context("Failed to list jobs")
    }

    /// Puts a dead job back to run now, with its attempts counted afresh. `None`: no dead job
    /// has that id (it was retried already, or never died).
    pub async fn retry_dead_job(&self, id: &str, now_ms: i64) -> anyhow::Result<Option<JobView>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'pending', attempts = 0, run_at = $1, locked_by = NULL, locked_until = NULL \
             WHERE id = $2 AND status = 'dead' RETURNING {JOB_VIEW}"
        )))
        .bind(now_ms)
        .bind(id)
        .fetch_optional(self.write())
        .await
        .context("Failed to retry a dead job")?;
        row.as_ref().map(|r| job_view(&Row::Any(r))).transpose()
    }

    /// How many jobs are in each status, for `/metrics`.
    pub async fn count_jobs_by_status(&self) -> anyhow::Result<Vec<(JobStatus, i64)>> {
        let rows = self
            .read(
                "SELECT status, COUNT(*) AS n FROM jobs WHERE status <> 'done' GROUP BY status",
                &[],
                |r| {
                    let status: String = r.get("status")?;
                    Ok((JobStatus::parse(&status), r.get::<i64>("n")?))
                },
            )
            .await
            .context("Failed to count jobs")?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, n)| Some((s?, n)))
            .collect())
    }
}

impl Store {
    /// Makes sure the one reconciliation job exists, due at `run_at`; a pending or running one
    /// is left as it is (another instance armed it), a finished or dead one is armed again.
    pub async fn arm_reconcile(&self, run_at: i64) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO jobs (id, kind, request_id, run_at, priority, status, attempts) \
             VALUES ($1, $2, NULL, $3, 0, 'pending', 0) \
             ON CONFLICT (id) DO UPDATE SET status = 'pending', run_at = excluded.run_at, attempts = 0, \
             locked_by = NULL, locked_until = NULL, last_error = NULL WHERE jobs.status IN ('done', 'dead')",
        )
        .bind(crate::domain::JobKind::RECONCILE_ID)
        .bind(crate::domain::JobKind::Reconcile.as_str())
        .bind(run_at)
        .execute(self.write())
        .await
        .context("Failed to arm the reconciliation job")?;
        Ok(())
    }

    /// Puts a claimed job back to run again at `run_at` (a recurring job after a run).
    pub async fn rearm_job(&self, claim: &JobClaim, run_at: i64) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'pending', run_at = $1, attempts = 0, last_error = NULL, \
             locked_by = NULL, locked_until = NULL WHERE id = $2 AND locked_by = $3 AND status = 'running'",
        )
        .bind(run_at)
        .bind(&claim.job_id)
        .bind(&claim.worker)
        .execute(self.write())
        .await
        .context("Failed to re-arm a job")?;
        Ok(done.rows_affected() == 1)
    }
}
