//! `[agents]`: the agent registry, how workload tokens are checked, the MCP resource.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

/// The agent registry and how workload tokens are checked (`[agents]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsSettings {
    /// Agent registry TOML (see `agents.example.toml`). Unset: no agents, the agent API refuses all.
    pub file: Option<PathBuf>,
    /// Clock skew tolerated on a token's `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// How long an issuer's JWKS is used before it is fetched again, in seconds.
    pub jwks_cache_secs: u64,
    /// The least time between two fetches of one issuer's JWKS caused by unknown `kid`s, so
    /// tokens with made-up key ids cannot turn Warden into a load on the issuer.
    pub jwks_min_refresh_secs: u64,
    /// Limit for one discovery or JWKS fetch, in milliseconds.
    pub fetch_timeout_ms: u64,
    /// 64 hex digits (`openssl rand -hex 32`): seals a login a grant makes for an agent until
    /// its first status read takes it. A secret: set it from `WARDEN__AGENTS__CREDENTIAL_KEY`.
    /// Required when an agent's ceiling names a resource whose backend makes logins.
    pub credential_key: Option<SecretString>,
    /// The MCP server's canonical URL (`https://warden.example.com/mcp`): the `resource` of the
    /// protected-resource metadata and the audience every token presented at `/mcp` must carry.
    /// Unset: no MCP server (`/mcp` and the metadata answer 404).
    pub mcp_resource: Option<String>,
}

impl Default for AgentsSettings {
    fn default() -> Self {
        Self {
            file: None,
            leeway_secs: 30,
            jwks_cache_secs: 600,
            jwks_min_refresh_secs: 30,
            fetch_timeout_ms: 5000,
            credential_key: None,
            mcp_resource: None,
        }
    }
}
