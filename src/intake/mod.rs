//! The intake port: words in, a validated intent or a clarifying question out.
//!
//! Whatever the intake (the structured parser, a language model), its output goes through
//! `DraftIntent::validate` against the catalog: nothing an intake says is trusted as it is.

use crate::domain::intent::{DraftIntent, IntentError};
use crate::domain::{Catalog, Intent, Person};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod choose;
pub mod corpus;
pub mod grounding;
pub mod llm;
pub mod parser;

pub use choose::read;

/// One message of a request's own thread, oldest first. Nothing from other requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadMessage {
    /// "requester" or "warden".
    pub author: String,
    pub text: String,
}

/// What an intake sees: this request's thread, the requester's non-sensitive profile, the catalog.
pub struct IntakeContext<'a> {
    pub thread: &'a [ThreadMessage],
    pub requester: &'a Person,
    pub catalog: &'a Catalog,
}

/// A record of one intake run, kept in the request's context log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IntakeTrace {
    /// "parser" or "llm:<model>".
    pub source: String,
    /// Exact prompt sent to a model, if any.
    pub prompt: Option<String>,
    /// Raw answer from a model, if any.
    pub raw_answer: Option<String>,
    pub prompt_tokens: Option<u64>,
    /// Why a model was not used (outage, garbage): the parser took over.
    pub fallback_reason: Option<String>,
    /// Which kind of failure `fallback_reason` describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
    /// Why this reading was used, when there was a choice (see [`choose`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<Choice>,
    /// The other intake's reading, when the model and the parser disagreed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_reading: Option<DraftIntent>,
    /// Wall time of the model call, retries included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Completion tokens the server reported for the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
}

/// Why the parser read a message although a model is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The model server did not answer (timeout, connection, HTTP error).
    Unavailable,
    /// The server answered, but the answer was not usable.
    Rejected,
}

/// Which reading was used and why, when a model is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// An exact structured command: the parser's reading, no model call.
    StructuredCommand,
    /// The parser read the thread completely (it validates) and `llm.prefer` is `parser`: its
    /// reading, no model call.
    ParserComplete,
    /// The model's reading: it validates and the parser's does not (or, with
    /// `llm.prefer = "model"`, both do).
    Model,
    /// The model's reading needed a question and the parser's did not.
    ParserValidates,
    /// Both readings needed a question: the parser's is asked (a tie is the parser's).
    ParserAsks,
    /// The model gave no usable reading; see `fallback`.
    Fallback,
}

/// Why an intake gave no reading. Either way the parser takes over; the requester and the log
/// are told which happened.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the model server did not answer: {0:#}")]
    Unavailable(anyhow::Error),
    #[error("the model's answer was rejected: {error:#}")]
    Rejected {
        error: anyhow::Error,
        /// What the model said, kept for the context log (never for chat or the app log).
        raw_answer: Option<String>,
    },
    /// Warden's own side failed (a prompt that does not render).
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

impl IntakeError {
    pub fn fallback(&self) -> Fallback {
        match self {
            Self::Rejected { .. } => Fallback::Rejected,
            Self::Unavailable(_) | Self::Internal(_) => Fallback::Unavailable,
        }
    }

    /// The rejected answer's text, when the server gave one.
    pub fn raw_answer(&self) -> Option<&str> {
        match self {
            Self::Rejected { raw_answer, .. } => raw_answer.as_deref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IntakeResult {
    pub draft: DraftIntent,
    pub trace: IntakeTrace,
}

impl IntakeResult {
    /// The validated intent, or the question to ask.
    pub fn validate(&self, catalog: &Catalog) -> Result<Intent, IntentError> {
        self.draft.validate(catalog)
    }
}

/// Which reading is used when the parser alone reads a thread completely (`llm.prefer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefer {
    /// The parser's complete reading, without a model call: a weak or slow model can only
    /// lose against a reading built from exact catalog names, and the requester confirms
    /// either way. The model reads what the parser cannot complete.
    #[default]
    Parser,
    /// Ask the model whenever one is configured; its reading wins when it validates.
    Model,
}

/// An intake: parser or model. Returns a draft; validation is the caller's, always.
#[async_trait]
pub trait Intake: Send + Sync {
    fn name(&self) -> String;

    /// Whether a run costs a model call (counted against the per-person hourly limit).
    fn calls_model(&self) -> bool {
        true
    }

    /// Whether a complete parser reading is used without asking this intake.
    fn prefer(&self) -> Prefer {
        Prefer::Parser
    }

    async fn extract(&self, ctx: &IntakeContext<'_>) -> Result<IntakeResult, IntakeError>;
}

/// The structured-command parser as an intake (the default when no model is configured).
pub struct ParserIntake;

#[async_trait]
impl Intake for ParserIntake {
    fn name(&self) -> String {
        "parser".into()
    }

    fn calls_model(&self) -> bool {
        false
    }

    async fn extract(&self, ctx: &IntakeContext<'_>) -> Result<IntakeResult, IntakeError> {
        let parse = || parser::parse_thread(ctx.thread, ctx.catalog);
        let draft = if parser_input_chars(ctx.thread) > PARSER_INLINE_CHARS {
            off_the_executor(parse)
        } else {
            parse()
        };
        Ok(IntakeResult {
            draft,
            trace: IntakeTrace {
                source: "parser".into(),
                ..Default::default()
            },
        })
    }
}

/// Above this many characters of requester text the parser's CPU time (milliseconds) would
/// hold up other tasks on the executor thread, so it runs off it. Below, inline is cheaper.
const PARSER_INLINE_CHARS: usize = 2_000;

/// The characters the parser reads: the requester's messages only.
fn parser_input_chars(thread: &[ThreadMessage]) -> usize {
    thread
        .iter()
        .filter(|m| m.author == "requester")
        .map(|m| m.text.len())
        .sum()
}

/// Runs CPU-bound work without stalling the other tasks of a multi-threaded runtime:
/// `block_in_place` hands this worker's queue to another thread first, and lets the work keep
/// borrowing its input (no copy of the thread or the catalog). On a current-thread runtime
/// (tests, the console) there is no other worker to hand over to, so it runs inline.
fn off_the_executor<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
