//! Step-up: an approval (or a break-glass activation) the policy requires confirmed with a
//! passkey, through a private, single-use, short-lived link. Plain types, no I/O.

use super::{PlatformUser, RequestId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

/// How long a step-up link stays usable.
pub const LINK_TTL_MS: i64 = 10 * 60 * 1000;

/// What a confirmed step-up counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUpPurpose {
    /// An approver's Approve click on the request's current step.
    Approve,
    /// The requester's own break-glass activation.
    BreakGlass,
}

impl StepUpPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::BreakGlass => "break_glass",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Approve, Self::BreakGlass]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Why the step-up page refused a link or an assertion: kept in the request's context log (with
/// who tried), never the link or the assertion itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUpRefusal {
    /// Opened by a signed-in person the link was not sent to.
    OtherPerson,
    /// Spent already: a link works once.
    LinkUsed,
    Expired,
    /// The request was decided, cancelled or granted meanwhile.
    RequestResolved,
    /// The request moved on to a later approval step.
    StepPassed,
    /// The assertion came from a credential not registered to this person.
    UnknownCredential,
    /// The authenticator did not verify the user (user verification is required).
    NoUserVerification,
    /// The assertion did not verify (signature, origin, challenge or counter).
    NotVerified,
    /// The browser reported that the passkey ceremony failed before any assertion was sent
    /// (WebAuthn's `NotAllowedError`: user verification failed, cancelled or timed out).
    NotCompleted,
    /// The browser's answer could not be read, or no ceremony was open for it.
    Malformed,
    /// The signed-in person is not an active directory person.
    NotInDirectory,
}

impl StepUpRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtherPerson => "other_person",
            Self::LinkUsed => "link_used",
            Self::Expired => "expired",
            Self::RequestResolved => "request_resolved",
            Self::StepPassed => "step_passed",
            Self::UnknownCredential => "unknown_credential",
            Self::NoUserVerification => "no_user_verification",
            Self::NotVerified => "not_verified",
            Self::NotCompleted => "not_completed",
            Self::Malformed => "malformed",
            Self::NotInDirectory => "not_in_directory",
        }
    }
}

/// A link as stored: bound to one person, one request and one step, under its token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUpLink {
    pub token_hash: String,
    pub request_id: RequestId,
    pub purpose: StepUpPurpose,
    /// The directory person it is for: only their SSO session may use it.
    pub person: String,
    /// The verified platform account that clicked, recorded with the approval.
    pub account: PlatformUser,
    pub step: u32,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl StepUpLink {
    /// Whether it can still be used at `now_ms` (unused and unexpired).
    pub fn open_at(&self, now_ms: i64) -> bool {
        self.used_at.is_none() && now_ms < self.expires_at
    }
}

/// What a verified passkey assertion proved, as the workflow records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyProof {
    /// base64url of the WebAuthn credential id.
    pub credential_id: String,
    pub user_verified: bool,
}

/// The secret in a link's URL. Only its hash is stored; it prints as `[redacted]`.
pub struct StepUpToken(String);

impl StepUpToken {
    /// 256 random bits, base64url.
    pub fn generate() -> Self {
        Self(B64.encode(rand::random::<[u8; 32]>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash_token(&self.0)
    }
}

impl std::fmt::Debug for StepUpToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The stored form of a presented token (sha256, hex).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_only_as_their_hash() {
        let a = StepUpToken::generate();
        let b = StepUpToken::generate();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 43, "256 bits in base64url");
        assert_eq!(a.hash(), hash_token(a.as_str()));
        assert_eq!(a.hash().len(), 64);
        assert!(!a.hash().contains(a.as_str()));
        assert_eq!(format!("{a:?}"), "[redacted]");
    }

    #[test]
    fn a_link_is_open_until_used_or_expired() {
        let mut link = StepUpLink {
            token_hash: "h".into(),
            request_id: RequestId::generate(),
            purpose: StepUpPurpose::Approve,
            person: "dana".into(),
            account: PlatformUser::new(crate::domain::Platform::Slack, "T", "U"),
            step: 0,
            created_at: 0,
            expires_at: LINK_TTL_MS,
            used_at: None,
        };
        assert!(link.open_at(LINK_TTL_MS - 1));
        assert!(!link.open_at(LINK_TTL_MS));
        link.used_at = Some(1);
        assert!(!link.open_at(2));
        assert_eq!(
            StepUpPurpose::parse("break_glass"),
            Some(StepUpPurpose::BreakGlass)
        );
        assert_eq!(StepUpPurpose::parse("other"), None);
    }
}
