//! Which reading of a message is used when a model is configured, so that a weak model never
//! makes Warden worse than the parser alone.
//!
//! - An exact structured command (`/access request prod-db read for 2h`, `revoke AR-7K3D9QX2`)
//!   that the parser reads completely is the parser's: no model call, nothing to get wrong.
//! - Any other thread the parser reads completely (its reading validates against the catalog)
//!   is the parser's too while `llm.prefer = "parser"` (the default): measured on a small
//!   self-hosted model, the model's different reading of such threads was wrong far more often
//!   than right, and each call cost tens of seconds. The model reads what the parser cannot
//!   complete (paraphrases, typos beyond the aliases, a missing field).
//! - The model answers: its reading is used, unless it needs a question and the parser's reading
//!   validates against the catalog without one. When the two differ, both are logged and the
//!   one not used is kept in the trace.
//! - The model fails: the parser's reading, with the kind of failure (unavailable or rejected).
//!
//! The serve path and `warden eval` both go through [`read`], so eval measures what serve does.

use super::{Choice, Intake, IntakeContext, IntakeResult, Prefer, parser};

/// The person's model budget is spent: the words were not read, and no model was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelBudgetSpent;

/// Reads the thread with `intake`, the parser standing by as described in the module doc.
/// `may_call_model` is asked once, only when the model would be called, so readings that need
/// no model (the parser alone, an exact command) never spend the person's budget.
pub async fn read(
    intake: &dyn Intake,
    fallback: &dyn Intake,
    ctx: &IntakeContext<'_>,
    may_call_model: &(dyn Fn() -> bool + Sync),
) -> Result<IntakeResult, ModelBudgetSpent> {
    let parsed = match fallback.extract(ctx).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "the parser failed");
            IntakeResult {
                draft: Default::default(),
                trace: Default::default(),
            }
        }
    };
    if !intake.calls_model() {
        return Ok(parsed);
    }
    let parser_ok = parsed.validate(ctx.catalog).is_ok();
    if parser_ok && is_one_command(ctx) {
        return Ok(with_choice(parsed, Choice::StructuredCommand));
    }
    if parser_ok && intake.prefer() == Prefer::Parser {
        return Ok(with_choice(parsed, Choice::ParserComplete));
    }
    if !may_call_model() {
        return Err(ModelBudgetSpent);
    }
    let model = match intake.extract(ctx).await {
        Ok(r) => r,
        Err(err) => {
            tracing::warn!(error = %err, intake = %intake.name(), kind = ?err.fallback(), "intake failed; falling back to the parser");
            let mut r = with_choice(parsed, Choice::Fallback);
            r.trace.fallback = Some(err.fallback());
            r.trace.fallback_reason = Some(format!("{err}").chars().take(300).collect());
            return Ok(r);
        }
    };
    if model.draft == parsed.draft {
        return Ok(with_choice(model, Choice::Model));
    }
    let model_ok = model.validate(ctx.catalog).is_ok();
    tracing::info!(
        model = ?model.draft,
        parser = ?parsed.draft,
        model_validates = model_ok,
        parser_validates = parser_ok,
        "the model and the parser read the message differently"
    );
    if parser_ok && !model_ok {
        // The parser's reading, with the model call's evidence (prompt, answer, timing) kept.
        let mut trace = model.trace;
        trace.source = parsed.trace.source;
        trace.choice = Some(Choice::ParserValidates);
        trace.other_reading = Some(model.draft);
        return Ok(IntakeResult {
            draft: parsed.draft,
            trace,
        });
    }
    let mut r = with_choice(model, Choice::Model);
    r.trace.other_reading = Some(parsed.draft);
    Ok(r)
}

fn with_choice(mut r: IntakeResult, choice: Choice) -> IntakeResult {
    r.trace.choice = Some(choice);
    r
}

/// The thread is one requester message written as a structured command.
fn is_one_command(ctx: &IntakeContext<'_>) -> bool {
    let mut said = ctx.thread.iter().filter(|m| m.author == "requester");
    match (said.next(), said.next()) {
        (Some(first), None) => parser::is_structured_command(&first.text),
        _ => false,
    }
}
