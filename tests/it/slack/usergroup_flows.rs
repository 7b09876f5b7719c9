//! The `slack_usergroup` backend driven by the engine against the fake Web API: the last member,
//! members who were there before Warden, and two instances changing one group at once.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::console::Drive;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::slack::FakeSlack;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use warden::chat::CardAction;
use warden::chat::slack::api::{ApiOptions, SlackApi};
use warden::chat::slack::usergroup::SlackUsergroupGrantor;
use warden::domain::{Catalog, RequestState};

on_both_databases!(
    the_last_member_of_a_user_group_is_removed_by_disabling_it,
    a_member_who_was_in_the_user_group_before_the_grant_stays_after_the_revoke,
    a_member_from_before_stays_when_the_first_grant_attempt_could_not_read_the_group,
    two_instances_granting_and_revoking_on_one_user_group_keep_the_right_members,
);

const GROUP: &str = "S0WIKI";

/// The example deployment with the wiki granted as membership of `GROUP`, through its own
/// Slack client (one per instance, as in separate processes).
fn setup(api_url: &str) -> Setup {
    let text = warden::app::EXAMPLE_CATALOG.replace(
        "roles = [\"edit\"]\nrisk = \"low\"",
        &format!("roles = [\"edit\"]\nrisk = \"low\"\ngrant = {{ backend = \"slack_usergroup\", usergroup = \"{GROUP}\" }}"),
    );
    assert!(text.contains(GROUP), "the example catalog changed shape");
    let api = SlackApi::new(
        Some(api_url),
        &SecretString::from("xoxb-test-token"),
        ApiOptions::default(),
    )
    .unwrap();
    Setup {
        catalog: Arc::new(Catalog::from_toml(&text).unwrap()),
        grantors: vec![Arc::new(SlackUsergroupGrantor::new(Arc::new(api)))],
        ..Setup::default()
    }
}

async fn start(db: TestDb) -> (TestEngine, FakeSlack, String) {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    (TestEngine::start(db, setup(&url)).await, fake, url)
}

async fn log_kinds(t: &TestEngine, id: &str) -> Vec<String> {
    t.store
        .log_entries(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn the_last_member_of_a_user_group_is_removed_by_disabling_it(db: TestDb) {
    let (t, fake, _) = start(db).await;
    fake.set_usergroup(GROUP, &[]);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    assert_eq!(fake.usergroup(GROUP), ["alice"]);

    t.advance(61).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Expired,
        "the last member is removed: {:?}",
        fake.calls()
            .iter()
            .map(|c| (&c.method, &c.response))
            .collect::<Vec<_>>()
    );
    assert!(
        fake.is_disabled(GROUP),
        "Slack removes the last member by disabling the group"
    );
    assert!(
        fake.refused("usergroups.users.update").is_empty(),
        "no empty list was sent"
    );
    assert!(
        !log_kinds(&t, &id).await.contains(&"alert".to_string()),
        "no failing revoke"
    );
    assert_eq!(
        t.store.job_status(&format!("expire:{id}")).await.unwrap(),
        Some(("done".to_string(), 1)),
        "revoked on the first attempt, nothing left to retry"
    );

    // A later grant switches the group back on with exactly its new member.
    let bob = t.request("bob", "need edit on the wiki for 1h").await;
    assert_eq!(
        t.state(&bob).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    assert!(!fake.is_disabled(GROUP));
    assert_eq!(
        fake.usergroup(GROUP),
        ["bob"],
        "the revoked member does not come back"
    );
    t.advance(61).await;
    assert_eq!(t.state(&bob).await, RequestState::Expired);
    assert!(fake.is_disabled(GROUP));
}

async fn a_member_who_was_in_the_user_group_before_the_grant_stays_after_the_revoke(db: TestDb) {
    let (t, fake, _) = start(db).await;
    fake.set_usergroup(GROUP, &["U0OTHER", "alice"]);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );
    assert!(
        fake.ok("usergroups.users.update").is_empty(),
        "nothing to add"
    );

    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(
        fake.usergroup(GROUP),
        ["U0OTHER", "alice"],
        "the revoke undoes only what the grant changed, and it changed nothing"
    );
    assert!(fake.ok("usergroups.users.update").is_empty());
    assert!(!fake.is_disabled(GROUP));
}

async fn a_member_from_before_stays_when_the_first_grant_attempt_could_not_read_the_group(
    db: TestDb,
) {
    let (t, fake, _) = start(db).await;
    fake.set_usergroup(GROUP, &["U0OTHER", "alice"]);
    // The first attempt cannot read the group (throttled past the client's retries); the
    // retry finds alice on it. She was there before Warden, so the revoke leaves her.
    fake.throttle("usergroups.list", 4);
    let id = t.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Approved,
        "{}",
        t.transcript()
    );
    t.advance(1).await;
    assert_eq!(
        t.state(&id).await,
        RequestState::Active,
        "{}",
        t.transcript()
    );

    t.advance(61).await;
    assert_eq!(t.state(&id).await, RequestState::Expired);
    assert_eq!(fake.usergroup(GROUP), ["U0OTHER", "alice"]);
    assert!(
        fake.ok("usergroups.users.update").is_empty(),
        "nothing added, nothing removed"
    );
}

async fn two_instances_granting_and_revoking_on_one_user_group_keep_the_right_members(db: TestDb) {
    let (a, fake, url) = start(db).await;
    let b = a.restart(setup(&url)).await;
    fake.set_usergroup(GROUP, &["U0OTHER"]);
    let alice = a.request("alice", "need edit on the wiki for 1h").await;
    assert_eq!(
        a.state(&alice).await,
        RequestState::Active,
        "{}",
        a.transcript()
    );
    assert_eq!(fake.usergroup(GROUP), ["U0OTHER", "alice"]);

    // The first read of the group waits for a second one: unserialised, both calls would read
    // the same list and write back their own version of it.
    fake.pair_usergroup_reads(Duration::from_secs(2));
    a.say("bob", "need edit on the wiki for 1h").await;
    let bob = a.latest("bob").await;
    let alice_req = b.row(&alice).await;
    let (granted, revoked) = tokio::join!(
        a.click("bob", CardAction::Submit, &bob),
        b.engine.revoke_early(&alice_req, "alice", "done", None),
    );
    revoked.unwrap();
    let _ = granted;
    assert_eq!(
        a.state(&bob).await,
        RequestState::Active,
        "{}",
        a.transcript()
    );
    assert_eq!(
        b.state(&alice).await,
        RequestState::Revoked,
        "{}",
        b.transcript()
    );
    let mut members = fake.usergroup(GROUP);
    members.sort();
    assert_eq!(
        members,
        ["U0OTHER", "bob"],
        "the revoked member is not written back, the granted one is not lost"
    );
}
