//! Grants as recorded: what a backend call did, and what a revoke must therefore undo.

use super::{Credential, PlatformUser};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a grant call did to the target system.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantEffect {
    /// Warden gave the access: the revoke takes it away. The default, so a receipt that does
    /// not say (older records) is undone rather than left behind.
    #[default]
    Applied,
    /// The person already had it (a group member, a role holder) before Warden: the revoke
    /// must leave it alone.
    AlreadyHeld,
}

/// Whether the person held the access before Warden's grant, as the backend read its target just
/// before the first grant call. Recorded in the context log before that call, so a retried grant
/// decides what the revoke undoes from this first reading, not from what it finds later (which
/// may be Warden's own earlier attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriorAccess {
    Held,
    Absent,
}

impl PriorAccess {
    /// What a successful grant did, given what was there before it.
    pub fn effect(self) -> GrantEffect {
        match self {
            Self::Held => GrantEffect::AlreadyHeld,
            Self::Absent => GrantEffect::Applied,
        }
    }
}

/// What a backend reports on success, kept in the context log and on the grant record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GrantReceipt {
    pub backend: String,
    pub detail: serde_json::Value,
    #[serde(default)]
    pub effect: GrantEffect,
    /// The account the access went to, as the target names it (an Okta user id, a database
    /// login): what drift reconciliation matches against the target's list of holders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// A login the grant created for the person, to be handed over once and privately. Never
    /// serialised: receipts are logged and stored, the password must be neither.
    /// Boxed: receipts live in many futures, which must stay small.
    #[serde(skip)]
    pub credential: Option<Box<Credential>>,
}

impl GrantReceipt {
    /// The call changed the target.
    pub fn applied(backend: impl Into<String>, detail: serde_json::Value) -> Self {
        Self {
            backend: backend.into(),
            detail,
            effect: GrantEffect::Applied,
            holder: None,
            credential: None,
        }
    }

    /// The call found the access already there (or already gone) and changed nothing.
    pub fn unchanged(backend: impl Into<String>, detail: serde_json::Value) -> Self {
        Self {
            backend: backend.into(),
            detail,
            effect: GrantEffect::AlreadyHeld,
            holder: None,
            credential: None,
        }
    }

    /// Names the account on the target the access went to.
    pub fn with_holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = Some(holder.into());
        self
    }

    /// Carries a credential to hand to the person.
    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credential = Some(Box::new(credential));
        self
    }
}

/// What a grant changed, recorded when it was applied, so revocation undoes exactly that
/// whatever the catalog says later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// The grant backend's name at grant time.
    pub backend: String,
    pub resource: String,
    pub role: String,
    /// The account that received the access.
    pub account: PlatformUser,
    /// The catalog's backend parameters as they were at grant time.
    #[serde(default)]
    pub params: HashMap<String, toml::Value>,
    pub granted_at: i64,
    /// What the backend reported, including whether the grant changed anything. `None` when the
    /// outcome is unknown (a grant that may have applied before it failed): undone to be safe.
    #[serde(default)]
    pub receipt: Option<GrantReceipt>,
    /// The shared access this grant holds with any other active grant of it (the backend's
    /// `Grantor::access_key`): its end is decided by the holders in the store, not by
    /// `receipt.effect` alone. `None`: the backend cannot tell (the grant is undone as recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default)]
    pub revoked_at: Option<i64>,
    #[serde(default)]
    pub revoke_reason: Option<String>,
}

/// A grant as the admin pages and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantSummary {
    pub request_id: String,
    pub backend: String,
    pub resource: String,
    pub role: String,
    pub person_id: String,
    pub account: String,
    pub granted_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoke_reason: Option<String>,
    /// "active", "revoked", or "withdrawing" (a grant that could not be confirmed, still being
    /// withdrawn).
    pub status: String,
}

impl GrantRecord {
    /// What the grant did: a missing receipt (outcome unknown) counts as applied.
    pub fn effect(&self) -> GrantEffect {
        self.receipt
            .as_ref()
            .map_or(GrantEffect::Applied, |r| r.effect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_without_an_effect_reads_as_applied_and_no_receipt_is_undone() {
        let old: GrantReceipt =
            serde_json::from_str(r#"{"backend":"log","detail":{"recorded":true}}"#).unwrap();
        assert_eq!(old.effect, GrantEffect::Applied);
        let record: GrantRecord = serde_json::from_value(serde_json::json!({
            "backend": "log", "resource": "wiki", "role": "edit",
            "account": { "platform": "console", "workspace": "local", "user_id": "alice" },
            "granted_at": 1, "receipt": null
        }))
        .unwrap();
        assert_eq!(record.effect(), GrantEffect::Applied);
        let held = GrantRecord {
            receipt: Some(GrantReceipt::unchanged("x", serde_json::Value::Null)),
            ..record
        };
        assert_eq!(held.effect(), GrantEffect::AlreadyHeld);
    }
}
