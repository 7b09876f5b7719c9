//! What the pages show: requests, grants and context-log entries as template data.

use crate::clock::from_ms;
use crate::domain::{GrantSummary, Request};
use crate::store::{ChainStatus, LogEntry};
use serde::Serialize;
use serde_json::Value;

pub fn time(ms: i64) -> String {
    from_ms(ms).format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[derive(Serialize)]
pub struct RequestItem {
    pub id: String,
    pub created: String,
    pub requester: String,
    pub resource: String,
    pub role: String,
    pub state: String,
    pub platform: String,
    pub break_glass: bool,
    pub decision_id: String,
    pub justification: String,
}

impl From<&Request> for RequestItem {
    fn from(r: &Request) -> Self {
        Self {
            id: r.id.to_string(),
            created: time(r.created_at),
            requester: r.requester_id.clone(),
            resource: r.resource().unwrap_or("—").to_string(),
            role: r.role().unwrap_or("—").to_string(),
            state: r.state.as_str().to_string(),
            platform: r.origin.platform.as_str().to_string(),
            break_glass: r.break_glass,
            decision_id: r
                .decision
                .as_ref()
                .and_then(|d| d.decision_id())
                .unwrap_or("—")
                .to_string(),
            justification: [r.justification(), r.ticket()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// A request as the JSON API shows it (docs/openapi.yaml `Request`): flat fields for filtering
/// and display, the intent, decision and approval plan as objects.
pub fn request_doc(r: &Request) -> Value {
    serde_json::json!({
        "id": r.id,
        "platform": r.origin.platform,
        "workspace": r.origin.workspace,
        "channel": r.origin.channel,
        "thread": r.origin.thread,
        "scope_kind": r.origin.kind,
        "requester_id": r.requester_id,
        "requester_account": r.requester_account,
        "state": r.state,
        "action": r.intent.as_ref().map_or("request", |i| i.action.as_str()),
        "resource": r.resource(),
        "role": r.role(),
        "duration_secs": r.duration_secs(),
        "justification": r.justification(),
        "ticket": r.ticket(),
        "intent": r.intent,
        "decision": r.decision,
        "decision_id": r.decision.as_ref().and_then(|d| d.decision_id()),
        "approval_plan": r.approval_plan,
        "current_step": r.current_step,
        "break_glass": r.break_glass,
        "review_open": r.review_open,
        "parent_id": r.parent_id,
        "bundle_id": r.bundle_id,
        "extensions": r.extensions,
        "expires_at": r.expires_at,
        "deadline_at": r.deadline_at,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    })
}

/// An approver's decision as the JSON API shows it.
pub fn approval_doc(a: &crate::domain::Approval) -> Value {
    serde_json::json!({
        "step": a.step,
        "approver_id": a.approver_id,
        "approver_account": a.approver_account,
        "decision": a.verdict.as_str(),
        "reason": a.reason,
        "at": a.at,
    })
}

#[derive(Serialize)]
pub struct GrantItem {
    pub request_id: String,
    pub person: String,
    pub resource: String,
    pub role: String,
    pub backend: String,
    pub granted: String,
    pub expires: String,
    pub status: String,
    pub revoked: String,
    pub revoke_reason: String,
}

impl From<&GrantSummary> for GrantItem {
    fn from(g: &GrantSummary) -> Self {
        Self {
            request_id: g.request_id.clone(),
            person: g.person_id.clone(),
            resource: g.resource.clone(),
            role: g.role.clone(),
            backend: g.backend.clone(),
            granted: time(g.granted_at),
            expires: time(g.expires_at),
            status: g.status.clone(),
            revoked: g.revoked_at.map(time).unwrap_or_default(),
            revoke_reason: g.revoke_reason.clone().unwrap_or_default(),
        }
    }
}

/// A labelled block of text shown in full (a prompt, a model's raw answer).
#[derive(Serialize)]
pub struct Section {
    pub label: String,
    pub text: String,
}

#[derive(Serialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub summary: String,
    pub sections: Vec<Section>,
    pub payload: String,
    pub purged: bool,
    pub broken: bool,
    pub hash: String,
}

#[derive(Serialize)]
pub struct ChainView {
    pub intact: bool,
    pub text: String,
}

pub fn chain_view(c: &ChainStatus) -> ChainView {
    match c {
        ChainStatus::Intact { entries } => ChainView {
            intact: true,
            text: format!("Hash chain intact ({entries} entries)"),
        },
        ChainStatus::Broken { at_seq, why } => ChainView {
            intact: false,
            text: format!("Hash chain BROKEN at entry {at_seq}: {why}"),
        },
    }
}

pub fn timeline(entries: &[LogEntry], chain: &ChainStatus) -> Vec<TimelineEntry> {
    let broken_at = match chain {
        ChainStatus::Broken { at_seq, .. } => Some(*at_seq),
        ChainStatus::Intact { .. } => None,
    };
    entries
        .iter()
        .map(|e| {
            let (summary, sections) = match &e.payload {
                Some(p) => describe(&e.kind, &e.actor, p),
                None => (
                    "Content purged by retention; the digest still proves it.".to_string(),
                    Vec::new(),
                ),
            };
            TimelineEntry {
                seq: e.seq,
                at: time(e.at),
                kind: e.kind.clone(),
                actor: e.actor.clone(),
                summary,
                sections,
                payload: e
                    .payload
                    .as_ref()
                    .map(|p| serde_json::to_string_pretty(p).unwrap_or_default())
                    .unwrap_or_default(),
                purged: e.payload.is_none(),
                broken: broken_at == Some(e.seq),
                hash: e.hash.chars().take(16).collect(),
            }
        })
        .collect()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn intent_line(i: &Value) -> String {
    let dur = i
        .get("duration_secs")
        .and_then(Value::as_u64)
        .map(crate::domain::format_duration)
        .unwrap_or_else(|| "?".into());
    let why: Vec<&str> = [s(i, &["justification"]), s(i, &["ticket"])]
        .into_iter()
        .filter(|w| !w.is_empty())
        .collect();
    let mut line = format!("{} on {} for {}", s(i, &["role"]), s(i, &["resource"]), dur);
    if !why.is_empty() {
        line.push_str(&format!(" — {}", why.join(", ")));
    }
    line
}

/// A one-line summary per kind, plus full-text sections for prompts and raw model answers.
fn describe(kind: &str, actor: &str, p: &Value) -> (String, Vec<Section>) {
    let mut sections = Vec::new();
    let summary = match kind {
        "message_in" if p.get("text").is_some() => format!("{actor} wrote: {}", s(p, &["text"])),
        "message_in" => format!("{actor} acted: {}", compact(p)),
        "message_out" if p.get("text").is_some() => format!("Warden said: {}", s(p, &["text"])),
        "intake_run" => {
            let trace = p.get("trace").cloned().unwrap_or_default();
            for (label, key) in [
                ("Prompt sent to the model", "prompt"),
                ("Raw answer from the model", "raw_answer"),
                ("Fallback reason", "fallback_reason"),
            ] {
                if let Some(text) = trace.get(key).and_then(Value::as_str) {
                    sections.push(Section {
                        label: label.into(),
                        text: text.into(),
                    });
                }
            }
            format!(
                "Intake by {}: draft {}",
                s(&trace, &["source"]),
                compact(p.get("draft").unwrap_or(&Value::Null))
            )
        }
        "intent_proposed" => format!(
            "Validated intent proposed: {}",
            intent_line(p.get("intent").unwrap_or(&Value::Null))
        ),
        "intent_confirmed" => format!(
            "Confirmed by {actor}: {}",
            intent_line(p.get("intent").unwrap_or(&Value::Null))
        ),
        "policy_input" => "Policy input sent to the PDP".to_string(),
        "policy_decision" => {
            let mut reasons: Vec<String> = p
                .get("reasons")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            // Admins see what the requester was spared: the fault and its reference.
            if let Some(f) = p.get("fault") {
                reasons.push(format!(
                    "policy fault {}: {}",
                    s(f, &["reference"]),
                    s(f, &["detail"])
                ));
            }
            format!(
                "Policy decision: {} (decision id {}) — {}",
                s(p, &["outcome"]).to_uppercase(),
                p.get("decision_id")
                    .and_then(Value::as_str)
                    .unwrap_or("none"),
                reasons.join("; ")
            )
        }
        "approvers_resolved" => format!("Approvers resolved: {}", compact(p)),
        "approval" => format!(
            "APPROVED by {actor} (step {})",
            p.get("step").map(Value::to_string).unwrap_or_default()
        ),
        "step_up" if p.get("refused").is_some() => format!(
            "Step-up REFUSED for {actor} ({}, step {}): {}; nothing was changed",
            s(p, &["refused"]),
            p.get("step").map(Value::to_string).unwrap_or_default(),
            s(p, &["why"]).replace('_', " ")
        ),
        "step_up" => match p.get("credential_id").and_then(Value::as_str) {
            Some(cred) => format!(
                "Passkey verified for {actor} ({}, step {}): credential {cred}, user verified {}",
                s(p, &["verified"]),
                p.get("step").map(Value::to_string).unwrap_or_default(),
                p.get("user_verified")
                    .map(Value::to_string)
                    .unwrap_or_default()
            ),
            None => format!(
                "Step-up asked of {actor} ({}, step {}): a private passkey link was sent",
                s(p, &["asked"]),
                p.get("step").map(Value::to_string).unwrap_or_default()
            ),
        },
        "refusal" => format!(
            "Refused for {actor}: {} {}",
            s(p, &["action"]),
            p.get("why")
                .or(p.get("reason"))
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        "grant_call" => format!("Grant call to the backend: {}", s(p, &["outcome"])),
        "revoke_call" => format!(
            "Revoke call by {actor}: {} ({})",
            s(p, &["outcome"]),
            s(p, &["reason"])
        ),
        "state_change" => format!(
            "State: {} → {}",
            p.get("from").and_then(Value::as_str).unwrap_or("…"),
            p.get("to").and_then(Value::as_str).unwrap_or("…")
        ),
        "redaction" => format!(
            "Masked {} pasted secret(s) before storing or showing to a model",
            p.get("masked_secrets")
                .map(Value::to_string)
                .unwrap_or_default()
        ),
        _ => compact(p),
    };
    (summary, sections)
}

fn compact(v: &Value) -> String {
    let t = v.to_string();
    if t.chars().count() > 160 {
        format!("{}…", t.chars().take(160).collect::<String>())
    } else {
        t
    }
}
