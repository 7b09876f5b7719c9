//! AuthZEN 1.0 PDP over HTTP.
//!
//! The endpoint comes from the PDP's own metadata (`discovery`), or from configuration for a
//! PDP that publishes none. `POST {access_evaluation_endpoint}` with a subject (the requester), a resource, an action and a
//! context built from the [`PolicyInput`]; the PDP answers `{"decision": bool, "context": {...}}`.
//! `false` denies. `true` allows, unless the context asks for approvals (then approval is
//! required) or carries anything Warden does not understand (then it denies: an obligation that
//! is not understood cannot be honoured).

use super::admin::AdminActionInput;
use super::discovery::{AuthzenEndpoints, discover};
use super::embedded::fault_with_id;
use super::opa::{bearer, describe, http_client, read_body, redact, valid_id};
use super::{ApprovalStep, Decision, Obligation, PolicyEngine, PolicyInput};
use anyhow::{Context, Result};
use async_trait::async_trait;
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use std::time::Duration;
use url::Url;

/// The context keys Warden understands in a response; any other key denies.
pub const KNOWN_CONTEXT_KEYS: [&str; 9] = [
    "approvals",
    "obligations",
    "reasons",
    "reason_user",
    "reason_admin",
    "break_glass",
    "deny_reason_required",
    "decision_id",
    "id",
];

/// Reasons kept from a PDP: at most this many, each at most `MAX_REASON_CHARS` characters.
const MAX_REASONS: usize = 10;
const MAX_REASON_CHARS: usize = 300;

/// An AuthZEN 1.0 policy decision point.
pub struct AuthzenPolicy {
    client: reqwest::Client,
    /// The full endpoint; may carry credentials, so never logged.
    endpoint: Url,
    display: String,
    token: Option<SecretString>,
}

impl std::fmt::Debug for AuthzenPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthzenPolicy")
            .field("endpoint", &self.display)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl AuthzenPolicy {
    /// Reads the PDP's metadata from `pdp` (its identifier) and evaluates at the advertised
    /// `access_evaluation_endpoint`. Metadata that names another PDP, lacks the endpoint or
    /// cannot be fetched is an error: no PDP, no decisions (fail closed).
    pub async fn discover(
        pdp: Url,
        token: Option<SecretString>,
        timeout: Duration,
        allow_http_hosts: &[String],
    ) -> Result<Self> {
        let client = http_client(timeout)?;
        let found: AuthzenEndpoints = discover(&client, &pdp, allow_http_hosts)
            .await
            .context("AuthZEN discovery failed")?;
        tracing::info!(pdp = %found.pdp, endpoint = %redact(&found.evaluation), batch = found.evaluations.is_some(), "AuthZEN PDP metadata accepted");
        Ok(Self::build(client, found.evaluation, token))
    }

    /// Evaluates at `endpoint` as configured, without discovery (a PDP with no metadata).
    /// `token`, if any, is sent as `Authorization: Bearer …`.
    pub fn with_endpoint(
        endpoint: Url,
        token: Option<SecretString>,
        timeout: Duration,
    ) -> Result<Self> {
        anyhow::ensure!(
            matches!(endpoint.scheme(), "http" | "https"),
            "the AuthZEN evaluation endpoint must be http or https"
        );
        Ok(Self::build(http_client(timeout)?, endpoint, token))
    }

    fn build(client: reqwest::Client, endpoint: Url, token: Option<SecretString>) -> Self {
        Self {
            client,
            display: redact(&endpoint),
            endpoint,
            token,
        }
    }

    /// The endpoint as it may be logged (no credentials).
    pub fn endpoint(&self) -> &str {
        &self.display
    }

    async fn query(&self, body: &Value) -> Result<Decision, String> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let request = self
            .client
            .post(self.endpoint.clone())
            .header("X-Request-ID", &request_id)
            .json(body);
        let response = bearer(request, self.token.as_ref())?
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("AuthZEN PDP answered HTTP {}", status.as_u16()));
        }
        let header_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| valid_id(v))
            .map(str::to_string);
        let body = read_body(response).await?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|_| "the AuthZEN answer is not JSON".to_string())?;
        let decision = map_response(&answer, header_id);
        if let Some(admin) = answer.pointer("/context/reason_admin") {
            tracing::info!(pdp = "authzen", decision_id = decision.decision_id().unwrap_or("-"), reason_admin = %admin, "AuthZEN admin reason");
        }
        Ok(decision)
    }
}

#[async_trait]
impl PolicyEngine for AuthzenPolicy {
    fn name(&self) -> &'static str {
        "authzen"
    }

    async fn decide(&self, input: &PolicyInput) -> Decision {
        match self.query(&request_body(input)).await {
            Ok(decision) => decision,
            Err(reason) => {
                tracing::warn!(pdp = "authzen", endpoint = %self.display, error = %reason, "AuthZEN fault; denying");
                Decision::fault(reason)
            }
        }
    }

    async fn decide_admin(&self, input: &AdminActionInput) -> Decision {
        match self.query(&admin_request_body(input)).await {
            Ok(decision) => decision,
            Err(reason) => {
                tracing::warn!(pdp = "authzen", endpoint = %self.display, error = %reason, "AuthZEN admin-action fault");
                Decision::fault(reason)
            }
        }
    }
}

/// The AuthZEN evaluation for a kill-switch action: the admin as subject, the action by name
/// (`freeze` or `unfreeze`), the freeze's scope as a `warden_freeze` resource. `true` with a
/// `step_up` obligation asks for a passkey.
pub fn admin_request_body(input: &AdminActionInput) -> Value {
    json!({
        "subject": {
            "type": "admin",
            "id": input.actor.name,
            "properties": { "person": input.actor.person, "via": input.actor.via },
        },
        "resource": {
            "type": "warden_freeze",
            "id": input.freeze.id.clone().unwrap_or_default(),
            "properties": { "scope": input.freeze.scope, "target": input.freeze.target },
        },
        "action": { "name": input.action.as_str() },
        "context": { "input_version": input.version, "time": input.time },
    })
}

/// The AuthZEN 1.0 access evaluation request for one input.
/// AuthZEN's subject: `user` for a person, `agent` for a registered agent, whose properties
/// add the owner, the bounds and the verified workload claims (the same facts as `input.subject`).
fn subject(input: &PolicyInput) -> Value {
    let r = &input.requester;
    let mut properties = json!({
        "display_name": r.display_name,
        "groups": r.groups,
        "manager": r.manager,
        "account": r.account,
        // Whether the person is on call now, and for which services (input v4's `oncall`).
        "oncall": input.oncall,
    });
    let kind = match input.subject.agent() {
        None => "user",
        Some(a) => {
            properties["agent"] = json!(a);
            "agent"
        }
    };
    json!({ "type": kind, "id": r.id, "properties": properties })
}

pub fn request_body(input: &PolicyInput) -> Value {
    let res = &input.resource;
    let i = &input.intent;
    json!({
        "subject": subject(input),
        "resource": {
            "type": "resource",
            "id": res.id,
            "properties": {
                "name": res.name,
                "risk": res.risk,
                "owners": res.owners,
                "max_duration_secs": res.max_duration_secs,
                "break_glass": res.break_glass,
                "tags": res.tags,
                "services": res.services,
            },
        },
        "action": {
            "name": i.action.as_str(),
            "properties": {
                "role": i.role,
                "duration_secs": i.duration_secs,
                "break_glass": i.break_glass,
            },
        },
        "context": {
            "input_version": input.version,
            "time": input.time,
            "channel": input.channel,
            "justification": i.justification,
            "ticket": i.ticket,
            "request_id": i.request_id,
            "is_extension": input.context.is_extension,
            "extensions_so_far": input.context.extensions_so_far,
        },
    })
}

/// Maps an AuthZEN answer to a decision; anything unexpected denies.
/// The decision id is the context's `decision_id`, else its `id`, else the `X-Request-ID` header.
pub fn map_response(answer: &Value, header_id: Option<String>) -> Decision {
    let Some(top) = answer.as_object() else {
        return Decision::fault("the AuthZEN answer is not an object");
    };
    let empty = Map::new();
    let context = match top.get("context") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(c)) => c,
        Some(_) => return Decision::fault("the AuthZEN context is not an object"),
    };
    let decision_id = ["decision_id", "id"]
        .iter()
        .find_map(|k| {
            context
                .get(*k)
                .and_then(Value::as_str)
                .filter(|v| valid_id(v))
                .map(str::to_string)
        })
        .or(header_id);
    let fault = |reason: &str| match &decision_id {
        Some(id) => fault_with_id(reason.to_string(), id.clone()),
        None => Decision::fault(reason),
    };

    let decision = match top.get("decision") {
        Some(Value::Bool(b)) => *b,
        _ => return fault("the AuthZEN decision is not a boolean"),
    };
    if let Some(key) = top
        .keys()
        .find(|k| !matches!(k.as_str(), "decision" | "context"))
    {
        if decision {
            return fault(&format!(
                "unknown field '{}' in the AuthZEN answer",
                printable(key)
            ));
        }
    }
    if !decision {
        let reasons = user_reasons(context).unwrap_or_default();
        let reasons = if reasons.is_empty() {
            vec!["denied by the AuthZEN policy decision point".to_string()]
        } else {
            reasons
        };
        return Decision::Deny {
            decision_id,
            reasons,
            fault: None,
        };
    }

    // Allowed: every key must be understood, or the permit is not honoured.
    if let Some(key) = context
        .keys()
        .find(|k| !KNOWN_CONTEXT_KEYS.contains(&k.as_str()))
    {
        return fault(&format!("unknown obligation '{}'", printable(key)));
    }
    let Some(reasons) = user_reasons(context) else {
        return fault("malformed reasons in the AuthZEN context");
    };
    let break_glass = match context.get("break_glass") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return fault("malformed break_glass in the AuthZEN context"),
    };
    let deny_reason_required = match context.get("deny_reason_required") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return fault("malformed deny_reason_required in the AuthZEN context"),
    };
    let steps: Vec<ApprovalStep> = match context.get("approvals") {
        None | Some(Value::Null) => vec![],
        Some(v) => match serde_json::from_value(v.clone()) {
            Ok(steps) => steps,
            Err(_) => return fault("malformed approvals in the AuthZEN context"),
        },
    };
    // AuthZEN's shape: `[{"id": "step_up"}, …]`; an id Warden cannot honour is a fault.
    let obligations: Vec<Obligation> = match context.get("obligations") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                let id = item.get("id").cloned().unwrap_or(Value::Null);
                match serde_json::from_value(id.clone()) {
                    Ok(o) => out.push(o),
                    Err(_) => {
                        return fault(&format!(
                            "unknown obligation '{}'",
                            printable(id.as_str().unwrap_or("?"))
                        ));
                    }
                }
            }
            out
        }
        Some(_) => return fault("malformed obligations in the AuthZEN context"),
    };
    if steps.iter().any(|s| s.count == 0) {
        return fault("an approval step in the AuthZEN context needs zero approvers");
    }
    match (steps.is_empty(), break_glass) {
        (true, _) => Decision::Allow {
            decision_id,
            reasons,
            break_glass,
            obligations,
        },
        (false, false) => Decision::RequireApproval {
            decision_id,
            reasons,
            steps,
            deny_reason_required,
            obligations,
        },
        (false, true) => fault("the AuthZEN context asks for break-glass and approvals at once"),
    }
}

/// `reasons` (strings) then `reason_user` (a string, or AuthZEN's `{"lang": "text"}` object).
/// `None` when either is present but malformed.
fn user_reasons(context: &Map<String, Value>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    match context.get("reasons") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                out.push(item.as_str()?.to_string());
            }
        }
        Some(_) => return None,
    }
    match context.get("reason_user") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => out.push(s.clone()),
        Some(Value::Object(by_lang)) => {
            for text in by_lang.values() {
                out.push(text.as_str()?.to_string());
            }
        }
        Some(_) => return None,
    }
    Some(
        out.into_iter()
            .map(|r| bounded(&r))
            .filter(|r| !r.is_empty())
            .take(MAX_REASONS)
            .collect(),
    )
}

fn bounded(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.chars().count() > MAX_REASON_CHARS {
        let cut: String = clean.chars().take(MAX_REASON_CHARS).collect();
        format!("{cut}…")
    } else {
        clean.to_string()
    }
}

/// A key from the PDP, safe to put in a reason: printable ASCII, at most 40 characters.
fn printable(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

#[cfg(test)]
#[path = "authzen_tests.rs"]
mod tests;
