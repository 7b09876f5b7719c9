//! Payload parsing: which Slack payloads become which events, and which are ignored.

use super::modals::{DENY_CALLBACK, EDIT_CALLBACK, ModalContext};
use super::payloads::*;
use crate::chat::{CardAction, EventKind};
use crate::domain::RequestId;
use serde_json::json;

fn callback(event: serde_json::Value) -> String {
    json!({
        "token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event_id": "Ev1", "event_time": 1_700_000_000,
        "authorizations": [{ "team_id": "T1", "user_id": "UBOT", "is_bot": true }],
        "event": event,
    })
    .to_string()
}

#[test]
fn a_top_level_dm_is_a_new_message_from_the_verified_user() {
    let body = callback(
        json!({ "type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "read on prod db for 2h", "ts": "1.5", "event_ts": "1.5" }),
    );
    let Ok(Inbound::Event(ev)) = parse_event(&body) else {
        panic!("not an event")
    };
    assert_eq!(
        (
            ev.id.as_str(),
            ev.actor.workspace.as_str(),
            ev.actor.user_id.as_str()
        ),
        ("Ev1", "T1", "U1")
    );
    assert_eq!(
        (
            ev.scope.channel.as_str(),
            ev.scope.thread.as_deref(),
            ev.scope.kind.as_str()
        ),
        ("D1", None, "dm")
    );
    assert!(
        matches!(ev.kind, EventKind::Message { ref text, ref message_id } if text == "read on prod db for 2h" && message_id == "1.5")
    );
}

#[test]
fn a_mention_in_a_thread_keeps_the_thread_and_loses_the_mention() {
    let body = callback(
        json!({ "type": "app_mention", "channel": "C1", "user": "U1", "text": "<@UBOT> make it 1h", "ts": "2.0", "thread_ts": "1.0" }),
    );
    let Ok(Inbound::Event(ev)) = parse_event(&body) else {
        panic!("not an event")
    };
    assert_eq!(
        (ev.scope.thread.as_deref(), ev.scope.kind.as_str()),
        (Some("1.0"), "channel")
    );
    assert!(matches!(ev.kind, EventKind::Message { ref text, .. } if text == "make it 1h"));
}

#[test]
fn bots_edits_own_messages_and_unthreaded_channel_chatter_are_ignored() {
    let cases = [
        json!({ "type": "message", "channel": "D1", "channel_type": "im", "bot_id": "B1", "text": "hi", "ts": "1.0" }),
        json!({ "type": "message", "subtype": "message_changed", "channel": "D1", "channel_type": "im", "ts": "1.0" }),
        json!({ "type": "message", "channel": "D1", "channel_type": "im", "user": "UBOT", "text": "hi", "ts": "1.0" }),
        json!({ "type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "text": "lunch?", "ts": "1.0" }),
        // A mention in a thread arrives as app_mention as well; the message copy is dropped.
        json!({ "type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "text": "<@UBOT> hi", "ts": "2.0", "thread_ts": "1.0" }),
    ];
    for c in cases {
        assert!(
            matches!(parse_event(&callback(c.clone())), Ok(Inbound::Ignored(_))),
            "{c}"
        );
    }
    let reply = json!({ "type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "text": "INC-42", "ts": "2.0", "thread_ts": "1.0" });
    assert!(matches!(
        parse_event(&callback(reply)),
        Ok(Inbound::ThreadReply(_))
    ));
}

#[test]
fn url_verification_returns_the_challenge() {
    let body =
        json!({ "type": "url_verification", "token": "x", "challenge": "abc123" }).to_string();
    assert!(matches!(parse_event(&body), Ok(Inbound::Challenge(ref c)) if c == "abc123"));
}

#[test]
fn a_slash_command_is_a_command_keyed_by_its_trigger() {
    let form = "token=x&team_id=T1&team_domain=acme&channel_id=C9&channel_name=general&user_id=U1&user_name=alice&command=%2Faccess&text=request+prod-db+read+for+2h&response_url=https%3A%2F%2Fhooks.slack.com%2Fx&trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A1";
    let Inbound::Event(ev) = Command::from_form(form).unwrap().into_inbound() else {
        panic!()
    };
    assert_eq!(ev.id, "cmd:13345224609.738474920.8088930838d88f008e0");
    assert!(
        matches!(ev.kind, EventKind::Command { ref text } if text == "/access request prod-db read for 2h")
    );
    assert_eq!(
        (
            ev.scope.channel.as_str(),
            ev.scope.kind.as_str(),
            ev.scope.thread.as_deref()
        ),
        ("C9", "channel", None)
    );
    assert!(Command::from_form("text=hi").is_err());
}

fn block_action(action_id: &str, value: &str) -> String {
    json!({
        "type": "block_actions", "user": { "id": "U2", "username": "dana", "team_id": "T1" }, "api_app_id": "A1",
        "container": { "type": "message", "message_ts": "5.0", "channel_id": "D2", "is_ephemeral": false },
        "trigger_id": "111.222.abc", "team": { "id": "T1", "domain": "acme" }, "channel": { "id": "D2", "name": "directmessage" },
        "actions": [{ "action_id": action_id, "block_id": "warden_actions", "value": value, "type": "button", "action_ts": "6.0" }],
    })
    .to_string()
}

#[test]
fn buttons_become_actions_and_edit_or_deny_open_a_modal() {
    let id = RequestId::generate().to_string();
    let items = parse_interaction(&block_action("warden_approve", &id)).unwrap();
    let [Inbound::Event(ev)] = items.as_slice() else {
        panic!("{items:?}")
    };
    assert_eq!(ev.id, "act:111.222.abc");
    assert!(
        matches!(ev.kind, EventKind::Action { action: CardAction::Approve, ref request_id, reason: None, .. } if request_id.as_str() == id)
    );
    let items = parse_interaction(&block_action("warden_deny", &id)).unwrap();
    assert!(
        matches!(items.as_slice(), [Inbound::OpenModal { kind: ModalKind::Deny, trigger_id, .. }] if trigger_id == "111.222.abc")
    );
    let foreign = parse_interaction(&block_action("someone_elses_button", &id)).unwrap();
    assert!(matches!(foreign.as_slice(), [Inbound::Ignored(_)]));
}

#[test]
fn modal_submissions_become_a_denial_with_reason_or_edited_fields() {
    let id = RequestId::generate().to_string();
    let ctx = serde_json::to_string(&ModalContext {
        request_id: id.clone(),
        channel: "D2".into(),
        thread: None,
    })
    .unwrap();
    let submit = |callback: &str, values: serde_json::Value| {
        json!({
            "type": "view_submission", "team": { "id": "T1", "domain": "acme" }, "user": { "id": "U2", "team_id": "T1" },
            "view": { "id": "V1", "team_id": "T1", "type": "modal", "callback_id": callback, "private_metadata": ctx, "state": { "values": values } },
        })
        .to_string()
    };
    let deny = parse_interaction(&submit(DENY_CALLBACK, json!({ "reason": { "value": { "type": "plain_text_input", "value": "not during the freeze" } } }))).unwrap();
    let [Inbound::Event(ev)] = deny.as_slice() else {
        panic!()
    };
    assert_eq!(ev.id, "view:V1");
    assert!(
        matches!(ev.kind, EventKind::Action { action: CardAction::Deny, reason: Some(ref r), .. } if r == "not during the freeze")
    );
    let edit = parse_interaction(&submit(
        EDIT_CALLBACK,
        json!({ "duration": { "value": { "type": "plain_text_input", "value": "1h" } } }),
    ))
    .unwrap();
    let [Inbound::Event(ev)] = edit.as_slice() else {
        panic!()
    };
    assert!(
        matches!(ev.kind, EventKind::EditSubmitted { ref fields, .. } if fields.duration.as_deref() == Some("1h") && fields.role.is_none())
    );
    let other = parse_interaction(&submit("someone_else", json!({}))).unwrap();
    assert!(matches!(other.as_slice(), [Inbound::Ignored(_)]));
}

#[test]
fn opening_the_home_tab_is_a_home_event_and_the_messages_tab_is_not() {
    let home = callback(json!({
        "type": "app_home_opened", "user": "U1", "channel": "D1", "event_ts": "1515449522000016", "tab": "home",
        "view": { "id": "V1", "team_id": "T1", "type": "home", "blocks": [], "hash": "1.2" },
    }));
    let Ok(Inbound::Event(ev)) = parse_event(&home) else {
        panic!("not an event")
    };
    assert!(matches!(ev.kind, EventKind::HomeOpened));
    assert_eq!(
        (
            ev.id.as_str(),
            ev.actor.workspace.as_str(),
            ev.actor.user_id.as_str()
        ),
        ("Ev1", "T1", "U1")
    );
    let messages = callback(json!({
        "type": "app_home_opened", "user": "U1", "channel": "D1", "event_ts": "1515449522000017", "tab": "messages",
    }));
    assert!(matches!(parse_event(&messages), Ok(Inbound::Ignored(_))));
}

#[test]
fn a_click_on_the_home_tab_is_the_same_action_as_on_a_card() {
    let id = RequestId::generate();
    let payload = json!({
        "type": "block_actions", "user": { "id": "U1", "team_id": "T1" }, "team": { "id": "T1" },
        "container": { "type": "view", "view_id": "V1" }, "trigger_id": "1.2.3",
        "view": { "id": "V1", "type": "home", "blocks": [], "state": { "values": {} } },
        "actions": [{ "action_id": "warden_approve", "block_id": "warden_home_1", "value": id.to_string(), "type": "button", "action_ts": "1.1" }],
    });
    let parsed = parse_interaction(&payload.to_string()).unwrap();
    let [Inbound::Event(ev)] = parsed.as_slice() else {
        panic!("not one event: {parsed:?}")
    };
    assert!(
        matches!(ev.kind, EventKind::Action { action: CardAction::Approve, ref request_id, .. } if *request_id == id)
    );
    assert_eq!(ev.actor.user_id, "U1");
}
