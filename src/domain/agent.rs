//! The agent registry: non-human requesters, each with a human owner, a workload binding and a ceiling.
//!
//! Loaded from a TOML file like the catalog and validated against it. No I/O: whether each
//! owner is a person in the directory is checked where the directory is at hand
//! (`warden config check`).

use super::Catalog;
use super::catalog::duration_secs;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// A grant an agent gets when its entry says nothing: short, because an agent's task is.
pub const DEFAULT_AGENT_MAX_DURATION_SECS: u64 = 15 * 60;

/// The JWS algorithms a workload token may be signed with: asymmetric only. `none` and the HMAC
/// family are not representable here, so no configuration can allow them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl TokenAlgorithm {
    pub const ALL: [TokenAlgorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm a token header names, if it is one of the allowed kind.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

fn default_algorithms() -> Vec<TokenAlgorithm> {
    vec![TokenAlgorithm::RS256, TokenAlgorithm::ES256]
}

/// Which workload tokens are this agent's: the issuer, the audience, the subject (its identity
/// at the issuer) and further claims that must match exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadBinding {
    /// The OIDC issuer, exactly as the token's `iss` (discovery is read from it).
    pub issuer: String,
    /// The token's `aud` must contain this (Warden's URL for the agent API, by convention).
    pub audience: String,
    /// The token's `sub`: a GitHub Actions subject, `system:serviceaccount:NS:NAME`, a SPIFFE ID.
    pub subject: String,
    /// More claims that must match exactly. A key with `/` is a path into nested claims:
    /// `"kubernetes.io/namespace"`, `"kubernetes.io/serviceaccount/name"`.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    /// Signature algorithms accepted from this issuer.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<TokenAlgorithm>,
}

impl WorkloadBinding {
    /// The names of required claims the verified `claims` lack or hold another value for.
    pub fn mismatches(&self, claims: &serde_json::Value) -> Vec<String> {
        self.claims
            .iter()
            .filter(|(path, want)| claim_at(claims, path) != Some(want.as_str()))
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// A string claim at a `/`-separated path ("kubernetes.io/serviceaccount/name").
pub fn claim_at<'a>(claims: &'a serde_json::Value, path: &str) -> Option<&'a str> {
    if let Some(v) = claims.get(path) {
        return v.as_str();
    }
    path.split('/')
        .try_fold(claims, |v, key| v.get(key))?
        .as_str()
}

/// What an agent may ever ask for: roles on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CeilingEntry {
    pub resource: String,
    pub roles: Vec<String>,
}

/// One registered agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub id: String,
    pub name: String,
    /// Directory id of the accountable person: approves its risky requests, is told of its grants.
    pub owner: String,
    pub workload: WorkloadBinding,
    #[serde(default)]
    pub ceiling: Vec<CeilingEntry>,
    #[serde(default = "default_max_duration", with = "duration_secs")]
    pub max_duration: u64,
    #[serde(default = "one")]
    pub max_concurrent_grants: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_max_duration() -> u64 {
    DEFAULT_AGENT_MAX_DURATION_SECS
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

impl Agent {
    /// Whether the ceiling includes `role` on `resource`.
    pub fn within_ceiling(&self, resource: &str, role: &str) -> bool {
        self.ceiling
            .iter()
            .any(|c| c.resource == resource && c.roles.iter().any(|r| r == role))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentRegistryError {
    #[error("agent registry is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("agent '{0}' is defined twice")]
    Duplicate(String),
    #[error("agent '{id}': {why}")]
    Invalid { id: String, why: String },
    #[error("agents '{first}' and '{second}' have the same issuer and subject")]
    SameIdentity { first: String, second: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(rename = "agent", default)]
    agents: Vec<Agent>,
}

/// The loaded, validated registry.
#[derive(Debug, Clone, Default)]
pub struct AgentRegistry {
    agents: Vec<Agent>,
}

impl AgentRegistry {
    /// Parses and validates against the catalog: every ceiling names a catalog resource and
    /// roles it has, and no two agents share one workload identity.
    pub fn from_toml(text: &str, catalog: &Catalog) -> Result<Self, AgentRegistryError> {
        let file: RegistryFile = toml::from_str(text)?;
        let mut ids = HashSet::new();
        for a in &file.agents {
            if !ids.insert(a.id.as_str()) {
                return Err(AgentRegistryError::Duplicate(a.id.clone()));
            }
            validate(a, catalog).map_err(|why| AgentRegistryError::Invalid {
                id: a.id.clone(),
                why,
            })?;
        }
        for (i, a) in file.agents.iter().enumerate() {
            if let Some(b) = file.agents[..i].iter().find(|b| {
                b.workload.issuer == a.workload.issuer && b.workload.subject == a.workload.subject
            }) {
                return Err(AgentRegistryError::SameIdentity {
                    first: b.id.clone(),
                    second: a.id.clone(),
                });
            }
        }
        Ok(Self {
            agents: file.agents,
        })
    }

    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id)
    }

    /// The agent a workload identity belongs to: issuer and subject, exactly.
    pub fn by_identity(&self, issuer: &str, subject: &str) -> Option<&Agent> {
        self.agents
            .iter()
            .find(|a| a.workload.issuer == issuer && a.workload.subject == subject)
    }

    /// The distinct issuers agents are bound to, in registry order.
    pub fn issuers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in &self.agents {
            if !out.contains(&a.workload.issuer.as_str()) {
                out.push(&a.workload.issuer);
            }
        }
        out
    }

    /// Whether any agent is bound to this issuer.
    pub fn knows_issuer(&self, issuer: &str) -> bool {
        self.agents.iter().any(|a| a.workload.issuer == issuer)
    }
}

fn validate(a: &Agent, catalog: &Catalog) -> Result<(), String> {
    let id_ok = !a.id.is_empty()
        && a.id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !id_ok {
        return Err("the id must be lower-case letters, digits, '-' or '_'".into());
    }
    if a.name.trim().is_empty() {
        return Err("a display name is required".into());
    }
    if a.owner.trim().is_empty() {
        return Err("an owner (a directory person) is required".into());
    }
    let w = &a.workload;
    let issuer =
        url::Url::parse(&w.issuer).map_err(|e| format!("workload.issuer is not a URL: {e}"))?;
    if issuer.query().is_some() || issuer.fragment().is_some() {
        return Err("workload.issuer must have no query or fragment".into());
    }
    if w.audience.trim().is_empty() || w.subject.trim().is_empty() {
        return Err("workload.audience and workload.subject are required".into());
    }
    if w.algorithms.is_empty() {
        return Err("workload.algorithms must list at least one algorithm".into());
    }
    if let Some(k) = w.claims.keys().find(|k| {
        matches!(
            k.as_str(),
            "iss" | "aud" | "sub" | "exp" | "nbf" | "iat" | "jti"
        )
    }) {
        return Err(format!(
            "workload.claims may not set '{k}': it is checked by its own rule"
        ));
    }
    if a.max_duration == 0 {
        return Err("max_duration must be positive".into());
    }
    if a.max_concurrent_grants == 0 {
        return Err("max_concurrent_grants must be at least 1".into());
    }
    if a.ceiling.is_empty() {
        return Err("the ceiling is empty: list the resources and roles it may ask for".into());
    }
    for c in &a.ceiling {
        let r = catalog.get(&c.resource).ok_or_else(|| {
            format!(
                "ceiling names '{}', which is not in the catalog",
                c.resource
            )
        })?;
        if c.roles.is_empty() {
            return Err(format!("ceiling for '{}' lists no roles", c.resource));
        }
        if let Some(role) = c.roles.iter().find(|role| r.role(role).is_none()) {
            return Err(format!(
                "ceiling role '{role}' is not a role of '{}'",
                c.resource
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
