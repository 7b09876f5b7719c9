//! Drift: access a target shows that Warden's active grants do not account for, and the reverse.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What reconciliation does for one catalog resource (`reconcile = "…"` in the catalog).
///
/// `report` is the default: a finding is seen by an admin (alert, admin UI, `/metrics`) before
/// anything is removed, because what looks like drift may be access someone gave on purpose
/// outside Warden (a break-glass fix, a migration). `revoke` removes it, once, and audits that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileMode {
    Off,
    #[default]
    Report,
    Revoke,
}

impl ReconcileMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Report => "report",
            Self::Revoke => "revoke",
        }
    }
}

/// The two kinds of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Present on the target with no active grant behind it.
    Unmanaged,
    /// An active grant whose access is absent from the target.
    Missing,
}

impl DriftKind {
    pub const ALL: [DriftKind; 2] = [Self::Unmanaged, Self::Missing];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unmanaged => "unmanaged",
            Self::Missing => "missing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What was done about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    /// Reported only (report mode, or a missing grant: nothing to remove).
    Reported,
    /// Revoke mode, but not removed yet: a grant of this resource is in flight (its holder is
    /// not recorded yet), or an active grant has no recorded holder to tell it apart.
    Deferred,
    /// A worker holds the finding and is removing the access.
    Revoking,
    Revoked,
    /// The backend refused or failed; retried on the next run.
    RevokeFailed,
}

impl DriftAction {
    pub const ALL: [DriftAction; 5] = [
        Self::Reported,
        Self::Deferred,
        Self::Revoking,
        Self::Revoked,
        Self::RevokeFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Deferred => "deferred",
            Self::Revoking => "revoking",
            Self::Revoked => "revoked",
            Self::RevokeFailed => "revoke_failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One finding as stored: open while it is seen, resolved by the first run that no longer sees
/// it. A holder that comes back later is a new finding (and a new revoke key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftFinding {
    pub id: String,
    pub resource: String,
    pub backend: String,
    pub kind: DriftKind,
    /// The account on the target, as the backend names holders.
    pub holder: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub resolved_at: Option<i64>,
    pub action: DriftAction,
    /// What the last action did or why it failed (no secrets: a backend's short error).
    pub detail: Option<String>,
}

impl DriftFinding {
    /// The idempotency key of the revoke that removes this finding's access: the same finding
    /// is removed once across instances and retries.
    pub fn revoke_key(&self) -> String {
        format!("drift:{}:revoke", self.id)
    }
}

/// The drift of one resource. `here`: holders of this resource's active grants (missing ones
/// are flagged); `anywhere`: holders of every active grant on the same backend (access some
/// active grant accounts for is never unmanaged, even if two resources share a target).
pub fn compare(
    here: &BTreeSet<String>,
    anywhere: &BTreeSet<String>,
    actual: &[String],
) -> Vec<(DriftKind, String)> {
    let actual: BTreeSet<&String> = actual.iter().collect();
    let unmanaged = actual
        .iter()
        .filter(|h| !here.contains(**h) && !anywhere.contains(**h))
        .map(|h| (DriftKind::Unmanaged, (*h).clone()));
    let missing = here
        .iter()
        .filter(|h| !actual.contains(h))
        .map(|h| (DriftKind::Missing, h.clone()));
    unmanaged.chain(missing).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(xs: &[&str]) -> BTreeSet<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unmanaged_is_present_without_any_grant_and_missing_is_granted_but_absent() {
        let here = set(&["a", "b"]);
        let anywhere = set(&["a", "b", "shared"]);
        let actual: Vec<String> = ["a", "shared", "x", "x"].map(String::from).to_vec();
        assert_eq!(
            compare(&here, &anywhere, &actual),
            vec![
                (DriftKind::Unmanaged, "x".to_string()),
                (DriftKind::Missing, "b".to_string())
            ]
        );
        assert!(compare(&here, &anywhere, &["a".into(), "b".into()]).is_empty());
    }

    #[test]
    fn modes_kinds_and_actions_round_trip() {
        let m: ReconcileMode = serde_json::from_str("\"revoke\"").unwrap();
        assert_eq!(m, ReconcileMode::Revoke);
        assert_eq!(ReconcileMode::default(), ReconcileMode::Report);
        for k in DriftKind::ALL {
            assert_eq!(DriftKind::parse(k.as_str()), Some(k));
        }
        for a in DriftAction::ALL {
            assert_eq!(DriftAction::parse(a.as_str()), Some(a));
        }
    }
}
