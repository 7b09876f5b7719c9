//! Fuzz targets for what Slack and Discord send: events, slash commands, interactions and view
//! submissions, Discord interactions.

use super::{any_text, clear_error, fuzz, json_swapped, mutated};
use crate::support::fakes::discord::interactions::{self as dx, From, GUILD};
use proptest::prelude::*;
use serde_json::{Value, json};
use warden::chat::CardAction;
use warden::chat::discord::events::classify;
use warden::chat::discord::render::{custom_id, parse_custom_id};
use warden::chat::slack::modals::{DENY_CALLBACK, EDIT_CALLBACK};
use warden::chat::slack::payloads::{Command, parse_event, parse_interaction};
use warden::domain::RequestId;

fn slack_events() -> Vec<Value> {
    let callback = |event: Value| {
        json!({
            "token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": "Ev1", "event_time": 1_700_000_000,
            "authorizations": [{ "team_id": "T1", "user_id": "UBOT", "is_bot": true }],
            "event": event,
        })
    };
    vec![
        callback(
            json!({ "type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "read on prod db for 2h", "ts": "1.5", "event_ts": "1.5" }),
        ),
        callback(
            json!({ "type": "app_mention", "channel": "C1", "user": "U1", "text": "<@UBOT> make it 1h", "ts": "2.0", "thread_ts": "1.0" }),
        ),
        callback(
            json!({ "type": "message", "subtype": "message_changed", "channel": "C1", "ts": "3.0" }),
        ),
        json!({ "token": "x", "challenge": "abc123", "type": "url_verification" }),
    ]
}

fn slack_interactions() -> Vec<Value> {
    let id = RequestId::generate().to_string();
    let ctx = json!({ "request_id": id, "channel": "D2", "thread": null }).to_string();
    let action = |action_id: &str| {
        json!({
            "type": "block_actions", "user": { "id": "U2", "username": "dana", "team_id": "T1" }, "api_app_id": "A1",
            "container": { "type": "message", "message_ts": "5.0", "channel_id": "D2", "is_ephemeral": false },
            "trigger_id": "111.222.abc", "team": { "id": "T1", "domain": "acme" }, "channel": { "id": "D2", "name": "directmessage" },
            "actions": [{ "action_id": action_id, "block_id": "warden_actions", "value": id, "type": "button", "action_ts": "6.0" }],
        })
    };
    let submit = |callback: &str, values: Value| {
        json!({
            "type": "view_submission", "team": { "id": "T1", "domain": "acme" }, "user": { "id": "U2", "team_id": "T1" },
            "view": { "id": "V1", "team_id": "T1", "type": "modal", "callback_id": callback, "private_metadata": ctx, "state": { "values": values } },
        })
    };
    vec![
        action("warden_approve"),
        action("warden_deny"),
        action("warden_edit"),
        submit(
            DENY_CALLBACK,
            json!({ "reason": { "value": { "type": "plain_text_input", "value": "not now" } } }),
        ),
        submit(
            EDIT_CALLBACK,
            json!({ "duration": { "value": { "type": "plain_text_input", "value": "2h" } }, "role": { "value": { "type": "static_select", "selected_option": { "value": "read" } } } }),
        ),
    ]
}

const SLASH_FORM: &str = "token=x&team_id=T1&team_domain=acme&channel_id=C9&channel_name=general&user_id=U1&user_name=alice&command=%2Faccess&text=request+prod-db+read+for+2h&response_url=https%3A%2F%2Fhooks.slack.com%2Fx&trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A1";

fn texts(values: Vec<Value>) -> Vec<String> {
    values.iter().map(Value::to_string).collect()
}

#[test]
fn slack_events_never_panic_and_rejections_say_why() {
    let samples = slack_events();
    let inputs = prop_oneof![
        json_swapped(samples.clone()),
        mutated(texts(samples)),
        any_text(400)
    ];
    fuzz("slack_events", inputs, |body| match parse_event(&body) {
        Ok(_) => Ok(()),
        Err(e) => clear_error(e),
    });
}

#[test]
fn slack_slash_commands_never_panic_and_rejections_say_why() {
    let inputs = prop_oneof![mutated(vec![SLASH_FORM.to_string()]), any_text(400)];
    fuzz("slack_commands", inputs, |form| {
        match Command::from_form(&form) {
            Ok(cmd) => {
                let _ = cmd.into_inbound();
                Ok(())
            }
            Err(e) => clear_error(e),
        }
    });
}

#[test]
fn slack_interactions_and_view_submissions_never_panic_and_rejections_say_why() {
    let samples = slack_interactions();
    let inputs = prop_oneof![
        json_swapped(samples.clone()),
        mutated(texts(samples)),
        any_text(400)
    ];
    fuzz(
        "slack_interactions",
        inputs,
        |body| match parse_interaction(&body) {
            Ok(_) => Ok(()),
            Err(e) => clear_error(e),
        },
    );
}

#[test]
fn discord_interactions_never_panic_whatever_their_shape() {
    let id = RequestId::generate();
    let from = From::guild("1001");
    let samples = vec![
        dx::ping(),
        dx::slash(
            &from,
            "request",
            &[
                ("resource", "prod-db"),
                ("role", "read"),
                ("duration", "2h"),
            ],
        ),
        dx::slash(&from, "status", &[]),
        dx::click(&from, &custom_id(CardAction::Approve, &id), "500", "9000"),
        dx::modal(
            &from,
            &custom_id(CardAction::Deny, &id),
            &[("reason", "not now")],
        ),
        dx::slash(
            &From::Dm { user: "1001" },
            "request",
            &[("resource", "wiki")],
        ),
    ];
    let inputs = prop_oneof![
        json_swapped(samples.clone()),
        mutated(texts(samples)),
        any_text(400)
    ];
    fuzz("discord_interactions", inputs, |body| {
        // Deserialising is serenity's; what Warden makes of a well-formed one is ours.
        if let Ok(interaction) = serde_json::from_str::<serenity::all::Interaction>(&body) {
            let _ = classify(&interaction, Some(GUILD));
        }
        Ok(())
    });
}

#[test]
fn discord_custom_ids_parse_only_what_warden_wrote() {
    let id = RequestId::generate();
    let samples = vec![
        custom_id(CardAction::Approve, &id),
        custom_id(CardAction::Edit, &id),
    ];
    fuzz(
        "discord_custom_ids",
        prop_oneof![mutated(samples), any_text(120)],
        |s| {
            if let Some(target) = parse_custom_id(&s) {
                // Anything accepted names a well-formed request id: written back the canonical
                // way, it reads as the same target (ids are read leniently: any case, the
                // `AR-` prefix optional).
                let rendered = custom_id(target.action, &target.request_id);
                let again = parse_custom_id(&rendered).expect("a canonical id parses");
                prop_assert_eq!(again.action, target.action);
                prop_assert_eq!(again.request_id, target.request_id);
            }
            Ok(())
        },
    );
}
