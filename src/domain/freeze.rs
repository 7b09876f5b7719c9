//! The kill switch's scopes and freezes as plain types: which requests a freeze stops.
//!
//! A freeze stops new grants in its scope (intake, approval clicks, grant jobs all ask
//! [`FreezeScope::covers`], the one matching rule) and, when asked, revokes what is active there.

use super::freeze_step_up::Confirmation;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who a request is for: a person from the directory, or a registered agent. Agent ids and
/// person ids share no namespace (`warden config check` refuses an agent id that is a person's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject<'a> {
    Person(&'a str),
    Agent(&'a str),
}

/// What a freeze covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", content = "target", rename_all = "snake_case")]
pub enum FreezeScope {
    /// One agent, by its registry id.
    Agent(String),
    /// Every agent; people are not affected.
    AllAgents,
    /// One catalog resource, for agents and people.
    Resource(String),
    /// Every new grant, for everyone.
    Everything,
}

/// A scope that cannot be built from what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreezeScopeError {
    #[error("unknown freeze scope '{0}' (agent, all_agents, resource or everything)")]
    UnknownKind(String),
    #[error("a freeze of {0} names one, and the name is missing")]
    MissingTarget(&'static str),
    #[error("a freeze of {0} names nothing else, but a target was given")]
    UnexpectedTarget(&'static str),
    #[error("a freeze target must be 1 to 200 letters, digits or - _ . : / @ (got '{0}')")]
    BadTarget(String),
}

impl FreezeScope {
    pub const KINDS: [&'static str; 4] = ["agent", "all_agents", "resource", "everything"];

    /// The stored kind column.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Agent(_) => "agent",
            Self::AllAgents => "all_agents",
            Self::Resource(_) => "resource",
            Self::Everything => "everything",
        }
    }

    /// The stored target column: the agent or resource id, empty for the wide scopes.
    pub fn target(&self) -> &str {
        match self {
            Self::Agent(id) | Self::Resource(id) => id,
            Self::AllAgents | Self::Everything => "",
        }
    }

    /// The one constructor from outside input (CLI flags, API bodies, forms, stored rows).
    pub fn parse(kind: &str, target: Option<&str>) -> Result<Self, FreezeScopeError> {
        let target = target.map(str::trim).filter(|t| !t.is_empty());
        let named = |what: &'static str, make: fn(String) -> Self| {
            let t = target.ok_or(FreezeScopeError::MissingTarget(what))?;
            let ok = t.len() <= 200
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c));
            if !ok {
                return Err(FreezeScopeError::BadTarget(t.chars().take(60).collect()));
            }
            Ok(make(t.to_string()))
        };
        let wide = |what: &'static str, scope: Self| match target {
            Some(_) => Err(FreezeScopeError::UnexpectedTarget(what)),
            None => Ok(scope),
        };
        match kind.trim() {
            "agent" => named("one agent", Self::Agent),
            "resource" => named("one resource", Self::Resource),
            "all_agents" => wide("all agents", Self::AllAgents),
            "everything" => wide("everything", Self::Everything),
            other => Err(FreezeScopeError::UnknownKind(
                other.chars().take(40).collect(),
            )),
        }
    }

    /// Whether a request for `subject` on `resource` is in this scope. `resource` is `None`
    /// before intake knows it: only the scopes that do not depend on it can match then.
    pub fn covers(&self, subject: Subject<'_>, resource: Option<&str>) -> bool {
        match (self, subject) {
            (Self::Everything, _) => true,
            (Self::AllAgents, Subject::Agent(_)) => true,
            (Self::Agent(id), Subject::Agent(agent)) => id == agent,
            (Self::Resource(id), _) => resource == Some(id.as_str()),
            (Self::AllAgents | Self::Agent(_), Subject::Person(_)) => false,
        }
    }
}

impl fmt::Display for FreezeScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Agent(id) => write!(f, "agent {id}"),
            Self::AllAgents => f.write_str("all agents"),
            Self::Resource(id) => write!(f, "resource {id}"),
            Self::Everything => f.write_str("everything"),
        }
    }
}

/// One freeze: who set it and why, and, once lifted, who lifted it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    /// `FZ-` and 8 characters: the reference people quote.
    pub id: String,
    #[serde(flatten)]
    pub scope: FreezeScope,
    pub actor: String,
    pub reason: String,
    pub created_at: i64,
    /// How the freeze was confirmed beyond the admin's sign-in, when the policy asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
    pub lifted: Option<Lift>,
}

/// How a freeze ended: explicitly, by someone, for a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lift {
    pub by: String,
    pub reason: String,
    pub at: i64,
    /// How the lifting was confirmed (a passkey, or a local override), when the policy asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
}

impl Freeze {
    pub fn new_id() -> String {
        let code = uuid::Uuid::new_v4().simple().to_string()[..8].to_ascii_uppercase();
        format!("FZ-{code}")
    }

    /// Whether `s` has the shape of a freeze id (what a URL may echo back).
    pub fn looks_like_id(s: &str) -> bool {
        s.len() == 11
            && s.starts_with("FZ-")
            && s[3..]
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    }

    pub fn is_active(&self) -> bool {
        self.lifted.is_none()
    }

    /// What a chat user is told: the scope and a reference, not the admin's reason (which may
    /// name an incident the requester should not read).
    pub fn chat_notice(&self) -> String {
        format!(
            "New access is frozen for {} right now (freeze {}); nothing was changed. Try again once an admin lifts it.",
            self.scope, self.id
        )
    }
}

/// The first active freeze in `freezes` that covers a request for `subject` on `resource`.
pub fn covering<'f>(
    freezes: &'f [Freeze],
    subject: Subject<'_>,
    resource: Option<&str>,
) -> Option<&'f Freeze> {
    freezes
        .iter()
        .find(|f| f.is_active() && f.scope.covers(subject, resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Subject<'static> = Subject::Person("alice");
    const CI: Subject<'static> = Subject::Agent("ci-migrate");
    const BOT: Subject<'static> = Subject::Agent("docs-bot");

    #[test]
    fn one_agent_stops_that_agent_only() {
        let s = FreezeScope::Agent("ci-migrate".into());
        assert!(s.covers(CI, Some("staging-db")));
        assert!(s.covers(CI, None), "known before the resource is");
        assert!(!s.covers(BOT, Some("staging-db")));
        assert!(!s.covers(ALICE, Some("staging-db")));
        // A person whose directory id happens to read like the agent's is still a person.
        assert!(!s.covers(Subject::Person("ci-migrate"), Some("staging-db")));
    }

    #[test]
    fn all_agents_stops_every_agent_and_no_person() {
        let s = FreezeScope::AllAgents;
        assert!(s.covers(CI, None) && s.covers(BOT, Some("wiki")));
        assert!(!s.covers(ALICE, Some("wiki")));
    }

    #[test]
    fn one_resource_stops_everyone_on_it_once_it_is_known() {
        let s = FreezeScope::Resource("prod-billing-db".into());
        assert!(s.covers(ALICE, Some("prod-billing-db")));
        assert!(s.covers(CI, Some("prod-billing-db")));
        assert!(!s.covers(ALICE, Some("staging-db")));
        assert!(!s.covers(ALICE, None));
    }

    #[test]
    fn everything_stops_everyone() {
        let s = FreezeScope::Everything;
        assert!(s.covers(ALICE, None) && s.covers(CI, Some("wiki")));
    }

    #[test]
    fn scopes_parse_from_what_people_type_and_round_trip() {
        for scope in [
            FreezeScope::Agent("ci-migrate".into()),
            FreezeScope::AllAgents,
            FreezeScope::Resource("prod-billing-db".into()),
            FreezeScope::Everything,
        ] {
            let target = Some(scope.target()).filter(|t| !t.is_empty());
            assert_eq!(FreezeScope::parse(scope.kind(), target), Ok(scope));
        }
        assert_eq!(
            FreezeScope::parse("resource", Some("  wiki ")),
            Ok(FreezeScope::Resource("wiki".into()))
        );
        assert_eq!(
            FreezeScope::parse("everything", Some("")),
            Ok(FreezeScope::Everything)
        );
    }

    #[test]
    fn bad_scopes_are_refused_with_a_reason() {
        assert_eq!(
            FreezeScope::parse("agent", None),
            Err(FreezeScopeError::MissingTarget("one agent"))
        );
        assert_eq!(
            FreezeScope::parse("everything", Some("wiki")),
            Err(FreezeScopeError::UnexpectedTarget("everything"))
        );
        assert!(matches!(
            FreezeScope::parse("resource", Some("wiki; drop table")),
            Err(FreezeScopeError::BadTarget(_))
        ));
        assert!(matches!(
            FreezeScope::parse("people", None),
            Err(FreezeScopeError::UnknownKind(_))
        ));
    }

    #[test]
    fn only_active_freezes_cover_anything() {
        let mut lifted = freeze(FreezeScope::Everything);
        lifted.lifted = Some(Lift {
            by: "admin:root".into(),
            reason: "over".into(),
            at: 2,
            confirmation: None,
        });
        let wiki = freeze(FreezeScope::Resource("wiki".into()));
        let list = [lifted, wiki.clone()];
        assert_eq!(covering(&list, ALICE, Some("wiki")), Some(&wiki));
        assert_eq!(covering(&list, ALICE, Some("vpn")), None);
    }

    #[test]
    fn the_chat_notice_names_the_scope_and_reference_but_not_the_reason() {
        let mut f = freeze(FreezeScope::Resource("wiki".into()));
        f.reason = "INC-99 credential leak".into();
        let text = f.chat_notice();
        assert!(
            text.contains("resource wiki") && text.contains(&f.id),
            "{text}"
        );
        assert!(!text.contains("INC-99"), "{text}");
    }

    fn freeze(scope: FreezeScope) -> Freeze {
        Freeze {
            id: Freeze::new_id(),
            scope,
            actor: "admin:root".into(),
            reason: "test".into(),
            created_at: 1,
            confirmation: None,
            lifted: None,
        }
    }
}
