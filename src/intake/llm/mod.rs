//! The language-model intake: a request's own thread in, a draft intent out, through any
//! OpenAI-compatible server. The model only proposes; validation, the requester and the policy
//! decide. Any failure is an error, on which the engine falls back to the parser.

pub mod answer;
pub mod candidates;
pub mod client;
pub mod output;
pub mod probe;
pub mod prompts;
pub mod schema;
pub mod view;

use super::{Intake, IntakeContext, IntakeError, IntakeResult, IntakeTrace, Prefer};
use crate::config::LlmSettings;
use crate::domain::intent::{DraftIntent, MAX_JUSTIFICATION};
use crate::metrics::Metrics;
use answer::ModelAnswer;
use anyhow::Context;
use async_openai::types::chat::CreateChatCompletionResponse;
use async_trait::async_trait;
use client::{Endpoint, ModelClient, RetryPolicy};
use output::OutputMode;
use prompts::{Prompts, SystemVars, TurnVars};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest raw answer kept in the context log.
const MAX_LOGGED_ANSWER: usize = 4000;

pub struct LlmIntake {
    client: ModelClient,
    model: String,
    mode: OutputMode,
    prompts: Prompts,
    max_candidates: usize,
    max_thread_chars: usize,
    sampling: output::Sampling,
    prefer: Prefer,
    metrics: Arc<Metrics>,
}

/// One rendered prompt: what is sent, and its estimated size.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub system: String,
    pub user: String,
    pub tokens: u64,
    pub candidates: usize,
}

impl LlmIntake {
    /// Builds the client and loads the prompts (a template that does not render is an error here).
    pub fn from_settings(s: &LlmSettings, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let base = s.base_url.as_deref().context("llm.base_url is not set")?;
        url::Url::parse(base).context("llm.base_url is not a valid URL")?;
        let model = s
            .model
            .clone()
            .context("llm.model is required when llm.base_url is set")?;
        let endpoint = Endpoint::new(base, s.api_key.as_ref(), s.api_version.as_deref())?;
        let policy = RetryPolicy {
            max_retries: s.max_retries,
            max_retry_after: Duration::from_secs(s.max_retry_after_secs),
            base_delay: Duration::from_millis(250),
        };
        Ok(Self {
            client: client::build(endpoint, Duration::from_secs(s.timeout_secs.max(1)), policy)?,
            model,
            mode: OutputMode::parse(&s.output)?,
            prompts: Prompts::load(s.prompts_dir.as_deref())?,
            max_candidates: s.max_candidates.max(1),
            max_thread_chars: s.max_thread_chars.max(200),
            sampling: output::Sampling {
                max_tokens: s
                    .max_answer_tokens
                    .unwrap_or_else(schema::answer_token_budget)
                    .max(64),
                temperature: temperature(s.temperature)?,
            },
            prefer: s.prefer,
            metrics,
        })
    }

    /// The configured output mode.
    pub fn mode(&self) -> OutputMode {
        self.mode
    }

    /// The prompt for one request. No I/O; public for the benchmark.
    pub fn prompt(&self, ctx: &IntakeContext<'_>) -> anyhow::Result<Prompt> {
        let v = view::build(
            ctx.thread,
            ctx.requester,
            ctx.catalog,
            self.max_candidates,
            self.max_thread_chars,
        );
        let system = self.prompts.system(&SystemVars {
            delimiter: view::DELIMITER.into(),
            actions: "request, extend, revoke, cancel, status".into(),
            max_justification: MAX_JUSTIFICATION,
        })?;
        let template = if v.last_question.is_some() {
            prompts::CLARIFY
        } else {
            prompts::EXTRACT
        };
        let user = self.prompts.turn(
            template,
            &TurnVars {
                now: chrono::Utc::now().format("%Y-%m-%dT%H:%MZ").to_string(),
                requester: v.requester,
                candidates: v.candidates,
                thread: v.thread,
                delimiter: view::DELIMITER.into(),
                last_question: v.last_question.unwrap_or_else(|| "null".into()),
            },
        )?;
        // What the server sees: the output mode adds the schema or the tool definitions.
        let tokens = self.request(system.clone(), user.clone()).prompt_tokens();
        Ok(Prompt {
            system,
            user,
            tokens,
            candidates: v.candidate_count,
        })
    }

    fn request(&self, system: String, user: String) -> output::WireRequest {
        output::request(&self.model, self.mode, system, user, self.sampling)
    }

    /// Reads a completion as hostile input: the raw answer text and the draft it yields.
    pub fn read(
        response: &CreateChatCompletionResponse,
        mode: OutputMode,
    ) -> anyhow::Result<(String, DraftIntent)> {
        let raw = answer::answer_text(response, mode == OutputMode::Tool)?;
        let draft = ModelAnswer::parse(&raw)?.into_draft();
        Ok((raw, draft))
    }

    fn count(&self, outcome: &str) {
        self.metrics.inc(
            "warden_llm_calls_total",
            &format!("outcome=\"{outcome}\""),
            1,
        );
    }
}

/// `llm.temperature`, checked: the range every OpenAI-compatible server accepts.
fn temperature(t: Option<f32>) -> anyhow::Result<Option<f32>> {
    match t {
        Some(t) if !(0.0..=2.0).contains(&t) => {
            anyhow::bail!("llm.temperature must be between 0 and 2 (got {t})")
        }
        t => Ok(t),
    }
}

#[async_trait]
impl Intake for LlmIntake {
    fn name(&self) -> String {
        format!("llm:{}", self.model)
    }

    fn prefer(&self) -> Prefer {
        self.prefer
    }

    async fn extract(&self, ctx: &IntakeContext<'_>) -> Result<IntakeResult, IntakeError> {
        let prompt = self.prompt(ctx)?;
        self.metrics
            .inc("warden_llm_prompt_tokens_total", "", prompt.tokens);
        let request = self.request(prompt.system.clone(), prompt.user.clone());
        let started = Instant::now();
        let response: Result<CreateChatCompletionResponse, _> =
            self.client.chat().create_byot(request).await;
        let elapsed = started.elapsed();
        self.metrics
            .observe("warden_llm_request_seconds", "", elapsed.as_secs_f64());
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                self.count("error");
                return Err(IntakeError::Unavailable(anyhow::Error::new(e)));
            }
        };
        let completion_tokens = response
            .usage
            .as_ref()
            .map(|u| u64::from(u.completion_tokens));
        tracing::info!(
            model = %self.model,
            prompt_tokens_estimate = prompt.tokens,
            prompt_tokens_reported = response.usage.as_ref().map(|u| u.prompt_tokens),
            completion_tokens,
            latency_ms = elapsed.as_millis() as u64,
            candidates = prompt.candidates,
            thread_messages = ctx.thread.len(),
            "model intake call"
        );
        let (raw, draft) = match Self::read(&response, self.mode) {
            Ok(read) => read,
            Err(e) => {
                if e.is::<answer::ToolNotCalled>() {
                    self.count("tool_not_called");
                    tracing::warn!(model = %self.model, "{e}");
                } else {
                    self.count("invalid_answer");
                }
                let raw_answer = answer::raw_text(&response)
                    .map(|r| r.chars().take(MAX_LOGGED_ANSWER).collect());
                return Err(IntakeError::Rejected {
                    error: e,
                    raw_answer,
                });
            }
        };
        self.count("ok");
        Ok(IntakeResult {
            draft,
            trace: IntakeTrace {
                source: self.name(),
                prompt: Some(format!(
                    "[system]\n{}\n\n[user]\n{}",
                    prompt.system, prompt.user
                )),
                raw_answer: Some(raw.chars().take(MAX_LOGGED_ANSWER).collect()),
                prompt_tokens: Some(prompt.tokens),
                latency_ms: Some(elapsed.as_millis() as u64),
                completion_tokens,
                ..Default::default()
            },
        })
    }
}
