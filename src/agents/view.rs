//! What an agent is shown of its request: an AuthZEN-style task handle plus Warden's own fields, and what to do next.
//!
//! `task.status` follows the AuthZEN Access Request and Approval profile's values (`pending`,
//! `approved`, `denied`, `expired`, `cancelled`, `failed`) plus `revoked` (access released or
//! revoked early), which a PEP treats as "not approved" like any unknown status. `approved` is
//! only reported once the grant is in place (Warden `active`), so it is always enforceable.
//! Warden's exact state is in `request.state`.

use crate::domain::{Credential, Request, RequestState};
use crate::workflow::AgentChannel;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::ser::SerializeStruct;
use serde_json::{Value, json};

/// Where the agent API lives; status endpoints and links are paths under it.
pub const API_BASE: &str = "/api/v1/agent";

/// The AuthZEN task status for a Warden state.
pub fn task_status(state: RequestState) -> &'static str {
    use RequestState as S;
    match state {
        S::Draft | S::AwaitingConfirmation | S::Submitted | S::PendingApproval | S::Approved => {
            "pending"
        }
        S::Active => "approved",
        S::Denied => "denied",
        // An extension request, closed once applied: the access is its parent's.
        S::Expired | S::Applied => "expired",
        S::Cancelled => "cancelled",
        S::Failed => "failed",
        S::Revoked => "revoked",
    }
}

fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

/// One request as the agent API answers it.
#[derive(Debug, Clone, Serialize)]
pub struct AgentRequestView {
    pub task: Value,
    pub request: Value,
    /// Plain words on what happens next, so a caller need not guess or retry blindly.
    pub next: String,
    /// The login a grant made, in the one status answer that hands it over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<HandedCredential>,
}

/// A credential in an answer to its agent: the secret is serialised (this is the delivery),
/// never printed by `Debug`.
#[derive(Debug, Clone)]
pub struct HandedCredential(pub Credential);

impl Serialize for HandedCredential {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = &self.0;
        let mut out = s.serialize_struct("Credential", 6)?;
        out.serialize_field("username", &c.username)?;
        out.serialize_field("password", c.password.expose_secret())?;
        out.serialize_field("connection", c.connection.expose_secret())?;
        out.serialize_field("valid_until", &c.valid_until.map(|t| t.to_rfc3339()))?;
        out.serialize_field("fingerprint", &c.fingerprint())?;
        out.serialize_field(
            "note",
            "Shown once: Warden keeps no copy. It stops working when the access ends.",
        )?;
        out.end()
    }
}

impl AgentRequestView {
    /// The view for the agent API.
    pub fn of(req: &Request) -> Self {
        Self::on(req, AgentChannel::Api)
    }

    /// The view for one surface: only the words of `next` differ (how to check or release).
    pub fn on(req: &Request, channel: AgentChannel) -> Self {
        let id = req.id.as_str();
        let status_endpoint = format!("{API_BASE}/requests/{id}");
        let mut task = json!({
            "id": id,
            "status": task_status(req.state),
            "status_endpoint": status_endpoint,
            "links": {
                "cancel": format!("{status_endpoint}/cancel"),
                "release": format!("{status_endpoint}/release"),
            },
        });
        if req.state == RequestState::PendingApproval {
            if let Some(at) = req.deadline_at.and_then(rfc3339) {
                task["expires_at"] = json!(at);
            }
            if let Some(plan) = &req.approval_plan {
                let step = plan.steps.get(req.current_step as usize);
                task["progress"] = json!({
                    "current_step": req.current_step + 1,
                    "total_steps": plan.steps.len(),
                    "awaiting": step.map(|s| s.eligible.clone()).unwrap_or_default(),
                });
            }
        }
        let grant = req.grant.as_ref().map(|g| {
            json!({
                "active": req.state == RequestState::Active,
                "granted_at": rfc3339(g.granted_at),
                "expires_at": req.expires_at.and_then(rfc3339),
                "revoked_at": g.revoked_at.and_then(rfc3339),
            })
        });
        let request = json!({
            "id": id,
            "state": req.state.as_str(),
            "resource": req.resource(),
            "role": req.role(),
            "duration_secs": req.duration_secs(),
            "task": req.justification(),
            "ticket": req.ticket(),
            "reasons": req.decision.as_ref().map(|d| d.reasons().to_vec()).unwrap_or_default(),
            "grant": grant,
            "created_at": rfc3339(req.created_at),
            "updated_at": rfc3339(req.updated_at),
        });
        Self {
            task,
            request,
            next: next_step(req, channel),
            credential: None,
        }
    }

    /// The same answer carrying the credential it hands over.
    pub fn with_credential(mut self, credential: Option<Credential>) -> Self {
        self.credential = credential.map(HandedCredential);
        self
    }
}

fn next_step(req: &Request, channel: AgentChannel) -> String {
    use RequestState as S;
    let (check, release) = match channel {
        AgentChannel::Api => ("check again with ?wait=30", "POST …/release"),
        AgentChannel::Mcp => (
            "call check_access with this id and wait_secs 30",
            "call release_access",
        ),
    };
    match req.state {
        S::Draft | S::AwaitingConfirmation | S::Submitted | S::Approved => {
            format!("Being processed; {check}.")
        }
        S::PendingApproval => {
            let who = req
                .approval_plan
                .as_ref()
                .and_then(|p| p.steps.get(req.current_step as usize))
                .map(|s| s.eligible.join(", "))
                .unwrap_or_default();
            let until = req
                .deadline_at
                .and_then(rfc3339)
                .map(|t| format!(" (the request lapses at {t} if nobody decides)"))
                .unwrap_or_default();
            format!("Waiting for approval from {who}{until}; {check} (no need to create it again).")
        }
        S::Active => {
            let until = req
                .expires_at
                .and_then(rfc3339)
                .map(|t| format!(" until {t}"))
                .unwrap_or_default();
            format!(
                "Access is granted{until}. Where the resource makes a login, the first status read carries it once in `credential`. Release it when the task is done ({release})."
            )
        }
        S::Denied => "Denied; see request.reasons. Do not retry the same request.".into(),
        S::Expired | S::Revoked => "Access has ended. Ask again only for a new task.".into(),
        S::Cancelled => "Cancelled.".into(),
        S::Applied => "Applied to the request it extends; follow that one.".into(),
        S::Failed => "Could not be completed; an admin has been told. Nothing is granted.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_grant_reads_as_approved() {
        for s in RequestState::ALL {
            let status = task_status(s);
            assert_eq!(status == "approved", s == RequestState::Active, "{s}");
            if !s.is_terminal() && s != RequestState::Active {
                assert_eq!(status, "pending", "{s}");
            }
        }
    }
}
