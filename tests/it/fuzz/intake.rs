//! Fuzz targets for what people write and what a model answers: the intent parser (one message
//! and a whole thread) and the model-answer parser.

use super::{any_text, clear_error, fuzz, json_swapped, mutated};
use crate::support::engine::catalog;
use proptest::prelude::*;
use serde_json::json;
use warden::intake::ThreadMessage;
use warden::intake::llm::answer::ModelAnswer;
use warden::intake::parser::{parse, parse_thread};

fn phrases() -> Vec<String> {
    [
        "need read on the prod billing db for 2h, INC-4411",
        "/access request prod-db write for 1h because quick hotfix",
        "revoke AR-7K2M9Q",
        "extend AR-7K2M9Q by 30m",
        "break glass: admin on prod-db for 15m, outage INC-1",
        "make it 4h and read only",
        "cancel my pending request",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

#[test]
fn the_intent_parser_reads_any_message_without_panicking() {
    let catalog = catalog();
    fuzz(
        "intent_parser",
        prop_oneof![mutated(phrases()), any_text(2000)],
        |text| {
            let draft = parse(&text, &catalog);
            // What it extracts comes from the catalog or the text (or is the wildcard that
            // validation refuses), never from nowhere.
            if let Some(r) = &draft.resource {
                prop_assert!(
                    catalog.get(r).is_some()
                        || r == "everything"
                        || text.to_lowercase().contains(&r.to_lowercase()),
                    "resource {:?} from {:?}",
                    r,
                    text.chars().take(80).collect::<String>()
                );
            }
            Ok(())
        },
    );
}

#[test]
fn the_thread_parser_reads_any_thread_without_panicking() {
    let catalog = catalog();
    let turn = prop_oneof![mutated(phrases()), any_text(300)];
    let author = prop_oneof![Just("requester".to_string()), Just("warden".to_string())];
    let thread = proptest::collection::vec((author, turn), 0..12);
    fuzz("thread_parser", thread, |turns| {
        let thread: Vec<ThreadMessage> = turns
            .into_iter()
            .map(|(author, text)| ThreadMessage { author, text })
            .collect();
        let _ = parse_thread(&thread, &catalog);
        Ok(())
    });
}

#[test]
fn model_answers_are_accepted_only_when_well_formed_and_never_panic() {
    let samples = vec![
        json!({ "action": "request", "resource": "prod-db", "role": "read", "duration": "2h", "justification": "INC-4411", "ticket": null, "request_id": null, "break_glass": false, "unclear": [] }),
        json!({ "action": "revoke", "request_id": "AR-7K2M9Q", "unclear": ["resource"] }),
        json!({ "action": null, "unclear": ["action", "duration"] }),
    ];
    let fenced: Vec<String> = samples
        .iter()
        .map(|s| format!("```json\n{s}\n```"))
        .collect();
    let inputs = prop_oneof![json_swapped(samples), mutated(fenced), any_text(600)];
    fuzz("model_answers", inputs, |raw| {
        match ModelAnswer::parse(&raw) {
            Ok(answer) => {
                let draft = answer.into_draft();
                for v in [&draft.resource, &draft.role, &draft.duration]
                    .into_iter()
                    .flatten()
                {
                    prop_assert!(v.chars().count() <= 120, "an over-long field passed");
                }
                Ok(())
            }
            Err(e) => clear_error(e),
        }
    });
}
