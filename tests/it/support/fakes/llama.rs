//! How llama.cpp's server answers with a small instruct model, for the fake model server:
//! - `tool_choice` must be a string ("auto", "required", "none"). An object naming the function
//!   is logged as "Wrong type supplied for parameter 'tool_choice'" and replaced by the default,
//!   "auto", with which a small model answers in prose instead of calling the tool.
//! - `response_format` `json_schema` (and a forced tool call's parameters) become a grammar. In an
//!   unbounded string or array a small model loops until `max_completion_tokens`: the answer is
//!   cut off (`finish_reason: "length"`).
//! - `json_object` constrains to some JSON object: the model writes its reading.

use super::llm_wire::{completion, cut_off, tool_call};
use super::scripted::{Behaviour, Reply};
use serde_json::Value;
use std::sync::Arc;

/// What a small model writes when nothing forces it into the schema.
pub const PROSE: &str = "Sure! Here is the access request: edit access to the wiki for 2 hours.";

/// A llama.cpp server whose model reads every request as `answer` (a JSON intent).
pub fn behaviour(answer: String) -> Behaviour {
    Arc::new(move |body: &Value| {
        let limit = body["max_completion_tokens"]
            .as_u64()
            .or(body["max_tokens"].as_u64())
            .unwrap_or(u64::MAX);
        if let Some(tools) = body["tools"].as_array() {
            let forced = body["tool_choice"].as_str() == Some("required");
            if !forced {
                return Reply::ok(completion(PROSE));
            }
            let function = &tools[0]["function"];
            if !bounded(&function["parameters"]) {
                return Reply::ok(looped(&answer, limit));
            }
            let name = function["name"].as_str().unwrap_or_default();
            return Reply::ok(tool_call(name, &answer));
        }
        match body["response_format"]["type"].as_str() {
            Some("json_schema") if !bounded(&body["response_format"]["json_schema"]["schema"]) => {
                Reply::ok(looped(&answer, limit))
            }
            Some("json_schema" | "json_object") => Reply::ok(completion(&answer)),
            _ => Reply::ok(completion(PROSE)),
        }
    })
}

/// Every string property has an enum, a bounded pattern or a maxLength; every array a maxItems.
pub fn bounded(schema: &Value) -> bool {
    let Some(props) = schema["properties"].as_object() else {
        return false;
    };
    props.values().all(|p| {
        let types = p["type"].to_string();
        let string_ok = !types.contains("string")
            || p.get("enum").is_some()
            || p.get("maxLength").is_some()
            || p["pattern"]
                .as_str()
                .is_some_and(|re| re.ends_with("}$") && !re.contains(",}"));
        let array_ok = !types.contains("array") || p.get("maxItems").is_some();
        string_ok && array_ok
    })
}

/// The answer with its `unclear` list repeating until the token limit.
fn looped(answer: &str, limit: u64) -> Value {
    let head = answer
        .trim_end_matches('}')
        .replace("\"unclear\":[]", "\"unclear\":[");
    let tokens = limit.min(4096);
    cut_off(
        &format!("{head}{}", "\"role\",".repeat(tokens as usize / 3)),
        tokens,
    )
}
