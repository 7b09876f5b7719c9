//! The scheduler: runs due DB-backed jobs (grants, expiries, revocations, reminders, retries).
//! Safe across restarts and instances: each job is claimed with a lease before it runs.

use super::Engine;
use super::grant::backoff_ms;
use super::step::Step;
use crate::domain::jobs::CardUpdate;
use crate::domain::{Entry, Evidence, Job, JobKind, Patch, Request, RequestEvent, RequestState};
use crate::store::{Change, ClaimedJob};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl Engine {
    /// Runs every job that is due now; returns how many ran.
    pub async fn run_due_jobs(&self) -> anyhow::Result<usize> {
        let mut ran = 0;
        loop {
            let now = self.now_ms();
            let jobs = self
                .store
                .claim_due_jobs(&self.worker_id, now, now + self.lease_ms(), 32)
                .await?;
            if jobs.is_empty() {
                return Ok(ran);
            }
            ran += jobs.len();
            for job in jobs {
                self.run_job(job).await;
            }
        }
    }

    /// On start: make sure every active grant has its expiry job, then revoke what is overdue
    /// before anything else runs.
    pub async fn recover(&self) -> anyhow::Result<usize> {
        let now = self.now_ms();
        let armed = self.store.arm_missing_expiries().await?;
        if armed > 0 {
            tracing::warn!(armed, "active grants had no pending expiry job; re-armed");
        }
        let ran = self.run_due_jobs().await?;
        tracing::info!(ran, at = now, "start-up recovery done");
        Ok(ran)
    }

    /// Runs one claimed job. Failures are logged and the job is retried later.
    pub(crate) async fn run_job(&self, job: ClaimedJob) {
        let result = self.run_job_inner(&job, None).await;
        self.after_job(&job, result).await;
    }

    /// Runs a job this worker claimed in the commit that produced `req` (no need to read it).
    pub(crate) async fn run_job_on(&self, job: ClaimedJob, req: Request) {
        let result = self.run_job_inner(&job, Some(req)).await;
        self.after_job(&job, result).await;
    }

    async fn after_job(&self, job: &ClaimedJob, result: anyhow::Result<()>) {
        if let Err(err) = result {
            tracing::error!(job = %job.claim.job_id, attempt = job.attempts, error = ?err, "job failed; will retry");
            let at = self.now_ms() + backoff_ms(job.attempts);
            let why: String = format!("{err:#}").chars().take(500).collect();
            if let Err(e) = self.store.retry_job(&job.claim, at, &why).await {
                tracing::error!(job = %job.claim.job_id, error = ?e, "failed to reschedule a job");
            }
        }
    }

    /// One match over the job kinds.
    async fn run_job_inner(&self, job: &ClaimedJob, known: Option<Request>) -> anyhow::Result<()> {
        let kind = match &job.job {
            Ok(k) => k.clone(),
            Err(e) => {
                // Never dropped in silence: the job stays for an admin, the log says why.
                tracing::error!(job = %job.claim.job_id, error = %e, "ALERT: a stored job cannot be run");
                self.metrics.inc("warden_job_alerts_total", "", 1);
                return Err(anyhow::anyhow!("{e}"));
            }
        };
        let req = match (known, &job.request_id) {
            (Some(r), _) => Some(r),
            (None, Some(id)) => self.store.get_request(id.as_str()).await?,
            (None, None) => None,
        };
        let Some(req) = req else {
            self.store.complete_job(&job.claim).await?;
            return Ok(());
        };
        match &kind {
            Job::Grant => self.exec_grant(job, req).await,
            Job::Expire => self.exec_revoke(job, req, None).await,
            Job::Revoke(order) => self.exec_revoke(job, req, Some(order)).await,
            Job::Compensate => self.exec_compensate(job, req).await,
            Job::ConfirmExpire | Job::PendingExpire => self.exec_deadline(job, req).await,
            Job::Remind => self.exec_reminder(job, &req).await,
            Job::Warn => self.exec_warning(job, &req).await,
            Job::CardUpdate(update) => self.exec_card_update(job, &req, update).await,
        }
    }

    /// A confirmation or approval deadline passed.
    async fn exec_deadline(&self, job: &ClaimedJob, req: Request) -> anyhow::Result<()> {
        let now = self.now_ms();
        let id = req.id.to_string();
        let moved = self
            .change_request_from(&id, Some(req), |seen| {
                let waiting = matches!(
                    seen.state,
                    RequestState::Draft
                        | RequestState::AwaitingConfirmation
                        | RequestState::PendingApproval
                );
                if !waiting || seen.deadline_at.is_none_or(|d| d > now) {
                    return Ok(None);
                }
                let to = seen.state.apply(RequestEvent::Expire)?;
                let (status, text) = if seen.state == RequestState::PendingApproval {
                    (
                        "Expired: no decision in time".to_string(),
                        format!("Request {} expired without a decision. Nothing was granted; ask again if you still need it.", seen.id),
                    )
                } else {
                    (
                        "Expired: not submitted in time".to_string(),
                        format!("Request {} was not submitted in time and is closed.", seen.id),
                    )
                };
                let change = Change::event(RequestEvent::Expire)
                    .patch(Patch {
                        deadline_at: Some(None),
                        ..Default::default()
                    })
                    .log(Entry::new(
                        "scheduler",
                        Evidence::StateChange {
                            from: seen.state,
                            to,
                            why: Some("deadline passed".into()),
                        },
                    ))
                    .cancel(&[JobKind::Remind])
                    .complete(Some(job.claim.clone()));
                Ok(Some(Step::new(change).cards(status).tell(text)))
            })
            .await?;
        if moved.is_none() {
            self.store.complete_job(&job.claim).await?;
        }
        Ok(())
    }

    /// Nudges approvers before a pending request expires.
    async fn exec_reminder(&self, job: &ClaimedJob, req: &Request) -> anyhow::Result<()> {
        if req.state == RequestState::PendingApproval {
            let platform = req.origin.platform;
            let step = req
                .approval_plan
                .as_ref()
                .and_then(|p| p.steps.get(req.current_step as usize));
            let mut reminded = Vec::new();
            for id in step.map(|s| s.eligible.clone()).unwrap_or_default() {
                if let Ok(Some(p)) = self.directory.person(&id).await
                    && let Some(acct) = p.account_on(platform, &req.origin.workspace)
                    && let Some(chat) = self.chat(platform)
                {
                    let left = req.deadline_at.map(|d| self.until(d)).unwrap_or_default();
                    let text = format!(
                        "Reminder: request {} for {} on {} is waiting for your decision; it expires {left}.",
                        req.id,
                        req.role().unwrap_or_default(),
                        req.resource().unwrap_or_default()
                    );
                    if chat.notify(acct, &text).await.is_ok() {
                        reminded.push(id);
                    }
                }
            }
            let entry = Entry::new("scheduler", Evidence::Reminder { to: reminded });
            let claim = job.claim.clone();
            let done = self
                .change_request_from(req.id.as_str(), Some(req.clone()), |_| {
                    Ok(Some(Step::new(
                        Change::none()
                            .log(entry.clone())
                            .complete(Some(claim.clone())),
                    )))
                })
                .await?;
            if done.is_some() {
                return Ok(());
            }
        }
        self.store.complete_job(&job.claim).await.map(|_| ())
    }

    /// Warns the requester before access expires.
    async fn exec_warning(&self, job: &ClaimedJob, req: &Request) -> anyhow::Result<()> {
        // A warning after the fact (the scheduler was down) would only confuse.
        if req.state == RequestState::Active
            && let Some(at) = req.expires_at
            && at > self.now_ms()
        {
            let left = if req.extensions < self.options.max_extensions {
                format!(" Say \"extend {} by 1h\" to ask for more time.", req.id)
            } else {
                String::new()
            };
            let text = format!(
                "Heads-up: your access for request {} ends {}.{left}",
                req.id,
                self.until(at).replacen("until", "at", 1)
            );
            let claim = job.claim.clone();
            let done = self
                .change_request_from(req.id.as_str(), Some(req.clone()), |_| {
                    Ok(Some(
                        Step::new(Change::none().complete(Some(claim.clone()))).tell(text.clone()),
                    ))
                })
                .await?;
            if done.is_some() {
                return Ok(());
            }
        }
        self.store.complete_job(&job.claim).await.map(|_| ())
    }

    /// Retries a card update the platform refused earlier.
    async fn exec_card_update(
        &self,
        job: &ClaimedJob,
        req: &Request,
        update: &CardUpdate,
    ) -> anyhow::Result<()> {
        if let Some(card) = self
            .render_stored_card(req, update.card.kind, update.status.clone())
            .await
            && let Some(chat) = self.chat(update.card.platform)
        {
            let msg = crate::chat::MessageRef {
                platform: update.card.platform,
                channel: update.card.channel.clone(),
                message_id: update.card.message_id.clone(),
            };
            chat.update_card(&msg, &card)
                .await
                .map_err(|e| anyhow::anyhow!("card update still failing: {e}"))?;
        }
        self.store.complete_job(&job.claim).await.map(|_| ())
    }

    /// The background loop of `warden serve` (run `recover` first): due jobs on every tick.
    pub async fn run_scheduler(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.run_due_jobs().await {
                        tracing::error!(error = ?e, "scheduler tick failed");
                    }
                }
            }
        }
        tracing::info!("scheduler stopped");
    }
}
