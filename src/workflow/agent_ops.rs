//! Reading and ending agents' requests: one's own only, release of active access, cancellation, and where their approval cards go.

use super::agent::{AgentOpError, ConflictKind, agent_person, conflict};
use super::{Engine, UserError};
use crate::chat::{Card, CardTarget};
use crate::domain::agent_ask::owned_by;
use crate::domain::{
    Agent, Person, Platform, PlatformUser, Request, RequestEvent, RequestId, RequestState,
};
use crate::store::RequestFilter;

/// The most requests one list call returns.
pub const AGENT_LIST_LIMIT: i64 = 100;

impl Engine {
    /// One of the agent's own requests; another's is `NotFound`, exactly like a missing one.
    pub async fn agent_request(
        &self,
        agent_id: &str,
        id: &RequestId,
    ) -> Result<Request, AgentOpError> {
        match self.store.get_request(id).await? {
            Some(r) if owned_by(&r, agent_id) => Ok(r),
            _ => Err(AgentOpError::NotFound),
        }
    }

    /// The agent's own requests, newest first.
    pub async fn agent_requests(
        &self,
        agent_id: &str,
        state: Option<RequestState>,
    ) -> Result<Vec<Request>, AgentOpError> {
        let rows = self
            .store
            .list_requests(&RequestFilter {
                requester_id: Some(agent_id.into()),
                platform: Some(Platform::Agent.as_str().into()),
                state,
                limit: AGENT_LIST_LIMIT,
                ..Default::default()
            })
            .await?;
        Ok(rows.into_iter().filter(|r| owned_by(r, agent_id)).collect())
    }

    /// "Task done": revokes an active grant now. Releasing what is already ended is a no-op
    /// that answers with the request, so a retried release is safe.
    pub async fn agent_release(
        &self,
        agent_id: &str,
        id: &RequestId,
    ) -> Result<Request, AgentOpError> {
        let req = self.agent_request(agent_id, id).await?;
        match req.state {
            RequestState::Active => {
                let actor = format!("agent:{agent_id}");
                self.revoke_early(&req, &actor, "released by the agent", None)
                    .await
                    .map_err(|e| self.agent_refusal(e, &req))?;
                self.agent_request(agent_id, id).await
            }
            RequestState::Revoked | RequestState::Expired => Ok(req),
            other => Err(conflict(
                ConflictKind::NotActive,
                format!(
                    "request {} has no active access to release (it is {other}); cancel it instead",
                    req.id
                ),
            )),
        }
    }

    /// Withdraws a request that has not been granted. Cancelling a cancelled one is a no-op.
    pub async fn agent_cancel(
        &self,
        agent: &Agent,
        id: &RequestId,
    ) -> Result<Request, AgentOpError> {
        let req = self.agent_request(&agent.id, id).await?;
        if req.state == RequestState::Cancelled {
            return Ok(req);
        }
        if req.state.apply(RequestEvent::Cancel).is_err() {
            return Err(conflict(
                ConflictKind::NotCancellable,
                format!(
                    "request {} can't be cancelled: it is {}{}",
                    req.id,
                    req.state,
                    if req.state == RequestState::Active {
                        "; release it instead"
                    } else {
                        ""
                    }
                ),
            ));
        }
        self.cancel(&req, &agent_person(agent), vec![], None)
            .await
            .map_err(|e| self.agent_refusal(e, &req))?;
        self.agent_request(&agent.id, id).await
    }

    /// A refusal the workflow phrased for people becomes a 409; anything else stays internal.
    pub(super) fn agent_refusal(&self, e: anyhow::Error, req: &Request) -> AgentOpError {
        match e.downcast_ref::<UserError>() {
            Some(u) => conflict(ConflictKind::StateChanged, u.0.clone()),
            None => {
                tracing::warn!(request = %req.id, error = ?e, "agent operation failed");
                AgentOpError::Internal(e)
            }
        }
    }

    /// The requester as the approval rules see it: the directory person, or for an agent its
    /// registered self (never in the directory: agent and person ids do not meet).
    pub(crate) async fn requester_for_approvals(&self, req: &Request) -> Option<Person> {
        if req.is_agent() {
            return self.agents.get(&req.requester_id).map(agent_person);
        }
        self.directory
            .person(&req.requester_id)
            .await
            .ok()
            .flatten()
    }

    /// Where an approver of an agent's request is reached: the agent has no conversation, so
    /// a direct message on every chat platform the approver has an account on.
    pub(crate) fn agent_approver_accounts<'p>(&self, person: &'p Person) -> Vec<&'p PlatformUser> {
        let mut platforms: Vec<Platform> = self.chats.keys().copied().collect();
        platforms.sort_by_key(|p| p.as_str());
        platforms
            .iter()
            .filter_map(|pl| person.first_account_on(*pl))
            .collect()
    }

    /// Approval cards for an agent's request, one per approver account.
    pub(crate) fn agent_approval_posts(
        &self,
        req: &Request,
        card: &Card,
        approvers: &[Person],
    ) -> Vec<(CardTarget, Card)> {
        let mut posts = Vec::new();
        for p in approvers {
            let accounts = self.agent_approver_accounts(p);
            if accounts.is_empty() {
                tracing::warn!(request = %req.id, approver = %p.id, "approver of an agent request has no chat account; not sent a card");
            }
            for a in accounts {
                posts.push((CardTarget::Direct(a.clone()), card.clone()));
            }
        }
        posts
    }
}
