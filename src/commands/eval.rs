//! `warden eval CORPUS.jsonl`: scores the configured intake on labelled messages, read exactly as
//! `serve` reads them (what the parser reads completely by the parser, the parser standing in
//! for a failed or doubtful model), and says how often the model's answer was used, fell back, and was right.
//!
//! Line format and matching rules: `tests/corpus/README.md`, implemented in `intake::corpus`.

use crate::config::Settings;
use crate::domain::{Catalog, Person};
use crate::intake::corpus::{self, Case};
use crate::intake::{Choice, Fallback, Intake, IntakeContext, ParserIntake, ThreadMessage};
use anyhow::Context;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Per-field tallies, failures and how each case was read.
#[derive(Debug, Default)]
pub struct Score {
    /// Whether a model was configured (else every reading is the parser's, by design).
    pub model: bool,
    pub cases: usize,
    pub correct_cases: usize,
    pub fields: BTreeMap<String, (usize, usize)>,
    pub clarified: usize,
    pub failures: Vec<String>,
    pub prompt_tokens: Vec<u64>,
    /// Cases where the model's answer was accepted (used, or set aside for the parser's).
    pub accepted: usize,
    /// Cases read by the parser because the model's answer was unusable / the server failed.
    pub rejected: usize,
    pub unavailable: usize,
    /// Read by the parser alone without a model call: exact structured commands, and (with
    /// `llm.prefer = "parser"`) any thread the parser reads completely.
    pub commands: usize,
    /// Accepted answers set aside for the parser's reading: the model's was not strictly better.
    pub parser_preferred: usize,
    pub latencies_ms: Vec<u64>,
    pub completion_tokens: Vec<u64>,
}

/// Most model calls `warden eval` keeps in flight: a CPU-hosted server serves a few slots at
/// once, and more only queue behind them (and time out).
pub const MAX_CONCURRENCY: usize = 8;

/// Runs every case through the intake and validation, as the workflow does, `concurrency`
/// cases at a time (results in corpus order). With `explain`, a line per case that reached the
/// model says what became of its answer.
pub async fn score(
    intake: &dyn Intake,
    catalog: &Catalog,
    cases: &[Case],
    concurrency: usize,
    explain: bool,
) -> Score {
    let person = Person {
        id: "eval".into(),
        display_name: "Eval User".into(),
        email: None,
        manager: None,
        groups: vec!["engineering".into()],
        accounts: vec![],
        sso_subject: None,
        target_ids: Default::default(),
        active: true,
    };
    let mut s = Score {
        model: intake.calls_model(),
        ..Score::default()
    };
    let started = std::time::Instant::now();
    let read_one = |case: &Case| {
        let person = &person;
        let thread: Vec<ThreadMessage> = case
            .messages
            .iter()
            .map(|m| ThreadMessage {
                author: "requester".into(),
                text: m.clone(),
            })
            .collect();
        async move {
            let ctx = IntakeContext {
                thread: &thread,
                requester: person,
                catalog,
            };
            // Eval measures readings, not people: no budget.
            crate::intake::read(intake, &ParserIntake, &ctx, &|| true)
                .await
                .expect("an unlimited budget is never spent")
        }
    };
    let mut readings = futures::stream::iter(cases.iter().map(read_one))
        .buffered(concurrency.clamp(1, MAX_CONCURRENCY));
    let mut done = 0;
    while let Some(result) = readings.next().await {
        let case = &cases[done];
        done += 1;
        count_reading(&mut s, &result.trace);
        let validated = result.draft.clone().with_implied_action().validate(catalog);
        score_case(&mut s, case, &validated);
        let called = !matches!(
            result.trace.choice,
            None | Some(Choice::StructuredCommand | Choice::ParserComplete)
        );
        if explain && called {
            eprintln!("\r{}", explanation(case, &result.trace));
        }
        if s.model {
            // A model on a CPU takes seconds per case: show progress and an estimate.
            let eta = started.elapsed().as_secs_f64() / done as f64 * (cases.len() - done) as f64;
            eprint!("\r{done}/{} cases, about {eta:.0}s left   ", cases.len());
            let _ = std::io::stderr().flush();
        }
    }
    if s.model {
        eprintln!();
    }
    s
}

/// One line on what became of a case's model call: which reading was used and, for a rejected
/// answer, why and what the model wrote.
fn explanation(case: &Case, t: &crate::intake::IntakeTrace) -> String {
    let choice = t
        .choice
        .and_then(|c| serde_json::to_value(c).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "-".into());
    let mut line = format!("{}: {choice}", case.id);
    if let Some(reason) = &t.fallback_reason {
        line.push_str(&format!(" ({reason})"));
    }
    if let Some(raw) = &t.raw_answer {
        let raw: String = raw.chars().take(400).collect();
        line.push_str(&format!("\n    answer: {}", raw.replace('\n', " ")));
    }
    line
}

fn count_reading(s: &mut Score, t: &crate::intake::IntakeTrace) {
    if let Some(tokens) = t.prompt_tokens {
        s.prompt_tokens.push(tokens);
    }
    s.latencies_ms.extend(t.latency_ms);
    s.completion_tokens.extend(t.completion_tokens);
    match (t.choice, t.fallback) {
        (Some(Choice::StructuredCommand | Choice::ParserComplete), _) => s.commands += 1,
        (Some(Choice::Fallback), Some(Fallback::Rejected)) => s.rejected += 1,
        (Some(Choice::Fallback), _) => s.unavailable += 1,
        (Some(Choice::ParserValidates | Choice::ParserAsks), _) => {
            s.accepted += 1;
            s.parser_preferred += 1;
        }
        (Some(Choice::Model), _) => s.accepted += 1,
        (None, _) => {}
    }
}

fn score_case(
    s: &mut Score,
    case: &Case,
    validated: &Result<crate::domain::Intent, crate::domain::IntentError>,
) {
    s.cases += 1;
    if validated.is_err() {
        s.clarified += 1;
    }
    let verdict = corpus::check(case, validated);
    for (field, ok) in &verdict.checks {
        tally(s, field, *ok);
    }
    if verdict.right() {
        s.correct_cases += 1;
    }
    s.failures
        .extend(verdict.misses.iter().map(|m| format!("{}: {m}", case.id)));
}

fn tally(s: &mut Score, field: &str, ok: bool) {
    let e = s.fields.entry(field.to_string()).or_default();
    e.1 += 1;
    if ok {
        e.0 += 1;
    }
}

pub fn report(s: &Score) -> String {
    let mut out = format!(
        "cases: {}  fully correct: {} ({:.1}%)\n",
        s.cases,
        s.correct_cases,
        pct(s.correct_cases, s.cases)
    );
    if s.model {
        out.push_str(&format!(
            "readings: model accepted {} (of which parser preferred {}), fallback {} (answer rejected {}, server unavailable {}), read by the parser alone {}\n",
            s.accepted,
            s.parser_preferred,
            s.rejected + s.unavailable,
            s.rejected,
            s.unavailable,
            s.commands
        ));
        if let Some((mean, p90)) = mean_p90(&s.latencies_ms) {
            out.push_str(&format!(
                "latency per call: mean {mean:.0} ms, p90 {p90} ms\n"
            ));
        }
        if let Some((mean, p90)) = mean_p90(&s.completion_tokens) {
            out.push_str(&format!(
                "completion tokens per answer: mean {mean:.0}, p90 {p90}\n"
            ));
        }
    }
    out.push_str("per-field accuracy:\n");
    for (f, (ok, n)) in &s.fields {
        out.push_str(&format!("  {f:<14} {ok:>4}/{n:<4} {:.1}%\n", pct(*ok, *n)));
    }
    out.push_str(&format!(
        "clarification rate: {:.1}% ({} of {})\n",
        pct(s.clarified, s.cases),
        s.clarified,
        s.cases
    ));
    match (s.model, s.prompt_tokens.is_empty()) {
        (false, _) => out.push_str("mean prompt tokens: n/a (no model configured)\n"),
        (true, true) => out.push_str("mean prompt tokens: n/a (no model answer was accepted)\n"),
        (true, false) => out.push_str(&format!(
            "mean prompt tokens: {:.0}\n",
            s.prompt_tokens.iter().sum::<u64>() as f64 / s.prompt_tokens.len() as f64
        )),
    }
    if !s.failures.is_empty() {
        out.push_str(&format!("failures ({}):\n", s.failures.len()));
        for f in &s.failures {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out
}

/// Mean and 90th percentile (nearest rank), if there is anything to summarise.
fn mean_p90(values: &[u64]) -> Option<(f64, u64)> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * 9).div_ceil(10).max(1);
    let mean = sorted.iter().sum::<u64>() as f64 / sorted.len() as f64;
    Some((mean, sorted[rank - 1]))
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

pub async fn run(
    s: &Settings,
    corpus: &Path,
    catalog: Option<&Path>,
    limit: Option<usize>,
    concurrency: usize,
    explain: bool,
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(corpus)
        .with_context(|| format!("Failed to read {}", corpus.display()))?;
    let mut cases = corpus::load(&text)?;
    if let Some(n) = limit {
        cases.truncate(n);
    }
    let sibling = corpus.with_file_name("catalog.toml");
    let catalog = match catalog
        .map(Path::to_path_buf)
        .or_else(|| sibling.exists().then_some(sibling))
    {
        Some(p) => Catalog::from_toml(
            &std::fs::read_to_string(&p)
                .with_context(|| format!("Failed to read {}", p.display()))?,
        )?,
        None => crate::app::load_catalog(s)?,
    };
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let intake = crate::app::build_intake(s, metrics)?;
    let mode = if intake.calls_model() {
        format!("  output: {}", s.llm.output)
    } else {
        String::new()
    };
    println!(
        "intake: {}{mode}  catalog: {} resources",
        intake.name(),
        catalog.len()
    );
    let result = score(intake.as_ref(), &catalog, &cases, concurrency, explain).await;
    print!("{}", report(&result));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_whose_every_answer_was_rejected_is_not_reported_as_no_model() {
        let s = Score {
            model: true,
            cases: 3,
            rejected: 3,
            ..Score::default()
        };
        let out = report(&s);
        assert!(!out.contains("no model configured"), "{out}");
        assert!(out.contains("no model answer was accepted"), "{out}");
        assert!(
            out.contains("fallback 3 (answer rejected 3, server unavailable 0)"),
            "{out}"
        );
        let parser = report(&Score::default());
        assert!(
            parser.contains("no model configured") && !parser.contains("fallback"),
            "{parser}"
        );
    }

    #[test]
    fn p90_is_the_nearest_rank() {
        assert_eq!(mean_p90(&[]), None);
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(mean_p90(&v), Some((5.5, 9)));
        assert_eq!(mean_p90(&[7]), Some((7.0, 7)));
    }
}
