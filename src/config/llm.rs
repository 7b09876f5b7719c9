//! `[llm]`: the OpenAI-compatible model server the intake may ask.

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmSettings {
    /// An OpenAI-compatible base URL (`https://api.openai.com/v1`, `http://localhost:11434/v1`).
    /// Unset: the structured-command parser is the intake.
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<SecretString>,
    pub api_key_file: Option<PathBuf>,
    /// Per attempt. A CPU-hosted model needs tens of seconds for one answer (see
    /// docs/llm-sizing.md); a hosted one answers in a few, so lower it there.
    pub timeout_secs: u64,
    pub max_retries: u32,
    /// Longest wait honoured from a Retry-After header, in seconds.
    pub max_retry_after_secs: u64,
    /// "json_schema" (structured output), "tool" (a function call) or "json_object".
    pub output: String,
    /// Directory of prompt templates; the shipped ones are built in.
    pub prompts_dir: Option<PathBuf>,
    /// Most candidate catalog entries shown to the model.
    pub max_candidates: usize,
    /// Most characters of the thread shown to the model.
    pub max_thread_chars: usize,
    /// Azure-style deployments want an `api-version` query parameter.
    pub api_version: Option<String>,
    /// Most completion tokens per answer. Unset: what a maximal valid answer needs (about 250);
    /// a reasoning model, whose hidden reasoning counts too, needs more.
    pub max_answer_tokens: Option<u32>,
    /// Sampling temperature, 0 to 2. Unset: the server's default (OpenAI's reasoning models
    /// accept no other). 0 makes a self-hosted model's readings repeatable.
    pub temperature: Option<f32>,
    /// Whether a thread the parser reads completely still goes to the model (see `Prefer`).
    pub prefer: crate::intake::Prefer,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            model: None,
            api_key: None,
            api_key_file: None,
            timeout_secs: 60,
            max_retries: 2,
            max_retry_after_secs: 10,
            output: "json_schema".into(),
            prompts_dir: None,
            max_candidates: 8,
            max_thread_chars: 4000,
            api_version: None,
            max_answer_tokens: None,
            temperature: None,
            prefer: Default::default(),
        }
    }
}
