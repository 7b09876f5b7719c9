//! `warden llm probe` (also run by `config check --online`): one sample request per output mode
//! against the configured server, and which modes work and which to use.
//!
//! Servers differ in what they honour: llama.cpp accepts `json_schema` as a grammar but ignores
//! a forced tool call it cannot parse; some servers reject `json_schema` outright. A mode that
//! "works" here answered with an accepted reading of the sample.

use super::LlmIntake;
use super::answer::ToolNotCalled;
use super::output::OutputMode;
use crate::config::LlmSettings;
use crate::domain::{Catalog, Person};
use crate::intake::{Intake, IntakeContext, IntakeError, ThreadMessage};
use std::time::{Duration, Instant};

/// The sample: a plain request the shipped example catalog can fully answer.
const SAMPLE: &str = "need edit on the wiki for 2h to fix the onboarding page";

/// What one mode did with the sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The answer was accepted (the reading may still need a question: a weak model).
    Works { validates: bool },
    /// Tool mode: the server answered without calling the tool it was told to call.
    ToolNotForced,
    /// The server answered; the answer was not usable.
    Rejected(String),
    /// The server did not answer (HTTP error, timeout, connection).
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct ModeReport {
    pub mode: OutputMode,
    pub outcome: Outcome,
    pub latency: Duration,
    pub completion_tokens: Option<u64>,
}

/// Tries every output mode, in recommendation order.
pub async fn probe(settings: &LlmSettings) -> anyhow::Result<Vec<ModeReport>> {
    let catalog = Catalog::from_toml(crate::examples::EXAMPLE_CATALOG)?;
    let person = Person {
        id: "probe".into(),
        display_name: "Probe".into(),
        email: None,
        manager: None,
        groups: vec!["engineering".into()],
        accounts: vec![],
        sso_subject: None,
        target_ids: Default::default(),
        active: true,
    };
    let thread = [ThreadMessage {
        author: "requester".into(),
        text: SAMPLE.into(),
    }];
    let ctx = IntakeContext {
        thread: &thread,
        requester: &person,
        catalog: &catalog,
    };
    let mut reports = Vec::new();
    for mode in OutputMode::ALL {
        let mut s = settings.clone();
        s.output = mode.as_str().into();
        let intake = LlmIntake::from_settings(&s, Default::default())?;
        let started = Instant::now();
        let result = intake.extract(&ctx).await;
        let latency = started.elapsed();
        let (outcome, completion_tokens) = match result {
            Ok(r) => (
                Outcome::Works {
                    validates: r.validate(&catalog).is_ok(),
                },
                r.trace.completion_tokens,
            ),
            Err(IntakeError::Rejected { error: e, .. }) if e.is::<ToolNotCalled>() => {
                (Outcome::ToolNotForced, None)
            }
            Err(IntakeError::Rejected { error: e, .. }) => {
                (Outcome::Rejected(format!("{e:#}")), None)
            }
            Err(e) => (Outcome::Unavailable(e.to_string()), None),
        };
        reports.push(ModeReport {
            mode,
            outcome,
            latency,
            completion_tokens,
        });
    }
    Ok(reports)
}

/// The mode to use: the first that works, preferring one whose reading validated.
pub fn recommend(reports: &[ModeReport]) -> Option<OutputMode> {
    let works = |need_valid: bool| {
        reports
            .iter()
            .find(|r| matches!(r.outcome, Outcome::Works { validates } if validates || !need_valid))
    };
    works(true).or_else(|| works(false)).map(|r| r.mode)
}

/// One line per mode, then the recommendation; `Err` lines are problems for `config check`.
pub fn render(reports: &[ModeReport], configured: &str) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for r in reports {
        let what = match &r.outcome {
            Outcome::Works { validates: true } => "works".to_string(),
            Outcome::Works { validates: false } => {
                "works, but the model's reading of the sample needed a question (a weak model)"
                    .to_string()
            }
            Outcome::ToolNotForced => {
                "does not work: the server ignores forced tool choice (the model answered in prose)"
                    .to_string()
            }
            Outcome::Rejected(why) => format!("does not work: answer rejected ({why})"),
            Outcome::Unavailable(why) => format!("does not work: {why}"),
        };
        let tokens = r
            .completion_tokens
            .map_or(String::new(), |t| format!(", {t} completion tokens"));
        let line = format!(
            "llm output {}: {what} ({:.1}s{tokens})",
            r.mode.as_str(),
            r.latency.as_secs_f64()
        );
        let works = matches!(r.outcome, Outcome::Works { .. });
        if r.mode.as_str() == configured && !works {
            problems.push(format!("{line} — and it is the configured llm.output"));
        } else {
            lines.push(line);
        }
    }
    match recommend(reports) {
        Some(m) if m.as_str() == configured => {
            lines.push(format!("llm output: use {} (configured)", m.as_str()))
        }
        Some(m) => lines.push(format!(
            "llm output: use {} (set llm.output = \"{}\"; configured: {configured})",
            m.as_str(),
            m.as_str()
        )),
        None => problems.push("llm: no output mode works with this server".into()),
    }
    (lines, problems)
}
