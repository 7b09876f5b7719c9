//! The scheduler: runs due DB-backed jobs (grants, expiries, revocations, reminders, retries).
//! Safe across restarts and instances: each job is claimed with a lease before it runs.

use super::Engine;
use super::step::Step;
use crate::domain::jobs::CardUpdate;
use crate::domain::{
    Entry, Evidence, Job, JobKind, Lane, Patch, Request, RequestEvent, RequestState,
};
use crate::store::{Change, ClaimedJob, JobClaim};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Jobs of one lane run at once in this process: enough that a hung backend call does not stall
/// its lane, few enough not to flood a backend or the database.
const JOBS_AT_ONCE: usize = 8;

/// How long a stopping scheduler waits for the jobs it is running.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl Engine {
    /// A lease on a job this worker inserts and runs right away.
    pub(crate) fn claim(&self, job: &Job, req: &Request) -> JobClaim {
        JobClaim {
            job_id: job.id_for(&req.id),
            worker: self.worker_id.clone(),
            lease_until: self.now_ms() + self.lease_ms(),
        }
    }

    pub(crate) fn lease_ms(&self) -> i64 {
        (self.options.job_lease_secs as i64) * 1000
    }

    /// Runs every job that is due now, revocations first; returns how many ran.
    pub async fn run_due_jobs(&self) -> anyhow::Result<usize> {
        let mut ran = 0;
        for lane in Lane::ALL {
            ran += self.run_lane(lane).await?;
        }
        Ok(ran)
    }

    /// Runs the due jobs of one lane until none is left, several at a time so that one slow
    /// backend call holds up only itself.
    pub async fn run_lane(&self, lane: Lane) -> anyhow::Result<usize> {
        let mut ran = 0;
        loop {
            let now = self.now_ms();
            let jobs = self
                .store
                .claim_due_jobs(lane, &self.worker_id, now, now + self.lease_ms(), 32)
                .await?;
            if jobs.is_empty() {
                return Ok(ran);
            }
            ran += jobs.len();
            futures::stream::iter(jobs)
                .for_each_concurrent(JOBS_AT_ONCE, |job| self.run_job(job))
                .await;
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

    /// One match over the job kinds.
    async fn run_job_inner(&self, job: &ClaimedJob, known: Option<Request>) -> anyhow::Result<()> {
        let kind = match &job.job {
            Ok(k) => k.clone(),
            Err(e) => {
                // Never dropped in silence: `after_job` dead-letters it with an alert.
                return Err(anyhow::anyhow!("{e}"));
            }
        };
        // It belongs to no request.
        if kind == Job::Reconcile {
            return self.exec_reconcile(job).await;
        }
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
            Job::Reconcile => self.exec_reconcile(job).await,
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
                let Ok(Some(p)) = self.directory.person(&id).await else {
                    continue;
                };
                // An agent's approvers are reached in their DMs, wherever they have an account.
                let accounts = if req.is_agent() {
                    self.agent_approver_accounts(&p)
                } else {
                    p.account_on(platform, &req.origin.workspace)
                        .into_iter()
                        .collect()
                };
                for acct in accounts {
                    let Some(chat) = self.chat(acct.platform) else {
                        continue;
                    };
                    let left = req.deadline_at.map(|d| self.until(d)).unwrap_or_default();
                    let text = format!(
                        "Reminder: request {} for {} on {} is waiting for your decision; it expires {left}.",
                        req.id,
                        req.role().unwrap_or_default(),
                        req.resource().unwrap_or_default()
                    );
                    if chat.notify(acct, &text).await.is_ok() {
                        reminded.push(id.clone());
                        break;
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

    /// Retries a card update the platform refused earlier. The card shows the request as it is
    /// now (its current status line), not as it was when the update failed: updates of one card
    /// are coalesced (one job per card, and edits made meanwhile were handed to the failed one),
    /// so the latest content must win.
    async fn exec_card_update(
        &self,
        job: &ClaimedJob,
        req: &Request,
        update: &CardUpdate,
    ) -> anyhow::Result<()> {
        if let Some(card) = self
            .render_posted(req, &update.card, req.card_status.clone())
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

    /// The background loops of `warden serve` (run `recover` first): one per lane, each running
    /// its due jobs on every tick, so revocations never queue behind other work.
    pub async fn run_scheduler(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        let lanes = Lane::ALL.map(|lane| {
            let (engine, shutdown) = (self.clone(), shutdown.clone());
            tokio::spawn(engine.run_lane_loop(lane, interval, shutdown))
        });
        for lane in lanes {
            if let Err(e) = lane.await {
                tracing::error!(error = ?e, "a scheduler lane stopped abnormally");
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// One lane of the scheduler: on every tick it claims as many due jobs as it has free slots
    /// and runs each on its own task, so a job whose backend hangs takes one slot, not the lane.
    async fn run_lane_loop(
        self: Arc<Self>,
        lane: Lane,
        interval: Duration,
        shutdown: CancellationToken,
    ) {
        let slots = Arc::new(Semaphore::new(JOBS_AT_ONCE));
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            while slots.available_permits() > 0 {
                let free = slots.available_permits() as i64;
                let now = self.now_ms();
                let lease = now + self.lease_ms();
                let jobs = match self
                    .store
                    .claim_due_jobs(lane, &self.worker_id, now, lease, free)
                    .await
                {
                    Ok(jobs) if jobs.is_empty() => break,
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!(lane = lane.as_str(), error = ?e, "scheduler tick failed");
                        break;
                    }
                };
                for job in jobs {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        break; // unreachable: no more jobs were claimed than slots were free
                    };
                    let engine = self.clone();
                    tokio::spawn(async move {
                        engine.run_job(job).await;
                        drop(slot);
                    });
                }
            }
        }
        // Let running jobs finish their commit; what is still out after the grace period is
        // taken over by another worker when its lease ends.
        let all = JOBS_AT_ONCE as u32;
        if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
            .await
            .is_err()
        {
            tracing::warn!(
                lane = lane.as_str(),
                "jobs still running at shutdown; their leases will lapse"
            );
        }
    }
}
