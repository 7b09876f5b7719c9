//! Step-up for the kill switch: which admin action, what the policy's answer means for it, the
//! bound link an admin confirms with a passkey, and the confirmation a freeze keeps. No I/O.

use super::decision::{Decision, Obligation};
use super::freeze::FreezeScope;
use serde::{Deserialize, Serialize};

/// A kill-switch action the policy is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// Stopping new grants in a scope.
    Freeze,
    /// Lifting a freeze: re-opening access.
    Unfreeze,
}

impl AdminAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Freeze => "freeze",
            Self::Unfreeze => "unfreeze",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Freeze, Self::Unfreeze]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// What an admin action needs before it commits, read from the policy's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminGate {
    /// Commit at once.
    Direct,
    /// Commit only after the admin confirms with a passkey.
    StepUp,
    /// The policy refuses it (its own reasons).
    Refused(Vec<String>),
}

impl AdminGate {
    /// The one rule for what a decision means for a kill-switch action.
    ///
    /// The answer can add the step-up obligation; it cannot slow a freeze. A fault (PDP down,
    /// undefined rule, malformed answer) or a deny leaves a freeze direct, because stopping
    /// access must never wait on the PDP. For an unfreeze a fault requires step-up: a PDP
    /// outage must neither let a bare token re-open access nor lock the admins out of lifting a
    /// freeze; an explicit deny refuses it.
    pub fn from_decision(action: AdminAction, decision: &Decision) -> Self {
        let fault = match decision {
            Decision::Allow { obligations, .. } => {
                return if obligations.contains(&Obligation::StepUp) {
                    Self::StepUp
                } else {
                    Self::Direct
                };
            }
            Decision::Deny { fault, reasons, .. } => {
                if fault.is_none() && action == AdminAction::Unfreeze {
                    return Self::Refused(reasons.clone());
                }
                true
            }
            // Approvals mean nothing for an admin action: an inconsistent answer, a fault.
            Decision::RequireApproval { .. } => true,
        };
        match (action, fault) {
            (AdminAction::Freeze, _) => Self::Direct,
            (AdminAction::Unfreeze, _) => Self::StepUp,
        }
    }
}

/// How a freeze (or its lifting) was confirmed beyond the admin's sign-in, for the audit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Confirmation {
    /// A verified passkey assertion: whose, which credential, what verification showed.
    /// Never the raw assertion.
    Passkey {
        person: String,
        credential_id: String,
        user_verified: bool,
    },
    /// `warden unfreeze --break-glass-local` on the host, past a policy that asks for a passkey.
    LocalOverride { host_user: String },
}

/// A stored kill-switch step-up link: bound to one person, one action and one scope (and, for
/// an unfreeze, one freeze), with what the admin typed, under its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeStepUp {
    pub token_hash: String,
    pub action: AdminAction,
    /// The directory person (SSO) it is for.
    pub person: String,
    /// The admin actor recorded on the freeze.
    pub actor: String,
    pub freeze_id: Option<String>,
    pub scope: FreezeScope,
    pub reason: String,
    pub revoke: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::decision::PolicyFault;

    fn allow(obligations: Vec<Obligation>) -> Decision {
        Decision::Allow {
            decision_id: None,
            reasons: vec![],
            break_glass: false,
            obligations,
        }
    }

    fn deny(fault: bool) -> Decision {
        Decision::Deny {
            decision_id: None,
            reasons: vec!["no".into()],
            fault: fault.then(|| PolicyFault::new("down")),
        }
    }

    #[test]
    fn the_policy_adds_step_up_and_a_fault_never_slows_a_freeze() {
        use AdminAction::*;
        let step_up = allow(vec![Obligation::StepUp]);
        assert_eq!(
            AdminGate::from_decision(Freeze, &step_up),
            AdminGate::StepUp
        );
        assert_eq!(
            AdminGate::from_decision(Unfreeze, &step_up),
            AdminGate::StepUp
        );
        assert_eq!(
            AdminGate::from_decision(Unfreeze, &allow(vec![])),
            AdminGate::Direct
        );
        assert_eq!(
            AdminGate::from_decision(Freeze, &deny(true)),
            AdminGate::Direct
        );
        assert_eq!(
            AdminGate::from_decision(Freeze, &deny(false)),
            AdminGate::Direct
        );
        assert_eq!(
            AdminGate::from_decision(Unfreeze, &deny(true)),
            AdminGate::StepUp,
            "a PDP fault on an unfreeze asks for the strongest proof"
        );
        assert_eq!(
            AdminGate::from_decision(Unfreeze, &deny(false)),
            AdminGate::Refused(vec!["no".into()])
        );
        assert_eq!(AdminAction::parse("unfreeze"), Some(Unfreeze));
        assert_eq!(AdminAction::parse("thaw"), None);
    }

    #[test]
    fn a_confirmation_keeps_the_credential_and_the_result_only() {
        let c = Confirmation::Passkey {
            person: "dana".into(),
            credential_id: "cred".into(),
            user_verified: true,
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"by": "passkey", "person": "dana", "credential_id": "cred", "user_verified": true})
        );
        assert_eq!(serde_json::from_value::<Confirmation>(json).unwrap(), c);
    }
}
