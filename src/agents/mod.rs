//! Agents as requesters: workload-token authentication, the agent operations and the agent HTTP API.
//!
//! An inbound adapter like the chat adapters: it turns a verified workload token into an agent
//! identity for the engine and never touches the store.

pub mod api;
pub mod jwks;
pub mod mcp;
pub mod service;
pub mod verify;
pub mod view;

pub use jwks::{JwksCache, JwksOptions};
pub use service::{AgentApiError, AgentService};
pub use verify::{Audience, AuthError, VerifiedAgent, WorkloadVerifier};
pub use view::AgentRequestView;

use crate::config::Settings;
use crate::domain::{AgentRegistry, Catalog, SealingKey};
use crate::http_client::{HttpOptions, client};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// The issuers' key cache with the settings' bounds and transport rule, shared by every verifier
/// so the agent API and the MCP server fetch an issuer's keys once.
pub fn jwks(s: &Settings) -> anyhow::Result<Arc<JwksCache>> {
    let http = client(HttpOptions::new(Duration::from_millis(
        s.agents.fetch_timeout_ms,
    )))?;
    Ok(Arc::new(JwksCache::new(
        http,
        JwksOptions {
            cache_for: Duration::from_secs(s.agents.jwks_cache_secs),
            min_refresh: Duration::from_secs(s.agents.jwks_min_refresh_secs),
        },
        s.transport.allow_http_hosts.clone(),
    )))
}

/// The agent API's verifier for a loaded registry (each agent's own audience).
pub fn verifier(
    s: &Settings,
    registry: Arc<AgentRegistry>,
    jwks: Arc<JwksCache>,
) -> WorkloadVerifier {
    WorkloadVerifier::new(registry, jwks, s.agents.leeway_secs)
}

/// The key agents' credentials are sealed with, when `agents.credential_key` is set.
pub fn credential_key(s: &Settings) -> anyhow::Result<Option<Arc<SealingKey>>> {
    s.agents
        .credential_key
        .as_ref()
        .map(|k| {
            SealingKey::parse(k.expose_secret())
                .map(Arc::new)
                .map_err(|e| anyhow::anyhow!("agents.credential_key: {e}"))
        })
        .transpose()
}

/// Agents that may ask for a resource whose backend makes a login while no key is set to seal
/// it for them: the login could not be handed over, so the configuration is refused.
pub fn credential_problems(s: &Settings, agents: &AgentRegistry, catalog: &Catalog) -> Vec<String> {
    if s.agents.credential_key.is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for a in agents.agents() {
        for entry in &a.ceiling {
            let makes_login = catalog.get(&entry.resource).is_some_and(|r| {
                crate::grants::database::makes_login(&r.grant.backend, &r.grant.params)
            });
            if makes_login {
                out.push(format!(
                    "agent '{}' may ask for {}, whose grant backend makes a login, but agents.credential_key is not set (WARDEN__AGENTS__CREDENTIAL_KEY, 64 hex digits: `openssl rand -hex 32`), so it could not be handed to the agent; set it or take {} out of the agent's ceiling",
                    a.id, entry.resource, entry.resource
                ));
            }
        }
    }
    out
}
