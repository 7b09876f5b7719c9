//! A fake OpenAI-compatible model server: answers chat completions from a script, records every
//! call, and answers 500 when the script has run out.

pub use super::scripted::Reply;
use super::scripted::{Call, Scripted};
use serde_json::{Value, json};

pub struct FakeModel(Scripted);

impl FakeModel {
    pub async fn start() -> Self {
        Self(Scripted::start(Reply::raw(500, "no scripted reply", "text/plain")).await)
    }

    /// The base URL to configure as `llm.base_url`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.0.uri())
    }

    pub fn push(&self, reply: Reply) {
        self.0.push(reply)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.0.calls()
    }
}

/// The prompts of a chat completion call.
pub trait Prompts {
    /// The user (turn) prompt.
    fn user_prompt(&self) -> String;
    fn system_prompt(&self) -> String;
}

impl Prompts for Call {
    fn user_prompt(&self) -> String {
        message(self, "user")
    }

    fn system_prompt(&self) -> String {
        message(self, "system")
    }
}

fn message(call: &Call, role: &str) -> String {
    call.body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == role)
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A chat completion whose message content is `content`.
pub fn completion(content: &str) -> Value {
    envelope(json!({ "role": "assistant", "content": content }), "stop")
}

/// A chat completion that calls `name` with `arguments`.
pub fn tool_call(name: &str, arguments: &str) -> Value {
    let message = json!({ "role": "assistant", "content": null, "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": name, "arguments": arguments } }] });
    envelope(message, "tool_calls")
}

pub fn refusal(text: &str) -> Value {
    envelope(
        json!({ "role": "assistant", "content": null, "refusal": text }),
        "stop",
    )
}

fn envelope(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_790_000_000u32, "model": "test-model",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": { "prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540 }
    })
}

/// A full intent answer: the given fields over all-null defaults, as the strict schema requires.
pub fn intent(fields: Value) -> String {
    let mut base = json!({
        "action": "request", "resource": null, "role": null, "duration": null, "justification": null,
        "ticket": null, "request_id": null, "break_glass": false, "unclear": []
    });
    for (k, v) in fields.as_object().expect("fields object") {
        base[k] = v.clone();
    }
    base.to_string()
}
