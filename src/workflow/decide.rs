//! Submit → policy → approved, denied or pending approval, committed as one step.
//!
//! The policy is asked before the commit (it reads only the request and the directory), so the
//! confirmation and the decision land together; a request that changed meanwhile is a conflict.

pub(crate) use super::asking::ToAsk;
use super::plan::describe;
use super::step::Step;
use super::{Engine, Handled, user_error};
use crate::chat::ChatEvent;
use crate::domain::{
    Decision, Entry, Evidence, Intent, Job, JobKind, Obligation, PasskeyProof, Patch, Person,
    Request, RequestEvent, RequestState, Resource, StepUpPurpose,
};
use crate::policy::{
    ChannelInput, INPUT_VERSION, PolicyInput, RequestContextInput, RequesterInput, ResourceInput,
    SubjectInput,
};
use crate::store::{Change, Committed, JobClaim};

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
        if req.state != RequestState::AwaitingConfirmation {
            return Err(user_error(format!(
                "Request {} can't be submitted now: it is {}.",
                req.id,
                req.state.label()
            )));
        }
        let resource = self.resource_of(req)?.clone();
        // Frozen: refused before policy; the request waits, confirmable once the freeze lifts.
        self.refuse_if_frozen(req.subject(), Some(&resource.id))
            .await?;
        let lead = Change::none().cancel(&[JobKind::ConfirmExpire]);
        let mut sub = match self
            .submission(req, person, auto, subject, &resource, lead, event, proof)
            .await?
        {
            Submitted::Decided(sub) => *sub,
            Submitted::Asked(handled) => return Ok((handled, None)),
        };
        if let Some(e) = event {
            sub.step = sub.step.for_event(e);
        }
        let stored = match self.commit_step(req, sub.step).await? {
            Committed::Applied(r) => *r,
            Committed::Duplicate => return Ok((Handled::Duplicate, None)),
            Committed::Conflict | Committed::Refused(_) => {
                return Err(user_error(format!(
                    "Request {} changed while you were clicking; nothing was changed.",
                    req.id
                )));
            }
        };
        self.after_submission(&stored, person, &resource, None)
            .await;
        let ask = sub.approvers.map(|approvers| ToAsk {
            req: stored,
            resource,
            approvers,
        });
        Ok((Handled::Done, ask))
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

    /// Asks the PDP, with metrics. Only this and approvers' clicks change access.
    pub(crate) async fn ask_policy(&self, input: &PolicyInput) -> Decision {
        let started = std::time::Instant::now();
        let decision = self.policy.decide(input).await;
        if let Some(fault) = decision.fault_info() {
            // The one place a PDP's fault is logged with the reference the requester is shown.
            tracing::error!(
                reference = %fault.reference,
                engine = self.policy.name(),
                requester = %input.requester.id,
                detail = %fault.detail,
                "the policy decision point could not decide; denied"
            );
        }
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
        decision
    }

    /// The step a decision leads to from Submitted, and the approvers to ask, if any.
    pub(super) async fn decision_step(
        &self,
        req: &Request,
        person: &Person,
        intent: &Intent,
        resource: &Resource,
        decision: Decision,
        change: Change,
    ) -> anyhow::Result<(Step, Option<Vec<Person>>)> {
        let now = self.now_ms();
        let decided = |event: RequestEvent, to: RequestState, d: &Decision| {
            change
                .clone()
                .then(event)
                .log(Entry::warden(Evidence::StateChange {
                    from: RequestState::Submitted,
                    to,
                    why: None,
                }))
                .patch(Patch {
                    decision: Some(d.clone()),
                    ..change.patch.clone()
                })
        };
        Ok(match &decision {
            Decision::Deny { .. } => {
                let c = decided(RequestEvent::PolicyDeny, RequestState::Denied, &decision);
                let told = format!("Request {} was denied: {}.", req.id, decision.explain());
                (Step::new(c).tell(told), None)
            }
            Decision::Allow { break_glass, .. } if *break_glass && !intent.break_glass => {
                // The policy may not invent an emergency nobody declared.
                let fault =
                    Decision::fault("break-glass allowed for a request that did not ask for it");
                if let Some(f) = fault.fault_info() {
                    tracing::error!(request = %req.id, reference = %f.reference, detail = %f.detail, "inconsistent policy answer; denied");
                }
                let c = decided(RequestEvent::PolicyDeny, RequestState::Denied, &fault);
                let told = format!("Request {} was denied: {}.", req.id, fault.explain());
                (Step::new(c).tell(told), None)
            }
            Decision::Allow { break_glass, .. } => {
                let mut c = decided(RequestEvent::PolicyAllow, RequestState::Approved, &decision);
                c.patch.break_glass = Some(*break_glass);
                c.patch.review_open = Some(*break_glass);
                let c = c.schedule_claimed(Job::Grant, now, self.claim(&Job::Grant, req));
                (Step::new(c), None)
            }
            Decision::RequireApproval {
                steps,
                deny_reason_required,
                reasons,
                ..
            } => match self
                .resolve_plan(steps, *deny_reason_required, person, resource)
                .await
            {
                Err(why) => {
                    tracing::warn!(request = %req.id, why, "approvers could not be resolved");
                    let c = decided(RequestEvent::Fail, RequestState::Failed, &decision).log(
                        Entry::warden(Evidence::Error(
                            serde_json::json!({ "approvers_unresolved": why }),
                        )),
                    );
                    let told = format!(
                        "Request {} needs approval, but I can't work out who can approve it: {why}. Nothing was granted; an admin has been told.",
                        req.id
                    );
                    (Step::new(c).tell(told), None)
                }
                Ok((plan, mut people)) => {
                    let deadline = now + (self.options.pending_ttl_secs as i64) * 1000;
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
                    let mut c = decided(
                        RequestEvent::PolicyRequireApproval,
                        RequestState::PendingApproval,
                        &decision,
                    )
                    .log(Entry::warden(Evidence::ApproversResolved(
                        serde_json::to_value(&plan)?,
                    )))
                    .schedule(Job::PendingExpire, deadline);
                    let remind_at = deadline - (self.options.reminder_before_secs as i64) * 1000;
                    if remind_at > now {
                        c = c.schedule(Job::Remind, remind_at);
                    }
                    c.patch.approval_plan = Some(plan);
                    c.patch.current_step = Some(0);
                    c.patch.deadline_at = Some(Some(deadline));
                    (Step::new(c).tell(told), Some(people.swap_remove(0)))
                }
            },
        })
    }

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

    pub(crate) fn resource_of(&self, req: &Request) -> anyhow::Result<&Resource> {
        let id = req
            .resource()
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
        req: &Request,
        person: &Person,
        intent: &Intent,
        resource: &Resource,
        context: RequestContextInput,
    ) -> PolicyInput {
        PolicyInput {
            version: INPUT_VERSION.into(),
            subject: SubjectInput::Person,
            requester: RequesterInput::from_person(person, &req.requester_account()),
            intent: intent.clone(),
            resource: ResourceInput::from_resource(
                resource,
                intent.role.as_deref().unwrap_or_default(),
            ),
            time: self.clock.now().to_rfc3339(),
            channel: ChannelInput {
                platform: req.origin.platform.as_str().into(),
                workspace: req.origin.workspace.clone(),
                channel: req.origin.channel.clone(),
                kind: req.origin.kind.as_str().into(),
            },
            context,
            // Filled in by the callers that ask the source (`oncall_input`): it is I/O.
            oncall: Default::default(),
        }
    }

    /// Evaluates policy without acting, for "confirm only when approval is needed".
    pub(crate) async fn preview_allows(
        &self,
        req: &Request,
        person: &Person,
        intent: &Intent,
    ) -> bool {
        let Some(resource) = intent.resource.as_deref().and_then(|r| self.catalog.get(r)) else {
            return false;
        };
        let mut input = self.policy_input(
            req,
            person,
            intent,
            resource,
            RequestContextInput::default(),
        );
        input.oncall = self.oncall_input(&input.subject, person).await;
        matches!(
            self.policy.decide(&input).await,
            Decision::Allow {
                break_glass: false,
                ..
            }
        )
    }
}
