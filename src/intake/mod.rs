//! The intake port: words in, a validated intent or a clarifying question out.
//!
//! Whatever the intake (the structured parser, a language model), its output goes through
//! `DraftIntent::validate` against the catalog: nothing an intake says is trusted as it is.

use crate::domain::intent::{DraftIntent, IntentError};
use crate::domain::{Catalog, Intent, Person};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod llm;
pub mod parser;

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

/// An intake: parser or model. Returns a draft; validation is the caller's, always.
#[async_trait]
pub trait Intake: Send + Sync {
    fn name(&self) -> String;

    /// Whether a run costs a model call (counted against the per-person hourly limit).
    fn calls_model(&self) -> bool {
        true
    }

    async fn extract(&self, ctx: &IntakeContext<'_>) -> anyhow::Result<IntakeResult>;
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

    async fn extract(&self, ctx: &IntakeContext<'_>) -> anyhow::Result<IntakeResult> {
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
