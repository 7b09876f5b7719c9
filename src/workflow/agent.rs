//! Agents' requests through the same workflow as people's: create from a structured ask, read, list, release, cancel.
//!
//! An agent's request is a normal `Request` with `origin.platform = Agent`, `requester_id` =
//! the agent id. Its ask is never read by a model; its identity is the verified workload token,
//! recorded in the context log as the claims used (never the token). It is submitted at once
//! (there is nobody to confirm), decided by the same policy with `subject.type = "agent"`, and
//! approved by people in chat. An agent sees and acts on its own requests only.

use super::decide::Submitted;
use super::{Engine, UserError};
use crate::domain::agent_ask::{idempotent_request_id, owned_by};
use crate::domain::{
    Agent, AgentAsk, AskError, Decision, Entry, Evidence, Origin, Person, Platform, Request,
    RequestEvent, RequestId, RequestState, ScopeKind, Subject,
};
use crate::policy::{AgentInput, PolicyInput, SubjectInput};
use crate::store::{Change, Committed, UnfinishedLimit};
use serde_json::Value;

/// The workspace every agent request's origin names.
pub const AGENT_WORKSPACE: &str = "agents";

/// How the agent reached Warden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentChannel {
    Api,
    Mcp,
}

impl AgentChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Mcp => "mcp",
        }
    }
}

/// A verified agent acting: its registration, the claims its token proved, and the channel.
#[derive(Debug, Clone, Copy)]
pub struct AgentCaller<'a> {
    pub agent: &'a Agent,
    pub claims: &'a Value,
    pub channel: AgentChannel,
}

/// Why an agent operation did not happen. Each maps to one HTTP status in the adapter.
#[derive(Debug, thiserror::Error)]
pub enum AgentOpError {
    /// The ask itself is wrong (422); nothing was stored.
    #[error(transparent)]
    Ask(#[from] AskError),
    /// No such request of this agent's (404), whether it does not exist or is another's.
    #[error("no such request")]
    NotFound,
    /// The request is not in a state that allows this, or a key was reused (409).
    #[error("{message}")]
    Conflict { kind: ConflictKind, message: String },
    /// The agent already has as many unfinished requests as it may (429); nothing was stored.
    #[error("this agent already has {limit} unfinished request(s), its maximum")]
    TooMany { limit: u32 },
    /// A freeze (the kill switch) covers this agent or resource (423); nothing was granted.
    #[error("{notice}")]
    Frozen { freeze: String, notice: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a 409 is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// The Idempotency-Key was used for a different ask.
    KeyReused,
    /// Another call with the same key is storing its request right now.
    KeyInProgress,
    /// Release of a request that has no active access.
    NotActive,
    /// Cancel of a request past the point where it can be cancelled.
    NotCancellable,
    /// The request changed while the call was being carried out.
    StateChanged,
}

impl ConflictKind {
    /// The short code an answer carries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyReused => "idempotency_key_reused",
            Self::KeyInProgress => "idempotency_in_progress",
            Self::NotActive => "not_active",
            Self::NotCancellable => "not_cancellable",
            Self::StateChanged => "state_changed",
        }
    }
}

pub(super) fn conflict(kind: ConflictKind, message: impl Into<String>) -> AgentOpError {
    AgentOpError::Conflict {
        kind,
        message: message.into(),
    }
}

/// The requester an agent is to the approval rules: no groups, no manager, no chat accounts,
/// so no rule written for people can resolve to the agent and it can never approve.
pub(crate) fn agent_person(agent: &Agent) -> Person {
    Person {
        id: agent.id.clone(),
        display_name: agent.name.clone(),
        email: None,
        manager: None,
        groups: vec![],
        accounts: vec![],
        active: true,
        sso_subject: None,
        target_ids: Default::default(),
    }
}

impl Engine {
    /// The agent registry in force (empty unless `agents.file` is set).
    pub fn agents(&self) -> &crate::domain::AgentRegistry {
        &self.agents
    }

    /// Installs the agent registry (at composition, before the engine is shared).
    pub fn set_agents(&mut self, agents: std::sync::Arc<crate::domain::AgentRegistry>) {
        self.agents = agents;
    }

    /// Creates and submits an agent's request in one commit: the ask, the policy's decision
    /// and, when it allows, the grant job (claimed, run right after). With an idempotency key,
    /// a retry returns the request the first call made (and finishes submitting one that an
    /// earlier version stored unsubmitted). The flag says whether this call created it.
    pub async fn agent_create(
        &self,
        caller: AgentCaller<'_>,
        ask: &AgentAsk,
        key: Option<&str>,
    ) -> Result<(Request, bool), AgentOpError> {
        let agent = caller.agent;
        let intent = ask.to_intent(agent, &self.catalog)?;
        let id = match key {
            Some(k) => idempotent_request_id(&agent.id, k),
            None => RequestId::generate(),
        };
        if key.is_some()
            && let Some(existing) = self.store.get_request(&id).await?
        {
            return Ok((self.agent_retry(caller, ask, existing).await?, false));
        }
        // The one freeze check of this step (intake and submission are one commit): a frozen
        // scope stores nothing and says so plainly.
        self.agent_refuse_if_frozen(Subject::Agent(&agent.id), intent.resource.as_deref())
            .await?;
        let now = self.now_ms();
        let origin = Origin {
            platform: Platform::Agent,
            workspace: AGENT_WORKSPACE.into(),
            channel: caller.channel.as_str().into(),
            thread: None,
            kind: ScopeKind::Api,
        };
        let mut draft = Request::draft(id.clone(), origin, agent.id.clone(), agent.id.clone(), now);
        let lead = Change::event(RequestEvent::IntentReady)
            .log(Entry::new(
                &agent.id,
                Evidence::AgentRequest {
                    agent: agent.id.clone(),
                    owner: agent.owner.clone(),
                    channel: caller.channel.as_str().into(),
                    claims: caller.claims.clone(),
                    input: serde_json::to_value(ask).map_err(anyhow::Error::from)?,
                },
            ))
            .log(Entry::warden(Evidence::IntentProposed {
                intent: serde_json::to_value(&intent).map_err(anyhow::Error::from)?,
            }));
        // Nobody confirms an agent's ask: it is submitted in the commit that stores it.
        draft.intent = Some(intent);
        let resource = self.resource_of(&draft)?.clone();
        let person = agent_person(agent);
        let subject = self.agent_subject(caller, &draft);
        let mut sub = match self
            .submission(&draft, &person, true, subject, &resource, lead, None, None)
            .await
            .map_err(|e| self.agent_refusal(e, &draft))?
        {
            Submitted::Decided(sub) => *sub,
            // Nobody can be asked for an agent: `submission` decides (and denies) instead.
            Submitted::Asked(_) => {
                return Err(anyhow::anyhow!("agent request {id} was not decided").into());
            }
        };
        // Two racing creates with one key: the second stops at the delivery record.
        sub.step.change.delivery = key.map(|k| format!("agent:{}:{k}", agent.id));
        // The concurrent-grant bound is counted in the insert itself: no read before, and two
        // creates at once cannot both slip under it.
        sub.step.change.limit = Some(UnfinishedLimit {
            max: agent.max_concurrent_grants,
        });
        let stored = match self.create_with_step(&draft, sub.step).await? {
            Committed::Applied(r) => *r,
            Committed::Duplicate => {
                let existing = self.store.get_request(&id).await?.ok_or_else(|| {
                    conflict(
                        ConflictKind::KeyInProgress,
                        "a request with this Idempotency-Key is being created; retry shortly",
                    )
                })?;
                return Ok((self.agent_retry(caller, ask, existing).await?, false));
            }
            // A new id conflicts with nothing but the limit: nothing was stored.
            Committed::Conflict => {
                tracing::info!(agent = %agent.id, "agent request refused: concurrent limit");
                return Err(AgentOpError::TooMany {
                    limit: agent.max_concurrent_grants,
                });
            }
            Committed::Refused(_) => {
                return Err(anyhow::anyhow!("a new agent request {id} could not be stored").into());
            }
        };
        self.metrics.inc(
            "warden_requests_created_total",
            &format!("platform=\"{}\"", Platform::Agent),
            1,
        );
        self.after_submission(&stored, &person, &resource, sub.approvers)
            .await;
        // The grant (when the policy allowed) ran right after the commit: answer as it is now.
        Ok((self.agent_request(&agent.id, &id).await?, true))
    }

    /// What the policy is told about an agent asking: its owner, bounds and verified claims.
    fn agent_subject(&self, caller: AgentCaller<'_>, req: &Request) -> SubjectInput {
        SubjectInput::Agent {
            agent: AgentInput::new(
                caller.agent,
                caller.claims,
                req.resource().unwrap_or_default(),
                req.role().unwrap_or_default(),
            ),
        }
    }

    /// A create that repeats an earlier one's key: the same ask gets the same request.
    async fn agent_retry(
        &self,
        caller: AgentCaller<'_>,
        ask: &AgentAsk,
        existing: Request,
    ) -> Result<Request, AgentOpError> {
        let same = owned_by(&existing, &caller.agent.id)
            && existing.intent.as_ref().is_some_and(|i| ask.matches(i));
        if !same {
            return Err(conflict(
                ConflictKind::KeyReused,
                "this Idempotency-Key was already used for a different request",
            ));
        }
        if existing.state == RequestState::AwaitingConfirmation {
            // The first call stored the request but did not get to submit it.
            return self.agent_submit(caller, &existing).await;
        }
        Ok(existing)
    }

    /// Hands a stored agent request to the policy, as the agent, and returns it as it is after.
    async fn agent_submit(
        &self,
        caller: AgentCaller<'_>,
        req: &Request,
    ) -> Result<Request, AgentOpError> {
        let agent = caller.agent;
        // A freeze set before a retried create still refuses (submit_as checks it too, but
        // would answer as to a person); the stored request is left unconfirmed and expires
        // with its confirmation deadline.
        self.agent_refuse_if_frozen(req.subject(), req.resource())
            .await?;
        let subject = self.agent_subject(caller, req);
        let person = agent_person(agent);
        match self
            .submit_as(req, &person, true, None, subject, None)
            .await
        {
            Ok(_) => {}
            // Someone (a retry) submitted it first: what it is now is the answer.
            Err(e) if e.downcast_ref::<UserError>().is_some() => {
                tracing::info!(request = %req.id, why = %e, "agent request was not submitted here");
            }
            Err(e) => return Err(e.into()),
        }
        self.agent_request(&agent.id, &req.id).await
    }

    async fn agent_refuse_if_frozen(
        &self,
        subject: Subject<'_>,
        resource: Option<&str>,
    ) -> Result<(), AgentOpError> {
        match self.freeze_covering(subject, resource).await? {
            Some(f) => {
                self.metrics.inc("warden_freeze_refusals_total", "", 1);
                tracing::info!(freeze = %f.id, resource, "agent request refused: frozen");
                Err(AgentOpError::Frozen {
                    notice: f.chat_notice(),
                    freeze: f.id,
                })
            }
            None => Ok(()),
        }
    }
}

/// An agent never gets more than its ceiling, whatever the policy says: a policy that allows
/// (or sends for approval) an agent's request outside it is treated as a fault and denies.
pub(super) fn outside_ceiling_denies(
    req: &Request,
    input: &PolicyInput,
    decision: Decision,
) -> Decision {
    let outside = input.subject.agent().is_some_and(|a| !a.within_ceiling);
    if !outside || matches!(decision, Decision::Deny { .. }) {
        return decision;
    }
    let fault = Decision::fault("the policy did not deny an agent's request outside its ceiling");
    if let Some(f) = fault.fault_info() {
        tracing::error!(request = %req.id, reference = %f.reference, detail = %f.detail, "inconsistent policy answer; denied");
    }
    fault
}
