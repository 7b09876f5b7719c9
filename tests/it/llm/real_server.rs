//! The model intake against a real llama.cpp server with a small model, in all three output
//! modes. Runs only when `WARDEN_TEST_LLAMA_URL` is set (`scripts/llama-server.sh start` prints
//! it); not part of the default CI run, since building the server takes 10-25 minutes.

use super::app::LlmTest;
use crate::support::console::Drive;
use std::time::Duration;
use warden::commands::eval;
use warden::domain::{Catalog, RequestState};
use warden::intake::ParserIntake;
use warden::intake::corpus;
use warden::intake::llm::LlmIntake;

/// Cases of the public corpus scored per mode (the first 30 lines of `intents.jsonl`).
const CASES: usize = 30;

fn server() -> Option<String> {
    let url = std::env::var("WARDEN_TEST_LLAMA_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped: WARDEN_TEST_LLAMA_URL is not set (see scripts/llama-server.sh)");
    }
    url
}

fn settings(url: &str, output: &str) -> warden::config::LlmSettings {
    warden::config::LlmSettings {
        base_url: Some(url.to_string()),
        model: Some("smollm2".into()),
        output: output.into(),
        timeout_secs: 180,
        max_retries: 0,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_real_llama_cpp_server_reads_requests_in_every_output_mode() {
    let Some(url) = server() else { return };
    for output in ["json_schema", "tool", "json_object"] {
        // The model's reading is what this checks: ask it even where the parser could read alone.
        let t = LlmTest::start_with(|s| {
            *s = settings(&url, output);
            s.prefer = warden::intake::Prefer::Model;
        })
        .await;
        let id = tokio::time::timeout(
            Duration::from_secs(300),
            t.say(
                "alice",
                "need edit on the wiki for 2h to fix the onboarding page",
            ),
        )
        .await
        .expect("an answer within the timeout");
        let trace = &t.traces(&id).await[0];
        eprintln!("{output}: {trace}");
        // The request is accepted by the server (no HTTP error) and the answer is not cut off.
        let reason = trace["fallback_reason"].as_str().unwrap_or_default();
        assert!(
            !reason.contains("did not answer") && !reason.contains("cut off"),
            "{output}: {reason}"
        );
        // Whoever read it, the requester reaches a confirmation card (the model's reading when
        // it was used, the parser's otherwise: never worse).
        assert_eq!(
            t.state(&id).await,
            RequestState::AwaitingConfirmation,
            "{output}"
        );
    }
}

#[tokio::test]
async fn serve_on_a_real_server_is_never_worse_than_the_parser_on_the_public_corpus() {
    let Some(url) = server() else { return };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let catalog =
        Catalog::from_toml(&std::fs::read_to_string(dir.join("catalog.toml")).unwrap()).unwrap();
    let mut cases =
        corpus::load(&std::fs::read_to_string(dir.join("intents.jsonl")).unwrap()).unwrap();
    cases.truncate(CASES);
    let parser = eval::score(&ParserIntake, &catalog, &cases, 1, false).await;
    for output in ["json_schema", "tool", "json_object"] {
        let intake = LlmIntake::from_settings(&settings(&url, output), Default::default()).unwrap();
        let s = eval::score(&intake, &catalog, &cases, 2, true).await;
        eprintln!("== {output}\n{}", eval::report(&s));
        assert!(
            s.correct_cases >= parser.correct_cases,
            "{output}: {} correct with the model, {} with the parser alone",
            s.correct_cases,
            parser.correct_cases
        );
        let budget = warden::intake::llm::schema::answer_token_budget() as u64;
        assert!(
            s.completion_tokens.iter().all(|&t| t < budget),
            "{output}: an answer ran to the token limit: {:?}",
            s.completion_tokens
        );
    }
}
