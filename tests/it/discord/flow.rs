//! The request flow through Discord: slash command, confirmation card in its own thread,
//! approval by button in a DM or denial with a reason from a modal, the role granted and removed
//! at expiry.

use super::app::TestApp;
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::fakes::discord::dm_channel;
use crate::support::fakes::discord::interactions::{self as fixtures, ALICE, CHANNEL, DANA, From};
use warden::domain::RequestState;

on_both_databases!(
    a_slash_command_request_is_approved_by_button_granted_as_a_role_and_removed_at_expiry,
    a_deny_asks_for_the_reason_in_a_modal_and_records_it,
);

/// Alice asks by slash command; returns the request id and the confirmation card's message id.
pub async fn ask(app: &TestApp) -> (String, String) {
    let cmd = fixtures::slash(
        &From::guild(ALICE),
        "request",
        &[
            ("resource", "game-servers"),
            ("role", "read"),
            ("duration", "2h"),
            ("reason", "INC-4411 @everyone"),
        ],
    );
    let ack = app.send(&cmd).await;
    assert_eq!(ack.status, 200);
    assert_eq!(
        (
            ack.json["type"].as_u64(),
            ack.json["data"]["flags"].as_u64()
        ),
        (Some(5), Some(64)),
        "deferred and ephemeral: {}",
        ack.json
    );
    let card = app
        .calls("POST", &format!("/channels/{CHANNEL}/messages"), 1)
        .await
        .remove(0);
    let embed = &card.body["embeds"][0];
    assert_eq!(embed["title"], "Is this what you need?");
    let labels: Vec<&str> = card.body["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["Submit", "Edit", "Cancel"]);
    assert_eq!(
        card.body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    assert!(
        !card.body.to_string().contains("@everyone"),
        "user text is escaped: {}",
        card.body
    );
    let message_id = card.reply["id"].as_str().unwrap().to_string();
    app.calls(
        "POST",
        &format!("/channels/{CHANNEL}/messages/{message_id}/threads"),
        1,
    )
    .await;
    let done = app
        .calls(
            "PATCH",
            &format!(
                "/webhooks/{}/{}/messages/@original",
                fixtures::APP_ID,
                cmd["token"].as_str().unwrap()
            ),
            1,
        )
        .await;
    assert!(
        done[0].body["content"]
            .as_str()
            .unwrap()
            .contains(&format!("<#{message_id}>")),
        "the person is pointed to the thread: {:?}",
        done[0].body
    );
    let req = app
        .latest_request("alice")
        .await
        .expect("a request was stored");
    assert_eq!(req.state, RequestState::AwaitingConfirmation);
    assert_eq!(
        req.origin.thread.as_deref(),
        Some(message_id.as_str()),
        "the request lives in the thread started from its card"
    );
    (req.id.to_string(), message_id)
}

/// Alice submits; the manager (Dana) gets the approval card by DM. Returns its message id.
pub async fn submit(app: &TestApp, id: &str, card: &str) -> String {
    let ack = app
        .send(&fixtures::click(
            &From::guild(ALICE),
            &format!("warden:submit:{id}"),
            CHANNEL,
            card,
        ))
        .await;
    assert_eq!(ack.json["type"], 6, "a click is a deferred update");
    app.state_becomes(id, RequestState::PendingApproval).await;
    let dm = dm_channel(DANA);
    let posted = app
        .calls("POST", &format!("/channels/{dm}/messages"), 1)
        .await
        .remove(0);
    let buttons: Vec<&str> = posted.body["components"][0]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        buttons,
        [format!("warden:approve:{id}"), format!("warden:deny:{id}")]
    );
    let edits = app
        .calls("PATCH", &format!("/channels/{CHANNEL}/messages/{card}"), 1)
        .await;
    assert!(
        edits[0].body["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("Submitted"),
        "{:?}",
        edits[0].body
    );
    assert_eq!(
        edits[0].body["components"],
        serde_json::json!([]),
        "the confirmation loses its buttons"
    );
    posted.reply["id"].as_str().unwrap().to_string()
}

async fn a_slash_command_request_is_approved_by_button_granted_as_a_role_and_removed_at_expiry(
    db: TestDb,
) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    let approval = submit(&app, &id, &card).await;

    let approve = fixtures::click(
        &From::Dm { user: DANA },
        &format!("warden:approve:{id}"),
        &dm_channel(DANA),
        &approval,
    );
    let ack = app.send(&approve).await;
    assert_eq!(ack.json["type"], 6);
    app.state_becomes(&id, RequestState::Active).await;
    app.send(&approve).await;
    app.settle().await;
    assert_eq!(
        app.store().approvals(&id).await.unwrap().len(),
        1,
        "a redelivered click is not a second approval"
    );
    let put = app
        .calls(
            "PUT",
            &format!("/guilds/{}/members/{ALICE}/roles/7001", fixtures::GUILD),
            1,
        )
        .await;
    assert_eq!(put.len(), 1, "granted once");
    assert!(
        put[0].authorized
            && put[0]
                .audit_reason
                .as_deref()
                .is_some_and(|r| r.contains(&id)),
        "{:?}",
        put[0]
    );
    let last = app
        .call_with(
            "PATCH",
            &format!("/channels/{}/messages/{approval}", dm_channel(DANA)),
            "Granted",
        )
        .await;
    assert_eq!(
        last.body["components"],
        serde_json::json!([]),
        "resolved cards lose their buttons"
    );
    app.call_with(
        "POST",
        &format!("/channels/{card}/messages"),
        "Access granted",
    )
    .await;
    let confirmation = app
        .call_with(
            "PATCH",
            &format!("/channels/{CHANNEL}/messages/{card}"),
            "Granted",
        )
        .await;
    assert_eq!(
        confirmation.body["components"],
        serde_json::json!([]),
        "every copy is edited"
    );

    app.clock.advance(chrono::Duration::hours(3));
    app.state.engine.run_due_jobs().await.unwrap();
    app.state_becomes(&id, RequestState::Expired).await;
    let delete = app
        .calls(
            "DELETE",
            &format!("/guilds/{}/members/{ALICE}/roles/7001", fixtures::GUILD),
            1,
        )
        .await;
    assert_eq!(delete.len(), 1, "removed once at expiry");
    assert_eq!(app.fake.find("PUT", "/guilds/").len(), 1);
}

async fn a_deny_asks_for_the_reason_in_a_modal_and_records_it(db: TestDb) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    let approval = submit(&app, &id, &card).await;
    let from = From::Dm { user: DANA };
    let modal = app
        .send(&fixtures::click(
            &from,
            &format!("warden:deny:{id}"),
            &dm_channel(DANA),
            &approval,
        ))
        .await;
    assert_eq!(modal.json["type"], 9, "the Deny button opens a modal");
    assert_eq!(modal.json["data"]["custom_id"], format!("warden:deny:{id}"));
    assert_eq!(
        modal.json["data"]["components"][0]["components"][0]["custom_id"],
        "reason"
    );
    assert_eq!(
        app.store().get_request(&id).await.unwrap().unwrap().state,
        RequestState::PendingApproval,
        "opening the form changes nothing"
    );

    let ack = app
        .send(&fixtures::modal(
            &from,
            &format!("warden:deny:{id}"),
            &[("reason", "not during the freeze")],
        ))
        .await;
    assert_eq!(ack.json["type"], 6);
    app.state_becomes(&id, RequestState::Denied).await;
    let denial = app.store().approvals(&id).await.unwrap().remove(0);
    assert_eq!(
        (denial.verdict.as_str(), denial.reason.as_deref()),
        ("deny", Some("not during the freeze"))
    );
    app.call_with(
        "PATCH",
        &format!("/channels/{}/messages/{approval}", dm_channel(DANA)),
        "Denied by Dana Scully: not during the freeze",
    )
    .await;
    assert!(
        app.fake.find("PUT", "/guilds/").is_empty(),
        "nothing granted"
    );
}
