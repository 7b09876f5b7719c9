//! The request aggregate: everything Warden knows about one access request, as typed values.
//!
//! A `Request` only changes through [`Request::apply`], which runs the state machine and a
//! [`Patch`] together, so the store can write exactly the result and never read it back.

use super::decision::{ApprovalPlan, Decision};
use super::{
    GrantRecord, GrantSummary, Intent, Platform, PlatformUser, PostedCard, RequestEvent, RequestId,
    RequestState, TransitionError,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of conversation a request lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// A direct message with Warden.
    Dm,
    /// A public or private channel (the request gets its own thread).
    Channel,
    /// Already inside a thread.
    Thread,
    /// The local console adapter (`warden demo`, benchmarks).
    Console,
    /// A machine interface (the agent API, the MCP server): no conversation at all.
    Api,
}

impl ScopeKind {
    pub const ALL: [ScopeKind; 5] = [
        Self::Dm,
        Self::Channel,
        Self::Thread,
        Self::Console,
        Self::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dm => "dm",
            Self::Channel => "channel",
            Self::Thread => "thread",
            Self::Console => "console",
            Self::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether other people can read what is said there.
    pub fn is_private(self) -> bool {
        matches!(self, Self::Dm | Self::Console | Self::Api)
    }
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a request lives: its platform, workspace, channel and thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub platform: Platform,
    pub workspace: String,
    pub channel: String,
    pub thread: Option<String>,
    pub kind: ScopeKind,
}

/// One approver's decision on one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub step: u32,
    pub approver_id: String,
    /// The verified platform account that clicked, as `platform:workspace:user`.
    pub approver_account: String,
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
        }
    }
}

/// Where the request's hash chain ends: the optimistic-concurrency version of the aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

/// One access request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    pub origin: Origin,
    /// Directory id of the person asking (from the verified platform account, never from text).
    pub requester_id: String,
    /// The platform user id that asked.
    pub requester_account: String,
    pub state: RequestState,
    /// The validated intent, once intake produced one.
    pub intent: Option<Intent>,
    pub decision: Option<Decision>,
    pub approval_plan: Option<ApprovalPlan>,
    pub current_step: u32,
    pub approvals: Vec<Approval>,
    pub grant: Option<GrantRecord>,
    pub break_glass: bool,
    pub review_open: bool,
    pub clarify_turns: u32,
    pub parent_id: Option<RequestId>,
    /// The bundle this request is an item of: the id of the ask's first request (its lead, whose
    /// own `bundle_id` is its id). `None` for a one-item ask.
    pub bundle_id: Option<RequestId>,
    pub extensions: u32,
    pub expires_at: Option<i64>,
    pub deadline_at: Option<i64>,
    /// The status line every posted card of the request shows ("Approved by Dana Scully").
    pub card_status: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub chain: ChainHead,
    /// The cards posted for it, oldest first, when read with it (`Store::get_request`, a
    /// create, and every commit from such a copy); `None` when read without them (lists), and
    /// then whoever needs them reads them. Kept in step by the commit: a card recorded outside
    /// a commit moves `updated_at`, which the commit's compare-and-set checks, so a copy that
    /// missed a card cannot commit.
    #[serde(skip)]
    pub cards: Option<Vec<PostedCard>>,
}

/// Fields a change sets besides the state. `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub intent: Option<Intent>,
    pub decision: Option<Decision>,
    pub approval_plan: Option<ApprovalPlan>,
    pub current_step: Option<u32>,
    pub approval: Option<Approval>,
    pub grant: Option<GrantRecord>,
    pub break_glass: Option<bool>,
    pub review_open: Option<bool>,
    pub clarify_turns: Option<u32>,
    pub extensions: Option<u32>,
    pub expires_at: Option<Option<i64>>,
    pub deadline_at: Option<Option<i64>>,
    pub thread: Option<String>,
    pub card_status: Option<String>,
    pub bundle_id: Option<RequestId>,
}

impl Patch {
    pub fn is_empty(&self) -> bool {
        *self == Patch::default()
    }
}

impl Request {
    /// A new request in `Draft`, before anything was understood.
    pub fn draft(
        id: RequestId,
        origin: Origin,
        requester_id: String,
        requester_account: String,
        now_ms: i64,
    ) -> Self {
        Self {
            id,
            origin,
            requester_id,
            requester_account,
            state: RequestState::Draft,
            intent: None,
            decision: None,
            approval_plan: None,
            current_step: 0,
            approvals: Vec::new(),
            grant: None,
            break_glass: false,
            review_open: false,
            clarify_turns: 0,
            parent_id: None,
            bundle_id: None,
            extensions: 0,
            expires_at: None,
            deadline_at: None,
            card_status: None,
            created_at: now_ms,
            updated_at: now_ms,
            chain: ChainHead::default(),
            cards: Some(Vec::new()),
        }
    }

    /// The request after `events` (in order) and `patch`: the one place a request changes.
    pub fn apply(
        &self,
        events: &[RequestEvent],
        patch: &Patch,
        now_ms: i64,
    ) -> Result<Request, TransitionError> {
        let mut next = self.clone();
        for e in events {
            next.state = next.state.apply(*e)?;
        }
        let p = patch.clone();
        if let Some(v) = p.intent {
            next.intent = Some(v);
        }
        if let Some(v) = p.decision {
            next.decision = Some(v);
        }
        if let Some(v) = p.approval_plan {
            next.approval_plan = Some(v);
        }
        if let Some(v) = p.current_step {
            next.current_step = v;
        }
        if let Some(v) = p.approval {
            next.approvals.push(v);
        }
        if let Some(v) = p.grant {
            next.grant = Some(v);
        }
        if let Some(v) = p.break_glass {
            next.break_glass = v;
        }
        if let Some(v) = p.review_open {
            next.review_open = v;
        }
        if let Some(v) = p.clarify_turns {
            next.clarify_turns = v;
        }
        if let Some(v) = p.extensions {
            next.extensions = v;
        }
        if let Some(v) = p.expires_at {
            next.expires_at = v;
        }
        if let Some(v) = p.deadline_at {
            next.deadline_at = v;
        }
        if let Some(v) = p.thread {
            next.origin.thread = Some(v);
        }
        if let Some(v) = p.card_status {
            next.card_status = Some(v);
        }
        if let Some(v) = p.bundle_id {
            next.bundle_id = Some(v);
        }
        next.updated_at = now_ms;
        Ok(next)
    }

    /// Whether this request is the lead of a bundle: the item whose card the requester confirms.
    pub fn leads_bundle(&self) -> bool {
        self.bundle_id.as_ref() == Some(&self.id)
    }

    /// Whether a registered agent asked (through the agent API or MCP), not a person.
    pub fn is_agent(&self) -> bool {
        self.origin.platform == Platform::Agent
    }

    pub fn resource(&self) -> Option<&str> {
        self.intent.as_ref()?.resource.as_deref()
    }

    pub fn role(&self) -> Option<&str> {
        self.intent.as_ref()?.role.as_deref()
    }

    pub fn duration_secs(&self) -> Option<u64> {
        self.intent.as_ref()?.duration_secs
    }

    pub fn justification(&self) -> Option<&str> {
        self.intent.as_ref()?.justification.as_deref()
    }

    pub fn ticket(&self) -> Option<&str> {
        self.intent.as_ref()?.ticket.as_deref()
    }

    /// Who the request is for, as freezes match it.
    pub fn subject(&self) -> super::Subject<'_> {
        match self.is_agent() {
            true => super::Subject::Agent(&self.requester_id),
            false => super::Subject::Person(&self.requester_id),
        }
    }

    /// The platform account that asked.
    pub fn requester_account(&self) -> PlatformUser {
        PlatformUser::new(
            self.origin.platform,
            self.origin.workspace.clone(),
            self.requester_account.clone(),
        )
    }

    /// Approvals counted on `step` so far.
    pub fn approvals_on(&self, step: u32) -> usize {
        self.approvals
            .iter()
            .filter(|a| a.step == step && a.verdict == Verdict::Approve)
            .count()
    }

    /// The grant as people see it (admin pages, the API), if there was one.
    pub fn grant_summary(&self) -> Option<GrantSummary> {
        let g = self.grant.as_ref()?;
        let status = if self.state == RequestState::Active {
            "active"
        } else if g.revoked_at.is_none() && self.state == RequestState::Failed {
            // A grant that could not be confirmed, still being withdrawn.
            "withdrawing"
        } else {
            "revoked"
        };
        Some(GrantSummary {
            request_id: self.id.to_string(),
            backend: g.backend.clone(),
            resource: g.resource.clone(),
            role: g.role.clone(),
            person_id: self.requester_id.clone(),
            account: g.account.to_string(),
            granted_at: g.granted_at,
            expires_at: self.expires_at.unwrap_or(g.granted_at),
            revoked_at: g.revoked_at,
            revoke_reason: g.revoke_reason.clone(),
            status: status.to_string(),
        })
    }

    /// Whether this person already approved or denied this request.
    pub fn has_acted(&self, person_id: &str) -> bool {
        self.approvals.iter().any(|a| a.approver_id == person_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Request {
        Request::draft(
            RequestId::parse("AR-00000000").unwrap(),
            Origin {
                platform: Platform::Console,
                workspace: "local".into(),
                channel: "c".into(),
                thread: None,
                kind: ScopeKind::Console,
            },
            "alice".into(),
            "alice".into(),
            1,
        )
    }

    #[test]
    fn apply_runs_events_in_order_and_sets_only_patched_fields() {
        let r = sample();
        let next = r
            .apply(
                &[RequestEvent::IntentReady, RequestEvent::Confirm],
                &Patch {
                    deadline_at: Some(Some(9)),
                    ..Default::default()
                },
                5,
            )
            .unwrap();
        assert_eq!(next.state, RequestState::Submitted);
        assert_eq!(next.deadline_at, Some(9));
        assert_eq!(next.updated_at, 5);
        assert_eq!(next.intent, None);
        assert_eq!(next.requester_id, "alice");
    }

    #[test]
    fn an_illegal_event_changes_nothing() {
        let r = sample();
        assert!(
            r.apply(&[RequestEvent::Granted], &Patch::default(), 2)
                .is_err()
        );
    }

    #[test]
    fn scope_kinds_round_trip() {
        for k in ScopeKind::ALL {
            assert_eq!(ScopeKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ScopeKind::parse("group"), None);
    }
}
