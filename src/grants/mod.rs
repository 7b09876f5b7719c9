//! The grant port: backends that actually give and take away access.
//!
//! Every call carries an idempotency key (the request id plus the operation), so a retried call
//! after a crash or a timeout never grants twice. Adapters add platform backends (Slack user
//! groups, Discord roles) by implementing `Grantor` and registering under the catalog's name.

pub use crate::domain::{Credential, GrantEffect, GrantReceipt, PriorAccess};
use crate::domain::{Person, PlatformUser, Resource};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

pub mod aws;
pub mod database;
pub mod log;
pub mod saas;
pub mod webhook;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantOp {
    Grant,
    Revoke,
    /// The grant's expiry moved (an extension): backends with an expiry of their own move it.
    Extend,
}

impl GrantOp {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantOp::Grant => "grant",
            GrantOp::Revoke => "revoke",
            GrantOp::Extend => "extend",
        }
    }
}

/// One call to a grant backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantCall {
    pub op: GrantOp,
    /// `<request id>:<op>[:<n>]`; the same key means the same effect.
    pub idempotency_key: String,
    pub request_id: String,
    pub resource: String,
    pub role: String,
    /// Directory id of the person who gets the access.
    pub person: String,
    /// The platform account, for platform backends.
    pub account: PlatformUser,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The catalog's backend parameters for this resource.
    #[serde(skip)]
    pub params: HashMap<String, toml::Value>,
    /// On a revoke: what the grant reported it changed, from the grant record (not re-derived).
    /// `None` on grants, and on a compensating revoke whose grant's outcome is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantReceipt>,
    /// Who the person is on targets with accounts of their own; filled on grants from the
    /// directory. Revokes use `grant.holder` instead (what was granted, not today's directory).
    #[serde(skip)]
    pub identity: TargetIdentity,
}

/// The person's identity for targets that keep accounts of their own (Okta, Entra ID, GitHub,
/// AWS Identity Center): their email and their explicit per-target ids from the directory.
#[derive(Debug, Clone, Default)]
pub struct TargetIdentity {
    pub email: Option<String>,
    /// By target name (`okta`, `entra`, `github`, `aws`).
    pub ids: std::collections::BTreeMap<String, String>,
}

impl TargetIdentity {
    pub fn of(person: &Person) -> Self {
        Self {
            email: person.email.clone(),
            ids: person.target_ids.clone(),
        }
    }
}

impl GrantCall {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        op: GrantOp,
        request_id: &str,
        resource: &Resource,
        role: &str,
        person_id: &str,
        account: &PlatformUser,
        expires_at: chrono::DateTime<chrono::Utc>,
        attempt_tag: Option<&str>,
    ) -> Self {
        let idempotency_key = match attempt_tag {
            Some(t) => format!("{request_id}:{}:{t}", op.as_str()),
            None => format!("{request_id}:{}", op.as_str()),
        };
        Self {
            op,
            idempotency_key,
            request_id: request_id.to_string(),
            resource: resource.id.clone(),
            role: role.to_string(),
            person: person_id.to_string(),
            account: account.clone(),
            expires_at,
            params: resource.grant.params.clone(),
            grant: None,
            identity: TargetIdentity::default(),
        }
    }

    /// The call for this person's accounts on the target.
    pub fn for_person(mut self, person: Option<&Person>) -> Self {
        self.identity = person.map(TargetIdentity::of).unwrap_or_default();
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// Worth retrying (timeouts, 5xx, 429).
    #[error("grant backend temporarily failed: {0}")]
    Transient(String),
    /// Retrying will not help (4xx, bad configuration).
    #[error("grant backend refused: {0}")]
    Permanent(String),
    /// Failed for good after an attempt that may have taken effect (a timeout, then a refusal
    /// on the backend's own retry): the caller must assume the change may be in place.
    #[error("grant backend failed after a call that may have applied: {0}")]
    Uncertain(String),
}

impl GrantError {
    /// Whether the failed call may still have changed the target.
    pub fn may_have_applied(&self) -> bool {
        !matches!(self, GrantError::Permanent(_))
    }
}

#[async_trait]
pub trait Grantor: Send + Sync {
    fn name(&self) -> &str;

    /// A key naming what a call reads and writes back whole (a Slack user group's member list).
    /// Calls with the same key are serialised across instances by the workflow, through the
    /// database, so two read-modify-writes never interleave. `None`: calls are independent.
    fn serial_key(&self, _call: &GrantCall) -> Option<String> {
        None
    }

    /// A key naming the access a grant call puts the person into (one person in one group on
    /// one target), the same for every resource and role that grant that very access, so
    /// overlapping grants of it are held together and only the last to end removes it.
    /// `None`: grants are not shared (each is undone as recorded). The database login backends
    /// (PostgreSQL, MySQL) stay unkeyed: each request gets a login of its own, so no two grants
    /// ever put a person into the same one.
    fn access_key(&self, _call: &GrantCall) -> Option<String> {
        None
    }

    /// Whether the person already holds the access the call would grant, read from the target.
    /// `None`: this backend cannot tell (a webhook, the log). Called once per grant, before its
    /// first call, so the revoke undoes only what Warden added.
    async fn observe(&self, _call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        Ok(None)
    }

    /// Whether grant calls read `GrantCall::identity` (the person's email and per-target ids):
    /// the workflow reads the directory for it only for backends that do.
    fn needs_identity(&self) -> bool {
        false
    }

    /// Whether the person can be given this resource's access on the target at all (they have
    /// an account there), checked at submit, before anyone is asked to approve.
    /// `Err`: a short message for the requester saying what is missing.
    fn check_person(&self, _person: &Person, _resource: &Resource) -> Result<(), String> {
        Ok(())
    }

    /// Who holds the resource's access on the target now, named as grants name their
    /// `GrantReceipt::holder`: what drift reconciliation compares with Warden's active grants.
    /// `None`: this backend cannot list (a webhook, the log).
    async fn holders(&self, _resource: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        Ok(None)
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError>;

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError>;

    /// Moves the expiry the target enforces itself (PostgreSQL `VALID UNTIL`) to
    /// `call.expires_at`. Most targets have none: nothing to do.
    async fn extend(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        Ok(GrantReceipt::unchanged(
            self.name(),
            serde_json::json!({ "result": "no expiry on the target", "key": call.idempotency_key }),
        ))
    }

    async fn apply(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        match call.op {
            GrantOp::Grant => self.grant(call).await,
            GrantOp::Revoke => self.revoke(call).await,
            GrantOp::Extend => self.extend(call).await,
        }
    }
}

/// Grant backends by the names the catalog uses.
#[derive(Clone, Default)]
pub struct GrantorRegistry {
    backends: HashMap<String, Arc<dyn Grantor>>,
}

impl GrantorRegistry {
    pub fn with(mut self, grantor: Arc<dyn Grantor>) -> Self {
        self.register(grantor);
        self
    }

    pub fn register(&mut self, grantor: Arc<dyn Grantor>) {
        self.backends.insert(grantor.name().to_string(), grantor);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Grantor>> {
        self.backends.get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.backends.keys().cloned().collect();
        n.sort();
        n
    }
}
