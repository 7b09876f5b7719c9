//! When a job fails: bounded retries, then the dead-letter state with an alert an admin can act on.
//!
//! The rule, in one place: a job that cannot be decoded, or that fails for a reason a retry
//! cannot fix (a `UserError`: the request or catalog no longer allows it), is dead-lettered at
//! once. Other failures are retried with a bounded backoff; work jobs are dead-lettered after
//! `WORK_ATTEMPTS`. Revocations are never given up on (access must end): they keep retrying at
//! the backoff's ceiling and raise an alert every `REVOCATION_ALERT_EVERY` attempts.

use super::grant::backoff_ms;
use super::step::Step;
use super::{Engine, UserError};
use crate::domain::{Entry, Evidence, Lane};
use crate::store::{Change, ClaimedJob, JobView};

/// Attempts of a work job (grant, card update, reminder…) before it is dead-lettered: about
/// twenty minutes of retries with the backoff below.
pub(crate) const WORK_ATTEMPTS: i64 = 10;

/// A revocation that keeps failing raises an alert on its first failure and then every so often.
const REVOCATION_ALERT_EVERY: i64 = 10;

impl Engine {
    /// Settles a job that returned an error: retry later, or dead-letter with an alert.
    pub(crate) async fn after_job(&self, job: &ClaimedJob, result: anyhow::Result<()>) {
        let Err(err) = result else { return };
        let why: String = format!("{err:#}").chars().take(500).collect();
        let lane = job.job.as_ref().map_or(Lane::Work, |j| j.kind().lane());
        let hopeless = job.job.is_err() || err.downcast_ref::<UserError>().is_some();
        let dead = hopeless || (lane == Lane::Work && job.attempts >= WORK_ATTEMPTS);
        if dead {
            self.dead_letter(job, &why).await;
            return;
        }
        tracing::error!(job = %job.claim.job_id, attempt = job.attempts, error = ?err, "job failed; will retry");
        if lane == Lane::Revocations && job.attempts % REVOCATION_ALERT_EVERY == 1 {
            self.job_alert(job, &format!(
                "Revocation job {} keeps failing (attempt {}): access may still be in place. Warden keeps retrying.",
                job.claim.job_id, job.attempts
            ), &why).await;
        }
        let at = self.now_ms() + backoff_ms(job.attempts);
        if let Err(e) = self.store.retry_job(&job.claim, at, &why).await {
            tracing::error!(job = %job.claim.job_id, error = ?e, "failed to reschedule a job");
        }
    }

    /// The dead-letter state: the job stops, an admin sees it (`/admin/jobs`, `/api/v1/jobs`,
    /// `/metrics`), the log and the security channel are alerted, and the request's log says so.
    async fn dead_letter(&self, job: &ClaimedJob, why: &str) {
        match self.store.dead_letter_job(&job.claim, why).await {
            Ok(true) => {}
            Ok(false) => return, // another worker took the job over; it decides
            Err(e) => {
                tracing::error!(job = %job.claim.job_id, error = ?e, "failed to dead-letter a job; it will be claimed again");
                return;
            }
        }
        let kind = job.job.as_ref().map_or("unknown", |j| j.kind().as_str());
        self.metrics.inc(
            "warden_jobs_dead_lettered_total",
            &format!("kind=\"{kind}\""),
            1,
        );
        let text = format!(
            "Job {} stopped after {} attempt(s) and needs an admin: see Jobs in the admin UI to retry it.",
            job.claim.job_id, job.attempts
        );
        self.job_alert(job, &text, why).await;
    }

    /// An alert about a job: the log, the alert counter, the request's context log and the
    /// security channel (the cause stays in the log and the context log, never in chat).
    async fn job_alert(&self, job: &ClaimedJob, text: &str, why: &str) {
        tracing::error!(job = %job.claim.job_id, attempts = job.attempts, why, "ALERT: {text}");
        self.metrics.inc("warden_job_alerts_total", "", 1);
        let Some(id) = &job.request_id else { return };
        let entry = Entry::warden(Evidence::Alert(serde_json::json!({
            "job": job.claim.job_id,
            "attempts": job.attempts,
            "alert": text,
            "error": why,
        })));
        let logged = self
            .change_request(id.as_str(), |_| {
                Ok(Some(Step::new(Change::none().log(entry.clone()))))
            })
            .await;
        match logged {
            Ok(Some(req)) => self.alert_security(&req, text).await,
            Ok(None) => {}
            Err(e) => {
                tracing::error!(job = %job.claim.job_id, error = ?e, "failed to log a job alert")
            }
        }
    }

    /// An admin puts a dead job back to run now; the request's context log records who did.
    pub async fn retry_dead_job(&self, id: &str, actor: &str) -> anyhow::Result<Option<JobView>> {
        let Some(job) = self.store.retry_dead_job(id, self.now_ms()).await? else {
            return Ok(None);
        };
        tracing::info!(job = %job.id, actor, "dead job retried by an admin");
        if let Some(request) = &job.request_id {
            let entry = Entry::new(
                actor,
                Evidence::Alert(serde_json::json!({ "job": job.id, "retried_by": actor })),
            );
            self.change_request(request, |_| {
                Ok(Some(Step::new(Change::none().log(entry.clone()))))
            })
            .await?;
        }
        Ok(Some(job))
    }
}
