//! Grant, expiry, early revocation, cancellation, extension and break-glass announcements.

use super::{Engine, Handled, outgoing, user_error};
use crate::chat::{CardKind, CardTarget, ChatEvent};
use crate::domain::{
    Intent, Person, Platform, PlatformUser, RequestEvent, RequestState, Resource, format_duration,
};
use crate::grants::{GrantCall, GrantError, GrantOp};
use crate::policy::{Decision, RequestContextInput};
use crate::store::{GrantRow, Job, LogKind, NewJob, NewLogEntry, RequestChanges, RequestRow};
use std::sync::atomic::Ordering;

/// Grant and revoke retries: exponential from 5 s, at most 5 minutes apart.
fn backoff_ms(attempts: i64) -> i64 {
    (5_000i64 << attempts.clamp(0, 6)).min(300_000)
}

const GRANT_ATTEMPTS: i64 = 5;

impl Engine {
    /// Runs a request's grant job now instead of waiting for the scheduler.
    pub(crate) async fn run_grant_now(&self, id: &str) {
        if self.halt_before_grant.load(Ordering::SeqCst) {
            tracing::warn!(
                request = id,
                "simulated crash: grant left to the next engine"
            );
            return;
        }
        let now = self.now_ms();
        match self
            .store
            .claim_job(
                &format!("grant:{id}"),
                &self.worker_id,
                now,
                now + self.lease_ms(),
            )
            .await
        {
            Ok(Some(job)) => self.run_job(job).await,
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(request = id, error = ?e, "failed to claim a grant job; the scheduler will run it")
            }
        }
    }

    pub(crate) fn lease_ms(&self) -> i64 {
        (self.options.job_lease_secs as i64) * 1000
    }

    fn grant_call(
        &self,
        req: &RequestRow,
        resource: &Resource,
        op: GrantOp,
        expires_at: i64,
        tag: Option<&str>,
    ) -> GrantCall {
        let account = PlatformUser::new(
            req.platform().unwrap_or(Platform::Console),
            req.workspace.clone(),
            req.requester_account.clone(),
        );
        let mut call = GrantCall::new(
            op,
            &req.id,
            resource,
            req.role.as_deref().unwrap_or_default(),
            &req.requester_id,
            &account,
            crate::clock::from_ms(expires_at),
            tag,
        );
        call.params = resource.grant.params.clone();
        call
    }

    /// The grant job: one backend call (idempotency key `<id>:grant`), then Approved → Active.
    pub(crate) async fn exec_grant(&self, job: &Job, req: &RequestRow) -> anyhow::Result<()> {
        if req.state != RequestState::Approved {
            self.store.complete_job(&job.id, &self.worker_id).await?;
            return Ok(());
        }
        let resource = self.resource_of(req)?.clone();
        let Some(grantor) = self.grantors.get(&resource.grant.backend) else {
            return self
                .fail_grant(
                    job,
                    req,
                    &format!(
                        "no grant backend '{}' is configured",
                        resource.grant.backend
                    ),
                )
                .await;
        };
        let mut secs = req.duration_secs.unwrap_or(3600).max(60);
        if req.break_glass {
            secs = secs.min(self.options.break_glass_secs as i64);
        }
        let now = self.now_ms();
        let expires_at = now + secs * 1000;
        let call = self.grant_call(req, &resource, GrantOp::Grant, expires_at, None);
        match grantor.apply(&call).await {
            Ok(receipt) => {
                let what = format!("{} on {}", call.role, resource.name);
                let told = format!(
                    "Access granted: {what} {}. Request {}. Say \"revoke {}\" when you're done.",
                    self.until(expires_at),
                    req.id,
                    req.id
                );
                let mut tx = self.store.begin().await?;
                if tx
                    .transition(
                        &req.id,
                        RequestState::Approved,
                        RequestEvent::Granted,
                        &RequestChanges {
                            expires_at: Some(Some(expires_at)),
                            ..Default::default()
                        },
                        now,
                    )
                    .await?
                    .is_none()
                {
                    tx.complete_job(&job.id, &self.worker_id).await?;
                    tx.commit().await?;
                    return Ok(());
                }
                tx.insert_grant(&GrantRow {
                    request_id: req.id.clone(),
                    backend: grantor.name().to_string(),
                    resource: resource.id.clone(),
                    role: call.role.clone(),
                    person_id: req.requester_id.clone(),
                    account: call.account.to_string(),
                    granted_at: now,
                    expires_at,
                    revoked_at: None,
                    revoke_reason: None,
                    status: "active".into(),
                })
                .await?;
                tx.append_log(
                    &req.id,
                    now,
                    &[
                        NewLogEntry::new(LogKind::GrantCall, "warden", serde_json::json!({ "call": call, "outcome": "ok", "receipt": receipt })),
                        NewLogEntry::new(LogKind::StateChange, "warden", serde_json::json!({ "from": "approved", "to": "active", "expires_at": expires_at })),
                        outgoing(&told),
                    ],
                )
                .await?;
                tx.enqueue(&NewJob {
                    id: format!("expire:{}", req.id),
                    kind: "expire".into(),
                    request_id: Some(req.id.clone()),
                    run_at: expires_at,
                    priority: 10,
                    payload: None,
                })
                .await?;
                let warn_at = expires_at - (self.options.expiry_warning_before_secs as i64) * 1000;
                if warn_at > now {
                    tx.enqueue(&NewJob {
                        id: format!("warn:{}", req.id),
                        kind: "warn".into(),
                        request_id: Some(req.id.clone()),
                        run_at: warn_at,
                        priority: 0,
                        payload: None,
                    })
                    .await?;
                }
                tx.complete_job(&job.id, &self.worker_id).await?;
                tx.commit().await?;
                self.metrics.inc(
                    "warden_grants_total",
                    &format!("backend=\"{}\"", grantor.name()),
                    1,
                );
                let row = self
                    .store
                    .get_request(&req.id)
                    .await?
                    .unwrap_or_else(|| req.clone());
                self.refresh_cards(&row, Some(format!("Granted {}", self.until(expires_at))))
                    .await;
                self.deliver(&req.id, &self.scope_of(req), &told).await;
                Ok(())
            }
            Err(GrantError::Transient(why)) if job.attempts < GRANT_ATTEMPTS => {
                self.store.append_log(&req.id, now, &[NewLogEntry::new(LogKind::GrantCall, "warden", serde_json::json!({ "call": call, "outcome": "retrying", "error": why, "attempt": job.attempts }))]).await?;
                self.store
                    .retry_job(
                        &job.id,
                        &self.worker_id,
                        now + backoff_ms(job.attempts),
                        &why,
                    )
                    .await
            }
            Err(e) => self.fail_grant(job, req, &e.to_string()).await,
        }
    }

    async fn fail_grant(&self, job: &Job, req: &RequestRow, why: &str) -> anyhow::Result<()> {
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        if tx
            .transition(
                &req.id,
                RequestState::Approved,
                RequestEvent::Fail,
                &RequestChanges::default(),
                now,
            )
            .await?
            .is_some()
        {
            tx.append_log(
                &req.id,
                now,
                &[NewLogEntry::new(
                    LogKind::Error,
                    "warden",
                    serde_json::json!({ "grant_failed": why }),
                )],
            )
            .await?;
        }
        tx.complete_job(&job.id, &self.worker_id).await?;
        tx.commit().await?;
        tracing::error!(request = %req.id, why, "granting failed");
        let row = self
            .store
            .get_request(&req.id)
            .await?
            .unwrap_or_else(|| req.clone());
        self.refresh_cards(&row, Some("Approved, but granting failed".into()))
            .await;
        self.say(&req.id, &self.scope_of(req), &format!("Request {} was approved, but granting the access failed. Nothing was granted; an admin has been told.", req.id)).await;
        Ok(())
    }

    /// The expire and revoke jobs: the backend call first, then Active → Expired/Revoked.
    /// A failing revoke is retried until it succeeds and raises an alert each time.
    pub(crate) async fn exec_revoke(
        &self,
        job: &Job,
        req: &RequestRow,
        event: RequestEvent,
    ) -> anyhow::Result<()> {
        if req.state != RequestState::Active {
            self.store.complete_job(&job.id, &self.worker_id).await?;
            return Ok(());
        }
        let now = self.now_ms();
        if event == RequestEvent::Expire
            && let Some(at) = req.expires_at
            && at > now
        {
            // Extended since this job was armed; the re-armed job will run instead.
            return self
                .store
                .retry_job(&job.id, &self.worker_id, at, "extended")
                .await;
        }
        let (actor, reason) = match job
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        {
            Some(v) => (
                v["actor"].as_str().unwrap_or("warden").to_string(),
                v["reason"].as_str().unwrap_or("revoked").to_string(),
            ),
            None => ("scheduler".to_string(), "expired".to_string()),
        };
        let resource = self.resource_of(req)?.clone();
        let call = self.grant_call(
            req,
            &resource,
            GrantOp::Revoke,
            req.expires_at.unwrap_or(now),
            None,
        );
        let result = match self.grantors.get(&resource.grant.backend) {
            Some(g) => g.apply(&call).await.map_err(|e| e.to_string()),
            None => Err(format!(
                "no grant backend '{}' is configured",
                resource.grant.backend
            )),
        };
        match result {
            Ok(receipt) => {
                let status = if event == RequestEvent::Expire {
                    "Expired; access removed".to_string()
                } else {
                    format!("Revoked ({reason})")
                };
                let what = format!(
                    "{} on {}",
                    req.role.as_deref().unwrap_or_default(),
                    resource.name
                );
                let told = format!(
                    "Your access ({what}, request {}) has ended: {}.",
                    req.id,
                    status.to_lowercase()
                );
                let mut tx = self.store.begin().await?;
                let moved = tx
                    .transition(
                        &req.id,
                        RequestState::Active,
                        event,
                        &RequestChanges::default(),
                        now,
                    )
                    .await?;
                if let Some(to) = moved {
                    tx.close_grant(&req.id, now, &reason).await?;
                    tx.append_log(
                        &req.id,
                        now,
                        &[
                            NewLogEntry::new(LogKind::RevokeCall, &actor, serde_json::json!({ "call": call, "outcome": "ok", "receipt": receipt, "reason": reason })),
                            NewLogEntry::new(LogKind::StateChange, "warden", serde_json::json!({ "from": "active", "to": to })),
                            outgoing(&told),
                        ],
                    )
                    .await?;
                }
                tx.cancel_job(&format!("warn:{}", req.id)).await?;
                tx.cancel_job(&format!("expire:{}", req.id)).await?;
                tx.complete_job(&job.id, &self.worker_id).await?;
                tx.commit().await?;
                self.metrics.inc(
                    "warden_revocations_total",
                    &format!(
                        "reason=\"{}\"",
                        if event == RequestEvent::Expire {
                            "expired"
                        } else {
                            "revoked"
                        }
                    ),
                    1,
                );
                if moved.is_some() {
                    let row = self
                        .store
                        .get_request(&req.id)
                        .await?
                        .unwrap_or_else(|| req.clone());
                    self.refresh_cards(&row, Some(status)).await;
                    self.deliver(&req.id, &self.scope_of(req), &told).await;
                }
                Ok(())
            }
            Err(why) => {
                tracing::error!(request = %req.id, attempt = job.attempts, why, "REVOCATION FAILING: access is still in place; retrying");
                self.metrics.inc("warden_revoke_failures_total", "", 1);
                self.store
                    .append_log(
                        &req.id,
                        now,
                        &[NewLogEntry::new(
                            LogKind::Alert,
                            "warden",
                            serde_json::json!({ "revoke_failing": why, "attempt": job.attempts }),
                        )],
                    )
                    .await?;
                if job.attempts == 1 {
                    self.alert_security(req, &format!("Revoking {} for request {} is failing ({why}). Warden keeps retrying; the access is still in place.", resource.name, req.id)).await;
                }
                self.store
                    .retry_job(
                        &job.id,
                        &self.worker_id,
                        now + backoff_ms(job.attempts),
                        &why,
                    )
                    .await
            }
        }
    }

    /// "I'm done": revoke now, by the requester (or an admin through the API).
    pub async fn revoke_early(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
    ) -> anyhow::Result<Handled> {
        let req = self
            .store
            .get_request(id)
            .await?
            .ok_or_else(|| user_error(format!("I can't find request {id}.")))?;
        if req.state != RequestState::Active {
            return Err(user_error(format!(
                "Request {id} has no active access to revoke (it is {}).",
                req.state.label()
            )));
        }
        let now = self.now_ms();
        let job = NewJob {
            id: format!("revoke:{id}"),
            kind: "revoke".into(),
            request_id: Some(id.to_string()),
            run_at: now,
            priority: 10,
            payload: Some(serde_json::json!({ "actor": actor, "reason": reason }).to_string()),
        };
        self.store.enqueue(&job).await?;
        if let Some(j) = self
            .store
            .claim_job(&job.id, &self.worker_id, now, now + self.lease_ms())
            .await?
        {
            self.run_job(j).await;
        }
        Ok(Handled::Done)
    }

    /// Cancels a request that has not been granted.
    pub(crate) async fn cancel(&self, id: &str, person: &Person) -> anyhow::Result<Handled> {
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let req = tx
            .lock_request(id)
            .await?
            .ok_or_else(|| user_error(format!("I can't find request {id}.")))?;
        if req.requester_id != person.id {
            return Err(user_error(format!("I can't find a request {id} of yours.")));
        }
        if tx
            .transition(
                id,
                req.state,
                RequestEvent::Cancel,
                &RequestChanges {
                    deadline_at: Some(None),
                    ..Default::default()
                },
                now,
            )
            .await
            .ok()
            .flatten()
            .is_none()
        {
            return Err(user_error(format!(
                "Request {id} can't be cancelled: it is {}.",
                req.state.label()
            )));
        }
        tx.append_log(
            id,
            now,
            &[NewLogEntry::new(
                LogKind::StateChange,
                &person.id,
                serde_json::json!({ "from": req.state, "to": "cancelled", "by": "requester" }),
            )],
        )
        .await?;
        for j in ["confirm_expire", "pending_expire", "remind"] {
            tx.cancel_job(&format!("{j}:{id}")).await?;
        }
        tx.commit().await?;
        let row = self.store.get_request(id).await?.unwrap_or(req);
        self.refresh_cards(&row, Some(format!("Cancelled by {}", person.display_name)))
            .await;
        self.say(
            id,
            &self.scope_of(&row),
            &format!("Request {id} is cancelled."),
        )
        .await;
        Ok(Handled::Done)
    }

    /// Extends active access: a new policy check; where policy wants approval, a linked request.
    pub(crate) async fn extend(
        &self,
        event: &ChatEvent,
        person: &Person,
        req: &RequestRow,
        intent: &Intent,
    ) -> anyhow::Result<Handled> {
        if req.state != RequestState::Active {
            return Err(user_error(format!(
                "Only active access can be extended; request {} is {}.",
                req.id,
                req.state.label()
            )));
        }
        if req.extensions >= i64::from(self.options.max_extensions) {
            return Err(user_error(format!(
                "Request {} was already extended {} time(s), the most allowed. Please make a new request.",
                req.id, req.extensions
            )));
        }
        let resource = self.resource_of(req)?.clone();
        let role = req.role.clone().unwrap_or_default();
        let max = resource.max_duration_for(&role) as i64;
        let wanted = intent
            .duration_secs
            .map(|d| d as i64)
            .or(req.duration_secs)
            .unwrap_or(3600)
            .min(max);
        let mut ext_intent = Self::intent_of(req)?;
        ext_intent.action = crate::domain::Action::Extend;
        ext_intent.duration_secs = Some(wanted as u64);
        ext_intent.request_id = Some(crate::domain::RequestId::from_stored(req.id.clone()));
        let context = RequestContextInput {
            is_extension: true,
            extensions_so_far: req.extensions as u32,
        };
        let input = self.policy_input(req, person, &ext_intent, &resource, context);
        let decision = self.policy.decide(&input).await;
        let actor = format!("policy:{}", self.policy.name());
        let entries = [
            NewLogEntry::new(
                LogKind::MessageIn,
                &person.id,
                serde_json::json!({ "extend": wanted, "account": event.actor }),
            ),
            NewLogEntry::new(LogKind::PolicyInput, &actor, serde_json::to_value(&input)?),
            NewLogEntry::new(
                LogKind::PolicyDecision,
                &actor,
                serde_json::to_value(&decision)?,
            ),
        ];
        self.store
            .append_log(&req.id, self.now_ms(), &entries)
            .await?;
        match decision {
            Decision::Allow {
                break_glass: false, ..
            } => self.apply_extension(req, wanted, &person.id).await,
            Decision::Deny { reasons, .. } => Err(user_error(format!(
                "The extension of {} was denied: {}.",
                req.id,
                reasons.join("; ")
            ))),
            Decision::Allow { .. } => Err(user_error(
                "Emergency access can't be extended; make a new request.",
            )),
            Decision::RequireApproval { .. } => Err(user_error(format!(
                "Extending {} needs a new approval. Please make a new request for {role} on {} (it will reference this one).",
                req.id, resource.name
            ))),
        }
    }

    async fn apply_extension(
        &self,
        req: &RequestRow,
        secs: i64,
        actor: &str,
    ) -> anyhow::Result<Handled> {
        let now = self.now_ms();
        let resource = self.resource_of(req)?.clone();
        let max_end = now
            + (resource.max_duration_for(req.role.as_deref().unwrap_or_default()) as i64) * 1000;
        let new_end = (req.expires_at.unwrap_or(now).max(now) + secs * 1000).min(max_end);
        let mut tx = self.store.begin().await?;
        let changes = RequestChanges {
            expires_at: Some(Some(new_end)),
            extensions: Some(req.extensions + 1),
            ..Default::default()
        };
        if !tx
            .update_in_state(&req.id, RequestState::Active, &changes, now)
            .await?
        {
            return Err(user_error(format!(
                "Request {} changed meanwhile; nothing was extended.",
                req.id
            )));
        }
        tx.extend_grant(&req.id, new_end).await?;
        tx.enqueue(&NewJob {
            id: format!("expire:{}", req.id),
            kind: "expire".into(),
            request_id: Some(req.id.clone()),
            run_at: new_end,
            priority: 10,
            payload: None,
        })
        .await?;
        let warn_at = new_end - (self.options.expiry_warning_before_secs as i64) * 1000;
        if warn_at > now {
            tx.enqueue(&NewJob {
                id: format!("warn:{}", req.id),
                kind: "warn".into(),
                request_id: Some(req.id.clone()),
                run_at: warn_at,
                priority: 0,
                payload: None,
            })
            .await?;
        }
        tx.append_log(
            &req.id,
            now,
            &[NewLogEntry::new(
                LogKind::StateChange,
                actor,
                serde_json::json!({ "extended_to": new_end, "extension": req.extensions + 1 }),
            )],
        )
        .await?;
        tx.commit().await?;
        self.say(
            &req.id,
            &self.scope_of(req),
            &format!(
                "Extended: request {} now lasts {} (extension {} of {}).",
                req.id,
                self.until(new_end),
                req.extensions + 1,
                self.options.max_extensions
            ),
        )
        .await;
        Ok(Handled::Done)
    }

    /// Emergency access: announced at once to the security channel and the reviewers.
    pub(crate) async fn announce_break_glass(
        &self,
        req: &RequestRow,
        person: &Person,
        resource: &Resource,
    ) {
        let row = self
            .store
            .get_request(&req.id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| req.clone());
        let name = crate::domain::text::sanitize_free_text(&person.display_name, 60);
        let status = Some(format!(
            "BREAK-GLASS by {name}: self-activated for at most {}; review required",
            format_duration(self.options.break_glass_secs)
        ));
        if let Some(mut card) = self.render_stored_card(&row, "alert", status).await {
            card.kind = CardKind::Alert;
            if let Some((platform, channel)) = &self.options.security_channel {
                let target = CardTarget::Channel {
                    platform: *platform,
                    workspace: row.workspace.clone(),
                    channel: channel.clone(),
                };
                self.post_card(&row, &target, &card, CardKind::Alert).await;
            }
            let platform = row.platform().unwrap_or(Platform::Console);
            let mut reviewers: Vec<String> = resource.owners.clone();
            if let Some(m) = &person.manager {
                reviewers.push(m.clone());
            }
            reviewers.sort();
            reviewers.dedup();
            for id in reviewers.iter().filter(|r| **r != person.id) {
                if let Ok(Some(p)) = self.directory.person(id).await
                    && let Some(acct) = p.account_on(platform, &row.workspace)
                {
                    self.post_card(
                        &row,
                        &CardTarget::Direct(acct.clone()),
                        &card,
                        CardKind::Alert,
                    )
                    .await;
                }
            }
        }
        let entry = NewLogEntry::new(
            LogKind::Alert,
            "warden",
            serde_json::json!({ "break_glass": true, "announced_to": self.options.security_channel.as_ref().map(|(p, c)| format!("{p}:{c}")), "review": "open" }),
        );
        if let Err(e) = self
            .store
            .append_log(&req.id, self.now_ms(), &[entry])
            .await
        {
            tracing::warn!(request = %req.id, error = ?e, "failed to log the break-glass announcement");
        }
        tracing::warn!(request = %req.id, requester = %person.id, resource = %resource.id, "break-glass access activated");
    }

    /// A message to the security channel, if one is configured.
    pub(crate) async fn alert_security(&self, req: &RequestRow, text: &str) {
        let Some((platform, channel)) = &self.options.security_channel else {
            return;
        };
        let scope = crate::chat::Scope {
            platform: *platform,
            workspace: req.workspace.clone(),
            channel: channel.clone(),
            thread: None,
            kind: "channel".into(),
        };
        if let Some(chat) = self.chat(*platform)
            && let Err(e) = chat.send(&scope, text).await
        {
            tracing::warn!(request = %req.id, error = ?e, "failed to alert the security channel");
        }
    }
}
