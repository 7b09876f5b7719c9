//! An access request's lifecycle as a closed state machine; every change goes through `RequestState::apply`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Short, typeable request id such as `AR-7K3D9QX2` (40 random bits, Crockford base32).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(transparent)]
pub struct RequestId(String);

const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl RequestId {
    pub fn generate() -> Self {
        Self::from_digest(&rand::random::<[u8; 5]>())
    }

    /// The id whose 40 bits are the first five bytes of `digest` (a derived, repeatable id).
    pub fn from_digest(digest: &[u8]) -> Self {
        let mut bits: u64 = 0;
        for b in digest.iter().take(5) {
            bits = (bits << 8) | u64::from(*b);
        }
        let code: String = (0..8)
            .rev()
            .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
            .collect();
        RequestId(format!("AR-{code}"))
    }

    /// Accepts what a person types: any case, with or without the `AR-` prefix.
    pub fn parse(input: &str) -> Option<Self> {
        let s = input.trim().trim_start_matches('#').to_ascii_uppercase();
        let code = s.strip_prefix("AR-").unwrap_or(&s);
        let valid = code.len() == 8 && code.bytes().all(|b| ALPHABET.contains(&b));
        valid.then(|| RequestId(format!("AR-{code}")))
    }

    /// For ids read back from the store, which were validated on the way in.
    pub fn from_stored(s: String) -> Self {
        RequestId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An id reads as its text wherever a `&str` is wanted (store keys, log fields).
impl std::ops::Deref for RequestId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Intake needs more from the requester (a clarifying question is out).
    Draft,
    AwaitingConfirmation,
    Submitted,
    PendingApproval,
    Approved,
    Active,
    Expired,
    Revoked,
    Denied,
    Cancelled,
    Failed,
    /// An extension request (`parent_id` set) whose approved extension was applied to the
    /// grant it extends; the access itself is the parent's.
    Applied,
}

/// What can happen to a request. Each is legal from some states only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestEvent {
    /// Intake produced a complete, validated intent.
    IntentReady,
    /// The requester pressed Submit (or confirmation is not required).
    Confirm,
    /// At submit the policy required a reason the request lacks: undecided, back to the
    /// requester with the question; their answer proposes (and submits) it again.
    ReasonNeeded,
    /// The requester cancelled.
    Cancel,
    PolicyAllow,
    PolicyDeny,
    PolicyRequireApproval,
    /// The last required approval arrived.
    ApprovalsComplete,
    /// An approver refused.
    ApproverDeny,
    /// The grant backend confirmed the grant.
    Granted,
    /// Granting failed for good, or approvers could not be resolved.
    Fail,
    /// A pending request or an active grant reached its deadline (grant revoked).
    Expire,
    /// An approved extension request moved its parent's expiry.
    ExtensionApplied,
    /// Access ended early, by the requester or an admin (grant revoked).
    Revoke,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {from} cannot take '{event:?}'")]
pub struct TransitionError {
    pub from: RequestState,
    pub event: RequestEvent,
}

impl RequestState {
    pub const ALL: [RequestState; 12] = [
        RequestState::Draft,
        RequestState::AwaitingConfirmation,
        RequestState::Submitted,
        RequestState::PendingApproval,
        RequestState::Approved,
        RequestState::Active,
        RequestState::Expired,
        RequestState::Revoked,
        RequestState::Denied,
        RequestState::Cancelled,
        RequestState::Failed,
        RequestState::Applied,
    ];

    /// The one place that says which transitions exist.
    pub fn apply(self, event: RequestEvent) -> Result<RequestState, TransitionError> {
        use RequestEvent as E;
        use RequestState as S;
        let next = match (self, event) {
            (S::Draft, E::IntentReady) => S::AwaitingConfirmation,
            (S::Draft | S::AwaitingConfirmation, E::Cancel) => S::Cancelled,
            (S::Draft | S::AwaitingConfirmation, E::Expire) => S::Cancelled,
            (S::AwaitingConfirmation, E::IntentReady) => S::AwaitingConfirmation,
            (S::AwaitingConfirmation, E::Confirm) => S::Submitted,
            (S::AwaitingConfirmation, E::ReasonNeeded) => S::Draft,
            (S::Submitted, E::PolicyAllow) => S::Approved,
            (S::Submitted, E::PolicyDeny) => S::Denied,
            (S::Submitted, E::PolicyRequireApproval) => S::PendingApproval,
            (S::Submitted, E::Fail) => S::Failed,
            (S::PendingApproval, E::ApprovalsComplete) => S::Approved,
            (S::PendingApproval, E::ApproverDeny) => S::Denied,
            (S::PendingApproval, E::Cancel) => S::Cancelled,
            (S::PendingApproval, E::Expire) => S::Expired,
            (S::PendingApproval, E::Fail) => S::Failed,
            (S::Approved, E::Granted) => S::Active,
            (S::Approved, E::ExtensionApplied) => S::Applied,
            (S::Approved, E::Fail) => S::Failed,
            (S::Active, E::Expire) => S::Expired,
            (S::Active, E::Revoke) => S::Revoked,
            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(next)
    }

    /// No further transition is possible.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Expired
                | Self::Revoked
                | Self::Denied
                | Self::Cancelled
                | Self::Failed
                | Self::Applied
        )
    }

    /// Still open from the requester's point of view (not yet access, not finished).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Draft
                | Self::AwaitingConfirmation
                | Self::Submitted
                | Self::PendingApproval
                | Self::Approved
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Submitted => "submitted",
            Self::PendingApproval => "pending_approval",
            Self::Approved => "approved",
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Denied => "denied",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Applied => "applied",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// How a person would say it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "needs details",
            Self::AwaitingConfirmation => "waiting for your confirmation",
            Self::Submitted => "submitted",
            Self::PendingApproval => "waiting for approval",
            Self::Approved => "approved, granting",
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Denied => "denied",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
            Self::Applied => "applied to the access it extends",
        }
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestEvent as E;
    use RequestState as S;

    const EVENTS: [RequestEvent; 12] = [
        E::IntentReady,
        E::Confirm,
        E::Cancel,
        E::PolicyAllow,
        E::PolicyDeny,
        E::PolicyRequireApproval,
        E::ApprovalsComplete,
        E::ApproverDeny,
        E::Granted,
        E::Fail,
        E::Expire,
        E::Revoke,
    ];

    /// Every legal transition, written out independently of `apply`.
    const LEGAL: &[(RequestState, RequestEvent, RequestState)] = &[
        (S::Draft, E::IntentReady, S::AwaitingConfirmation),
        (S::Draft, E::Cancel, S::Cancelled),
        (S::Draft, E::Expire, S::Cancelled),
        (
            S::AwaitingConfirmation,
            E::IntentReady,
            S::AwaitingConfirmation,
        ),
        (S::AwaitingConfirmation, E::Confirm, S::Submitted),
        (S::AwaitingConfirmation, E::Cancel, S::Cancelled),
        (S::AwaitingConfirmation, E::Expire, S::Cancelled),
        (S::Submitted, E::PolicyAllow, S::Approved),
        (S::Submitted, E::PolicyDeny, S::Denied),
        (S::Submitted, E::PolicyRequireApproval, S::PendingApproval),
        (S::Submitted, E::Fail, S::Failed),
        (S::PendingApproval, E::ApprovalsComplete, S::Approved),
        (S::PendingApproval, E::ApproverDeny, S::Denied),
        (S::PendingApproval, E::Cancel, S::Cancelled),
        (S::PendingApproval, E::Expire, S::Expired),
        (S::PendingApproval, E::Fail, S::Failed),
        (S::Approved, E::Granted, S::Active),
        (S::Approved, E::Fail, S::Failed),
        (S::Active, E::Expire, S::Expired),
        (S::Active, E::Revoke, S::Revoked),
    ];

    #[test]
    fn every_state_and_event_pair_is_either_legal_or_refused() {
        for from in S::ALL {
            for event in EVENTS {
                let expected = LEGAL
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match (from.apply(event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} --{event:?}"),
                    (Err(err), None) => assert_eq!(err, TransitionError { from, event }),
                    (got, want) => panic!("{from:?} --{event:?}: got {got:?}, want {want:?}"),
                }
            }
        }
    }

    #[test]
    fn terminal_states_take_no_event() {
        for from in S::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(EVENTS.iter().all(|e| from.apply(*e).is_err()), "{from:?}");
        }
    }

    #[test]
    fn access_is_only_reached_through_a_grant() {
        for from in S::ALL {
            for event in EVENTS {
                if from.apply(event) == Ok(S::Active) {
                    assert_eq!((from, event), (S::Approved, E::Granted));
                }
            }
        }
    }

    #[test]
    fn state_names_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn request_ids_are_typeable_and_parse_leniently() {
        let id = RequestId::generate();
        assert!(id.as_str().starts_with("AR-") && id.as_str().len() == 11);
        assert_eq!(
            RequestId::parse(&id.as_str().to_lowercase()),
            Some(id.clone())
        );
        assert_eq!(RequestId::parse(&id.as_str()[3..]), Some(id));
        assert_eq!(RequestId::parse("AR-123"), None);
        assert_eq!(RequestId::parse("AR-IIIIIIII"), None);
    }
}
