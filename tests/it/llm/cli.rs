//! `warden eval`, `warden llm probe` and `config check --online` as a deployment runs them: the
//! binary, configured by environment, against the fake model server.

use crate::support::fakes::llama::PROSE;
use crate::support::fakes::llm::{FakeModel, Reply, completion, intent};
use serde_json::json;
use std::path::Path;

const CASE: &str = r#"{"id": "j1", "messages": ["need edit on the wiki for 2h to fix the onboarding page"], "expect": {"action": "request", "resource": "wiki", "duration_secs": 7200, "justification": "Onboarding Page"}}"#;

fn wiki_answer() -> String {
    intent(
        json!({ "resource": "wiki", "role": "edit", "duration": "2h", "justification": "fix the onboarding page" }),
    )
}

/// Runs `warden ARGS` in `dir` with the model server at `model` (if any); stdout and success.
fn warden(dir: &Path, model: Option<(&FakeModel, &str)>, args: &[&str]) -> (String, bool) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.args(args).current_dir(dir).env_remove("WARDEN_CONFIG");
    if let Some((fake, output)) = model {
        cmd.env("WARDEN__LLM__BASE_URL", fake.base_url())
            .env("WARDEN__LLM__MODEL", "test-model")
            .env("WARDEN__LLM__OUTPUT", output)
            .env("WARDEN__LLM__MAX_RETRIES", "0")
            // These cases are about the model's answers; the parser alone reads them completely.
            .env("WARDEN__LLM__PREFER", "model");
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

fn corpus_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cases.jsonl"), CASE).unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        warden::examples::EXAMPLE_CATALOG,
    )
    .unwrap();
    dir
}

#[test]
fn eval_matches_justification_as_a_case_insensitive_substring_as_its_docs_say() {
    let dir = corpus_dir();
    let (out, ok) = warden(dir.path(), None, &["eval", "cases.jsonl"]);
    assert!(ok, "{out}");
    assert!(out.contains("fully correct: 1 (100.0%)"), "{out}");
}

#[test]
fn eval_counts_rejected_answers_as_fallbacks_and_does_not_call_the_model_absent() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeModel::start());
    fake.answer_always(Reply::ok(completion("I cannot help with that.")));
    let dir = corpus_dir();
    let (out, ok) = warden(
        dir.path(),
        Some((&fake, "json_schema")),
        &["eval", "cases.jsonl"],
    );
    assert!(ok, "{out}");
    assert!(!out.contains("(no model)"), "a model is configured: {out}");
    assert!(
        out.contains("model accepted 0") && out.contains("answer rejected 1"),
        "{out}"
    );
    assert!(
        out.contains("fully correct: 1"),
        "the parser read it, as serve would: {out}"
    );
    drop(rt);
}

#[test]
fn llm_probe_says_which_output_modes_a_server_honours_and_which_to_use() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeModel::start());
    fake.like_llama_cpp(wiki_answer());
    let dir = tempfile::tempdir().unwrap();
    let (out, ok) = warden(dir.path(), Some((&fake, "tool")), &["llm", "probe"]);
    assert!(ok, "{out}");
    for mode in ["json_schema", "tool", "json_object"] {
        assert!(
            out.contains(&format!("llm output {mode}: works")),
            "{mode}: {out}"
        );
    }
    assert!(out.contains("use json_schema"), "{out}");
    drop(rt);
}

#[test]
fn config_check_online_reports_a_server_that_ignores_forced_tool_choice() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeModel::start());
    // The probe tries json_schema, tool, json_object in turn; tool mode gets prose back.
    fake.push(Reply::ok(completion(&wiki_answer())));
    fake.push(Reply::ok(completion(PROSE)));
    fake.push(Reply::ok(completion(&wiki_answer())));
    let dir = tempfile::tempdir().unwrap();
    let (out, ok) = warden(
        dir.path(),
        Some((&fake, "tool")),
        &["config", "check", "--online"],
    );
    assert!(!ok, "the configured mode does not work: {out}");
    assert!(
        out.contains("✗ llm output tool: does not work: the server ignores forced tool choice"),
        "{out}"
    );
    assert!(out.contains("set llm.output = \"json_schema\""), "{out}");
    drop(rt);
}
