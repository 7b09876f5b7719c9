//! The MCP tools (request, check, release and list access): typed inputs, each a thin call into `AgentService`.
//!
//! Every answer is structured content (the same view the agent API returns, with `next` worded
//! for MCP); a refused call is a tool error (`isError`) with a stable code and what to do
//! instead, so a model reads why rather than retrying blindly.

use crate::agents::VerifiedAgent;
use crate::agents::api::{Classified, classify};
use crate::agents::service::{AgentApiError, AgentService, Caller, MAX_WAIT_SECS};
use crate::domain::AgentAsk;
use crate::domain::agent_ask::AskDuration;
use axum::http::header;
use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

/// Input of `request_access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestAccess {
    /// Catalog id of the resource, e.g. "staging-db".
    pub resource: String,
    /// One of the resource's roles, e.g. "read".
    pub role: String,
    /// How long the access is needed, e.g. "30m", "2h" or "1h30m"; at most this agent's maximum.
    pub duration: String,
    /// What the access is for, in a sentence; the approver reads it.
    pub task: String,
    /// A ticket or incident reference, e.g. "INC-4411".
    #[serde(default)]
    pub ticket: Option<String>,
    /// Makes a retried call safe: the same key with the same ask answers with the first request.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Input of `check_access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckAccess {
    /// The request id `request_access` returned (task.id).
    pub id: String,
    /// Wait up to this many seconds (at most 30) for the request's state to change.
    #[serde(default)]
    pub wait_secs: Option<u64>,
}

/// Input of `release_access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseAccess {
    /// The request id whose access to end now.
    pub id: String,
}

/// Input of `list_access`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListAccess {
    /// Only requests in this state, e.g. "active" or "pending_approval".
    #[serde(default)]
    pub state: Option<String>,
}

/// The tool server one `/mcp` request is answered by (stateless: one per request).
#[derive(Clone)]
pub struct WardenTools {
    service: AgentService,
    tool_router: ToolRouter<Self>,
}

/// The agent the `/mcp` middleware verified; failing that (a route without the middleware),
/// the header, verified by the service.
fn caller(parts: &Parts) -> Caller<'_> {
    match parts.extensions.get::<VerifiedAgent>() {
        Some(who) => Caller::Verified(who),
        None => Caller::Header(
            parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok()),
        ),
    }
}

#[tool_router]
impl WardenTools {
    pub fn new(service: AgentService) -> Self {
        Self {
            service,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Ask for time-bound access to a resource for one task. Low-risk access inside this agent's ceiling may be granted at once; otherwise the agent's owner is asked in chat. The answer says what happens next: call check_access to follow a pending request, never request_access again for the same task."
    )]
    async fn request_access(
        &self,
        Parameters(input): Parameters<RequestAccess>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let ask = AgentAsk {
            resource: input.resource,
            role: input.role,
            duration: AskDuration::Text(input.duration),
            task: input.task,
            ticket: input.ticket,
        };
        let created = self
            .service
            .create(caller(&parts), &ask, input.idempotency_key.as_deref())
            .await;
        Ok(answer(created.map(|c| {
            let mut v = to_value(&c.view);
            v["created"] = json!(c.new);
            v
        })))
    }

    #[tool(
        description = "The state of one of this agent's requests: pending (who was asked), approved (access active, and until when), denied (why), or ended. With wait_secs, waits up to 30 s for a change.",
        annotations(read_only_hint = true)
    )]
    async fn check_access(
        &self,
        Parameters(input): Parameters<CheckAccess>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let wait = input.wait_secs.map(|w| w.min(MAX_WAIT_SECS));
        let view = self.service.status(caller(&parts), &input.id, wait).await;
        Ok(answer(view.map(|v| to_value(&v))))
    }

    #[tool(
        description = "Task done: end this agent's active access now. Releasing access that has already ended changes nothing and is safe to repeat.",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    async fn release_access(
        &self,
        Parameters(input): Parameters<ReleaseAccess>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let view = self.service.release(caller(&parts), &input.id).await;
        Ok(answer(view.map(|v| to_value(&v))))
    }

    #[tool(
        description = "This agent's own requests, newest first (at most 100), optionally only those in one state.",
        annotations(read_only_hint = true)
    )]
    async fn list_access(
        &self,
        Parameters(input): Parameters<ListAccess>,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let views = self
            .service
            .list(caller(&parts), input.state.as_deref())
            .await;
        Ok(answer(views.map(|vs| json!({ "requests": vs }))))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WardenTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("warden", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Warden grants time-bound access for one task at a time, under policy and human approval. Ask with request_access, follow a pending request with check_access (wait_secs up to 30), and release_access when the task is done. Never retry a denied request unchanged.",
            )
    }
}

fn to_value(v: &impl serde::Serialize) -> Value {
    // A view is plain JSON values; serialising it cannot fail.
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A result as structured content, or a refusal as a tool error the agent can act on.
fn answer(result: Result<Value, AgentApiError>) -> CallToolResult {
    match result {
        Ok(v) => CallToolResult::structured(v),
        Err(e) => {
            let Classified {
                status,
                code,
                detail,
                ..
            } = classify(&e);
            CallToolResult::structured_error(json!({
                "error": { "code": code, "status": status.as_u16(), "message": detail },
                "next": advice(code, status.as_u16()),
            }))
        }
    }
}

/// What to do about a refusal, by its stable code.
fn advice(code: &str, status: u16) -> &'static str {
    match (code, status) {
        ("unauthenticated", _) => "Get a fresh workload token for this MCP server's resource.",
        ("forbidden", _) => "This agent may not act now; its owner or an admin must look at it.",
        ("unknown_task", _) => "No such request of this agent's; list_access lists them.",
        ("concurrent_limit", _) => {
            "Release access you no longer need (release_access) or wait for a request to end."
        }
        ("idempotency_key_reused", _) => {
            "That idempotency key was used for a different ask; use a new key."
        }
        ("idempotency_in_progress", _) => {
            "The first call with this key is still running; check again."
        }
        ("internal", _) => "Warden could not finish this; try again later and quote the ref.",
        (_, 409) => "The request is not in a state that allows this; check_access shows it.",
        _ => "Fix the input as the message says and call again.",
    }
}
