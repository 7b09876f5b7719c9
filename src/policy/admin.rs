//! The policy's question about a kill-switch action (freeze, unfreeze): does it need a passkey
//! step-up? Asked of the same PDP as access requests, with its own small input document.
//!
//! Embedded Rego and OPA evaluate the rule `admin_decision` next to the access decision rule
//! (`data.access.admin_decision`); AuthZEN gets an evaluation with the action's name and a
//! `warden_freeze` resource. The answer is a decision like any other; only its `step_up`
//! obligation (and, for an unfreeze, a deny) means anything: see `domain::AdminGate`.

use crate::domain::{AdminAction, FreezeScope};
use serde::{Deserialize, Serialize};

/// Version of the admin-action document; bumped on any incompatible change.
pub const ADMIN_INPUT_VERSION: &str = "warden.policy.admin/v1";

/// The rule (under the access package) that answers admin-action questions.
pub const ADMIN_RULE: &str = "admin_decision";

/// Everything the PDP sees about a kill-switch action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminActionInput {
    pub version: String,
    pub action: AdminAction,
    pub actor: AdminActorInput,
    pub freeze: FreezeInput,
    /// RFC 3339, UTC.
    pub time: String,
}

/// Who acts, and through what.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminActorInput {
    /// The recorded actor (`admin:<token or person>`, `cli:<user>`).
    pub name: String,
    /// The directory person behind an SSO session; none for a token or the CLI.
    pub person: Option<String>,
    /// "web", "api" or "cli".
    pub via: String,
}

/// The freeze set or lifted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FreezeInput {
    /// The freeze lifted; none for a new freeze.
    pub id: Option<String>,
    /// agent | all_agents | resource | everything
    pub scope: String,
    /// The agent or resource id; "" for the wide scopes.
    pub target: String,
}

impl FreezeInput {
    pub fn new(id: Option<&str>, scope: &FreezeScope) -> Self {
        Self {
            id: id.map(str::to_string),
            scope: scope.kind().to_string(),
            target: scope.target().to_string(),
        }
    }
}
