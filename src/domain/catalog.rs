//! The catalog: what can be requested, its roles, owners, risk, limits and grant backend.

mod names;

use names::{MAX_EDITS, NameIndex};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    Low,
    Medium,
    High,
    Critical,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

/// A role on a resource; a role may raise the resource's risk and lower its maximum duration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    pub name: String,
    #[serde(default)]
    pub risk: Option<Risk>,
    #[serde(default, with = "opt_duration")]
    pub max_duration: Option<u64>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum RoleInput {
    Name(String),
    Spec(RoleSpec),
}

fn roles_from_input<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RoleSpec>, D::Error> {
    let raw = Vec::<RoleInput>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|r| match r {
            RoleInput::Name(name) => RoleSpec {
                name,
                risk: None,
                max_duration: None,
                aliases: vec![],
            },
            RoleInput::Spec(spec) => spec,
        })
        .collect())
}

/// Which grant backend applies to a resource, with its backend-specific parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantTarget {
    /// Backend name: `log`, `webhook`, `slack_usergroup`, `discord_role`, …
    pub backend: String,
    /// Backend-specific (a user group id, a role id per role, a webhook target name).
    #[serde(flatten)]
    pub params: HashMap<String, toml::Value>,
}

impl Default for GrantTarget {
    fn default() -> Self {
        Self {
            backend: "log".into(),
            params: HashMap::new(),
        }
    }
}

impl GrantTarget {
    /// A parameter for one role (`params.roles.<role>`) falling back to a resource-wide one.
    pub fn param_for_role(&self, key: &str, role: &str) -> Option<String> {
        let per_role = self
            .params
            .get("roles")
            .and_then(|r| r.get(role))
            .and_then(|v| v.get(key).or(Some(v)));
        per_role
            .and_then(|v| v.as_str().map(str::to_string))
            .or_else(|| {
                self.params
                    .get(key)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(deserialize_with = "roles_from_input")]
    pub roles: Vec<RoleSpec>,
    /// Directory ids of the owners.
    #[serde(default)]
    pub owners: Vec<String>,
    pub risk: Risk,
    #[serde(with = "duration_secs")]
    pub max_duration: u64,
    #[serde(default, with = "opt_duration")]
    pub default_duration: Option<u64>,
    #[serde(default)]
    pub grant: GrantTarget,
    /// What drift reconciliation does here: `off`, `report` (the default) or `revoke`.
    #[serde(default)]
    pub reconcile: super::drift::ReconcileMode,
    /// Post approval cards here (a channel id per platform) instead of approvers' DMs.
    #[serde(default)]
    pub approval_channel: HashMap<String, String>,
    /// The policy may allow self-activation in an emergency for this resource.
    #[serde(default)]
    pub break_glass: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The services this resource belongs to (`billing`): an engineer on call for one of them
    /// may get it faster, as the policy decides (README, "On-call").
    #[serde(default)]
    pub services: Vec<String>,
}

impl Resource {
    pub fn role(&self, name: &str) -> Option<&RoleSpec> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The effective risk of a role on this resource.
    pub fn risk_for(&self, role: &str) -> Risk {
        self.role(role)
            .and_then(|r| r.risk)
            .map_or(self.risk, |r| r.max(self.risk))
    }

    /// The effective maximum duration for a role.
    pub fn max_duration_for(&self, role: &str) -> u64 {
        self.role(role)
            .and_then(|r| r.max_duration)
            .map_or(self.max_duration, |m| m.min(self.max_duration))
    }

    pub fn default_duration(&self) -> u64 {
        self.default_duration.unwrap_or(3600).min(self.max_duration)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("catalog resource '{0}' is defined twice")]
    Duplicate(String),
    #[error("catalog name or alias '{alias}' is used by both '{first}' and '{second}'")]
    AmbiguousAlias {
        alias: String,
        first: String,
        second: String,
    },
    #[error("catalog resource '{0}' has no roles")]
    NoRoles(String),
    #[error("catalog resource '{0}' has a zero maximum duration")]
    ZeroDuration(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(rename = "resource", default)]
    resources: Vec<Resource>,
}

/// How a name a person typed matched the catalog.
#[derive(Debug, Clone, PartialEq)]
pub enum Match<'a, T> {
    Exact(&'a T),
    /// Close to one entry but not exact (a typo): ask before using it.
    Probable(&'a T),
    /// Close to several: ask which one.
    Ambiguous(Vec<&'a T>),
    None,
}

/// The loaded, validated catalog with a name/alias index.
#[derive(Debug, Clone)]
pub struct Catalog {
    resources: Vec<Resource>,
    index: HashMap<String, usize>,
    names: NameIndex,
    /// Unique to each catalog built in this process (a clone keeps it: same content), so what
    /// was worked out against one catalog is never taken for another's.
    generation: u64,
}

static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// Lower-case and fold separators so "Prod Billing-DB" and "prod_billing db" meet.
pub fn normalize(name: &str) -> String {
    name.trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c == '_' || c == '-' || c == '.' || c == '/' {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

impl Catalog {
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        let file: CatalogFile = toml::from_str(text)?;
        Self::new(file.resources)
    }

    pub fn new(resources: Vec<Resource>) -> Result<Self, CatalogError> {
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, r) in resources.iter().enumerate() {
            if r.roles.is_empty() {
                return Err(CatalogError::NoRoles(r.id.clone()));
            }
            if r.max_duration == 0 {
                return Err(CatalogError::ZeroDuration(r.id.clone()));
            }
            if resources[..i].iter().any(|o| o.id == r.id) {
                return Err(CatalogError::Duplicate(r.id.clone()));
            }
            let names = std::iter::once(&r.id)
                .chain(std::iter::once(&r.name))
                .chain(r.aliases.iter());
            for name in names {
                let key = normalize(name);
                match index.get(&key) {
                    Some(&j) if j != i => {
                        return Err(CatalogError::AmbiguousAlias {
                            alias: name.clone(),
                            first: resources[j].id.clone(),
                            second: r.id.clone(),
                        });
                    }
                    _ => {
                        index.insert(key, i);
                    }
                }
            }
        }
        Ok(Self {
            names: NameIndex::new(&index),
            resources,
            index,
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
        })
    }

    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    pub fn len(&self) -> usize {
        self.resources.len()
    }

    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// The resource with exactly this id.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }

    /// Exact id, name or alias (after normalisation), no guessing.
    pub fn lookup(&self, name: &str) -> Option<&Resource> {
        self.index
            .get(&normalize(name))
            .map(|&i| &self.resources[i])
    }

    /// Exact match first, then typo tolerance over names and aliases.
    pub fn find(&self, name: &str) -> Match<'_, Resource> {
        if let Some(r) = self.lookup(name) {
            return Match::Exact(r);
        }
        let key = normalize(name);
        if key.len() < 3 {
            return Match::None;
        }
        // Only names of a length and characters within reach are compared: the work per lookup
        // depends on the catalog, never on how long the typed text is.
        let mut close: Vec<usize> = Vec::new();
        for (alias, i) in self.names.candidates(&key) {
            if !close.contains(&i) && is_close(&key, alias) {
                close.push(i);
            }
        }
        close.sort_unstable();
        match close.as_slice() {
            [] => Match::None,
            [i] => Match::Probable(&self.resources[*i]),
            many => Match::Ambiguous(many.iter().map(|&i| &self.resources[i]).collect()),
        }
    }

    /// Whether some name or alias starts with this normalised word: an n-gram starting with
    /// any other word cannot be a name.
    pub fn starts_a_name(&self, word: &str) -> bool {
        self.names.starts_a_name(word)
    }

    /// The most words in a normalised name or alias.
    pub fn max_name_words(&self) -> usize {
        self.names.max_words()
    }

    /// Unique to this catalog's content in this process (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The index entries (normalised names and aliases), for candidate search.
    pub fn names(&self) -> impl Iterator<Item = (&str, &Resource)> {
        self.index
            .iter()
            .map(|(k, &i)| (k.as_str(), &self.resources[i]))
    }
}

/// Resolves a role name on a resource: exact or alias first, then one typo.
pub fn find_role<'a>(resource: &'a Resource, name: &str) -> Match<'a, RoleSpec> {
    let key = normalize(name);
    let exact = resource
        .roles
        .iter()
        .find(|r| normalize(&r.name) == key || r.aliases.iter().any(|a| normalize(a) == key));
    if let Some(r) = exact {
        return Match::Exact(r);
    }
    let close: Vec<&RoleSpec> = resource
        .roles
        .iter()
        .filter(|r| key.len() >= 3 && is_close(&key, &normalize(&r.name)))
        .collect();
    match close.as_slice() {
        [] => Match::None,
        [r] => Match::Probable(r),
        _ => Match::Ambiguous(close),
    }
}

/// One or two edits apart, scaled to length, so "biling db" meets "billing db" but "db" meets nothing.
fn is_close(a: &str, b: &str) -> bool {
    let budget = if a.len().max(b.len()) >= 8 {
        MAX_EDITS
    } else {
        1
    };
    a.chars().count().abs_diff(b.chars().count()) <= budget
        && strsim::damerau_levenshtein(a, b) <= budget
}

/// Serde helpers: durations written as "8h" in files, seconds in memory.
pub(crate) mod duration_secs {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::domain::format_duration(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        crate::domain::parse_duration(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("'{s}' is not a duration (try \"8h\")"))
        })
    }
}

pub(crate) mod opt_duration {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::duration_secs::serialize(v, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => crate::domain::parse_duration(&s).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("'{s}' is not a duration (try \"8h\")"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[[resource]]
id = "prod-billing-db"
name = "Production billing database"
aliases = ["billing db", "prod-db"]
roles = ["read", { name = "write", risk = "critical", max_duration = "2h" }]
owners = ["dana"]
risk = "high"
max_duration = "8h"

[[resource]]
id = "staging-db"
name = "Staging database"
roles = ["read", "write"]
risk = "low"
max_duration = "1d"
"#;

    #[test]
    fn loads_and_resolves_aliases_and_typos() {
        let c = Catalog::from_toml(SAMPLE).unwrap();
        assert_eq!(c.lookup("Prod_DB").unwrap().id, "prod-billing-db");
        assert!(matches!(c.find("biling db"), Match::Probable(r) if r.id == "prod-billing-db"));
        assert!(matches!(c.find("db"), Match::None));
        assert!(matches!(c.find("nothing like it"), Match::None));
    }

    #[test]
    fn roles_raise_risk_and_lower_limits() {
        let c = Catalog::from_toml(SAMPLE).unwrap();
        let r = c.get("prod-billing-db").unwrap();
        assert_eq!(r.risk_for("write"), Risk::Critical);
        assert_eq!(r.risk_for("read"), Risk::High);
        assert_eq!(r.max_duration_for("write"), 7200);
        assert_eq!(r.max_duration_for("read"), 8 * 3600);
        assert!(matches!(find_role(r, "wrte"), Match::Probable(s) if s.name == "write"));
    }

    #[test]
    fn rejects_an_alias_used_twice() {
        let bad = SAMPLE.replace(
            "roles = [\"read\", \"write\"]",
            "aliases = [\"billing db\"]\nroles = [\"read\"]",
        );
        assert!(matches!(
            Catalog::from_toml(&bad),
            Err(CatalogError::AmbiguousAlias { .. })
        ));
    }

    #[test]
    fn rejects_unknown_keys_and_bad_durations() {
        assert!(
            Catalog::from_toml(&SAMPLE.replace("risk = \"low\"", "risk = \"low\"\nownr = []"))
                .is_err()
        );
        assert!(Catalog::from_toml(&SAMPLE.replace("\"1d\"", "\"forever\"")).is_err());
    }
}
