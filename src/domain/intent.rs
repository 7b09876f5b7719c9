//! What the requester wants, and the one validation every intake (parser or model) goes through.

use super::catalog::{Catalog, Match, find_role};
use super::items::Item;
use super::request::RequestId;
use super::text::sanitize_free_text;
use super::{format_duration, parse_duration};
use serde::{Deserialize, Serialize};

/// The closed set of things a person can ask Warden to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Request,
    Extend,
    Revoke,
    Cancel,
    Status,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Request => "request",
            Action::Extend => "extend",
            Action::Revoke => "revoke",
            Action::Cancel => "cancel",
            Action::Status => "status",
        }
    }
}

/// Longest justification kept, in characters.
pub const MAX_JUSTIFICATION: usize = 300;

/// A validated intent: names are catalog ids, the duration is within the catalog's limit,
/// the justification is sanitised. The requester is never part of it: that comes from the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub action: Action,
    pub resource: Option<String>,
    pub role: Option<String>,
    pub duration_secs: Option<u64>,
    pub justification: Option<String>,
    pub ticket: Option<String>,
    pub request_id: Option<RequestId>,
    #[serde(default)]
    pub break_glass: bool,
    /// What validation changed (a clamped duration), to show the requester.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Every item of a multi-item ask (this intent's own included); empty for one resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<Item>,
}

impl Intent {
    /// Whether the requester said why: a justification or a ticket is enough.
    pub fn has_reason(&self) -> bool {
        self.justification.is_some() || self.ticket.is_some()
    }
}

/// Fields as an intake found them, before validation. Strings are untrusted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftIntent {
    pub action: Option<Action>,
    pub resource: Option<String>,
    /// More resources asked for in the same words, sharing the role, duration and reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    pub role: Option<String>,
    pub duration: Option<String>,
    pub justification: Option<String>,
    pub ticket: Option<String>,
    pub request_id: Option<String>,
    #[serde(default)]
    pub break_glass: bool,
}

impl DraftIntent {
    /// A draft that names a resource or a role but no action asks for access: the action an
    /// intake leaves out when the words are only "prod-db read for 2h".
    pub fn with_implied_action(mut self) -> DraftIntent {
        if self.action.is_none() && (self.resource.is_some() || self.role.is_some()) {
            self.action = Some(Action::Request);
        }
        self
    }

    /// Later turns of a conversation fill in or correct what earlier ones said.
    pub fn merge(mut self, later: DraftIntent) -> DraftIntent {
        self.action = later.action.or(self.action);
        // A turn that names the resource again names the whole list again.
        if later.resource.is_some() || !later.also.is_empty() {
            self.also = later.also;
        }
        self.resource = later.resource.or(self.resource);
        self.role = later.role.or(self.role);
        self.duration = later.duration.or(self.duration);
        self.justification = later.justification.or(self.justification);
        self.ticket = later.ticket.or(self.ticket);
        self.request_id = later.request_id.or(self.request_id);
        self.break_glass |= later.break_glass;
        self
    }
}

/// Which field a clarifying question is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Action,
    Resource,
    Role,
    Duration,
    Justification,
    RequestId,
}

/// Why an intent cannot be used as it stands, phrased as a question for the requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{question}")]
pub struct IntentError {
    pub field: Field,
    pub question: String,
    /// Choices to offer, when there are a few.
    pub options: Vec<String>,
}

impl IntentError {
    pub(super) fn new(field: Field, question: impl Into<String>, options: Vec<String>) -> Self {
        Self::ask(field, question, options)
    }

    pub fn ask(field: Field, question: impl Into<String>, options: Vec<String>) -> Self {
        Self {
            field,
            question: question.into(),
            options,
        }
    }
}

const WILDCARDS: [&str; 8] = [
    "*",
    "all",
    "any",
    "everything",
    "every",
    "admin-all",
    "%",
    "any resource",
];

impl DraftIntent {
    /// Validates against the catalog: exact names only (after alias resolution), durations clamped,
    /// text sanitised. A probable typo or anything missing becomes a question, never a guess.
    pub fn validate(&self, catalog: &Catalog) -> Result<Intent, IntentError> {
        let action = self.action.ok_or_else(|| {
            IntentError::ask(
                Field::Action,
                "What would you like to do? You can request access, check status, extend, revoke or cancel.",
                vec![],
            )
        })?;
        let justification = self
            .justification
            .as_deref()
            .map(|j| sanitize_free_text(j, MAX_JUSTIFICATION))
            .filter(|j| !j.is_empty());
        let ticket = self
            .ticket
            .as_deref()
            .map(|t| sanitize_free_text(t, 40))
            .filter(|t| !t.is_empty());
        // A request opens a new request: it has no request id, so whatever an intake put there
        // (a model's guess, a stray "#1234abcd") is dropped rather than asked about.
        let request_id = match &self.request_id {
            None => None,
            Some(_) if action == Action::Request => None,
            Some(raw) => Some(RequestId::parse(raw).ok_or_else(|| {
                IntentError::ask(
                    Field::RequestId,
                    format!(
                        "'{}' is not a request id (they look like AR-7K3D9QX2).",
                        sanitize_free_text(raw, 20)
                    ),
                    vec![],
                )
            })?),
        };
        let mut intent = Intent {
            action,
            resource: None,
            role: None,
            duration_secs: None,
            justification,
            ticket,
            request_id,
            break_glass: self.break_glass,
            notes: vec![],
            items: vec![],
        };
        // Without an id or a resource, which request is meant is the workflow's to find among
        // the person's own: asked only when more than one fits.
        match action {
            Action::Status => Ok(intent),
            Action::Revoke | Action::Cancel => {
                if let Some(name) = &self.resource {
                    intent.resource = Some(resolve_resource(catalog, name)?.id.clone());
                }
                Ok(intent)
            }
            Action::Extend => {
                if let Some(name) = &self.resource {
                    intent.resource = Some(resolve_resource(catalog, name)?.id.clone());
                }
                intent.duration_secs = self
                    .duration
                    .as_deref()
                    .map(parse_valid_duration)
                    .transpose()?;
                Ok(intent)
            }
            Action::Request => {
                let first = self.validate_request(catalog, intent.clone())?;
                super::items::validate_also(self, catalog, intent, first)
            }
        }
    }

    pub(super) fn validate_request(
        &self,
        catalog: &Catalog,
        mut intent: Intent,
    ) -> Result<Intent, IntentError> {
        let name = self.resource.as_deref().ok_or_else(|| {
            IntentError::ask(
                Field::Resource,
                "Which system do you need access to?",
                sample_names(catalog),
            )
        })?;
        let resource = resolve_resource(catalog, name)?;
        let role = match &self.role {
            Some(role) => resolve_role(resource, role)?,
            None if resource.roles.len() == 1 => resource.roles[0].name.clone(),
            None => {
                return Err(IntentError::ask(
                    Field::Role,
                    format!("Which role on {} do you need?", resource.name),
                    resource.roles.iter().map(|r| r.name.clone()).collect(),
                ));
            }
        };
        let max = resource.max_duration_for(&role);
        let wanted = match self.duration.as_deref() {
            Some(d) => parse_valid_duration(d)?,
            None => resource.default_duration().min(max),
        };
        if wanted > max {
            intent.notes.push(format!(
                "{} is longer than the {} allowed for {} on {}; shortened to {}.",
                format_duration(wanted),
                format_duration(max),
                role,
                resource.name,
                format_duration(max)
            ));
        }
        // Whether a reason is needed is the policy's to say (the `reason_required` obligation,
        // honoured at submit). Break-glass is the exception: it skips approval, so the reason is
        // the only account its reviewers get, and no policy can waive it.
        if intent.break_glass && !intent.has_reason() {
            return Err(IntentError::ask(
                Field::Justification,
                format!(
                    "Emergency access to {} needs a reason: what is happening? A sentence or an incident number is enough.",
                    resource.name
                ),
                vec![],
            ));
        }
        intent.resource = Some(resource.id.clone());
        intent.role = Some(role);
        intent.duration_secs = Some(wanted.min(max));
        Ok(intent)
    }
}

fn parse_valid_duration(raw: &str) -> Result<u64, IntentError> {
    parse_duration(raw).ok_or_else(|| {
        IntentError::ask(
            Field::Duration,
            format!(
                "How long do you need it? '{}' is not a duration I understand (try 2h or 30m).",
                sanitize_free_text(raw, 20)
            ),
            vec![],
        )
    })
}

fn resolve_resource<'a>(
    catalog: &'a Catalog,
    name: &str,
) -> Result<&'a super::Resource, IntentError> {
    let shown = sanitize_free_text(name, 40);
    if WILDCARDS.contains(&name.trim().to_lowercase().as_str()) {
        return Err(IntentError::ask(
            Field::Resource,
            "Access is granted one system at a time. Which one do you need?",
            sample_names(catalog),
        ));
    }
    match catalog.find(name) {
        Match::Exact(r) => Ok(r),
        Match::Probable(r) => Err(IntentError::ask(
            Field::Resource,
            format!(
                "I don't know '{shown}'. Did you mean {} ({})?",
                r.name, r.id
            ),
            vec![r.id.clone()],
        )),
        Match::Ambiguous(rs) => Err(IntentError::ask(
            Field::Resource,
            format!("'{shown}' could be several things. Which one?"),
            rs.iter().map(|r| r.id.clone()).collect(),
        )),
        Match::None => Err(IntentError::ask(
            Field::Resource,
            format!("I can't find '{shown}' in the catalog. Which system do you mean?"),
            sample_names(catalog),
        )),
    }
}

fn resolve_role(resource: &super::Resource, role: &str) -> Result<String, IntentError> {
    let shown = sanitize_free_text(role, 30);
    let options = || {
        resource
            .roles
            .iter()
            .map(|r| r.name.clone())
            .collect::<Vec<_>>()
    };
    if WILDCARDS.contains(&role.trim().to_lowercase().as_str()) {
        return Err(IntentError::ask(
            Field::Role,
            format!(
                "Roles are granted one at a time. Which role on {}?",
                resource.name
            ),
            options(),
        ));
    }
    match find_role(resource, role) {
        Match::Exact(r) => Ok(r.name.clone()),
        Match::Probable(r) => Err(IntentError::ask(
            Field::Role,
            format!(
                "{} has no role '{shown}'. Did you mean {}?",
                resource.name, r.name
            ),
            vec![r.name.clone()],
        )),
        Match::Ambiguous(_) | Match::None => Err(IntentError::ask(
            Field::Role,
            format!(
                "{} has no role '{shown}'. Which role do you need?",
                resource.name
            ),
            options(),
        )),
    }
}

/// A few catalog ids to offer when asking which resource (never the whole of a large catalog).
fn sample_names(catalog: &Catalog) -> Vec<String> {
    catalog
        .resources()
        .iter()
        .take(6)
        .map(|r| r.id.clone())
        .collect()
}

#[cfg(test)]
#[path = "intent_tests.rs"]
mod tests;
