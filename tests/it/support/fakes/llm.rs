//! A fake OpenAI-compatible model server: answers chat completions from a script (or as
//! llama.cpp would, see `fakes::llama`), records every call, and answers 500 when the script has
//! run out.

pub use super::llm_wire::*;
pub use super::scripted::Reply;
use super::scripted::{Call, Scripted};

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

    /// From now on (once the queue is empty) answer as llama.cpp with a small model does, the
    /// model reading every request as `answer` (see `fakes::llama`).
    pub fn like_llama_cpp(&self, answer: String) {
        self.0.behave(super::llama::behaviour(answer))
    }

    /// Answers every call with `reply` once the queue is empty.
    pub fn answer_always(&self, reply: Reply) {
        self.0.answer(reply)
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
