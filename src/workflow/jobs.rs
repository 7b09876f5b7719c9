//! The scheduler: runs due DB-backed jobs (grants, expiries, revocations, reminders, retries).
//! Safe across restarts and instances: each job is claimed with a lease before it runs.

use super::Engine;
use crate::chat::MessageRef;
use crate::domain::{Platform, RequestEvent, RequestState};
use crate::store::{Job, LogKind, NewLogEntry, RequestChanges};
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
    pub(crate) async fn run_job(&self, job: Job) {
        let result = self.run_job_inner(&job).await;
        if let Err(err) = result {
            tracing::error!(job = %job.id, attempt = job.attempts, error = ?err, "job failed; will retry");
            let at = self.now_ms() + (5_000i64 << job.attempts.clamp(0, 6)).min(300_000);
            if let Err(e) = self
                .store
                .retry_job(
                    &job.id,
                    &self.worker_id,
                    at,
                    &format!("{err:#}").chars().take(500).collect::<String>(),
                )
                .await
            {
                tracing::error!(job = %job.id, error = ?e, "failed to reschedule a job");
            }
        }
    }

    async fn run_job_inner(&self, job: &Job) -> anyhow::Result<()> {
        let req = match &job.request_id {
            Some(id) => self.store.get_request(id).await?,
            None => None,
        };
        let Some(req) = req else {
            self.store.complete_job(&job.id, &self.worker_id).await?;
            return Ok(());
        };
        match job.kind.as_str() {
            "grant" => self.exec_grant(job, &req).await,
            "expire" => self.exec_revoke(job, &req, RequestEvent::Expire).await,
            "revoke" => self.exec_revoke(job, &req, RequestEvent::Revoke).await,
            "pending_expire" | "confirm_expire" => self.exec_deadline(job, &req).await,
            "remind" => self.exec_reminder(job, &req).await,
            "warn" => self.exec_warning(job, &req).await,
            "card_update" => self.exec_card_update(job, &req).await,
            other => {
                tracing::error!(job = %job.id, kind = other, "unknown job kind; dropping it");
                self.store
                    .complete_job(&job.id, &self.worker_id)
                    .await
                    .map(|_| ())
            }
        }
    }

    /// A confirmation or approval deadline passed.
    async fn exec_deadline(&self, job: &Job, req: &crate::store::RequestRow) -> anyhow::Result<()> {
        let waiting = matches!(
            req.state,
            RequestState::Draft
                | RequestState::AwaitingConfirmation
                | RequestState::PendingApproval
        );
        let due = req.deadline_at.is_some_and(|d| d <= self.now_ms());
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let moved = if waiting && due {
            tx.transition(
                &req.id,
                req.state,
                RequestEvent::Expire,
                &RequestChanges {
                    deadline_at: Some(None),
                    ..Default::default()
                },
                now,
            )
            .await?
        } else {
            None
        };
        if let Some(to) = moved {
            tx.append_log(
                &req.id,
                now,
                &[NewLogEntry::new(
                    LogKind::StateChange,
                    "scheduler",
                    serde_json::json!({ "from": req.state, "to": to, "why": "deadline passed" }),
                )],
            )
            .await?;
            tx.cancel_job(&format!("remind:{}", req.id)).await?;
        }
        tx.complete_job(&job.id, &self.worker_id).await?;
        tx.commit().await?;
        if moved.is_some() {
            let row = self
                .store
                .get_request(&req.id)
                .await?
                .unwrap_or_else(|| req.clone());
            let (status, text) = if req.state == RequestState::PendingApproval {
                (
                    "Expired: no decision in time".to_string(),
                    format!(
                        "Request {} expired without a decision. Nothing was granted; ask again if you still need it.",
                        req.id
                    ),
                )
            } else {
                (
                    "Expired: not submitted in time".to_string(),
                    format!(
                        "Request {} was not submitted in time and is closed.",
                        req.id
                    ),
                )
            };
            self.refresh_cards(&row, Some(status)).await;
            self.say(&req.id, &self.scope_of(req), &text).await;
        }
        Ok(())
    }

    /// Nudges approvers before a pending request expires.
    async fn exec_reminder(&self, job: &Job, req: &crate::store::RequestRow) -> anyhow::Result<()> {
        if req.state == RequestState::PendingApproval {
            let platform = req.platform().unwrap_or(Platform::Console);
            let plan = super::ApprovalPlan::parse(req.approval_plan_json.as_deref());
            let step = plan
                .as_ref()
                .and_then(|p| p.steps.get(req.current_step.max(0) as usize));
            let mut reminded = Vec::new();
            for id in step.map(|s| s.eligible.clone()).unwrap_or_default() {
                if let Ok(Some(p)) = self.directory.person(&id).await
                    && let Some(acct) = p.account_on(platform, &req.workspace)
                    && let Some(chat) = self.chat(platform)
                {
                    let left = req.deadline_at.map(|d| self.until(d)).unwrap_or_default();
                    let text = format!(
                        "Reminder: request {} for {} on {} is waiting for your decision; it expires {left}.",
                        req.id,
                        req.role.as_deref().unwrap_or_default(),
                        req.resource.as_deref().unwrap_or_default()
                    );
                    if chat.notify(acct, &text).await.is_ok() {
                        reminded.push(id);
                    }
                }
            }
            self.store
                .append_log(
                    &req.id,
                    self.now_ms(),
                    &[NewLogEntry::new(
                        LogKind::MessageOut,
                        "scheduler",
                        serde_json::json!({ "reminder_to": reminded }),
                    )],
                )
                .await?;
        }
        self.store
            .complete_job(&job.id, &self.worker_id)
            .await
            .map(|_| ())
    }

    /// Warns the requester before access expires.
    async fn exec_warning(&self, job: &Job, req: &crate::store::RequestRow) -> anyhow::Result<()> {
        // A warning after the fact (the scheduler was down) would only confuse.
        if req.state == RequestState::Active
            && let Some(at) = req.expires_at
            && at > self.now_ms()
        {
            let left = if (req.extensions as u32) < self.options.max_extensions {
                format!(" Say \"extend {} by 1h\" to ask for more time.", req.id)
            } else {
                String::new()
            };
            self.say(
                &req.id,
                &self.scope_of(req),
                &format!(
                    "Heads-up: your access for request {} ends {}.{left}",
                    req.id,
                    self.until(at).replacen("until", "at", 1)
                ),
            )
            .await;
        }
        self.store
            .complete_job(&job.id, &self.worker_id)
            .await
            .map(|_| ())
    }

    /// Retries a card update the platform refused earlier.
    async fn exec_card_update(
        &self,
        job: &Job,
        req: &crate::store::RequestRow,
    ) -> anyhow::Result<()> {
        let payload: serde_json::Value =
            serde_json::from_str(job.payload.as_deref().unwrap_or("{}"))?;
        let platform = Platform::parse(payload["platform"].as_str().unwrap_or_default())
            .unwrap_or(Platform::Console);
        let msg = MessageRef {
            platform,
            channel: payload["channel"].as_str().unwrap_or_default().into(),
            message_id: payload["message_id"].as_str().unwrap_or_default().into(),
        };
        let status = payload["status"].as_str().map(str::to_string);
        if let Some(card) = self
            .render_stored_card(req, payload["kind"].as_str().unwrap_or_default(), status)
            .await
            && let Some(chat) = self.chat(platform)
        {
            chat.update_card(&msg, &card)
                .await
                .map_err(|e| anyhow::anyhow!("card update still failing: {e}"))?;
        }
        self.store
            .complete_job(&job.id, &self.worker_id)
            .await
            .map(|_| ())
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
