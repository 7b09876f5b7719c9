//! The OpenAI chat-completions answer shapes the fake model sends; plain functions, so the
//! `engine_http` bench includes this file too.

use serde_json::{Value, json};

/// A chat completion whose message content is `content`.
pub fn completion(content: &str) -> Value {
    envelope(json!({ "role": "assistant", "content": content }), "stop")
}

/// A chat completion that calls `name` with `arguments`.
pub fn tool_call(name: &str, arguments: &str) -> Value {
    let message = json!({ "role": "assistant", "content": null, "tool_calls": [{ "id": "call_1", "type": "function", "function": { "name": name, "arguments": arguments } }] });
    envelope(message, "tool_calls")
}

/// A chat completion stopped at the token limit: `content` is cut off, `tokens` were spent.
pub fn cut_off(content: &str, tokens: u64) -> Value {
    let mut v = envelope(json!({ "role": "assistant", "content": content }), "length");
    v["usage"]["completion_tokens"] = json!(tokens);
    v
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
