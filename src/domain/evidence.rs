//! What a request's context log records, as typed entries: one variant per kind, one match.

use super::step_up::StepUpRefusal;
use super::{PlatformUser, PriorAccess, RequestState, StepUpPurpose};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a log entry records (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    MessageIn,
    MessageOut,
    IntakeRun,
    IntentProposed,
    Clarification,
    IntentConfirmed,
    PolicyInput,
    PolicyDecision,
    ApproversResolved,
    Approval,
    Refusal,
    StateChange,
    GrantCall,
    RevokeCall,
    Alert,
    Review,
    Redaction,
    Error,
    AgentRequest,
    StepUp,
}

impl LogKind {
    pub const ALL: [LogKind; 20] = [
        Self::MessageIn,
        Self::MessageOut,
        Self::IntakeRun,
        Self::IntentProposed,
        Self::Clarification,
        Self::IntentConfirmed,
        Self::PolicyInput,
        Self::PolicyDecision,
        Self::ApproversResolved,
        Self::Approval,
        Self::Refusal,
        Self::StateChange,
        Self::GrantCall,
        Self::RevokeCall,
        Self::Alert,
        Self::Review,
        Self::Redaction,
        Self::Error,
        Self::AgentRequest,
        Self::StepUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageIn => "message_in",
            Self::MessageOut => "message_out",
            Self::IntakeRun => "intake_run",
            Self::IntentProposed => "intent_proposed",
            Self::Clarification => "clarification",
            Self::IntentConfirmed => "intent_confirmed",
            Self::PolicyInput => "policy_input",
            Self::PolicyDecision => "policy_decision",
            Self::ApproversResolved => "approvers_resolved",
            Self::Approval => "approval",
            Self::Refusal => "refusal",
            Self::StateChange => "state_change",
            Self::GrantCall => "grant_call",
            Self::RevokeCall => "revoke_call",
            Self::Alert => "alert",
            Self::Review => "review",
            Self::Redaction => "redaction",
            Self::Error => "error",
            Self::AgentRequest => "agent_request",
            Self::StepUp => "step_up",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Entries whose payload retention may purge (message bodies and prompts). Every other
    /// entry must keep its payload for the chain to verify.
    pub fn purgeable(self) -> bool {
        matches!(
            self,
            Self::MessageIn | Self::MessageOut | Self::IntakeRun | Self::Clarification
        )
    }
}

/// What the person sent: words, an edit form, or an extension ask.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Inbound {
    Text {
        text: String,
        account: PlatformUser,
        event_id: String,
    },
    Edit {
        edit: Value,
        account: PlatformUser,
    },
    Extend {
        extend: u64,
        account: PlatformUser,
    },
}

/// How a backend call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    Ok,
    Retrying,
    Failed,
}

/// One context-log entry, before it is chained. Constructed typed; stored as kind + JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Evidence {
    MessageIn(Inbound),
    MessageOut {
        text: String,
    },
    Reminder {
        to: Vec<String>,
    },
    IntakeRun {
        trace: Value,
        draft: Value,
    },
    IntentProposed {
        intent: Value,
    },
    Clarification {
        question: Value,
        turn: u32,
    },
    IntentConfirmed {
        intent: Value,
        auto: bool,
    },
    PolicyInput(Value),
    PolicyDecision(Value),
    ApproversResolved(Value),
    Approval {
        step: u32,
        account: PlatformUser,
        approvals: usize,
        needed: u32,
    },
    Refusal {
        action: String,
        why: String,
    },
    Denial {
        step: u32,
        account: PlatformUser,
        reason: Option<String>,
    },
    StateChange {
        from: RequestState,
        to: RequestState,
        why: Option<String>,
    },
    Extended {
        extended_to: i64,
        extension: u32,
    },
    GrantCall {
        call: Value,
        outcome: CallOutcome,
        detail: Value,
        attempt: i64,
    },
    RevokeCall {
        call: Value,
        outcome: CallOutcome,
        detail: Value,
        reason: String,
    },
    /// What the target held before the first grant call (see `PriorAccess`).
    PriorAccess {
        call: Value,
        prior: PriorAccess,
    },
    /// This grant joined other active grants of the same access (`holders`, the first of
    /// them the one that removes it at the end, unless it was held before Warden).
    AccessShared {
        access: String,
        holders: Vec<String>,
    },
    /// This grant ended while another active grant (`heir`) still holds the same access: the
    /// access stays, and if this grant was to remove it (`owned`), the heir now is.
    AccessHandedOver {
        access: String,
        heir: String,
        owned: bool,
    },
    /// This grant now removes the shared access when it ends: `from` ended before it.
    AccessTakenOver {
        access: String,
        from: String,
    },
    Alert(Value),
    Review {
        notes: Option<String>,
        account: PlatformUser,
    },
    Redaction {
        masked_secrets: usize,
    },
    Error(Value),
    /// What an agent asked, as structured fields, and the verified workload claims that said
    /// who it is. Never the token. Kept for the chain (not purgeable): it is who asked.
    AgentRequest {
        agent: String,
        owner: String,
        channel: String,
        claims: Value,
        input: Value,
    },
    /// A step-up link was sent privately to the person who clicked (never the link itself).
    StepUpAsked {
        purpose: StepUpPurpose,
        step: u32,
        account: PlatformUser,
        expires_at: i64,
    },
    /// The step-up page refused a link or an assertion for this request: why, and for which
    /// purpose and step (the entry's actor is the person who tried). Nothing else changed.
    StepUpRefused {
        purpose: StepUpPurpose,
        step: u32,
        reason: StepUpRefusal,
    },
    /// A passkey assertion that counted: which credential, and what its verification showed.
    /// Never the raw assertion.
    PasskeyVerified {
        purpose: StepUpPurpose,
        step: u32,
        credential_id: String,
        user_verified: bool,
    },
}

impl Evidence {
    /// The one place an entry becomes its stored kind and payload.
    pub fn to_parts(&self) -> (LogKind, Value) {
        match self {
            Self::MessageIn(m) => (LogKind::MessageIn, json!(m)),
            Self::MessageOut { text } => (LogKind::MessageOut, json!({ "text": text })),
            Self::Reminder { to } => (LogKind::MessageOut, json!({ "reminder_to": to })),
            Self::IntakeRun { trace, draft } => (
                LogKind::IntakeRun,
                json!({ "trace": trace, "draft": draft }),
            ),
            Self::IntentProposed { intent } => {
                (LogKind::IntentProposed, json!({ "intent": intent }))
            }
            Self::Clarification { question, turn } => (
                LogKind::Clarification,
                json!({ "question": question, "turn": turn }),
            ),
            Self::IntentConfirmed { intent, auto } => (
                LogKind::IntentConfirmed,
                json!({ "intent": intent, "auto": auto }),
            ),
            Self::PolicyInput(v) => (LogKind::PolicyInput, v.clone()),
            Self::PolicyDecision(v) => (LogKind::PolicyDecision, v.clone()),
            Self::ApproversResolved(v) => (LogKind::ApproversResolved, v.clone()),
            Self::Approval {
                step,
                account,
                approvals,
                needed,
            } => (
                LogKind::Approval,
                json!({ "step": step, "account": account, "approvals": approvals, "needed": needed }),
            ),
            Self::Refusal { action, why } => {
                (LogKind::Refusal, json!({ "action": action, "why": why }))
            }
            Self::Denial {
                step,
                account,
                reason,
            } => (
                LogKind::Refusal,
                json!({ "action": "deny", "step": step, "account": account, "reason": reason }),
            ),
            Self::StateChange { from, to, why } => {
                let mut v = json!({ "from": from, "to": to });
                if let Some(w) = why {
                    v["why"] = json!(w);
                }
                (LogKind::StateChange, v)
            }
            Self::Extended {
                extended_to,
                extension,
            } => (
                LogKind::StateChange,
                json!({ "extended_to": extended_to, "extension": extension }),
            ),
            Self::GrantCall {
                call,
                outcome,
                detail,
                attempt,
            } => (
                LogKind::GrantCall,
                json!({ "call": call, "outcome": outcome, "detail": detail, "attempt": attempt }),
            ),
            Self::RevokeCall {
                call,
                outcome,
                detail,
                reason,
            } => (
                LogKind::RevokeCall,
                json!({ "call": call, "outcome": outcome, "detail": detail, "reason": reason }),
            ),
            Self::PriorAccess { call, prior } => (
                LogKind::GrantCall,
                json!({ "call": call, PRIOR_ACCESS: prior }),
            ),
            Self::AccessShared { access, holders } => (
                LogKind::GrantCall,
                json!({ "access": access, "shared_with": holders }),
            ),
            Self::AccessHandedOver {
                access,
                heir,
                owned,
            } => (
                LogKind::RevokeCall,
                json!({ "access": access, "still_held_by": heir, "handed_over": owned }),
            ),
            Self::AccessTakenOver { access, from } => (
                LogKind::GrantCall,
                json!({ "access": access, "taken_over_from": from }),
            ),
            Self::Alert(v) => (LogKind::Alert, v.clone()),
            Self::Review { notes, account } => (
                LogKind::Review,
                json!({ "closed": true, "notes": notes, "account": account }),
            ),
            Self::Redaction { masked_secrets } => (
                LogKind::Redaction,
                json!({ "masked_secrets": masked_secrets }),
            ),
            Self::Error(v) => (LogKind::Error, v.clone()),
            Self::AgentRequest {
                agent,
                owner,
                channel,
                claims,
                input,
            } => (
                LogKind::AgentRequest,
                json!({ "agent": agent, "owner": owner, "channel": channel, "claims": claims, "input": input }),
            ),
            Self::StepUpAsked {
                purpose,
                step,
                account,
                expires_at,
            } => (
                LogKind::StepUp,
                json!({ "asked": purpose.as_str(), "step": step, "account": account, "expires_at": expires_at }),
            ),
            Self::StepUpRefused {
                purpose,
                step,
                reason,
            } => (
                LogKind::StepUp,
                json!({ "refused": purpose.as_str(), "step": step, "why": reason.as_str() }),
            ),
            Self::PasskeyVerified {
                purpose,
                step,
                credential_id,
                user_verified,
            } => (
                LogKind::StepUp,
                json!({ "verified": purpose.as_str(), "step": step, "credential_id": credential_id, "user_verified": user_verified }),
            ),
        }
    }
}

/// The payload key of an `Evidence::PriorAccess` entry.
const PRIOR_ACCESS: &str = "prior_access";

/// What an `Evidence::PriorAccess` entry recorded, read back from its stored kind and payload.
pub fn recorded_prior_access(kind: &str, payload: Option<&Value>) -> Option<PriorAccess> {
    if kind != LogKind::GrantCall.as_str() {
        return None;
    }
    serde_json::from_value(payload?.get(PRIOR_ACCESS)?.clone()).ok()
}

/// An entry with who caused it: a directory id, "warden", "policy:<engine>", "scheduler".
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub actor: String,
    pub evidence: Evidence,
}

impl Entry {
    pub fn new(actor: impl Into<String>, evidence: Evidence) -> Self {
        Self {
            actor: actor.into(),
            evidence,
        }
    }

    /// Warden's own entry.
    pub fn warden(evidence: Evidence) -> Self {
        Self::new("warden", evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_only_bodies_are_purgeable() {
        for k in LogKind::ALL {
            assert_eq!(LogKind::parse(k.as_str()), Some(k));
        }
        assert!(LogKind::MessageIn.purgeable());
        assert!(!LogKind::PolicyDecision.purgeable());
    }

    #[test]
    fn an_outgoing_message_keeps_its_text_field() {
        let (kind, v) = Evidence::MessageOut { text: "hi".into() }.to_parts();
        assert_eq!(kind, LogKind::MessageOut);
        assert_eq!(v["text"], "hi");
    }
}
