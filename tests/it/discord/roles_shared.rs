//! Two active grants of the same Discord role (two resources mapping to one role), through the
//! whole server against the fake Discord REST API: the role stays while any Warden grant holding
//! it is active, and the last one's end removes it, exactly once.

use super::app::{Setup, TestApp};
use crate::on_both_databases;
use crate::support::fakes::discord::interactions::{self as fixtures, ALICE, CHANNEL, From};
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use warden::domain::RequestState;

on_both_databases!(revoking_the_first_role_grant_early_leaves_the_role_to_the_second_until_it_ends,);

const ROLE: &str = "7001";

/// Two resources whose grants are the one guild role `ROLE`.
fn shared_catalog() -> String {
    crate::support::catalogs::sharing_one_access(
        [
            ("game-servers", "Game servers console"),
            ("build-farm", "Build farm"),
        ],
        &format!(r#"{{ backend = "discord_role", role = "{ROLE}" }}"#),
        "owners = [\"carol\"]\nmax_duration = \"8h\"",
    )
}

/// Alice asks for `resource` by slash command and submits; returns the request id once active.
async fn granted(app: &TestApp, resource: &str, duration: &str) -> String {
    let ack = app
        .send(&fixtures::slash(
            &From::guild(ALICE),
            "request",
            &[
                ("resource", resource),
                ("role", "read"),
                ("duration", duration),
                ("reason", "INC-4411"),
            ],
        ))
        .await;
    assert_eq!(ack.status, 200);
    // The card's thread is recorded after the request is stored: wait for both.
    let (id, card) = wait_until(PATIENCE, format!("a request for {resource}"), || async {
        app.latest_request("alice")
            .await
            .filter(|r| {
                r.intent.as_ref().and_then(|i| i.resource.as_deref()) == Some(resource)
                    && r.state == RequestState::AwaitingConfirmation
            })
            .and_then(|r| Some((r.id.to_string(), r.origin.thread?)))
    })
    .await;
    app.send(&fixtures::click(
        &From::guild(ALICE),
        &format!("warden:submit:{id}"),
        CHANNEL,
        &card,
    ))
    .await;
    app.state_becomes(&id, RequestState::Active).await;
    id
}

fn removals(app: &TestApp) -> usize {
    app.fake
        .find(
            "DELETE",
            &format!("/guilds/{}/members/{ALICE}/roles/{ROLE}", fixtures::GUILD),
        )
        .len()
}

async fn revoking_the_first_role_grant_early_leaves_the_role_to_the_second_until_it_ends(
    db: TestDb,
) {
    let app = TestApp::start_on(db, Setup::with_catalog(&shared_catalog()).await).await;
    let a = granted(&app, "game-servers", "1h").await;
    let b = granted(&app, "build-farm", "2h").await;
    assert_eq!(app.fake.member_roles(fixtures::GUILD, ALICE), [ROLE]);

    let row = app.store().get_request(&a).await.unwrap().unwrap();
    app.state
        .engine
        .revoke_early(&row, "alice", "done", None)
        .await
        .unwrap();
    app.state_becomes(&a, RequestState::Revoked).await;
    app.settle().await;
    assert_eq!(
        app.fake.member_roles(fixtures::GUILD, ALICE),
        [ROLE],
        "the second grant still holds the role"
    );
    assert_eq!(removals(&app), 0);

    app.clock.advance(chrono::Duration::hours(3));
    app.state.engine.run_due_jobs().await.unwrap();
    app.state_becomes(&b, RequestState::Expired).await;
    app.settle().await;
    assert!(
        app.fake.member_roles(fixtures::GUILD, ALICE).is_empty(),
        "the last holder's end removes it"
    );
    assert_eq!(removals(&app), 1, "removed exactly once");
}
