//! A self-hosted OpenAI-compatible server (llama.cpp with a small model, as the fake reproduces
//! it): forced tool calls, bounded answers, fill-in order, and never worse than the parser.

use super::app::LlmTest;
use crate::support::console::Drive;
use crate::support::fakes::llama::PROSE;
use crate::support::fakes::llm::{Reply, completion, cut_off, intent, tool_call};
use serde_json::json;
use warden::domain::RequestState;
use warden::intake::llm::LlmIntake;

const MESSAGE: &str = "need edit on the wiki for 2h to fix the onboarding page";

fn wiki_answer() -> String {
    intent(
        json!({ "resource": "wiki", "role": "edit", "duration": "2h", "justification": "fix the onboarding page" }),
    )
}

#[tokio::test]
async fn tool_mode_on_llama_cpp_forces_the_call_with_required_and_uses_the_models_reading() {
    let t = LlmTest::start_with(|s| s.output = "tool".into()).await;
    t.fake.like_llama_cpp(wiki_answer());
    let id = t.say("alice", MESSAGE).await;
    let body = &t.fake.calls()[0].body;
    assert_eq!(body["tool_choice"], "required", "{}", body["tool_choice"]);
    let trace = &t.traces(&id).await[0];
    assert_eq!(trace["source"], "llm:test-model", "{trace}");
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
}

#[tokio::test]
async fn a_server_that_ignores_forced_tool_choice_is_named_as_such_and_the_parser_reads() {
    // Even "required" ignored: the model answers in prose, no tool call. With no grammar to
    // stop it, a small model's prose can also run to the token limit (SmolLM2-135M on
    // llama.cpp does); the cause to name is still the server's, not the length.
    for prose in [completion(PROSE), cut_off(PROSE, 320)] {
        let t = LlmTest::start_with(|s| s.output = "tool".into()).await;
        t.fake.push(Reply::ok(prose));
        let id = t.say("alice", MESSAGE).await;
        let trace = &t.traces(&id).await[0];
        assert_eq!(trace["source"], "parser");
        let reason = trace["fallback_reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("ignored the forced tool call"),
            "the reason names the server's behaviour: {reason}"
        );
        assert!(
            t.console.text().contains("answer could not be used"),
            "{}",
            t.console.text()
        );
        assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    }
}

#[tokio::test]
async fn a_grammar_enforcing_server_returns_a_bounded_answer_not_one_cut_off_at_the_limit() {
    for output in ["json_schema", "tool"] {
        let t = LlmTest::start_with(|s| s.output = output.into()).await;
        t.fake.like_llama_cpp(wiki_answer());
        let id = t.say("alice", MESSAGE).await;
        let trace = &t.traces(&id).await[0];
        assert_eq!(
            trace["source"], "llm:test-model",
            "{output}: the answer was not cut off: {trace}"
        );
        let max = t.fake.calls()[0].body["max_completion_tokens"]
            .as_u64()
            .unwrap_or(u64::MAX);
        assert!(
            max <= 400,
            "{output}: completion capped to what the schema needs: {max}"
        );
    }
}

#[tokio::test]
async fn the_schema_goes_on_the_wire_in_the_order_a_person_fills_it() {
    for output in ["json_schema", "tool"] {
        let t = LlmTest::start_with(|s| s.output = output.into()).await;
        t.fake.like_llama_cpp(wiki_answer());
        t.say("alice", MESSAGE).await;
        let raw = String::from_utf8(t.fake.calls()[0].raw.clone()).unwrap();
        let at = |k: &str| {
            raw.find(&format!("\"{k}\":{{"))
                .unwrap_or_else(|| panic!("{k} in {raw}"))
        };
        let order = [
            "action",
            "resource",
            "role",
            "duration",
            "justification",
            "break_glass",
        ];
        for pair in order.windows(2) {
            assert!(
                at(pair[0]) < at(pair[1]),
                "{output}: {} before {} on the wire",
                pair[0],
                pair[1]
            );
        }
    }
}

#[tokio::test]
async fn an_exact_structured_command_is_read_by_the_parser_without_a_model_call() {
    let t = LlmTest::start().await;
    t.fake.like_llama_cpp(wiki_answer());
    for command in [
        "/access request wiki edit for 2h because onboarding docs",
        "request staging-db read for 1h",
    ] {
        let id = t.say("alice", command).await;
        assert_eq!(
            t.state(&id).await,
            RequestState::AwaitingConfirmation,
            "{command}"
        );
        let trace = &t.traces(&id).await[0];
        assert_eq!(
            (trace["source"].as_str(), trace["choice"].as_str()),
            (Some("parser"), Some("structured_command")),
            "{trace}"
        );
    }
    assert_eq!(
        t.fake.calls().len(),
        0,
        "no model call for a structured command"
    );
}

#[tokio::test]
async fn when_only_the_parsers_reading_validates_it_is_used_and_both_are_logged() {
    let t = LlmTest::start().await;
    // A weak model picks a resource with several roles and no role: validation would ask.
    t.fake.push(Reply::ok(completion(&intent(
        json!({ "resource": "github-billing", "duration": "2h" }),
    ))));
    let id = t.say("alice", MESSAGE).await;
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    let trace = &t.traces(&id).await[0];
    assert_eq!(trace["choice"], "parser_validates", "{trace}");
    assert_eq!(
        trace["other_reading"]["resource"], "github-billing",
        "{trace}"
    );
    assert!(
        trace["raw_answer"].is_string(),
        "the model's answer is kept: {trace}"
    );
    t.submit("alice", &id).await;
    let inputs = t.policy_inputs();
    assert_eq!(inputs[0].intent.resource.as_deref(), Some("wiki"));
}

#[tokio::test]
async fn a_junk_request_id_on_a_request_is_dropped_not_asked_about() {
    let t = LlmTest::start().await;
    t.fake.push(Reply::ok(completion(&intent(json!({
        "resource": "wiki", "role": "edit", "duration": "2h",
        "justification": "fix the onboarding page", "request_id": "onboarding"
    })))));
    let id = t
        .say(
            "alice",
            "wiki edit for a couple of hours, fixing the onboarding page",
        )
        .await;
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    assert!(
        !t.console.text().contains("is not a request id"),
        "{}",
        t.console.text()
    );
    assert_eq!(t.traces(&id).await[0]["source"], "llm:test-model");
}

#[tokio::test]
async fn the_prompt_estimate_includes_the_tool_definitions_in_tool_mode() {
    let mut estimates = Vec::new();
    for output in ["json_schema", "tool"] {
        let t = LlmTest::start_with(|s| s.output = output.into()).await;
        t.fake.push(Reply::ok(match output {
            "tool" => tool_call("propose_intent", &wiki_answer()),
            _ => completion(&wiki_answer()),
        }));
        let id = t.say("alice", MESSAGE).await;
        estimates.push(t.traces(&id).await[0]["prompt_tokens"].as_u64().unwrap());
    }
    assert!(
        estimates[1] > estimates[0] + 150,
        "tool mode adds the tool's schema to the prompt: {estimates:?}"
    );
}

#[tokio::test]
async fn a_set_temperature_reaches_the_server_and_one_out_of_range_is_refused_at_start() {
    // Unset, the server's own default applies (OpenAI's reasoning models accept no other).
    let t = LlmTest::start().await;
    t.fake.push(Reply::ok(completion(&wiki_answer())));
    t.say("alice", MESSAGE).await;
    assert!(t.fake.calls()[0].body.get("temperature").is_none());

    let t = LlmTest::start_with(|s| s.temperature = Some(0.0)).await;
    t.fake.push(Reply::ok(completion(&wiki_answer())));
    t.say("alice", MESSAGE).await;
    assert_eq!(t.fake.calls()[0].body["temperature"], 0.0);

    let mut s = warden::config::LlmSettings {
        base_url: Some(t.fake.base_url()),
        model: Some("m".into()),
        temperature: Some(2.5),
        ..Default::default()
    };
    let refused = LlmIntake::from_settings(&s, Default::default())
        .err()
        .unwrap();
    assert!(
        refused
            .to_string()
            .contains("llm.temperature must be between 0 and 2"),
        "{refused:#}"
    );
    s.temperature = Some(2.0);
    assert!(LlmIntake::from_settings(&s, Default::default()).is_ok());
}

#[tokio::test]
async fn by_default_a_message_the_parser_reads_completely_skips_the_model_and_others_reach_it() {
    let t = LlmTest::start_with(|s| s.prefer = Default::default()).await;
    // Complete: resource, role, duration and reason all read from exact catalog names.
    let id = t.say("alice", MESSAGE).await;
    assert!(
        t.fake.calls().is_empty(),
        "no model call for a complete reading"
    );
    let trace = &t.traces(&id).await[0];
    assert_eq!(trace["choice"], "parser_complete", "{trace}");
    assert_eq!(t.state(&id).await, RequestState::AwaitingConfirmation);
    // A typo the parser asks about ("Did you mean Engineering wiki?"): the model reads it. (What
    // the model adds must still be in the words, as a typo of the wiki is; see `grounding`.)
    t.fake.push(Reply::ok(completion(&wiki_answer())));
    let id = t
        .say(
            "bob",
            "can you sort me out with wikki edit for 2h, the thing Jane mentioned",
        )
        .await;
    assert_eq!(
        t.fake.calls().len(),
        1,
        "the model reads what the parser cannot complete"
    );
    let trace = &t.traces(&id).await[0];
    assert_eq!(trace["source"], "llm:test-model", "{trace}");
}

#[tokio::test]
async fn when_both_readings_need_a_question_the_parsers_is_asked_and_both_are_logged() {
    let t = LlmTest::start().await;
    // Corpus case c017 as a weak model reads it: the parser asks which role on Grafana; the
    // model found nothing it was sure of, so its reading would ask what the person wants to do.
    t.fake.push(Reply::ok(completion(&intent(
        json!({ "action": null, "unclear": ["action", "resource"] }),
    ))));
    let id = t.say("alice", "request grafana").await;
    assert_eq!(
        t.fake.calls().len(),
        1,
        "the parser's reading is incomplete"
    );
    let text = t.console.text();
    assert!(text.contains("Which role on Grafana"), "{text}");
    assert!(!text.contains("What would you like to do"), "{text}");
    let trace = &t.traces(&id).await[0];
    assert_eq!(
        (trace["source"].as_str(), trace["choice"].as_str()),
        (Some("parser"), Some("parser_asks")),
        "{trace}"
    );
    assert!(trace["other_reading"].is_object(), "{trace}");
    assert!(trace["raw_answer"].is_string(), "{trace}");
}

#[tokio::test]
async fn a_slash_command_missing_its_resource_is_asked_about_and_never_sent_to_the_model() {
    let t = LlmTest::start().await;
    // Corpus case c015 as SmolLM2-135M answered it on llama.cpp (json_schema mode): a revoke
    // of a made-up request, break-glass on. It validates, so the old rule took it over the
    // parser's question; the person had typed `/access request` and nothing else.
    t.fake.push(Reply::ok(completion(&intent(json!({
        "action": "revoke", "resource": "prod-billing-db", "request_id": "95d54552",
        "break_glass": true, "justification": "unclear",
    })))));
    let id = t.say("alice", "/access request").await;
    assert_eq!(
        t.fake.calls().len(),
        0,
        "a slash command is read by its own grammar"
    );
    let text = t.console.text();
    assert!(!text.contains("AR-95D54552"), "{text}");
    let trace = &t.traces(&id).await[0];
    assert_eq!(
        (trace["source"].as_str(), trace["choice"].as_str()),
        (Some("parser"), Some("structured_command")),
        "{trace}"
    );
}

#[tokio::test]
async fn a_made_up_reading_that_validates_loses_to_the_parsers_question() {
    let t = LlmTest::start().await;
    // Corpus case c122 as SmolLM2-135M answered it on llama.cpp (json_schema mode): "hello"
    // read as a break-glass extension of the billing database with ticket "1h". It validates;
    // nothing in it came from the words, so the parser's question is asked instead.
    t.fake.push(Reply::ok(completion(&intent(json!({
        "action": "extend", "resource": "prod-billing-db", "ticket": "1h", "break_glass": true,
    })))));
    let id = t.say("alice", "hello").await;
    assert_eq!(t.fake.calls().len(), 1, "the parser alone asks a question");
    let text = t.console.text();
    assert!(text.contains("What would you like to do"), "{text}");
    let trace = &t.traces(&id).await[0];
    assert_eq!(
        (trace["source"].as_str(), trace["choice"].as_str()),
        (Some("parser"), Some("parser_asks")),
        "{trace}"
    );
    assert_eq!(trace["other_reading"]["break_glass"], true, "{trace}");
}

#[tokio::test]
async fn a_json_mode_answer_that_copies_the_schema_is_rejected_and_kept_in_the_context_log() {
    let t = LlmTest::start_with(|s| s.output = "json_object".into()).await;
    // SmolLM2-135M's real answer in json_object mode on llama.cpp (corpus case c017): a fragment
    // of the schema in the system prompt (break_glass's definition), not an instance of it.
    let real = r#"{"type":"json","description":"Explicit emergency only"}"#;
    t.fake.push(Reply::ok(completion(real)));
    let id = t.say("alice", "request grafana").await;
    let trace = &t.traces(&id).await[0];
    assert_eq!(
        (trace["source"].as_str(), trace["fallback"].as_str()),
        (Some("parser"), Some("rejected")),
        "{trace}"
    );
    assert_eq!(
        trace["raw_answer"], real,
        "what the model wrote is kept: {trace}"
    );
    let reason = trace["fallback_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not a valid intent object"), "{reason}");
    assert!(t.console.text().contains("Which role on Grafana"));
}
