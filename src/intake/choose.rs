//! Which reading of a message is used when a model is configured, so that a weak model never
//! makes Warden worse than the parser alone.
//!
//! - An exact structured command (`/access request prod-db read for 2h`, `revoke AR-7K3D9QX2`)
//!   that the parser reads completely is the parser's: no model call, nothing to get wrong.
//!   So is any slash command (`/access request`, `/access help`), complete or not: the parser's
//!   question names exactly what the command lacks.
//! - Any other thread the parser reads completely (its reading validates against the catalog)
//!   is the parser's too while `llm.prefer = "parser"` (the default): measured on a small
//!   self-hosted model, the model's different reading of such threads was wrong far more often
//!   than right, and each call cost tens of seconds. The model reads what the parser cannot
//!   complete (paraphrases, typos beyond the aliases, a missing field).
//! - The model answers: its reading is used only when it is strictly better than the parser's
//!   (see [`model_is_better`]), counting as valid only when it agrees with what the parser read
//!   and is grounded in the person's words ([`grounding`]); otherwise the parser's reading, and
//!   its question if it has one.
//!   When the two differ, both are logged and the one not used is kept in the trace.
//! - The model fails: the parser's reading, with the kind of failure (unavailable or rejected).
//!
//! The serve path and `warden eval` both go through [`read`], so eval measures what serve does.

use super::{Choice, Intake, IntakeContext, IntakeResult, Prefer, grounding, parser};

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
    if (parser_ok && is_one_command(ctx)) || is_one_slash_command(ctx) {
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
            // What the model said, so the context log (and `warden eval --explain`) shows why.
            r.trace.raw_answer = err.raw_answer().map(str::to_string);
            return Ok(r);
        }
    };
    if model.draft == parsed.draft {
        return Ok(with_choice(model, Choice::Model));
    }
    let said: Vec<&str> = ctx
        .thread
        .iter()
        .filter(|m| m.author == "requester")
        .map(|m| m.text.as_str())
        .collect();
    let ungrounded = grounding::ungrounded(
        &model.draft,
        &parsed.draft,
        &said.join("\n"),
        ctx.catalog,
        intake.prefer() == Prefer::Parser,
    );
    let model_ok = model.validate(ctx.catalog).is_ok() && ungrounded.is_none();
    let model_wins = model_is_better(model_ok, parser_ok, intake.prefer());
    tracing::info!(
        model = ?model.draft,
        parser = ?parsed.draft,
        model_validates = model_ok,
        model_ungrounded = ungrounded,
        parser_validates = parser_ok,
        used = if model_wins { "model" } else { "parser" },
        "the model and the parser read the message differently"
    );
    if !model_wins {
        // The parser's reading, with the model call's evidence (prompt, answer, timing) kept.
        let mut trace = model.trace;
        trace.source = parsed.trace.source;
        trace.choice = Some(match parser_ok {
            true => Choice::ParserValidates,
            false => Choice::ParserAsks,
        });
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

/// Whether the model's reading, different from the parser's, is used: only when it is strictly
/// better, that is when it validates and the parser's needs a question. Validation asks one
/// question at a time, so two readings that each need one are a tie, and a tie is the parser's:
/// measured on a small model, its question was about the wrong field more often than not
/// ("request grafana" answered with a question about the action instead of the role), and the
/// parser's question comes from exact catalog names. Two readings that both validate only meet
/// here with `llm.prefer = "model"`, which says the model wins that tie.
pub fn model_is_better(model_validates: bool, parser_validates: bool, prefer: Prefer) -> bool {
    match (model_validates, parser_validates) {
        (true, false) => true,
        (true, true) => prefer == Prefer::Model,
        (false, _) => false,
    }
}

fn with_choice(mut r: IntakeResult, choice: Choice) -> IntakeResult {
    r.trace.choice = Some(choice);
    r
}

/// The thread is one requester message written as a structured command.
fn is_one_command(ctx: &IntakeContext<'_>) -> bool {
    only_message(ctx).is_some_and(parser::is_structured_command)
}

/// The thread is one requester message typed as the slash command (`/access …`), complete or
/// not. Its grammar is exact, so what it lacks is what the parser asks for: there is nothing
/// for a model to read into it. Measured on a small model, `/access request` alone came back as
/// a revoke of a made-up request id, which validates and so would have beaten the question.
fn is_one_slash_command(ctx: &IntakeContext<'_>) -> bool {
    only_message(ctx).is_some_and(parser::is_slash_command)
}

fn only_message<'c>(ctx: &'c IntakeContext<'_>) -> Option<&'c str> {
    let mut said = ctx.thread.iter().filter(|m| m.author == "requester");
    match (said.next(), said.next()) {
        (Some(first), None) => Some(first.text.as_str()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_used_only_when_its_reading_is_strictly_better() {
        for prefer in [Prefer::Parser, Prefer::Model] {
            assert!(
                model_is_better(true, false, prefer),
                "only the model validates"
            );
            assert!(
                !model_is_better(false, true, prefer),
                "only the parser validates"
            );
            assert!(
                !model_is_better(false, false, prefer),
                "both ask: the parser's question"
            );
        }
        assert!(model_is_better(true, true, Prefer::Model));
        assert!(!model_is_better(true, true, Prefer::Parser));
    }
}
