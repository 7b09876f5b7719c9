//! Submit → policy → approved, denied or pending approval.

use super::plan::describe;
use super::{Engine, Handled, outgoing, user_error};
use crate::chat::{CardKind, CardTarget};
use crate::domain::{Intent, Person, Platform, RequestEvent, RequestId, RequestState, Resource};
use crate::policy::{
    ChannelInput, Decision, INPUT_VERSION, PolicyInput, RequestContextInput, RequesterInput,
    ResourceInput,
};
use crate::store::{LogKind, NewJob, NewLogEntry, RequestChanges, RequestRow};

impl Engine {
    /// The requester confirmed (or confirmation is not required): hand the intent to policy.
    pub(crate) async fn submit(
        &self,
        id: &str,
        person: &Person,
        auto: bool,
    ) -> anyhow::Result<Handled> {
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let req = tx
            .lock_request(id)
            .await?
            .ok_or_else(|| user_error(format!("I can't find request {id}.")))?;
        if req.requester_id != person.id {
            return Err(user_error("Only the requester can submit this request."));
        }
        if req.state != RequestState::AwaitingConfirmation {
            return Err(user_error(format!(
                "Request {id} can't be submitted now: it is {}.",
                req.state.label()
            )));
        }
        tx.transition(
            id,
            RequestState::AwaitingConfirmation,
            RequestEvent::Confirm,
            &RequestChanges {
                deadline_at: Some(None),
                ..Default::default()
            },
            now,
        )
        .await?;
        let intent: serde_json::Value = req
            .intent_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        tx.append_log(
            id,
            now,
            &[NewLogEntry::new(
                LogKind::IntentConfirmed,
                &person.id,
                serde_json::json!({ "intent": intent, "auto": auto }),
            )],
        )
        .await?;
        tx.cancel_job(&format!("confirm_expire:{id}")).await?;
        tx.commit().await?;
        let row = self
            .store
            .get_request(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request vanished"))?;
        self.refresh_cards(
            &row,
            Some(if auto {
                "Submitted".into()
            } else {
                format!("Submitted by {}", person.display_name)
            }),
        )
        .await;
        self.decide(&row, person).await
    }

    pub(crate) fn intent_of(req: &RequestRow) -> anyhow::Result<Intent> {
        let json = req
            .intent_json
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("request {} has no intent", req.id))?;
        Ok(serde_json::from_str(json)?)
    }

    pub(crate) fn resource_of(&self, req: &RequestRow) -> anyhow::Result<&Resource> {
        let id = req
            .resource
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("request {} names no resource", req.id))?;
        self.catalog.get(id).ok_or_else(|| {
            user_error(format!(
                "{id} is no longer in the catalog, so request {} can't go on.",
                req.id
            ))
        })
    }

    /// The versioned document the PDP sees. Identity from the directory; intent already validated.
    pub(crate) fn policy_input(
        &self,
        req: &RequestRow,
        person: &Person,
        intent: &Intent,
        resource: &Resource,
        context: RequestContextInput,
    ) -> PolicyInput {
        let account = crate::domain::PlatformUser::new(
            req.platform().unwrap_or(Platform::Console),
            req.workspace.clone(),
            req.requester_account.clone(),
        );
        PolicyInput {
            version: INPUT_VERSION.into(),
            requester: RequesterInput::from_person(person, &account),
            intent: intent.clone(),
            resource: ResourceInput::from_resource(
                resource,
                intent.role.as_deref().unwrap_or_default(),
            ),
            time: self.clock.now().to_rfc3339(),
            channel: ChannelInput {
                platform: req.platform.clone(),
                workspace: req.workspace.clone(),
                channel: req.channel.clone(),
                kind: req.scope_kind.clone(),
            },
            context,
        }
    }

    /// Evaluates policy without acting, for "confirm only when approval is needed".
    pub(crate) async fn preview_allows(
        &self,
        req: &RequestRow,
        person: &Person,
        intent: &Intent,
    ) -> bool {
        let Some(resource) = intent.resource.as_deref().and_then(|r| self.catalog.get(r)) else {
            return false;
        };
        let input = self.policy_input(
            req,
            person,
            intent,
            resource,
            RequestContextInput::default(),
        );
        matches!(
            self.policy.decide(&input).await,
            Decision::Allow {
                break_glass: false,
                ..
            }
        )
    }

    /// Asks the PDP and acts on its decision. Only this and approvers' clicks change access.
    pub(crate) async fn decide(
        &self,
        req: &RequestRow,
        person: &Person,
    ) -> anyhow::Result<Handled> {
        let intent = Self::intent_of(req)?;
        let resource = self.resource_of(req)?.clone();
        let input = self.policy_input(
            req,
            person,
            &intent,
            &resource,
            RequestContextInput::default(),
        );
        let started = std::time::Instant::now();
        let decision = self.policy.decide(&input).await;
        self.metrics.observe(
            "warden_policy_seconds",
            &format!("engine=\"{}\"", self.policy.name()),
            started.elapsed().as_secs_f64(),
        );
        self.metrics.inc(
            "warden_decisions_total",
            &format!("outcome=\"{}\"", decision.outcome()),
            1,
        );
        let actor = format!("policy:{}", self.policy.name());
        let logged = [
            NewLogEntry::new(LogKind::PolicyInput, &actor, serde_json::to_value(&input)?),
            NewLogEntry::new(
                LogKind::PolicyDecision,
                &actor,
                serde_json::to_value(&decision)?,
            ),
        ];
        let scope = self.scope_of(req);
        match &decision {
            Decision::Deny { reasons, .. } => {
                let why = if reasons.is_empty() {
                    "policy denied it".to_string()
                } else {
                    reasons.join("; ")
                };
                let told = format!("Request {} was denied: {why}.", req.id);
                let mut entries = logged.to_vec();
                entries.push(outgoing(&told));
                if self
                    .settle(req, RequestEvent::PolicyDeny, &decision, &entries, None)
                    .await?
                {
                    self.deliver(&req.id, &scope, &told).await;
                }
                Ok(Handled::Done)
            }
            Decision::Allow { break_glass, .. } => {
                if *break_glass && !intent.break_glass {
                    // The policy may not invent an emergency nobody declared.
                    let fault = Decision::fault(
                        "break-glass allowed for a request that did not ask for it",
                    );
                    self.settle(req, RequestEvent::PolicyDeny, &fault, &logged, None)
                        .await?;
                    self.say(
                        &req.id,
                        &scope,
                        &format!(
                            "Request {} was denied: the policy answer was inconsistent.",
                            req.id
                        ),
                    )
                    .await;
                    return Ok(Handled::Done);
                }
                let job = self.grant_job(&req.id);
                let changes = RequestChanges {
                    decision_json: Some(serde_json::to_string(&decision)?),
                    decision_id: Some(decision.decision_id().map(str::to_string)),
                    break_glass: Some(*break_glass),
                    review_open: Some(*break_glass),
                    ..Default::default()
                };
                if !self
                    .settle_with(req, RequestEvent::PolicyAllow, changes, &logged, Some(job))
                    .await?
                {
                    return Ok(Handled::Done);
                }
                if *break_glass {
                    self.announce_break_glass(req, person, &resource).await;
                }
                self.run_grant_now(&req.id).await;
                Ok(Handled::Done)
            }
            Decision::RequireApproval {
                steps,
                deny_reason_required,
                reasons,
                ..
            } => {
                match self
                    .resolve_plan(steps, *deny_reason_required, person, &resource)
                    .await
                {
                    Err(why) => {
                        let fail = NewLogEntry::new(
                            LogKind::Error,
                            "warden",
                            serde_json::json!({ "approvers_unresolved": why }),
                        );
                        let mut entries = logged.to_vec();
                        entries.push(fail);
                        self.settle(req, RequestEvent::Fail, &decision, &entries, None)
                            .await?;
                        self.say(&req.id, &scope, &format!("Request {} needs approval, but I can't work out who can approve it: {why}. Nothing was granted; an admin has been told.", req.id)).await;
                        tracing::warn!(request = %req.id, why, "approvers could not be resolved");
                        Ok(Handled::Done)
                    }
                    Ok((plan, people)) => {
                        let now = self.now_ms();
                        let deadline = now + (self.options.pending_ttl_secs as i64) * 1000;
                        let changes = RequestChanges {
                            decision_json: Some(serde_json::to_string(&decision)?),
                            decision_id: Some(decision.decision_id().map(str::to_string)),
                            approval_plan_json: Some(serde_json::to_string(&plan)?),
                            current_step: Some(0),
                            deadline_at: Some(Some(deadline)),
                            ..Default::default()
                        };
                        let who = describe(&plan.steps[0].spec, plan.steps[0].count);
                        let why = if reasons.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", reasons.join("; "))
                        };
                        let told = format!(
                            "Request {} needs approval from {who}{why}. I've asked them and will tell you here.",
                            req.id
                        );
                        let mut entries = logged.to_vec();
                        entries.push(NewLogEntry::new(
                            LogKind::ApproversResolved,
                            "warden",
                            serde_json::to_value(&plan)?,
                        ));
                        entries.push(outgoing(&told));
                        let expire = NewJob {
                            id: format!("pending_expire:{}", req.id),
                            kind: "pending_expire".into(),
                            request_id: Some(req.id.clone()),
                            run_at: deadline,
                            priority: 0,
                            payload: None,
                        };
                        if !self
                            .settle_with(
                                req,
                                RequestEvent::PolicyRequireApproval,
                                changes,
                                &entries,
                                Some(expire),
                            )
                            .await?
                        {
                            return Ok(Handled::Done);
                        }
                        let remind_at =
                            deadline - (self.options.reminder_before_secs as i64) * 1000;
                        if remind_at > now {
                            self.store
                                .enqueue(&NewJob {
                                    id: format!("remind:{}", req.id),
                                    kind: "remind".into(),
                                    request_id: Some(req.id.clone()),
                                    run_at: remind_at,
                                    priority: 0,
                                    payload: None,
                                })
                                .await?;
                        }
                        let row = self
                            .store
                            .get_request(&req.id)
                            .await?
                            .ok_or_else(|| anyhow::anyhow!("request vanished"))?;
                        self.post_approval_cards(&row, &resource, 0, &people[0])
                            .await;
                        self.deliver(&req.id, &scope, &told).await;
                        Ok(Handled::Done)
                    }
                }
            }
        }
    }

    /// Applies the decision's transition from Submitted, logging input and decision with it.
    async fn settle(
        &self,
        req: &RequestRow,
        event: RequestEvent,
        decision: &Decision,
        entries: &[NewLogEntry],
        job: Option<NewJob>,
    ) -> anyhow::Result<bool> {
        let changes = RequestChanges {
            decision_json: Some(serde_json::to_string(decision)?),
            decision_id: Some(decision.decision_id().map(str::to_string)),
            ..Default::default()
        };
        self.settle_with(req, event, changes, entries, job).await
    }

    async fn settle_with(
        &self,
        req: &RequestRow,
        event: RequestEvent,
        changes: RequestChanges,
        entries: &[NewLogEntry],
        job: Option<NewJob>,
    ) -> anyhow::Result<bool> {
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let Some(to) = tx
            .transition(&req.id, RequestState::Submitted, event, &changes, now)
            .await?
        else {
            return Ok(false);
        };
        let mut all = entries.to_vec();
        all.push(NewLogEntry::new(
            LogKind::StateChange,
            "warden",
            serde_json::json!({ "from": "submitted", "to": to }),
        ));
        tx.append_log(&req.id, now, &all).await?;
        if let Some(j) = job {
            tx.enqueue(&j).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) fn grant_job(&self, id: &str) -> NewJob {
        NewJob {
            id: format!("grant:{id}"),
            kind: "grant".into(),
            request_id: Some(id.to_string()),
            run_at: self.now_ms(),
            priority: 5,
            payload: None,
        }
    }

    /// Posts one approval card per eligible approver (DM), or one to the catalog's channel.
    pub(crate) async fn post_approval_cards(
        &self,
        req: &RequestRow,
        resource: &Resource,
        step: usize,
        approvers: &[Person],
    ) {
        let platform = req.platform().unwrap_or(Platform::Console);
        let name = self.display_name(&req.requester_id).await;
        let card = self.approval_card(req, resource, step, None, &name);
        if let Some(channel) = resource.approval_channel.get(platform.as_str()) {
            let target = CardTarget::Channel {
                platform,
                workspace: req.workspace.clone(),
                channel: channel.clone(),
            };
            self.post_card(req, &target, &card, CardKind::Approval)
                .await;
            return;
        }
        for p in approvers {
            match p.account_on(platform, &req.workspace) {
                Some(account) => {
                    self.post_card(
                        req,
                        &CardTarget::Direct(account.clone()),
                        &card,
                        CardKind::Approval,
                    )
                    .await;
                }
                None => {
                    tracing::info!(request = %req.id, approver = %p.id, "approver has no account on this platform; not sent a card")
                }
            }
        }
    }

    /// Looks up a request by id for an action button (any actor; checks come after).
    pub(crate) async fn request_by_id(&self, id: &RequestId) -> anyhow::Result<RequestRow> {
        self.store
            .get_request(id.as_str())
            .await?
            .ok_or_else(|| user_error(format!("I can't find request {id}.")))
    }
}
