//! The agent operations every agent-facing surface shares (the HTTP API and the MCP server): authenticate, create, read, wait, list, release, cancel.
//!
//! Each call starts from the `Authorization` header value, so no surface can skip the workload
//! check, and answers with a typed result the surface renders. The engine does the work;
//! this module never touches the store (inbound adapters reach it only through the engine).

use super::verify::{AuthError, VerifiedAgent, WorkloadVerifier};
use super::view::AgentRequestView;
use crate::domain::{AgentAsk, RequestId, RequestState};
use crate::workflow::{AgentCaller, AgentChannel, AgentOpError, Engine};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The longest a status call may wait for a change.
pub const MAX_WAIT_SECS: u64 = 30;
/// How often a waiting status call looks again (the store is the truth across instances).
const WAIT_POLL: Duration = Duration::from_millis(200);

/// Why an agent call failed: authentication, bad input, or the operation itself.
#[derive(Debug, thiserror::Error)]
pub enum AgentApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Malformed input that never reached the engine (400).
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Op(#[from] AgentOpError),
}

/// A created (or, for a repeated `Idempotency-Key`, found again) request.
#[derive(Debug)]
pub struct Created {
    pub view: AgentRequestView,
    /// False when an earlier call with the same key made it.
    pub new: bool,
}

/// The agent operations over one engine and one verifier.
#[derive(Clone)]
pub struct AgentService {
    engine: Arc<Engine>,
    verifier: Arc<WorkloadVerifier>,
    shutdown: CancellationToken,
    /// The surface this service answers for: recorded with each request, and it words `next`.
    channel: AgentChannel,
}

impl AgentService {
    pub fn new(
        engine: Arc<Engine>,
        verifier: Arc<WorkloadVerifier>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            engine,
            verifier,
            shutdown,
            channel: AgentChannel::Api,
        }
    }

    /// The same operations for another surface, with that surface's verifier (its audience).
    pub fn on(&self, channel: AgentChannel, verifier: Arc<WorkloadVerifier>) -> Self {
        Self {
            engine: self.engine.clone(),
            verifier,
            shutdown: self.shutdown.clone(),
            channel,
        }
    }

    fn view(&self, req: &crate::domain::Request) -> AgentRequestView {
        AgentRequestView::on(req, self.channel)
    }

    /// The agent an `Authorization` header value proves, or a 401/403.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<VerifiedAgent, AuthError> {
        let who = self.verifier.verify_header(header).await;
        if let Err(e) = &who {
            // The reason only: never the token or its claims.
            tracing::info!(status = e.status(), reason = %e, "agent token refused");
        }
        who
    }

    /// The agent behind `caller`: verified now, or as the surface already verified it.
    async fn identify<'c>(
        &self,
        caller: Caller<'c>,
    ) -> Result<std::borrow::Cow<'c, VerifiedAgent>, AuthError> {
        match caller {
            Caller::Verified(who) => Ok(std::borrow::Cow::Borrowed(who)),
            Caller::Header(h) => self.authenticate(h).await.map(std::borrow::Cow::Owned),
        }
    }

    pub async fn create(
        &self,
        caller: impl Into<Caller<'_>>,
        ask: &AgentAsk,
        idempotency_key: Option<&str>,
    ) -> Result<Created, AgentApiError> {
        let who = self.identify(caller.into()).await?;
        if let Some(k) = idempotency_key
            && !crate::domain::agent_ask::valid_idempotency_key(k)
        {
            return Err(AgentApiError::BadRequest(
                "Idempotency-Key must be 1 to 128 visible ASCII characters".into(),
            ));
        }
        let caller = AgentCaller {
            agent: &who.agent,
            claims: &who.claims,
            channel: self.channel,
        };
        let (req, new) = self
            .engine
            .agent_create(caller, ask, idempotency_key)
            .await?;
        Ok(Created {
            view: self.view(&req),
            new,
        })
    }

    /// The request's status; with `wait`, returns as soon as its state differs from the one
    /// it had when the call started (or `wait` runs out, at most `MAX_WAIT_SECS`).
    pub async fn status(
        &self,
        caller: impl Into<Caller<'_>>,
        id: &str,
        wait_secs: Option<u64>,
    ) -> Result<AgentRequestView, AgentApiError> {
        let who = self.identify(caller.into()).await?;
        let id = parse_id(id)?;
        let first = self.engine.agent_request(&who.agent.id, &id).await?;
        let wait = Duration::from_secs(wait_secs.unwrap_or(0).min(MAX_WAIT_SECS));
        if wait.is_zero() || first.state.is_terminal() {
            return Ok(self.answer(&first).await);
        }
        let until = tokio::time::Instant::now() + wait;
        let mut latest = first.clone();
        // `approved` is the brief step while the grant is being made: waiting through it answers
        // with the grant in place (and its credential) instead of a wake-up that says "pending".
        let unchanged = |r: &crate::domain::Request| {
            r.state == first.state || r.state == RequestState::Approved
        };
        while unchanged(&latest) && tokio::time::Instant::now() < until {
            tokio::select! {
                _ = tokio::time::sleep(WAIT_POLL) => {}
                // A long poll must not hold up a graceful shutdown.
                _ = self.shutdown.cancelled() => break,
            }
            latest = self.engine.agent_request(&who.agent.id, &id).await?;
        }
        Ok(self.answer(&latest).await)
    }

    /// A status answer: with the credential waiting for the agent, taken now, when there is one.
    async fn answer(&self, req: &crate::domain::Request) -> AgentRequestView {
        let credential = self.engine.agent_take_credential(req).await;
        self.view(req).with_credential(credential)
    }

    pub async fn list(
        &self,
        caller: impl Into<Caller<'_>>,
        state: Option<&str>,
    ) -> Result<Vec<AgentRequestView>, AgentApiError> {
        let who = self.identify(caller.into()).await?;
        let state = match state {
            None => None,
            Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
                AgentApiError::BadRequest(format!("unknown state '{}'", truncate(s)))
            })?),
        };
        let rows = self.engine.agent_requests(&who.agent.id, state).await?;
        Ok(rows.iter().map(|r| self.view(r)).collect())
    }

    pub async fn release(
        &self,
        caller: impl Into<Caller<'_>>,
        id: &str,
    ) -> Result<AgentRequestView, AgentApiError> {
        let who = self.identify(caller.into()).await?;
        let req = self
            .engine
            .agent_release(&who.agent.id, &parse_id(id)?)
            .await?;
        Ok(self.view(&req))
    }

    pub async fn cancel(
        &self,
        caller: impl Into<Caller<'_>>,
        id: &str,
    ) -> Result<AgentRequestView, AgentApiError> {
        let who = self.identify(caller.into()).await?;
        let req = self.engine.agent_cancel(&who.agent, &parse_id(id)?).await?;
        Ok(self.view(&req))
    }
}

/// Who calls an operation: a bearer `Authorization` header still to verify, or the agent the
/// surface already verified with this service's verifier (the MCP middleware, the API's early
/// check), so a call verifies its token once.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Header(Option<&'a str>),
    Verified(&'a VerifiedAgent),
}

impl<'a> From<Option<&'a str>> for Caller<'a> {
    fn from(header: Option<&'a str>) -> Self {
        Caller::Header(header)
    }
}

impl<'a> From<&'a VerifiedAgent> for Caller<'a> {
    fn from(who: &'a VerifiedAgent) -> Self {
        Caller::Verified(who)
    }
}

/// A malformed id is answered like an unknown one: 404, nothing about why.
fn parse_id(id: &str) -> Result<RequestId, AgentApiError> {
    RequestId::parse(id).ok_or(AgentApiError::Op(AgentOpError::NotFound))
}

fn truncate(s: &str) -> String {
    crate::domain::text::sanitize_free_text(s, 40)
}
