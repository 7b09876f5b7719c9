//! The confirmation and approval cards' other buttons: Edit's prefilled modal, a non-approver's
//! refused click, and a card edit that Discord rate-limits once.

use super::app::TestApp;
use super::flow::{ask, submit};
use crate::on_sqlite;
use crate::support::TestDb;
use crate::support::fakes::discord::interactions::{self as fixtures, ALICE, CAROL, CHANNEL, From};
use crate::support::wait::PATIENCE;
use crate::support::wait_until;
use warden::domain::RequestState;

on_sqlite!(
    the_edit_button_opens_a_prefilled_modal_whose_submission_changes_the_request,
    a_non_approver_pressing_approve_gets_an_ephemeral_refusal,
    a_rate_limited_card_edit_still_lands,
);

async fn the_edit_button_opens_a_prefilled_modal_whose_submission_changes_the_request(db: TestDb) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    let form = app
        .send(&fixtures::click(
            &From::guild(ALICE),
            &format!("warden:edit:{id}"),
            CHANNEL,
            &card,
        ))
        .await;
    assert_eq!(form.json["type"], 9);
    let values: Vec<(String, String)> = form.json["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["components"][0]["custom_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                r["components"][0]["value"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert!(
        values.contains(&("resource".into(), "game-servers".into()))
            && values.contains(&("duration".into(), "2h".into())),
        "{values:?}"
    );
    let ack = app
        .send(&fixtures::modal(
            &From::guild(ALICE),
            &format!("warden:edit:{id}"),
            &[
                ("resource", "game-servers"),
                ("role", "read"),
                ("duration", "4h"),
                ("justification", "INC-4411"),
            ],
        ))
        .await;
    assert_eq!(ack.json["type"], 6);
    wait_until(PATIENCE, "the edit to apply", || async {
        app.store()
            .get_request(&id)
            .await
            .unwrap()
            .filter(|r| r.duration_secs() == Some(4 * 3600))
    })
    .await;
}

async fn a_non_approver_pressing_approve_gets_an_ephemeral_refusal(db: TestDb) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    let approval = submit(&app, &id, &card).await;
    let click = fixtures::click(
        &From::guild(CAROL),
        &format!("warden:approve:{id}"),
        CHANNEL,
        &approval,
    );
    let ack = app.send(&click).await;
    assert_eq!(ack.json["type"], 6);
    let token = click["token"].as_str().unwrap();
    let refusal = app
        .calls(
            "POST",
            &format!("/webhooks/{}/{token}", fixtures::APP_ID),
            1,
        )
        .await
        .remove(0);
    assert_eq!(refusal.body["flags"], 64, "only Carol sees it");
    assert!(
        refusal.body["content"]
            .as_str()
            .unwrap()
            .contains("not an approver"),
        "{:?}",
        refusal.body
    );
    app.settle().await;
    assert_eq!(
        app.store().get_request(&id).await.unwrap().unwrap().state,
        RequestState::PendingApproval
    );
    assert!(app.store().approvals(&id).await.unwrap().is_empty());
}

async fn a_rate_limited_card_edit_still_lands(db: TestDb) {
    let app = TestApp::start(db).await;
    let (id, card) = ask(&app).await;
    app.fake.rate_limit_next(
        "PATCH",
        &format!("/channels/{CHANNEL}/messages/{card}"),
        0.2,
    );
    app.send(&fixtures::click(
        &From::guild(ALICE),
        &format!("warden:cancel:{id}"),
        CHANNEL,
        &card,
    ))
    .await;
    app.state_becomes(&id, RequestState::Cancelled).await;
    let edits = app
        .calls("PATCH", &format!("/channels/{CHANNEL}/messages/{card}"), 2)
        .await;
    assert_eq!(
        edits.iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 200],
        "retried after the 429"
    );
    assert_eq!(edits[0].body, edits[1].body, "the same edit was sent again");
    assert!(
        edits[1].body["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("Cancelled")
    );
}
