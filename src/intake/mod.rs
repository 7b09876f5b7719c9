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
        let draft = parser::parse_thread(ctx.thread, ctx.catalog);
        Ok(IntakeResult {
            draft,
            trace: IntakeTrace {
                source: "parser".into(),
                ..Default::default()
            },
        })
    }
}
