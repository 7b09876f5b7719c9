//! What an agent asks for, as structured fields: checked against its registration and the catalog, never read by a model.
//!
//! Refusals here happen before anything is stored, so a bad ask loses nothing and creates
//! nothing. A duration above the agent's maximum is refused, never clamped: an agent is told
//! exactly what it may have rather than silently given less than it planned for.

use super::text::sanitize_free_text;
use super::{Action, Agent, Catalog, Intent, Request, RequestId, parse_duration};
use serde::{Deserialize, Serialize};

/// Longest task description kept, in characters (the approver reads it on a card).
pub const MAX_TASK_CHARS: usize = 500;
/// Longest ticket reference.
pub const MAX_TICKET_CHARS: usize = 64;
/// Longest `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;

/// A duration as seconds (`1800`) or as text (`"30m"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AskDuration {
    Secs(u64),
    Text(String),
}

/// The body of an agent's create call. Unknown fields are refused, so a typo is an error
/// rather than a silently dropped constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentAsk {
    pub resource: String,
    pub role: String,
    pub duration: AskDuration,
    /// What the access is for: required, shown to the approver as it is (sanitised).
    pub task: String,
    #[serde(default)]
    pub ticket: Option<String>,
}

/// Why an ask was refused before anything was stored (HTTP 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    #[error("unknown resource '{0}'")]
    UnknownResource(String),
    #[error("'{role}' is not a role of {resource}")]
    UnknownRole { resource: String, role: String },
    #[error("duration must be a positive number of seconds or a duration such as \"30m\"")]
    BadDuration,
    #[error("{asked} seconds is longer than this agent's maximum of {max} seconds")]
    AboveAgentMax { asked: u64, max: u64 },
    #[error("a task description is required (at most {MAX_TASK_CHARS} characters)")]
    Task,
    #[error("ticket must be at most {MAX_TICKET_CHARS} letters, digits or - _ . / : #")]
    Ticket,
}

impl AskError {
    /// A stable machine-readable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownResource(_) => "unknown_resource",
            Self::UnknownRole { .. } => "unknown_role",
            Self::BadDuration => "invalid_duration",
            Self::AboveAgentMax { .. } => "duration_above_agent_max",
            Self::Task => "invalid_task",
            Self::Ticket => "invalid_ticket",
        }
    }
}

impl AgentAsk {
    /// The duration in seconds, if it is a positive one.
    pub fn duration_secs(&self) -> Option<u64> {
        match &self.duration {
            AskDuration::Secs(s) => Some(*s),
            AskDuration::Text(t) => parse_duration(t),
        }
        .filter(|s| *s > 0)
    }

    /// The intent this ask is, for `agent`, or why it cannot be one. Whether the agent may have
    /// it (its ceiling, the risk) is the policy's decision, not this function's.
    pub fn to_intent(&self, agent: &Agent, catalog: &Catalog) -> Result<Intent, AskError> {
        let resource = catalog
            .get(self.resource.trim())
            .ok_or_else(|| AskError::UnknownResource(truncate(&self.resource)))?;
        let role = self.role.trim();
        if resource.role(role).is_none() {
            return Err(AskError::UnknownRole {
                resource: resource.id.clone(),
                role: truncate(role),
            });
        }
        let secs = self.duration_secs().ok_or(AskError::BadDuration)?;
        if secs > agent.max_duration {
            return Err(AskError::AboveAgentMax {
                asked: secs,
                max: agent.max_duration,
            });
        }
        let task = self.task.trim();
        if task.is_empty() || task.chars().count() > MAX_TASK_CHARS {
            return Err(AskError::Task);
        }
        let task = sanitize_free_text(task, MAX_TASK_CHARS);
        if task.is_empty() {
            return Err(AskError::Task);
        }
        let ticket = match self.ticket.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) if valid_ticket(t) => Some(t.to_string()),
            Some(_) => return Err(AskError::Ticket),
        };
        Ok(Intent {
            action: Action::Request,
            resource: Some(resource.id.clone()),
            role: Some(role.to_string()),
            duration_secs: Some(secs),
            justification: Some(task),
            ticket,
            request_id: None,
            break_glass: false,
            notes: vec![],
            items: vec![],
        })
    }

    /// Whether a stored request is this same ask (a retried create), field by field.
    pub fn matches(&self, intent: &Intent) -> bool {
        let ticket = self
            .ticket
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        intent.resource.as_deref() == Some(self.resource.trim())
            && intent.role.as_deref() == Some(self.role.trim())
            && intent.duration_secs == self.duration_secs()
            && intent.justification.as_deref()
                == Some(sanitize_free_text(self.task.trim(), MAX_TASK_CHARS).as_str())
            && intent.ticket.as_deref() == ticket
    }
}

fn valid_ticket(t: &str) -> bool {
    t.chars().count() <= MAX_TICKET_CHARS
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:#".contains(c))
}

fn truncate(s: &str) -> String {
    super::text::truncate_chars(&sanitize_free_text(s, 80), 80)
}

/// An `Idempotency-Key` header value: 1 to 128 visible ASCII characters.
pub fn valid_idempotency_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The request id a create with this agent and key gets: the same on every retry and every
/// instance, so the store's primary key makes a retried create find its first request.
pub fn idempotent_request_id(agent_id: &str, key: &str) -> RequestId {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"warden.agent.idempotency\0");
    h.update(agent_id.as_bytes());
    h.update(b"\0");
    h.update(key.as_bytes());
    RequestId::from_digest(&h.finalize())
}

/// Whether `req` is `agent_id`'s own: an agent sees and acts on nothing else.
pub fn owned_by(req: &Request, agent_id: &str) -> bool {
    req.is_agent() && req.requester_id == agent_id
}

#[cfg(test)]
#[path = "agent_ask_tests.rs"]
mod tests;
