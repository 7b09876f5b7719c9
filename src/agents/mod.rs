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
use crate::domain::AgentRegistry;
use crate::http_client::{HttpOptions, client};
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
