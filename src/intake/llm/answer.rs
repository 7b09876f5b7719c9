//! The model's answer, read as hostile input: one strict shape, a closed set of actions, bounded
//! strings, and no field that could say who is asking or on whose behalf.
//!
//! Anything that does not fit — extra fields (`requester`, `on_behalf_of`, `approved`), an
//! action outside the set, a refusal, an empty or truncated answer — is an error, and the engine
//! falls back to the parser. What does fit is only a draft: `DraftIntent::validate` decides.

use super::schema::max_chars;
use crate::domain::Action;
use crate::domain::intent::{DraftIntent, Field};
use anyhow::{Context, bail};
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, CreateChatCompletionResponse, FinishReason,
};
use serde::Deserialize;

/// Name of the function the model calls in `tool` mode and of the schema in `json_schema` mode.
pub const TOOL_NAME: &str = "propose_intent";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelAnswer {
    pub action: Option<Action>,
    pub resource: Option<String>,
    /// Further resources asked for with the same role and duration (several in one ask).
    #[serde(default)]
    pub also: Vec<String>,
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
        // The schema's own bounds: a server without a grammar (json_object mode) may ignore them.
        for (name, value) in [
            ("resource", &answer.resource),
            ("role", &answer.role),
            ("duration", &answer.duration),
            ("justification", &answer.justification),
            ("ticket", &answer.ticket),
            ("request_id", &answer.request_id),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > max_chars(name))
            {
                bail!("the model's {name} is longer than the schema allows");
            }
        }
        if answer.also.len() > super::schema::MAX_ALSO {
            bail!("the model named more resources than the schema allows");
        }
        if answer
            .also
            .iter()
            .any(|a| a.chars().count() > max_chars("resource"))
        {
            bail!("the model's also is longer than the schema allows");
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
            also: match self.unclear.contains(&Field::Resource) {
                true => vec![],
                false => self
                    .also
                    .iter()
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .collect(),
            },
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

/// The server answered without calling the tool it was told to call: it ignores forced tool
/// choice (llama.cpp falls back to `auto` on a `tool_choice` it does not accept, and the model
/// answers in prose). A property of the server, not of one answer: `llm probe` reports it.
#[derive(Debug, thiserror::Error)]
#[error(
    "the model server ignored the forced tool call and answered in prose; it does not support tool_choice, use llm.output = \"json_schema\" or \"json_object\""
)]
pub struct ToolNotCalled;

/// The answer text from a chat completion: the message content, or the one `propose_intent`
/// call's arguments (required when `tool_call` is set). Refusals, other tools and cut-off answers
/// are errors.
pub fn answer_text(
    response: &CreateChatCompletionResponse,
    tool_call: bool,
) -> anyhow::Result<String> {
    let choice = response
        .choices
        .first()
        .context("the model returned no choices")?;
    if let Some(refusal) = &choice.message.refusal {
        bail!("the model refused ({} characters)", refusal.chars().count());
    }
    if matches!(choice.finish_reason, Some(FinishReason::ContentFilter)) {
        bail!("the model's answer was withheld by a content filter");
    }
    // A forced call that never started is the server's doing whatever ended the answer: with
    // no grammar to stop it, a small model's prose often runs to the token limit, and "cut
    // off" would send the operator after the token budget instead of the output mode.
    let no_call = matches!(choice.message.tool_calls.as_deref(), Some([]) | None);
    if tool_call && no_call {
        return Err(ToolNotCalled.into());
    }
    if matches!(choice.finish_reason, Some(FinishReason::Length)) {
        bail!("the model's answer was cut off (length limit)");
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

/// Whatever the model wrote, read or not: the tool calls' arguments, else the message content.
/// For the record of a rejected answer; never parsed.
pub fn raw_text(response: &CreateChatCompletionResponse) -> Option<String> {
    let message = &response.choices.first()?.message;
    let calls: Vec<String> = message
        .tool_calls
        .iter()
        .flatten()
        .map(|c| match c {
            ChatCompletionMessageToolCalls::Function(call) => {
                format!("{}({})", call.function.name, call.function.arguments)
            }
            other => format!("{other:?}"),
        })
        .collect();
    match calls.is_empty() {
        false => Some(calls.join("\n")),
        true => message.content.clone().filter(|c| !c.is_empty()),
    }
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
        assert!(ModelAnswer::parse(&GOOD.replace("github-billing", &"x".repeat(81))).is_err());
    }
}
