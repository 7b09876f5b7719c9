//! `warden eval CORPUS.jsonl`: scores the configured intake (model or parser) on labelled messages.
//!
//! Each line: `{"id", "messages": ["…", …], "expect": {field: value, …}}` or
//! `{"id", "messages": [...], "expect": "clarify", "field": "role"}`. Only listed fields are scored.

use crate::config::Settings;
use crate::domain::{Catalog, Person};
use crate::intake::{Intake, IntakeContext, ThreadMessage};
use anyhow::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Deserialize)]
pub struct Case {
    pub id: String,
    pub messages: Vec<String>,
    pub expect: serde_json::Value,
    #[serde(default)]
    pub field: Option<String>,
}

/// Per-field tallies and failures of one run.
#[derive(Debug, Default)]
pub struct Score {
    pub cases: usize,
    pub correct_cases: usize,
    pub fields: BTreeMap<String, (usize, usize)>,
    pub clarified: usize,
    pub failures: Vec<String>,
    pub prompt_tokens: Vec<u64>,
}

pub fn load_corpus(text: &str) -> anyhow::Result<Vec<Case>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("corpus line {} is not a valid case", i + 1))
        })
        .collect()
}

/// Runs every case through `intake` and validation, as the workflow does.
pub async fn score(intake: &dyn Intake, catalog: &Catalog, cases: &[Case]) -> Score {
    let person = Person {
        id: "eval".into(),
        display_name: "Eval User".into(),
        email: None,
        manager: None,
        groups: vec!["engineering".into()],
        accounts: vec![],
        active: true,
    };
    let mut s = Score::default();
    for case in cases {
        s.cases += 1;
        let thread: Vec<ThreadMessage> = case
            .messages
            .iter()
            .map(|m| ThreadMessage {
                author: "requester".into(),
                text: m.clone(),
            })
            .collect();
        let ctx = IntakeContext {
            thread: &thread,
            requester: &person,
            catalog,
        };
        let result = match intake.extract(&ctx).await {
            Ok(r) => r,
            Err(e) => {
                s.failures.push(format!("{}: intake error: {e:#}", case.id));
                continue;
            }
        };
        if let Some(t) = result.trace.prompt_tokens {
            s.prompt_tokens.push(t);
        }
        let mut draft = result.draft.clone();
        if draft.action.is_none() && (draft.resource.is_some() || draft.role.is_some()) {
            draft.action = Some(crate::domain::Action::Request);
        }
        let validated = draft.validate(catalog);
        if validated.is_err() {
            s.clarified += 1;
        }
        let mut all_ok = true;
        match (&case.expect, &validated) {
            (serde_json::Value::String(c), Err(q)) if c == "clarify" => {
                let got = serde_json::to_value(q.field)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
                let ok = case.field.is_none() || case.field == got;
                tally(&mut s, "clarify", ok);
                if !ok {
                    all_ok = false;
                    s.failures.push(format!(
                        "{}: asked about {:?}, expected {:?}",
                        case.id, got, case.field
                    ));
                }
            }
            (serde_json::Value::String(_), Ok(intent)) => {
                tally(&mut s, "clarify", false);
                all_ok = false;
                s.failures.push(format!(
                    "{}: expected a clarifying question, got {}",
                    case.id,
                    serde_json::to_string(intent).unwrap_or_default()
                ));
            }
            (serde_json::Value::Object(want), Ok(intent)) => {
                let got = serde_json::to_value(intent).unwrap_or_default();
                for (k, v) in want {
                    let ok = got.get(k) == Some(v) || (v.is_null() && got.get(k).is_none());
                    tally(&mut s, k, ok);
                    if !ok {
                        all_ok = false;
                        s.failures.push(format!(
                            "{}: {k} = {}, expected {v}",
                            case.id,
                            got.get(k).cloned().unwrap_or_default()
                        ));
                    }
                }
            }
            (serde_json::Value::Object(want), Err(q)) => {
                for k in want.keys() {
                    tally(&mut s, k, false);
                }
                all_ok = false;
                s.failures.push(format!(
                    "{}: asked \"{}\" but expected an intent",
                    case.id, q.question
                ));
            }
            _ => {
                all_ok = false;
                s.failures
                    .push(format!("{}: malformed expectation", case.id));
            }
        }
        if all_ok {
            s.correct_cases += 1;
        }
    }
    s
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
    if s.prompt_tokens.is_empty() {
        out.push_str("mean prompt tokens: n/a (no model)\n");
    } else {
        out.push_str(&format!(
            "mean prompt tokens: {:.0}\n",
            s.prompt_tokens.iter().sum::<u64>() as f64 / s.prompt_tokens.len() as f64
        ));
    }
    if !s.failures.is_empty() {
        out.push_str(&format!("failures ({}):\n", s.failures.len()));
        for f in &s.failures {
            out.push_str(&format!("  {f}\n"));
        }
    }
    out
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

pub async fn run(s: &Settings, corpus: &Path, catalog: Option<&Path>) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(corpus)
        .with_context(|| format!("Failed to read {}", corpus.display()))?;
    let cases = load_corpus(&text)?;
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
    println!(
        "intake: {}  catalog: {} resources",
        intake.name(),
        catalog.len()
    );
    let result = score(intake.as_ref(), &catalog, &cases).await;
    print!("{}", report(&result));
    Ok(ExitCode::SUCCESS)
}
