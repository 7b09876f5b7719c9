//! What the policy decided and who must approve: plain types the request carries, no I/O.

use serde::{Deserialize, Serialize};

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

/// Something a decision requires beyond its outcome. Warden honours each one or the decision
/// does not stand: a policy answer naming an obligation not listed here is a fault (deny).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Obligation {
    /// Approvals, and a break-glass activation, count only when confirmed with a passkey.
    StepUp,
    /// The requester must give a reason before the request is decided.
    ReasonRequired,
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
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        obligations: Vec<Obligation>,
    },
    Deny {
        decision_id: Option<String>,
        /// Reasons for people: the policy's own words. Empty for a fault.
        reasons: Vec<String>,
        /// Set when no decision could be made (an evaluation error, a PDP fault, an obligation
        /// Warden cannot honour): the cause, for the log and admins only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<PolicyFault>,
    },
    RequireApproval {
        decision_id: Option<String>,
        reasons: Vec<String>,
        steps: Vec<ApprovalStep>,
        /// Approvers must give a reason when they deny.
        #[serde(default)]
        deny_reason_required: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        obligations: Vec<Obligation>,
    },
}

/// Why a policy decision point could not decide. The detail may name a Rego file and line, an
/// HTTP status or an obligation: it goes to the log and the request's evidence under the
/// reference, and people are shown only the reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFault {
    /// Short and quotable, such as `PF-7K3D9QX2`.
    pub reference: String,
    pub detail: String,
}

impl PolicyFault {
    pub fn new(detail: impl Into<String>) -> Self {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let bits = u64::from_be_bytes(rand::random::<[u8; 8]>());
        let code: String = (0..8)
            .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
            .collect();
        Self {
            reference: format!("PF-{code}"),
            detail: detail.into(),
        }
    }
}

impl Decision {
    /// The fail-closed answer: a deny whose cause is kept for the log, under a reference.
    pub fn fault(detail: impl Into<String>) -> Self {
        Decision::Deny {
            decision_id: None,
            reasons: vec![],
            fault: Some(PolicyFault::new(detail)),
        }
    }

    /// The fault behind a deny, if the PDP could not decide.
    pub fn fault_info(&self) -> Option<&PolicyFault> {
        match self {
            Decision::Deny { fault, .. } => fault.as_ref(),
            _ => None,
        }
    }

    /// Why, in words for the requester: the policy's reasons, or for a fault only its reference.
    pub fn explain(&self) -> String {
        if let Some(f) = self.fault_info() {
            return format!(
                "the access policy could not be evaluated (ref {}); an admin can look it up",
                f.reference
            );
        }
        match self.reasons() {
            [] => "the policy did not say why".to_string(),
            reasons => reasons.join("; "),
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

    /// What the decision requires beyond its outcome; a deny requires nothing.
    pub fn obligations(&self) -> &[Obligation] {
        match self {
            Decision::Allow { obligations, .. } | Decision::RequireApproval { obligations, .. } => {
                obligations
            }
            Decision::Deny { .. } => &[],
        }
    }

    pub fn requires(&self, obligation: Obligation) -> bool {
        self.obligations().contains(&obligation)
    }

    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Allow { .. } => "allow",
            Decision::Deny { .. } => "deny",
            Decision::RequireApproval { .. } => "require_approval",
        }
    }
}

/// One step with the people eligible when it was planned (re-checked at click time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    pub spec: ApproverSpec,
    pub count: u32,
    pub eligible: Vec<String>,
}

/// The policy's approval steps resolved to directory ids when the request went to approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPlan {
    pub steps: Vec<PlannedStep>,
    pub deny_reason_required: bool,
}

/// Describes a step for people: "the requester's manager", "2 of group sre".
pub fn describe(spec: &ApproverSpec, count: u32) -> String {
    let who = match spec {
        ApproverSpec::Manager => "the requester's manager".to_string(),
        ApproverSpec::Owners => "the resource owners".to_string(),
        ApproverSpec::Group { group } => format!("group {group}"),
        ApproverSpec::Users { users } => users.join(", "),
    };
    if count > 1 {
        format!("{count} of {who}")
    } else {
        who
    }
}
