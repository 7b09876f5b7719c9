//! The policy port: a deterministic decision point outside the model, and the input it is given.
//!
//! Every implementation fails closed: an error, a timeout, an undefined result or an obligation
//! it does not understand is a `Deny`. See `docs/policy.md` for the input and output schema.

use crate::domain::agent::CeilingEntry;
use crate::domain::{Agent, Intent, Person, PlatformUser, Resource};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod admin;
pub mod authzen;
pub mod discovery;
pub mod embedded;
pub mod opa;
pub mod replay;

/// Version of the document sent to the PDP; bumped on any incompatible change.
/// v2 added `subject` (person or agent, with the agent's owner, bounds and verified claims);
/// v3 added `intent.items` (every item of a multi-item ask, this one's included);
/// v4 added `oncall` (whether the requester is on call now, and for which services) and
/// `resource.services`. Recorded v2 and v3 inputs still read: they are "not known" on call.
pub const INPUT_VERSION: &str = "warden.policy.input/v4";

/// Everything the PDP sees. Identity comes from the platform and the directory, never from text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyInput {
    pub version: String,
    /// Who asks: a person, or an agent with its owner and the workload claims it proved.
    #[serde(default)]
    pub subject: SubjectInput,
    /// For an agent: its id and name, no groups and no manager (an agent has neither).
    pub requester: RequesterInput,
    pub intent: Intent,
    pub resource: ResourceInput,
    /// RFC 3339, UTC.
    pub time: String,
    pub channel: ChannelInput,
    /// Facts the workflow adds: extensions so far, whether this is an extension.
    #[serde(default)]
    pub context: RequestContextInput,
    /// Whether the requester is on call now, and for which services (`[oncall]`).
    #[serde(default)]
    pub oncall: OnCallInput,
}

/// The on-call signal. `known = false` (no source configured, the source failed, an agent,
/// or an input recorded before v4) always means "not on call": it only ever widens access
/// when a source said so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCallInput {
    /// Whether a source answered for this request.
    #[serde(default)]
    pub known: bool,
    /// On call now for at least one service (never true when not `known`).
    #[serde(default)]
    pub on_call: bool,
    /// The services the requester is on call for now.
    #[serde(default)]
    pub services: Vec<String>,
    /// The source asked (`pagerduty`, `opsgenie`, `file`); `None` when none is configured.
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequesterInput {
    pub id: String,
    pub display_name: String,
    pub groups: Vec<String>,
    pub manager: Option<String>,
    pub account: PlatformUser,
}

impl RequesterInput {
    pub fn from_person(person: &Person, account: &PlatformUser) -> Self {
        Self {
            id: person.id.clone(),
            display_name: person.display_name.clone(),
            groups: person.groups.clone(),
            manager: person.manager.clone(),
            account: account.clone(),
        }
    }
}

/// What kind of requester this is. Serialised as `{"type": "person"}` or
/// `{"type": "agent", "agent": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SubjectInput {
    #[default]
    Person,
    Agent {
        agent: AgentInput,
    },
}

impl SubjectInput {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Person => "person",
            Self::Agent { .. } => "agent",
        }
    }

    pub fn agent(&self) -> Option<&AgentInput> {
        match self {
            Self::Person => None,
            Self::Agent { agent } => Some(agent),
        }
    }
}

/// A registered agent as the PDP sees it: its owner, its bounds and the verified claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentInput {
    pub id: String,
    pub name: String,
    /// Directory id of the accountable person, who approves its risky requests.
    pub owner: String,
    pub max_duration_secs: u64,
    pub max_concurrent_grants: u32,
    pub ceiling: Vec<CeilingEntry>,
    /// Whether the requested role on the requested resource is inside the ceiling.
    pub within_ceiling: bool,
    /// The verified workload claims the identity was decided on (`iss`, `sub`, the binding's).
    pub claims: serde_json::Value,
}

impl AgentInput {
    pub fn new(agent: &Agent, claims: &serde_json::Value, resource: &str, role: &str) -> Self {
        Self {
            id: agent.id.clone(),
            name: agent.name.clone(),
            owner: agent.owner.clone(),
            max_duration_secs: agent.max_duration,
            max_concurrent_grants: agent.max_concurrent_grants,
            ceiling: agent.ceiling.clone(),
            within_ceiling: agent.within_ceiling(resource, role),
            claims: claims.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceInput {
    pub id: String,
    pub name: String,
    /// Effective risk of the requested role.
    pub risk: String,
    pub owners: Vec<String>,
    pub max_duration_secs: u64,
    pub break_glass: bool,
    pub tags: Vec<String>,
    /// The services the resource belongs to (catalog `services`), matched against `oncall`.
    #[serde(default)]
    pub services: Vec<String>,
}

impl ResourceInput {
    pub fn from_resource(r: &Resource, role: &str) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            risk: r.risk_for(role).as_str().to_string(),
            owners: r.owners.clone(),
            max_duration_secs: r.max_duration_for(role),
            break_glass: r.break_glass,
            tags: r.tags.clone(),
            services: r.services.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelInput {
    pub platform: String,
    pub workspace: String,
    pub channel: String,
    /// "dm", "channel", "thread" or "console".
    pub kind: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RequestContextInput {
    #[serde(default)]
    pub is_extension: bool,
    #[serde(default)]
    pub extensions_so_far: u32,
}

pub use crate::domain::decision::{ApprovalStep, ApproverSpec, Decision, Obligation};

/// The document the shipped Rego policy (and an OPA serving it) returns at `data.access.decision`.
/// Anything else — a missing field, an unknown field, an unknown outcome — fails to parse and denies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegoDecision {
    pub outcome: String,
    #[serde(default)]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub approvals: Vec<ApprovalStep>,
    #[serde(default)]
    pub break_glass: bool,
    #[serde(default)]
    pub deny_reason_required: bool,
    /// Unknown obligation names fail to parse, so the policy's answer denies.
    #[serde(default)]
    pub obligations: Vec<Obligation>,
}

impl RegoDecision {
    /// Turns the policy's document into a decision; anything inconsistent denies.
    pub fn into_decision(self, decision_id: Option<String>) -> Decision {
        match self.outcome.as_str() {
            "allow" if self.approvals.is_empty() => Decision::Allow {
                decision_id,
                reasons: self.reasons,
                break_glass: self.break_glass,
                obligations: self.obligations,
            },
            "deny" => Decision::Deny {
                decision_id,
                reasons: self.reasons,
                fault: None,
            },
            "require_approval"
                if !self.approvals.is_empty() && self.approvals.iter().all(|s| s.count >= 1) =>
            {
                Decision::RequireApproval {
                    decision_id,
                    reasons: self.reasons,
                    steps: self.approvals,
                    deny_reason_required: self.deny_reason_required,
                    obligations: self.obligations,
                }
            }
            other => Decision::fault(format!("inconsistent policy result (outcome '{other}')")),
        }
    }
}

/// A policy decision point.
#[async_trait]
pub trait PolicyEngine: Send + Sync {
    /// Short name for logs and metrics: "embedded", "opa", "authzen".
    fn name(&self) -> &'static str;

    /// Never fails: faults come back as a `Decision::Deny` carrying a `PolicyFault`.
    async fn decide(&self, input: &PolicyInput) -> Decision;

    /// Whether a kill-switch action needs step-up (see `admin`). Never fails; a PDP that
    /// cannot answer this question answers with a fault, which `domain::AdminGate` reads.
    async fn decide_admin(&self, input: &admin::AdminActionInput) -> Decision {
        let _ = input;
        Decision::fault(format!("the {} PDP has no admin-action rule", self.name()))
    }
}
