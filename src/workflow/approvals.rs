//! Approve clicks: each click is one compare-and-set commit, so double clicks and racing
//! approvers yield one transition; the last approval of the last step queues the grant.

use super::approver::{CLICK_ATTEMPTS, already_acted};
use super::plan::describe;
use super::step::{Step, delivery_key};
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::{
    Approval, ApprovalPlan, Entry, Evidence, Job, JobKind, Obligation, PasskeyProof, Patch, Person,
    PlatformUser, Request, RequestEvent, RequestId, RequestState, StepUpPurpose, Verdict,
};
use crate::store::{Change, Committed};

/// Who clicked Approve and how the click is recorded.
pub(crate) struct Click<'a> {
    /// The verified platform account that clicked (for a passkey confirmation, the one that
    /// clicked the Approve that sent the link).
    pub actor: &'a PlatformUser,
    /// The delivery the approval records, so a redelivery commits nothing.
    pub delivery: String,
    /// The verified passkey assertion that confirms the click, if any.
    pub passkey: Option<&'a PasskeyProof>,
    /// The step a step-up link was for: the approval counts only while the request is there.
    pub at_step: Option<u32>,
}

impl Engine {
    pub(crate) async fn approve(
        &self,
        event: &ChatEvent,
        person: &Person,
        id: &RequestId,
    ) -> anyhow::Result<Handled> {
        let click = Click {
            actor: &event.actor,
            delivery: delivery_key(event),
            passkey: None,
            at_step: None,
        };
        self.approve_click(person, id, &click, Some(event)).await
    }

    /// The one approval path, for a click in chat and for a click confirmed with a passkey.
    /// A decision that requires step-up counts only a click with a passkey: a plain click gets
    /// a step-up link instead (`event` says where to send it).
    pub(crate) async fn approve_click(
        &self,
        person: &Person,
        id: &RequestId,
        click: &Click<'_>,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        for _ in 0..CLICK_ATTEMPTS {
            let seen = self.request_by_id(id).await?;
            let plan = self.check_approver(&seen, person, "approve").await?;
            if let Some(f) = self.freeze_on(&seen).await? {
                let why = format!("frozen ({}): {}", f.id, f.reason);
                self.log_refusal(&seen, person, "approve", &why).await;
                return Err(user_error(format!(
                    "Request {} can't be approved now: {}",
                    seen.id,
                    f.chat_notice()
                )));
            }
            if click.at_step.is_some_and(|s| s != seen.current_step) {
                return Err(user_error(format!(
                    "Request {} moved on to another approval step; your passkey confirmation was for an earlier one, so nothing was changed.",
                    seen.id
                )));
            }
            let needs_step_up = seen
                .decision
                .as_ref()
                .is_some_and(|d| d.requires(Obligation::StepUp));
            if needs_step_up && click.passkey.is_none() {
                if seen.has_acted(&person.id) {
                    return Err(already_acted(&seen.id));
                }
                let Some(event) = event else {
                    anyhow::bail!("request {id} needs step-up, but the click has no chat event");
                };
                return self
                    .ask_step_up(event, person, &seen, StepUpPurpose::Approve)
                    .await;
            }
            let step = self.approval_step(&seen, &plan, person, click)?;
            let next_step = step.change.patch.current_step;
            match self.commit_step(&seen, step).await? {
                Committed::Applied(req) => {
                    self.metrics
                        .inc("warden_approvals_total", "decision=\"approve\"", 1);
                    if let Some(next) = next_step {
                        self.ask_next_step(&req, &plan, next as usize).await;
                    }
                    return Ok(Handled::Done);
                }
                Committed::Duplicate => return Ok(Handled::Duplicate),
                Committed::Conflict => continue,
                Committed::Refused(_) => break,
            }
        }
        Err(user_error(format!(
            "Request {id} changed while you were clicking; nothing was changed."
        )))
    }

    /// The commit one approval makes: counted, the next step, or approved (grant follows).
    fn approval_step(
        &self,
        req: &Request,
        plan: &ApprovalPlan,
        person: &Person,
        click: &Click<'_>,
    ) -> anyhow::Result<Step> {
        if req.has_acted(&person.id) {
            return Err(already_acted(&req.id));
        }
        let step = req.current_step;
        let planned = &plan.steps[step as usize];
        let have = req.approvals_on(step) + 1;
        let now = self.now_ms();
        let mut patch = Patch {
            approval: Some(Approval {
                step,
                approver_id: person.id.clone(),
                approver_account: click.actor.to_string(),
                verdict: Verdict::Approve,
                reason: None,
                at: now,
            }),
            ..Default::default()
        };
        let entry = Entry::new(
            &person.id,
            Evidence::Approval {
                step,
                account: click.actor.clone(),
                approvals: have,
                needed: planned.count,
            },
        );
        // The passkey's evidence goes with the approval it counted, in the same commit.
        let proof = click.passkey.map(|p| {
            Entry::new(
                &person.id,
                Evidence::PasskeyVerified {
                    purpose: StepUpPurpose::Approve,
                    step,
                    credential_id: p.credential_id.clone(),
                    user_verified: p.user_verified,
                },
            )
        });
        let entry = Change::none().logs(proof.into_iter().chain([entry]));
        let name = &person.display_name;
        let by = if click.passkey.is_some() {
            format!("{name} with a passkey")
        } else {
            name.clone()
        };
        let step_out = if have < planned.count as usize {
            let need = planned.count;
            Step::new(entry)
                .cards(format!("Approved by {by} ({have} of {need})"))
                .tell(format!(
                    "{name} approved request {} ({have} of {need} approvals).",
                    req.id
                ))
        } else if (step as usize) + 1 < plan.steps.len() {
            let next = step + 1;
            patch.current_step = Some(next);
            let waiting = &plan.steps[next as usize];
            Step::new(entry)
                .cards(format!("Step {next} approved by {by}"))
                .tell(format!(
                    "{name} approved step {next} of request {}; now waiting for {}.",
                    req.id,
                    describe(&waiting.spec, waiting.count)
                ))
        } else {
            patch.deadline_at = Some(None);
            let change = entry
                .then(RequestEvent::ApprovalsComplete)
                .log(Entry::warden(Evidence::StateChange {
                    from: RequestState::PendingApproval,
                    to: RequestState::Approved,
                    why: None,
                }))
                .schedule_claimed(Job::Grant, now, self.claim(&Job::Grant, req))
                .cancel(&[JobKind::PendingExpire, JobKind::Remind]);
            Step::new(change)
                .cards(format!("Approved by {by}"))
                .tell(format!(
                    "{name} approved request {}. Granting access now.",
                    req.id
                ))
        };
        let mut out = step_out;
        out.change.delivery = Some(click.delivery.clone());
        out.change.patch = patch;
        Ok(out)
    }

    /// Sends the next step's approvers their cards.
    async fn ask_next_step(&self, req: &Request, plan: &ApprovalPlan, next: usize) {
        let Ok(resource) = self.resource_of(req).cloned() else {
            return;
        };
        let requester = self.requester_for_approvals(req).await;
        let people = match requester {
            Some(r) => self
                .eligible_for(&plan.steps[next].spec, &r, &resource)
                .await
                .unwrap_or_default(),
            None => vec![],
        };
        let posts = self.approval_posts(req, &resource, next, &people).await;
        self.post_and_record(req, &posts).await;
    }
}
