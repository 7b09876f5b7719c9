//! Admin API tokens: random bearer secrets stored only as SHA-256 hashes, each with a role.
//!
//! The tokens file (`admin.tokens_file`) is TOML:
//! ```toml
//! [[token]]
//! name = "ops-laptop"
//! role = "admin"            # admin | viewer | requester
//! person = "dana"           # directory id; required for requesters, optional otherwise
//! hash = "sha256:<hex>"
//! ```

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

/// What a signed-in token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything and revokes grants.
    Admin,
    /// Reads everything.
    Viewer,
    /// Reads only their own requests.
    Requester,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            "requester" => Some(Role::Requester),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
            Role::Requester => "requester",
        }
    }
}

/// One entry of the tokens file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    pub person: Option<String>,
    pub hash: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

/// Who is acting: the token's name, its role and the directory person it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub person: Option<String>,
}

impl Principal {
    /// How this principal appears as an actor in a context log.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.name)
    }

    pub fn can_revoke(&self) -> bool {
        self.role == Role::Admin
    }

    /// Requesters see their own requests only; everyone else sees all.
    pub fn may_read(&self, requester_id: &str) -> bool {
        match self.role {
            Role::Requester => self.person.as_deref() == Some(requester_id),
            Role::Admin | Role::Viewer => true,
        }
    }
}

/// The loaded tokens. Empty when no file is configured: then nobody signs in.
#[derive(Debug, Clone, Default)]
pub struct TokenSet {
    entries: Vec<TokenEntry>,
}

impl TokenSet {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Failed to read admin.tokens_file {}", path.display()))?;
        Self::from_toml(&text)
            .with_context(|| format!("Invalid admin.tokens_file {}", path.display()))
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let file: TokensFile = toml::from_str(text)?;
        for t in &file.token {
            anyhow::ensure!(!t.name.trim().is_empty(), "a token has an empty name");
            anyhow::ensure!(
                parse_hash(&t.hash).is_some(),
                "token '{}': hash must be \"sha256:<64 hex digits>\"",
                t.name
            );
            anyhow::ensure!(
                t.role != Role::Requester || t.person.is_some(),
                "token '{}': a requester token needs person = \"<directory id>\"",
                t.name
            );
        }
        let mut names: Vec<&str> = file.token.iter().map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        anyhow::ensure!(
            names.windows(2).all(|w| w[0] != w[1]),
            "token names must be unique"
        );
        Ok(Self {
            entries: file.token,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The principal for a presented secret, if it matches a stored hash.
    pub fn authenticate(&self, secret: &str) -> Option<Principal> {
        let presented = Sha256::digest(secret.trim().as_bytes());
        let mut found = None;
        // Compare against every entry so the time taken does not say which one matched.
        for e in &self.entries {
            if let Some(stored) = parse_hash(&e.hash)
                && constant_time_eq(&stored, presented.as_slice())
            {
                found = Some(principal(e));
            }
        }
        found
    }

    /// The current principal for a token name, with the token's stored hash (sessions
    /// re-check both on every request: a token removed or rotated ends its sessions).
    pub fn by_name(&self, name: &str) -> Option<(Principal, &str)> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| (principal(e), e.hash.as_str()))
    }

    /// The principal for a presented secret, with the token's stored hash.
    pub fn authenticate_with_hash(&self, secret: &str) -> Option<(Principal, String)> {
        let p = self.authenticate(secret)?;
        let (_, hash) = self.by_name(&p.name)?;
        Some((p, hash.to_string()))
    }
}

fn principal(e: &TokenEntry) -> Principal {
    Principal {
        name: e.name.clone(),
        role: e.role,
        person: e.person.clone(),
    }
}

fn parse_hash(s: &str) -> Option<Vec<u8>> {
    let hex_part = s.strip_prefix("sha256:")?;
    let bytes = hex::decode(hex_part).ok()?;
    (bytes.len() == 32).then_some(bytes)
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token (shown once) and the hash to store.
pub fn generate() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = format!("wdn_{}", hex::encode(bytes));
    let hash = format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())));
    (token, hash)
}

/// The lines to append to the tokens file for a new token.
pub fn file_entry(name: &str, role: Role, person: Option<&str>, hash: &str) -> String {
    let mut out = format!(
        "[[token]]\nname = {}\nrole = \"{}\"\n",
        toml_str(name),
        role.as_str()
    );
    if let Some(p) = person {
        out.push_str(&format!("person = {}\n", toml_str(p)));
    }
    out.push_str(&format!("hash = \"{hash}\"\n"));
    out
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_authenticates_through_the_line_printed_for_the_file() {
        let (token, hash) = generate();
        let set = TokenSet::from_toml(&file_entry("ops", Role::Viewer, None, &hash)).unwrap();
        let p = set
            .authenticate(&token)
            .expect("the token matches its own hash");
        assert_eq!((p.name.as_str(), p.role), ("ops", Role::Viewer));
        assert!(set.authenticate("wdn_not-the-token").is_none());
        assert!(
            !token.contains(hash.trim_start_matches("sha256:")),
            "the file holds only the hash"
        );
    }

    #[test]
    fn a_requester_token_without_a_person_is_rejected() {
        let (_, hash) = generate();
        let err =
            TokenSet::from_toml(&file_entry("alice", Role::Requester, None, &hash)).unwrap_err();
        assert!(format!("{err:#}").contains("needs person"), "{err:#}");
    }

    #[test]
    fn a_malformed_hash_or_a_duplicate_name_is_rejected() {
        assert!(
            TokenSet::from_toml("[[token]]\nname = \"a\"\nrole = \"admin\"\nhash = \"md5:00\"\n")
                .is_err()
        );
        let (_, h) = generate();
        let twice = format!(
            "{}{}",
            file_entry("a", Role::Admin, None, &h),
            file_entry("a", Role::Viewer, None, &h)
        );
        assert!(TokenSet::from_toml(&twice).is_err());
    }

    #[test]
    fn requesters_may_read_only_their_own_requests() {
        let p = Principal {
            name: "alice".into(),
            role: Role::Requester,
            person: Some("alice".into()),
        };
        assert!(p.may_read("alice") && !p.may_read("bob") && !p.can_revoke());
        let v = Principal {
            name: "v".into(),
            role: Role::Viewer,
            person: None,
        };
        assert!(v.may_read("bob") && !v.can_revoke());
    }
}
