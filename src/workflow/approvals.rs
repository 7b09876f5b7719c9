//! Approve and deny clicks: the approver is re-checked at click time, and each click is one
//! compare-and-set transaction, so double clicks and racing approvers yield one transition.

use super::plan::{ApprovalPlan, describe};
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::{Person, RequestEvent, RequestId, RequestState};
use crate::store::{ApprovalRow, LogKind, NewLogEntry, RequestChanges, RequestRow};

/// What a recorded approval led to.
enum Outcome {
    Counted { have: i64, need: u32 },
    NextStep(usize),
    Approved,
}

impl Engine {
    /// Checks that `person` may act on the request's current step right now.
    async fn check_approver(
        &self,
        req: &RequestRow,
        person: &Person,
        verb: &str,
    ) -> anyhow::Result<ApprovalPlan> {
        if req.state != RequestState::PendingApproval {
            return Err(user_error(format!(
                "Request {} is already resolved ({}); nothing was changed.",
                req.id,
                req.state.label()
            )));
        }
        if person.id == req.requester_id {
            self.log_refusal(req, person, verb, "self-approval is not allowed")
                .await;
            return Err(user_error(format!("You can't {verb} your own request.")));
        }
        let plan = ApprovalPlan::parse(req.approval_plan_json.as_deref())
            .ok_or_else(|| anyhow::anyhow!("request {} has no approval plan", req.id))?;
        let step = req.current_step.max(0) as usize;
        let planned = plan
            .steps
            .get(step)
            .ok_or_else(|| anyhow::anyhow!("request {} is at a step its plan lacks", req.id))?;
        let resource = self.resource_of(req)?;
        let requester = self
            .directory
            .person(&req.requester_id)
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| Person {
                id: req.requester_id.clone(),
                display_name: req.requester_id.clone(),
                email: None,
                manager: None,
                groups: vec![],
                accounts: vec![],
                active: true,
            });
        let eligible = self
            .eligible_for(&planned.spec, &requester, resource)
            .await
            .map_err(|why| {
                user_error(format!(
                    "I can't check approvers right now ({why}); nothing was changed."
                ))
            })?;
        if !eligible.iter().any(|p| p.id == person.id) {
            self.log_refusal(
                req,
                person,
                verb,
                "not an eligible approver for the current step",
            )
            .await;
            return Err(user_error(format!(
                "You're not an approver for request {} (this step needs {}).",
                req.id,
                describe(&planned.spec, planned.count)
            )));
        }
        Ok(plan)
    }

    async fn log_refusal(&self, req: &RequestRow, person: &Person, verb: &str, why: &str) {
        let e = NewLogEntry::new(
            LogKind::Refusal,
            &person.id,
            serde_json::json!({ "action": verb, "why": why }),
        );
        if let Err(err) = self.store.append_log(&req.id, self.now_ms(), &[e]).await {
            tracing::warn!(request = %req.id, error = ?err, "failed to log a refusal");
        }
    }

    pub(crate) async fn approve(
        &self,
        event: &ChatEvent,
        person: &Person,
        id: &RequestId,
    ) -> anyhow::Result<Handled> {
        let seen = self.request_by_id(id).await?;
        let plan = self.check_approver(&seen, person, "approve").await?;
        let step = seen.current_step;
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let req = tx
            .lock_request(id.as_str())
            .await?
            .ok_or_else(|| user_error(format!("I can't find request {id}.")))?;
        if req.state != RequestState::PendingApproval || req.current_step != step {
            return Err(user_error(format!(
                "Request {id} changed while you were clicking ({}); nothing was changed.",
                req.state.label()
            )));
        }
        let row = ApprovalRow {
            request_id: req.id.clone(),
            step,
            approver_id: person.id.clone(),
            approver_account: event.actor.to_string(),
            decision: "approve".into(),
            reason: None,
            at: now,
        };
        if !tx.insert_approval(&row).await? {
            return Err(user_error(format!(
                "You've already acted on request {id}; it still needs the others."
            )));
        }
        let have = tx.count_approvals(&req.id, step).await?;
        let planned = &plan.steps[step as usize];
        let outcome = if have < i64::from(planned.count) {
            Outcome::Counted {
                have,
                need: planned.count,
            }
        } else if (step as usize) + 1 < plan.steps.len() {
            let changes = RequestChanges {
                current_step: Some(step + 1),
                ..Default::default()
            };
            tx.update_in_state(&req.id, RequestState::PendingApproval, &changes, now)
                .await?;
            Outcome::NextStep(step as usize + 1)
        } else {
            tx.transition(
                &req.id,
                RequestState::PendingApproval,
                RequestEvent::ApprovalsComplete,
                &RequestChanges {
                    deadline_at: Some(None),
                    ..Default::default()
                },
                now,
            )
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!("request {id} left pending approval under a held lock")
            })?;
            tx.enqueue(&self.grant_job(&req.id)).await?;
            tx.cancel_job(&format!("pending_expire:{}", req.id)).await?;
            tx.cancel_job(&format!("remind:{}", req.id)).await?;
            Outcome::Approved
        };
        let mut entries = vec![NewLogEntry::new(
            LogKind::Approval,
            &person.id,
            serde_json::json!({ "step": step, "account": event.actor, "approvals": have, "needed": planned.count }),
        )];
        if matches!(outcome, Outcome::Approved) {
            entries.push(NewLogEntry::new(
                LogKind::StateChange,
                "warden",
                serde_json::json!({ "from": "pending_approval", "to": "approved" }),
            ));
        }
        tx.append_log(&req.id, now, &entries).await?;
        tx.commit().await?;
        self.metrics
            .inc("warden_approvals_total", "decision=\"approve\"", 1);
        self.after_approval(&req, person, outcome).await
    }

    async fn after_approval(
        &self,
        req: &RequestRow,
        person: &Person,
        outcome: Outcome,
    ) -> anyhow::Result<Handled> {
        let row = self
            .store
            .get_request(&req.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request vanished"))?;
        let scope = self.scope_of(&row);
        match outcome {
            Outcome::Counted { have, need } => {
                self.refresh_cards(
                    &row,
                    Some(format!(
                        "Approved by {} ({have} of {need})",
                        person.display_name
                    )),
                )
                .await;
                self.say(
                    &row.id,
                    &scope,
                    &format!(
                        "{} approved request {} ({have} of {need} approvals).",
                        person.display_name, row.id
                    ),
                )
                .await;
            }
            Outcome::NextStep(next) => {
                self.refresh_cards(
                    &row,
                    Some(format!("Step {} approved by {}", next, person.display_name)),
                )
                .await;
                let plan = ApprovalPlan::parse(row.approval_plan_json.as_deref())
                    .ok_or_else(|| anyhow::anyhow!("plan vanished"))?;
                let resource = self.resource_of(&row)?.clone();
                let requester = self
                    .directory
                    .person(&row.requester_id)
                    .await
                    .ok()
                    .flatten();
                let people = match requester {
                    Some(r) => self
                        .eligible_for(&plan.steps[next].spec, &r, &resource)
                        .await
                        .unwrap_or_default(),
                    None => vec![],
                };
                self.post_approval_cards(&row, &resource, next, &people)
                    .await;
                self.say(
                    &row.id,
                    &scope,
                    &format!(
                        "{} approved step {next} of request {}; now waiting for {}.",
                        person.display_name,
                        row.id,
                        describe(&plan.steps[next].spec, plan.steps[next].count)
                    ),
                )
                .await;
            }
            Outcome::Approved => {
                self.refresh_cards(&row, Some(format!("Approved by {}", person.display_name)))
                    .await;
                self.say(
                    &row.id,
                    &scope,
                    &format!(
                        "{} approved request {}. Granting access now.",
                        person.display_name, row.id
                    ),
                )
                .await;
                self.run_grant_now(&row.id).await;
            }
        }
        Ok(Handled::Done)
    }

    pub(crate) async fn deny(
        &self,
        event: &ChatEvent,
        person: &Person,
        id: &RequestId,
        reason: Option<&str>,
    ) -> anyhow::Result<Handled> {
        let seen = self.request_by_id(id).await?;
        let plan = self.check_approver(&seen, person, "deny").await?;
        let reason = reason
            .map(|r| crate::domain::text::sanitize_free_text(r, 300))
            .filter(|r| !r.is_empty());
        if plan.deny_reason_required && reason.is_none() {
            return Err(user_error(format!(
                "A reason is required to deny request {id}. Please add one (e.g. \"not needed for this incident\")."
            )));
        }
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let req = tx
            .lock_request(id.as_str())
            .await?
            .ok_or_else(|| user_error(format!("I can't find request {id}.")))?;
        if req.state != RequestState::PendingApproval {
            return Err(user_error(format!(
                "Request {id} is already resolved ({}); nothing was changed.",
                req.state.label()
            )));
        }
        let row = ApprovalRow {
            request_id: req.id.clone(),
            step: req.current_step,
            approver_id: person.id.clone(),
            approver_account: event.actor.to_string(),
            decision: "deny".into(),
            reason: reason.clone(),
            at: now,
        };
        if !tx.insert_approval(&row).await? {
            return Err(user_error(format!("You've already acted on request {id}.")));
        }
        tx.transition(
            &req.id,
            RequestState::PendingApproval,
            RequestEvent::ApproverDeny,
            &RequestChanges {
                deadline_at: Some(None),
                ..Default::default()
            },
            now,
        )
        .await?;
        tx.cancel_job(&format!("pending_expire:{}", req.id)).await?;
        tx.cancel_job(&format!("remind:{}", req.id)).await?;
        tx.append_log(
            &req.id,
            now,
            &[
                NewLogEntry::new(LogKind::Refusal, &person.id, serde_json::json!({ "action": "deny", "step": req.current_step, "account": event.actor, "reason": reason })),
                NewLogEntry::new(LogKind::StateChange, "warden", serde_json::json!({ "from": "pending_approval", "to": "denied" })),
            ],
        )
        .await?;
        tx.commit().await?;
        self.metrics
            .inc("warden_approvals_total", "decision=\"deny\"", 1);
        let row = self
            .store
            .get_request(&req.id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request vanished"))?;
        let because = reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        self.refresh_cards(
            &row,
            Some(format!("Denied by {}{because}", person.display_name)),
        )
        .await;
        self.say(
            &row.id,
            &self.scope_of(&row),
            &format!(
                "{} denied request {}{because}.",
                person.display_name, row.id
            ),
        )
        .await;
        Ok(Handled::Done)
    }

    /// Closes a break-glass review. Reviewers are the resource owners and the requester's manager.
    pub(crate) async fn close_review(
        &self,
        event: &ChatEvent,
        person: &Person,
        id: &RequestId,
        notes: Option<&str>,
    ) -> anyhow::Result<Handled> {
        let req = self.request_by_id(id).await?;
        if !req.review_open {
            return Err(user_error(format!("Request {id} has no open review.")));
        }
        if person.id == req.requester_id {
            self.log_refusal(&req, person, "review", "self-review is not allowed")
                .await;
            return Err(user_error("You can't review your own emergency access."));
        }
        let resource = self.resource_of(&req)?;
        let manager = self
            .directory
            .person(&req.requester_id)
            .await
            .ok()
            .flatten()
            .and_then(|p| p.manager);
        let reviewer =
            resource.owners.contains(&person.id) || manager.as_deref() == Some(person.id.as_str());
        if !reviewer {
            self.log_refusal(
                &req,
                person,
                "review",
                "not an owner or the requester's manager",
            )
            .await;
            return Err(user_error(format!(
                "Only the owners of {} or the requester's manager can close this review.",
                resource.name
            )));
        }
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        let Some(locked) = tx.lock_request(id.as_str()).await? else {
            return Err(user_error("Request vanished."));
        };
        if !locked.review_open {
            return Err(user_error(format!(
                "The review of {id} was already closed."
            )));
        }
        tx.update_in_state(
            id.as_str(),
            locked.state,
            &RequestChanges {
                review_open: Some(false),
                ..Default::default()
            },
            now,
        )
        .await?;
        let notes = notes.map(|n| crate::domain::text::sanitize_free_text(n, 500));
        tx.append_log(
            id.as_str(),
            now,
            &[NewLogEntry::new(
                LogKind::Review,
                &person.id,
                serde_json::json!({ "closed": true, "notes": notes, "account": event.actor }),
            )],
        )
        .await?;
        tx.commit().await?;
        let row = self
            .store
            .get_request(id.as_str())
            .await?
            .ok_or_else(|| anyhow::anyhow!("request vanished"))?;
        self.refresh_cards(&row, Some(format!("Reviewed by {}", person.display_name)))
            .await;
        self.say(
            &row.id,
            &self.scope_of(&row),
            &format!(
                "{} reviewed the emergency access of request {}.",
                person.display_name, row.id
            ),
        )
        .await;
        Ok(Handled::Done)
    }
}
