//! Work Warden does later, as typed jobs: one kind, one payload, one id per (kind, request).

use super::{Platform, RequestId};
use serde::{Deserialize, Serialize};

/// What kind of card a message is, so it can be re-rendered and placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    Confirmation,
    Approval,
    Grant,
    Alert,
    /// One approver's card for several items of a bundle (its items in `card_items`).
    BundleApproval,
}

impl CardKind {
    pub const ALL: [CardKind; 5] = [
        Self::Confirmation,
        Self::Approval,
        Self::Grant,
        Self::Alert,
        Self::BundleApproval,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Approval => "approval",
            Self::Grant => "grant",
            Self::Alert => "alert",
            Self::BundleApproval => "bundle_approval",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A posted card, so every copy can be updated later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PostedCard {
    pub platform: Platform,
    pub channel: String,
    pub message_id: String,
    pub kind: CardKind,
}

/// The scheduler's independent lanes. Each claims and runs only its own kinds, so a slow grant
/// or a stuck card update cannot hold up a revocation that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Expiries, revocations and compensating revokes.
    Revocations,
    /// Everything else, including kinds this build does not know (so they surface as alerts).
    Work,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::Revocations, Lane::Work];

    /// The kinds that belong to the revocations lane; the work lane takes every other kind.
    pub fn revocation_kinds() -> impl Iterator<Item = JobKind> {
        JobKind::ALL
            .into_iter()
            .filter(|k| k.lane() == Lane::Revocations)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Revocations => "revocations",
            Lane::Work => "work",
        }
    }
}

/// Where a job is in its life. `Dead` is the dead-letter state: the scheduler gave up on it and
/// raised an alert; it stays there until an admin retries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [Self::Pending, Self::Running, Self::Done, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The kinds of job; each has at most one live job per request (card updates: per card).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Grant,
    Expire,
    Revoke,
    /// Withdrawing a grant that may have applied before it failed.
    Compensate,
    ConfirmExpire,
    PendingExpire,
    Remind,
    Warn,
    CardUpdate,
    /// Drift reconciliation over every listable resource: one job for the whole deployment,
    /// tied to no request, re-armed by itself at the configured interval.
    Reconcile,
}

impl JobKind {
    pub const ALL: [JobKind; 10] = [
        Self::Grant,
        Self::Expire,
        Self::Revoke,
        Self::Compensate,
        Self::ConfirmExpire,
        Self::PendingExpire,
        Self::Remind,
        Self::Warn,
        Self::CardUpdate,
        Self::Reconcile,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Expire => "expire",
            Self::Revoke => "revoke",
            Self::Compensate => "compensate",
            Self::ConfirmExpire => "confirm_expire",
            Self::PendingExpire => "pending_expire",
            Self::Remind => "remind",
            Self::Warn => "warn",
            Self::CardUpdate => "card_update",
            Self::Reconcile => "reconcile",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The scheduler lane that runs this kind: taking access away never waits behind other work.
    pub fn lane(self) -> Lane {
        match self {
            // A compensating revoke withdraws access that may exist: it is a revocation.
            Self::Expire | Self::Revoke | Self::Compensate => Lane::Revocations,
            _ => Lane::Work,
        }
    }

    /// Higher runs first among due jobs: taking access away before anything else.
    pub fn priority(self) -> i64 {
        match self {
            Self::Expire | Self::Revoke | Self::Compensate => 10,
            Self::Grant => 5,
            Self::CardUpdate => 1,
            Self::ConfirmExpire
            | Self::PendingExpire
            | Self::Remind
            | Self::Warn
            | Self::Reconcile => 0,
        }
    }

    /// The id of the one reconciliation job (it belongs to no request).
    pub const RECONCILE_ID: &'static str = "reconcile";

    /// The job's id for a request: the one rule, so a kind can be re-armed or cancelled by name.
    pub fn id_for(self, request: &RequestId) -> String {
        format!("{}:{request}", self.as_str())
    }
}

/// Who ended access early, and why (the revoke job's payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeOrder {
    pub actor: String,
    pub reason: String,
}

/// A card update the platform refused, to retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardUpdate {
    pub card: PostedCard,
    pub status: Option<String>,
}

/// A job with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    Grant,
    Expire,
    Revoke(RevokeOrder),
    Compensate,
    ConfirmExpire,
    PendingExpire,
    Remind,
    Warn,
    CardUpdate(CardUpdate),
    Reconcile,
}

/// A stored job that does not decode: an alert, never a silent drop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobDecodeError {
    #[error("unknown job kind '{0}'")]
    UnknownKind(String),
    #[error("job '{kind}' has a bad payload: {why}")]
    BadPayload { kind: &'static str, why: String },
}

impl Job {
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Grant => JobKind::Grant,
            Job::Expire => JobKind::Expire,
            Job::Revoke(_) => JobKind::Revoke,
            Job::Compensate => JobKind::Compensate,
            Job::ConfirmExpire => JobKind::ConfirmExpire,
            Job::PendingExpire => JobKind::PendingExpire,
            Job::Remind => JobKind::Remind,
            Job::Warn => JobKind::Warn,
            Job::CardUpdate(_) => JobKind::CardUpdate,
            Job::Reconcile => JobKind::Reconcile,
        }
    }

    /// The de-duplication key: one live job per (kind, request), and per card for card updates.
    pub fn id_for(&self, request: &RequestId) -> String {
        match self {
            Job::CardUpdate(u) => format!(
                "{}:{}:{}",
                JobKind::CardUpdate.as_str(),
                u.card.channel,
                u.card.message_id
            ),
            other => other.kind().id_for(request),
        }
    }

    /// The payload column.
    pub fn payload(&self) -> Option<String> {
        let v = match self {
            Job::Revoke(o) => serde_json::to_string(o),
            Job::CardUpdate(u) => serde_json::to_string(u),
            _ => return None,
        };
        Some(v.expect("job payloads are plain structs"))
    }

    /// Reads a stored job back; strict about kind and payload.
    pub fn decode(kind: &str, payload: Option<&str>) -> Result<Job, JobDecodeError> {
        let kind = JobKind::parse(kind).ok_or_else(|| JobDecodeError::UnknownKind(kind.into()))?;
        fn body<T: serde::de::DeserializeOwned>(
            kind: JobKind,
            payload: Option<&str>,
        ) -> Result<T, JobDecodeError> {
            let bad = |why: String| JobDecodeError::BadPayload {
                kind: kind.as_str(),
                why,
            };
            serde_json::from_str(payload.ok_or_else(|| bad("missing".into()))?)
                .map_err(|e| bad(e.to_string()))
        }
        Ok(match kind {
            JobKind::Grant => Job::Grant,
            JobKind::Expire => Job::Expire,
            JobKind::Revoke => Job::Revoke(body(kind, payload)?),
            JobKind::Compensate => Job::Compensate,
            JobKind::ConfirmExpire => Job::ConfirmExpire,
            JobKind::PendingExpire => Job::PendingExpire,
            JobKind::Remind => Job::Remind,
            JobKind::Warn => Job::Warn,
            JobKind::CardUpdate => Job::CardUpdate(body(kind, payload)?),
            JobKind::Reconcile => Job::Reconcile,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_stored_form() {
        let card = PostedCard {
            platform: Platform::Slack,
            channel: "C1".into(),
            message_id: "1.2".into(),
            kind: CardKind::Approval,
        };
        for job in [
            Job::Grant,
            Job::Expire,
            Job::Revoke(RevokeOrder {
                actor: "alice".into(),
                reason: "done".into(),
            }),
            Job::Compensate,
            Job::ConfirmExpire,
            Job::PendingExpire,
            Job::Remind,
            Job::Warn,
            Job::CardUpdate(CardUpdate {
                card,
                status: Some("Approved".into()),
            }),
            Job::Reconcile,
        ] {
            let back = Job::decode(job.kind().as_str(), job.payload().as_deref()).unwrap();
            assert_eq!(back, job);
        }
    }

    #[test]
    fn unknown_kinds_and_bad_payloads_are_errors() {
        assert_eq!(
            Job::decode("explode", None),
            Err(JobDecodeError::UnknownKind("explode".into()))
        );
        assert!(matches!(
            Job::decode("revoke", Some("{\"actor\":1}")),
            Err(JobDecodeError::BadPayload { kind: "revoke", .. })
        ));
        assert!(Job::decode("revoke", None).is_err());
    }

    #[test]
    fn ids_come_from_kind_and_request() {
        let id = RequestId::parse("AR-00000001").unwrap();
        assert_eq!(Job::Expire.id_for(&id), "expire:AR-00000001");
        assert_eq!(JobKind::Expire.id_for(&id), Job::Expire.id_for(&id));
        assert!(JobKind::Revoke.priority() > JobKind::Grant.priority());
    }

    #[test]
    fn every_kind_that_takes_access_away_runs_in_the_revocations_lane() {
        let top = JobKind::ALL.iter().map(|k| k.priority()).max().unwrap();
        for kind in JobKind::ALL {
            assert_eq!(
                kind.lane() == Lane::Revocations,
                kind.priority() == top,
                "{kind:?}: lane and priority disagree"
            );
        }
    }
}
