//! The policy port: a deterministic decision point outside the model, and the input it is given.
//!
//! Every implementation fails closed: an error, a timeout, an undefined result or an obligation
//! it does not understand is a `Deny`. See `docs/policy.md` for the input and output schema.

use crate::domain::{Intent, Person, PlatformUser, Resource};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod authzen;
pub mod embedded;
pub mod opa;

/// Version of the document sent to the PDP; bumped on any incompatible change.
pub const INPUT_VERSION: &str = "warden.policy.input/v1";

/// Everything the PDP sees. Identity comes from the platform and the directory, never from text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyInput {
    pub version: String,
    pub requester: RequesterInput,
    pub intent: Intent,
    pub resource: ResourceInput,
    /// RFC 3339, UTC.
    pub time: String,
    pub channel: ChannelInput,
    /// Facts the workflow adds: extensions so far, whether this is an extension.
    #[serde(default)]
    pub context: RequestContextInput,
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

/// Who may approve one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ApproverSpec {
    /// The requester's manager in the directory.
    Manager,
    /// The resource's owners in the catalog.
    Owners,
    /// Members of a directory group.
    Group { group: String },
    /// Named directory ids.
    Users { users: Vec<String> },
}

/// One approval step: `count` distinct approvers from `approvers`. Steps run in order.
///
/// Deserialised strictly through [`RawApprovalStep`]: serde's `deny_unknown_fields` does not work
/// together with `flatten` (every flattened field is reported as unknown), so the check is done
/// by hand there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawApprovalStep")]
pub struct ApprovalStep {
    #[serde(flatten)]
    pub approvers: ApproverSpec,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// The wire form of an [`ApprovalStep`]: `{"from": "manager"|"owners"|"group"|"users",
/// "group"?: name, "users"?: [ids], "count"?: n}`. Any other field, or a field that does not go
/// with `from`, is an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApprovalStep {
    from: String,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    users: Option<Vec<String>>,
    #[serde(default = "one")]
    count: u32,
}

impl TryFrom<RawApprovalStep> for ApprovalStep {
    type Error = String;

    fn try_from(raw: RawApprovalStep) -> Result<Self, Self::Error> {
        let approvers = match (raw.from.as_str(), raw.group, raw.users) {
            ("manager", None, None) => ApproverSpec::Manager,
            ("owners", None, None) => ApproverSpec::Owners,
            ("group", Some(group), None) => ApproverSpec::Group { group },
            ("users", None, Some(users)) => ApproverSpec::Users { users },
            (from @ ("manager" | "owners" | "group" | "users"), _, _) => {
                return Err(format!(
                    "approval step from '{from}' has missing or extra fields"
                ));
            }
            (other, _, _) => return Err(format!("unknown approver kind '{other}'")),
        };
        Ok(ApprovalStep {
            approvers,
            count: raw.count,
        })
    }
}

/// What the PDP decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    Allow {
        decision_id: Option<String>,
        reasons: Vec<String>,
        /// Self-activated emergency access, to be reviewed afterwards.
        #[serde(default)]
        break_glass: bool,
    },
    Deny {
        decision_id: Option<String>,
        reasons: Vec<String>,
    },
    RequireApproval {
        decision_id: Option<String>,
        reasons: Vec<String>,
        steps: Vec<ApprovalStep>,
        /// Approvers must give a reason when they deny.
        #[serde(default)]
        deny_reason_required: bool,
    },
}

impl Decision {
    /// The fail-closed answer, with the reason kept for the log.
    pub fn fault(reason: impl Into<String>) -> Self {
        Decision::Deny {
            decision_id: None,
            reasons: vec![format!("policy error: {}", reason.into())],
        }
    }

    pub fn decision_id(&self) -> Option<&str> {
        match self {
            Decision::Allow { decision_id, .. }
            | Decision::Deny { decision_id, .. }
            | Decision::RequireApproval { decision_id, .. } => decision_id.as_deref(),
        }
    }

    pub fn reasons(&self) -> &[String] {
        match self {
            Decision::Allow { reasons, .. }
            | Decision::Deny { reasons, .. }
            | Decision::RequireApproval { reasons, .. } => reasons,
        }
    }

    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => "allow",
            Decision::Deny { .. } => "deny",
            Decision::RequireApproval { .. } => "require_approval",
        }
    }
}

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
}

impl RegoDecision {
    /// Turns the policy's document into a decision; anything inconsistent denies.
    pub fn into_decision(self, decision_id: Option<String>) -> Decision {
        match self.outcome.as_str() {
            "allow" if self.approvals.is_empty() => Decision::Allow {
                decision_id,
                reasons: self.reasons,
                break_glass: self.break_glass,
            },
            "deny" => Decision::Deny {
                decision_id,
                reasons: self.reasons,
            },
            "require_approval"
                if !self.approvals.is_empty() && self.approvals.iter().all(|s| s.count >= 1) =>
            {
                Decision::RequireApproval {
                    decision_id,
                    reasons: self.reasons,
                    steps: self.approvals,
                    deny_reason_required: self.deny_reason_required,
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

    /// Never fails: faults come back as `Decision::Deny` with a "policy error" reason.
    async fn decide(&self, input: &PolicyInput) -> Decision;
}
