//! The model's answer, read as hostile input: one strict shape, a closed set of actions, bounded
//! strings, and no field that could say who is asking or on whose behalf.
//!
//! Anything that does not fit — extra fields (`requester`, `on_behalf_of`, `approved`), an
//! action outside the set, a refusal, an empty or truncated answer — is an error, and the engine
//! falls back to the parser. What does fit is only a draft: `DraftIntent::validate` decides.

use crate::domain::Action;
use crate::domain::intent::{DraftIntent, Field};
use anyhow::{Context, bail};
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, CreateChatCompletionResponse, FinishReason,
};
use serde::Deserialize;

/// Name of the function the model calls in `tool` mode and of the schema in `json_schema` mode.
pub const TOOL_NAME: &str = "propose_intent";

/// Longest name-like field accepted (resource, role, duration, ids); real ones are far shorter.
const MAX_NAME: usize = 120;
/// Longest free-text field accepted before validation caps it further.
const MAX_TEXT: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelAnswer {
    pub action: Option<Action>,
    pub resource: Option<String>,
    pub role: Option<String>,
    pub duration: Option<String>,
    pub justification: Option<String>,
    pub ticket: Option<String>,
    pub request_id: Option<String>,
    #[serde(default)]
    pub break_glass: bool,
    /// Fields the model could not determine; they are left empty so validation asks about them.
    #[serde(default)]
    pub unclear: Vec<Field>,
}

impl ModelAnswer {
    /// Parses the answer text strictly and checks string lengths.
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let text = strip_fence(raw.trim());
        anyhow::ensure!(!text.is_empty(), "the model returned an empty answer");
        let answer: ModelAnswer = serde_json::from_str(text)
            .context("the model's answer is not a valid intent object")?;
        for (name, value, max) in [
            ("resource", &answer.resource, MAX_NAME),
            ("role", &answer.role, MAX_NAME),
            ("duration", &answer.duration, MAX_NAME),
            ("request_id", &answer.request_id, MAX_NAME),
            ("ticket", &answer.ticket, MAX_NAME),
            ("justification", &answer.justification, MAX_TEXT),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                bail!("the model's {name} is implausibly long");
            }
        }
        Ok(answer)
    }

    /// The draft handed to validation. Fields the model marked unclear are dropped, so the
    /// question the requester sees is always validation's own, never text the model wrote.
    pub fn into_draft(self) -> DraftIntent {
        let keep = |field: Field, v: Option<String>| {
            v.map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && !self.unclear.contains(&field))
        };
        DraftIntent {
            action: self
                .action
                .filter(|_| !self.unclear.contains(&Field::Action)),
            resource: keep(Field::Resource, self.resource.clone()),
            role: keep(Field::Role, self.role.clone()),
            duration: keep(Field::Duration, self.duration.clone()),
            justification: keep(Field::Justification, self.justification.clone()),
            ticket: self
                .ticket
                .clone()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
            request_id: keep(Field::RequestId, self.request_id.clone()),
            break_glass: self.break_glass,
        }
    }
}

/// Some local models wrap JSON in a Markdown fence even in JSON mode.
fn strip_fence(text: &str) -> &str {
    let Some(inner) = text.strip_prefix("```") else {
        return text;
    };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.strip_suffix("```").unwrap_or(inner).trim()
}

/// The answer text from a chat completion: the message content, or the one `propose_intent`
/// call's arguments. Refusals, other tools and cut-off answers are errors.
pub fn answer_text(response: &CreateChatCompletionResponse) -> anyhow::Result<String> {
    let choice = response
        .choices
        .first()
        .context("the model returned no choices")?;
    if let Some(refusal) = &choice.message.refusal {
        bail!("the model refused ({} characters)", refusal.chars().count());
    }
    if matches!(choice.finish_reason, Some(FinishReason::Length)) {
        bail!("the model's answer was cut off (length limit)");
    }
    if matches!(choice.finish_reason, Some(FinishReason::ContentFilter)) {
        bail!("the model's answer was withheld by a content filter");
    }
    match choice.message.tool_calls.as_deref() {
        Some([]) | None => {}
        Some([ChatCompletionMessageToolCalls::Function(call)])
            if call.function.name == TOOL_NAME =>
        {
            return Ok(call.function.arguments.clone());
        }
        Some(_) => bail!("the model called an unexpected tool"),
    }
    choice
        .message
        .content
        .clone()
        .filter(|c| !c.trim().is_empty())
        .context("the model returned an empty answer")
}

/// The JSON schema of the answer, strict-mode compatible: every property required, nullable
/// where optional, no additional properties.
pub fn schema() -> serde_json::Value {
    let nullable = |description: &str| serde_json::json!({ "type": ["string", "null"], "description": description });
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["action", "resource", "role", "duration", "justification", "ticket", "request_id", "break_glass", "unclear"],
        "properties": {
            "action": { "type": ["string", "null"], "enum": ["request", "extend", "revoke", "cancel", "status", null] },
            "resource": nullable("Exact id of one candidate resource, or the requester's own words if none fits"),
            "role": nullable("One of that resource's roles"),
            "duration": nullable("Short notation: 30m, 2h, 3d"),
            "justification": nullable("The requester's reason"),
            "ticket": nullable("Incident or ticket id, e.g. INC-881"),
            "request_id": nullable("An existing request id, e.g. AR-7K3D9QX2"),
            "break_glass": { "type": "boolean", "description": "Explicit emergency only" },
            "unclear": {
                "type": "array",
                "items": { "type": "string", "enum": ["action", "resource", "role", "duration", "justification", "request_id"] }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"action":"request","resource":"github-billing","role":"write","duration":"1d","justification":"ship the hotfix","ticket":"INC-881","request_id":null,"break_glass":false,"unclear":[]}"#;

    #[test]
    fn a_well_formed_answer_becomes_a_draft() {
        let d = ModelAnswer::parse(GOOD).unwrap().into_draft();
        assert_eq!(
            (d.action, d.resource.as_deref(), d.role.as_deref()),
            (Some(Action::Request), Some("github-billing"), Some("write"))
        );
    }

    #[test]
    fn identity_fields_and_unknown_actions_are_rejected() {
        for bad in [
            GOOD.replace("\"unclear\":[]", "\"unclear\":[],\"requester\":\"bob\""),
            GOOD.replace("\"unclear\":[]", "\"unclear\":[],\"on_behalf_of\":\"bob\""),
            GOOD.replace("\"request\"", "\"approve\""),
            "{\"action\": \"request\"".to_string(),
            "Sure! Here is the intent.".to_string(),
            String::new(),
        ] {
            assert!(ModelAnswer::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unclear_fields_are_left_for_validation_to_ask() {
        let d = ModelAnswer::parse(&GOOD.replace("\"unclear\":[]", "\"unclear\":[\"role\"]"))
            .unwrap()
            .into_draft();
        assert_eq!(
            (d.resource.as_deref(), d.role),
            (Some("github-billing"), None)
        );
    }

    #[test]
    fn a_fenced_answer_is_read_and_an_endless_one_is_not() {
        assert!(ModelAnswer::parse(&format!("```json\n{GOOD}\n```")).is_ok());
        assert!(ModelAnswer::parse(&GOOD.replace("github-billing", &"x".repeat(500))).is_err());
    }
}
