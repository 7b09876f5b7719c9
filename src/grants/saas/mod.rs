//! Group and team membership on SaaS targets (Okta, Microsoft Entra ID, GitHub): the person's
//! account on the target, the catalog's group for a role, and the rules the three share.
//!
//! A grant adds the person's target account to the catalog's group; its receipt names that
//! account (`holder`), and the revoke removes exactly that account, whatever the directory
//! says by then. Adding a member who is there and removing one who is gone both succeed.

pub mod api;
pub mod entra;
pub mod github;
pub mod okta;
pub mod setup;
pub mod token;

use super::{GrantCall, GrantError, TargetIdentity};
use crate::domain::{Person, Resource};
use std::collections::HashMap;

/// How the person is named on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// The explicit id from the directory (`target_ids.<target>`): a user id, login or UPN.
    Id(String),
    /// Their email, for targets that can find a user by it.
    Email(String),
}

impl Account {
    pub fn as_str(&self) -> &str {
        match self {
            Account::Id(s) | Account::Email(s) => s,
        }
    }
}

/// The person's account on `target`: the explicit id first, then the email where the target
/// can look users up by it.
pub fn account(identity: &TargetIdentity, target: &str, by_email: bool) -> Option<Account> {
    if let Some(id) = identity.ids.get(target).filter(|s| !s.trim().is_empty()) {
        return Some(Account::Id(id.trim().to_string()));
    }
    identity
        .email
        .as_ref()
        .filter(|e| by_email && e.contains('@'))
        .map(|e| Account::Email(e.trim().to_string()))
}

/// `check_person` for membership targets: refused before approval when the directory gives no
/// account on the target.
pub fn check_account(
    person: &Person,
    target: &str,
    label: &str,
    by_email: bool,
) -> Result<(), String> {
    match account(&TargetIdentity::of(person), target, by_email) {
        Some(_) => Ok(()),
        None if by_email => Err(format!(
            "You have no {label} account on record (no email or `{target}` id in the directory), so this access cannot be granted. Ask an admin to add it."
        )),
        None => Err(format!(
            "You have no {label} account on record (no `{target}` id in the directory), so this access cannot be granted. Ask an admin to add it."
        )),
    }
}

/// The account a revoke removes: the one the grant recorded. A compensating revoke whose grant
/// never answered has no record, and falls back to the identity the workflow gives it.
pub enum RevokeTarget {
    Holder(String),
    Lookup(Account),
}

pub fn revoke_target(
    call: &GrantCall,
    target: &str,
    by_email: bool,
) -> Result<RevokeTarget, GrantError> {
    if let Some(h) = call.grant.as_ref().and_then(|g| g.holder.clone()) {
        return Ok(RevokeTarget::Holder(h));
    }
    account(&call.identity, target, by_email)
        .map(RevokeTarget::Lookup)
        .ok_or_else(|| {
            GrantError::Permanent(format!(
                "no {target} account recorded on the grant to revoke; remove the membership by hand"
            ))
        })
}

/// The catalog's group (or team) for the call's role: `<table>.<role>` when the catalog maps
/// roles to groups, else the single `<key>`.
pub fn group_for(
    params: &HashMap<String, toml::Value>,
    role: &str,
    key: &str,
    table: &str,
) -> Option<String> {
    params
        .get(table)
        .and_then(|t| t.get(role))
        .or_else(|| params.get(key))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .filter(|s| !s.is_empty())
}

/// Every group a resource names (for `holders`): the single one or all of the role table's.
pub fn groups_of(resource: &Resource, key: &str, table: &str) -> Vec<String> {
    let p = &resource.grant.params;
    let mut out: Vec<String> = match p.get(table).and_then(|t| t.as_table()) {
        Some(t) => t
            .values()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        None => p
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .into_iter()
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

/// A catalog entry missing what the backend needs: permanent (an admin must fix the catalog).
pub fn misconfigured(backend: &str, why: &str) -> GrantError {
    GrantError::Permanent(format!("{backend} grant misconfigured: {why}"))
}

/// One path segment, percent-encoded (emails carry `@` and `+`; ids must not add segments).
pub fn segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_explicit_id_wins_and_email_only_where_the_target_takes_it() {
        let mut id = TargetIdentity {
            email: Some("a@example.com".into()),
            ids: Default::default(),
        };
        assert_eq!(
            account(&id, "okta", true),
            Some(Account::Email("a@example.com".into()))
        );
        assert_eq!(account(&id, "github", false), None);
        id.ids.insert("github".into(), "Octo-Cat".into());
        assert_eq!(
            account(&id, "github", false),
            Some(Account::Id("Octo-Cat".into()))
        );
    }

    #[test]
    fn roles_map_to_groups_or_one_group_serves_all() {
        let t: toml::Table = toml::from_str(
            r#"group_id = "g0"
groups = { read = "g1", admin = "g2" }"#,
        )
        .unwrap();
        let p: HashMap<String, toml::Value> = t.into_iter().collect();
        assert_eq!(
            group_for(&p, "read", "group_id", "groups").as_deref(),
            Some("g1")
        );
        assert_eq!(
            group_for(&p, "other", "group_id", "groups").as_deref(),
            Some("g0")
        );
        assert_eq!(segment("a+b@x.com/../y"), "a%2Bb%40x.com%2F..%2Fy");
    }
}
