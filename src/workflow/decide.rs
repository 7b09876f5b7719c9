//! Submit → policy → approved, denied or pending approval, committed as one step.
//!
//! The policy is asked before the commit (it reads only the request and the directory), so the
//! confirmation and the decision land together; a request that changed meanwhile is read again
//! and decided anew.

use super::approver::CLICK_ATTEMPTS;
pub(crate) use super::asking::ToAsk;
use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::{
    Decision, Entry, Evidence, JobKind, Obligation, PasskeyProof, Person, Request, RequestEvent,
    RequestState, Resource, StepUpPurpose,
};
use crate::policy::{RequestContextInput, SubjectInput};
use crate::store::{Change, Committed};

/// A submission decided but not yet committed: its step, and the approvers to ask once it is.
pub(crate) struct Submission {
    pub step: Step,
    pub approvers: Option<Vec<Person>>,
}

/// What asking the policy led to.
pub(crate) enum Submitted {
    /// Decided: the step to commit (boxed: a step is large, and this travels through futures).
    Decided(Box<Submission>),
    /// Not decided yet: the requester was asked for something first (a reason the policy
    /// requires, a passkey for an activation), in a commit of its own; nothing more to do.
    Asked(Handled),
}

impl Engine {
    /// The requester confirmed (or confirmation is not required): hand the intent to policy.
    pub(crate) async fn submit(
        &self,
        req: &Request,
        person: &Person,
        auto: bool,
        event: Option<&ChatEvent>,
    ) -> anyhow::Result<Handled> {
        self.submit_as(req, person, auto, event, SubjectInput::Person, None)
            .await
    }

    /// `submit` once the requester confirmed with a passkey the activation the policy requires
    /// step-up for (break-glass): the policy decides again, and the proof is logged with it.
    pub(crate) async fn submit_with_passkey(
        &self,
        req: &Request,
        person: &Person,
        proof: &PasskeyProof,
    ) -> anyhow::Result<Handled> {
        self.submit_as(req, person, false, None, SubjectInput::Person, Some(proof))
            .await
    }

    /// `submit` for a subject the policy must know more about (an agent: its owner, bounds and
    /// verified claims). `person` is the requester as the approval rules see it.
    pub(crate) async fn submit_as(
        &self,
        req: &Request,
        person: &Person,
        auto: bool,
        event: Option<&ChatEvent>,
        subject: SubjectInput,
        proof: Option<&PasskeyProof>,
    ) -> anyhow::Result<Handled> {
        // Boxed: a submission's future is large, and it runs deep in agent and chat flows.
        let (handled, ask) =
            Box::pin(self.submit_deciding(req, person, auto, event, subject, proof)).await?;
        if let Some(ask) = ask {
            let posts = self
                .approval_posts(&ask.req, &ask.resource, 0, &ask.approvers)
                .await;
            self.post_and_record(&ask.req, &posts).await;
        }
        Ok(handled)
    }

    /// `submit_as` up to its approval cards: the approvers to ask are returned, so a bundle
    /// asks each of them once for all its items (`workflow::bundle_approvals`).
    pub(crate) async fn submit_deciding(
        &self,
        req: &Request,
        person: &Person,
        auto: bool,
        event: Option<&ChatEvent>,
        subject: SubjectInput,
        proof: Option<&PasskeyProof>,
    ) -> anyhow::Result<(Handled, Option<ToAsk>)> {
        if req.requester_id != person.id {
            return Err(user_error("Only the requester can submit this request."));
        }
        let mut seen = req.clone();
        // The policy is asked between the read and the commit, so another writer may change the
        // request meanwhile (its card recorded, a bundle item moved into its thread): the commit
        // is then a conflict, and the request is read again and decided on what it became.
        for _ in 0..CLICK_ATTEMPTS {
            if seen.state != RequestState::AwaitingConfirmation {
                return Err(user_error(format!(
                    "Request {} can't be submitted now: it is {}.",
                    seen.id,
                    seen.state.label()
                )));
            }
            let resource = self.resource_of(&seen)?.clone();
            // Frozen: refused before policy; the request waits, confirmable once the freeze lifts.
            self.refuse_if_frozen(seen.subject(), Some(&resource.id))
                .await?;
            let lead = Change::none().cancel(&[JobKind::ConfirmExpire]);
            let mut sub = match self
                .submission(
                    &seen,
                    person,
                    auto,
                    subject.clone(),
                    &resource,
                    lead,
                    event,
                    proof,
                )
                .await?
            {
                Submitted::Decided(sub) => *sub,
                Submitted::Asked(handled) => return Ok((handled, None)),
            };
            if let Some(e) = event {
                sub.step = sub.step.for_event(e);
            }
            let stored = match self.commit_step(&seen, sub.step).await? {
                Committed::Applied(r) => *r,
                Committed::Duplicate => return Ok((Handled::Duplicate, None)),
                Committed::Conflict => {
                    seen = self.request_by_id(&seen.id).await?;
                    continue;
                }
                Committed::Refused(_) => break,
            };
            self.after_submission(&stored, person, &resource, None)
                .await;
            let ask = sub.approvers.map(|approvers| ToAsk {
                req: stored,
                resource,
                approvers,
            });
            return Ok((Handled::Done, ask));
        }
        Err(user_error(format!(
            "Request {} changed while you were clicking; nothing was changed.",
            req.id
        )))
    }

    /// The step that confirms `req` and records the policy's decision on it, built on `lead`
    /// (what the caller's own step already does: a new request's creation, a deadline job to
    /// cancel). The policy is asked here, before anything is committed; the caller checks who
    /// may submit and the kill switch, commits the step, then calls `after_submission`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn submission(
        &self,
        req: &Request,
        person: &Person,
        auto: bool,
        subject: SubjectInput,
        resource: &Resource,
        lead: Change,
        event: Option<&ChatEvent>,
        proof: Option<&PasskeyProof>,
    ) -> anyhow::Result<Submitted> {
        let intent = req
            .intent
            .clone()
            .ok_or_else(|| anyhow::anyhow!("request {} has no intent", req.id))?;
        // A person the target has no account for is told now, not after an approval.
        if let Some(grantor) = self.grantors.get(&resource.grant.backend) {
            grantor.check_person(person, resource).map_err(user_error)?;
        }
        let mut input = self.policy_input(
            req,
            person,
            &intent,
            resource,
            RequestContextInput::default(),
        );
        input.subject = subject;
        input.oncall = self.oncall_input(&input.subject, person).await;
        let mut decision =
            super::agent::outside_ceiling_denies(req, &input, self.ask_policy(&input).await);
        decision = match super::reason::lacks_required_reason(&decision, &intent) {
            false => decision,
            // An agent has nobody to ask in chat (its ask always states a task, so this is a
            // policy or registry mistake): fail closed.
            true if req.is_agent() => Decision::Deny {
                decision_id: decision.decision_id().map(str::to_string),
                reasons: vec!["the policy requires a reason and the ask gave none".into()],
                fault: None,
            },
            true => {
                return Ok(Submitted::Asked(
                    self.ask_for_reason(req, resource, &input, decision, event)
                        .await?,
                ));
            }
        };
        // Access the policy allows at once but only with a passkey (break-glass): the
        // requester confirms on the step-up page first; nothing is decided until then.
        if matches!(decision, Decision::Allow { .. })
            && decision.requires(Obligation::StepUp)
            && proof.is_none()
        {
            match event {
                Some(e) if matches!(input.subject, SubjectInput::Person) => {
                    return Ok(Submitted::Asked(
                        self.ask_step_up(e, person, req, StepUpPurpose::BreakGlass)
                            .await?,
                    ));
                }
                // Nobody can confirm with a passkey here (an agent, an automatic submit).
                _ => {
                    decision = Decision::fault(
                        "the policy requires a passkey step-up for an activation nobody can confirm with one",
                    );
                }
            }
        }
        let actor = format!("policy:{}", self.policy.name());
        let confirmed = lead
            .then(RequestEvent::Confirm)
            .log(Entry::new(
                &person.id,
                Evidence::IntentConfirmed {
                    intent: serde_json::to_value(&intent)?,
                    auto,
                },
            ))
            .log(Entry::new(
                &actor,
                Evidence::PolicyInput(serde_json::to_value(&input)?),
            ))
            .log(Entry::new(
                &actor,
                Evidence::PolicyDecision(serde_json::to_value(&decision)?),
            ))
            .logs(proof.map(|p| {
                Entry::new(
                    &person.id,
                    Evidence::PasskeyVerified {
                        purpose: StepUpPurpose::BreakGlass,
                        step: 0,
                        credential_id: p.credential_id.clone(),
                        user_verified: p.user_verified,
                    },
                )
            }));
        let submitted = if auto {
            "Submitted".to_string()
        } else {
            format!("Submitted by {}", person.display_name)
        };
        let (mut step, approvers) = self
            .decision_step(req, person, &intent, resource, decision, confirmed)
            .await?;
        if step.change.events.last() != Some(&RequestEvent::PolicyAllow) {
            // An allowed request's card is refreshed by its grant right after.
            step = step.cards(submitted);
        }
        Ok(Submitted::Decided(Box::new(Submission { step, approvers })))
    }

    /// What follows a committed submission: the break-glass announcement and the approval cards.
    pub(crate) async fn after_submission(
        &self,
        stored: &Request,
        person: &Person,
        resource: &Resource,
        approvers: Option<Vec<Person>>,
    ) {
        if stored.break_glass {
            self.announce_break_glass(stored, person, resource).await;
        }
        if let Some(people) = approvers {
            let posts = self.approval_posts(stored, resource, 0, &people).await;
            self.post_and_record(stored, &posts).await;
        }
    }
}
