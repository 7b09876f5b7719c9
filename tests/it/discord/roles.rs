//! The `discord_role` backend against a member's real roles: a role held before Warden granted
//! it is left in place by the revoke.

use super::app::TestApp;
use super::flow::{ask, submit};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::fakes::discord::dm_channel;
use crate::support::fakes::discord::interactions::{self as fixtures, ALICE, DANA, From};
use warden::domain::RequestState;

on_both_databases!(a_role_the_member_held_before_the_grant_is_left_in_place_by_the_revoke);

async fn a_role_the_member_held_before_the_grant_is_left_in_place_by_the_revoke(db: TestDb) {
    let app = TestApp::start(db).await;
    app.fake
        .set_member_roles(fixtures::GUILD, ALICE, &["7001", "5555"]);
    let (id, card) = ask(&app).await;
    let approval = submit(&app, &id, &card).await;
    app.send(&fixtures::click(
        &From::Dm { user: DANA },
        &format!("warden:approve:{id}"),
        &dm_channel(DANA),
        &approval,
    ))
    .await;
    app.state_becomes(&id, RequestState::Active).await;
    assert!(
        app.fake.find("PUT", "/guilds/").is_empty(),
        "the member already holds the role: nothing to add"
    );

    app.clock.advance(chrono::Duration::hours(3));
    app.state.engine.run_due_jobs().await.unwrap();
    app.state_becomes(&id, RequestState::Expired).await;
    app.settle().await;
    assert!(
        app.fake.find("DELETE", "/guilds/").is_empty(),
        "the grant changed nothing, so the revoke removes nothing"
    );
    assert_eq!(
        app.fake.member_roles(fixtures::GUILD, ALICE),
        ["7001", "5555"]
    );
}
