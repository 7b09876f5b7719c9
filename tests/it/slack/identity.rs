//! `slack.trust_email`: only this installation's people (its workspace or its Enterprise Grid
//! org) map by the email `users.info` reports, and never onto someone already linked on Slack.

use super::app::TestApp;
use crate::on_sqlite;
use crate::support::TestDb;
use crate::support::fakes::slack::FakeSlack;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::sync::Arc;
use warden::chat::slack::api::{ApiOptions, SlackApi};
use warden::chat::slack::identity::EmailTrustingDirectory;
use warden::directory::Directory;
use warden::directory::file::FileDirectory;
use warden::domain::{Person, Platform, PlatformUser};

on_sqlite!(a_slack_connect_user_is_told_why_and_nothing_is_requested_for_them);

/// Alice is linked to U0ALICE; Hank is in the directory with no Slack account yet.
const PEOPLE: &str = r#"
[[person]]
id = "alice"
display_name = "Alice Ng"
email = "alice@example.com"
accounts = [{ platform = "slack", workspace = "T0WARDEN", user_id = "U0ALICE" }]

[[person]]
id = "hank"
display_name = "Hank Moody"
email = "hank@example.com"
"#;

async fn trusting() -> (FakeSlack, EmailTrustingDirectory) {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    let api = SlackApi::new(
        Some(&url),
        &SecretString::from("xoxb-test-token"),
        ApiOptions::default(),
    )
    .unwrap();
    let inner: Arc<dyn Directory> = Arc::new(FileDirectory::from_toml(PEOPLE).unwrap());
    (fake, EmailTrustingDirectory::new(inner, Arc::new(api)))
}

/// A `users.info` user object as Slack returns it, with the fields identity depends on.
fn user(id: &str, team: Option<&str>, email: &str, enterprise: Option<&str>) -> Value {
    let mut u = json!({
        "id": id, "name": "someone", "deleted": false, "is_bot": false, "is_stranger": false,
        "profile": { "email": email, "real_name": "Someone", "team": team },
    });
    if let Some(t) = team {
        u["team_id"] = json!(t);
    }
    if let Some(e) = enterprise {
        u["enterprise_user"] = json!({
            "id": id, "enterprise_id": e, "enterprise_name": "Org", "is_admin": false, "is_owner": false,
            "teams": [team.unwrap_or("T0SOMEWHERE")],
        });
    }
    u
}

async fn lookup(
    dir: &EmailTrustingDirectory,
    team: &str,
    user: &str,
) -> Result<Option<Person>, String> {
    dir.person_by_account(&PlatformUser::new(Platform::Slack, team, user))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_member_of_the_installed_workspace_maps_by_email() {
    let (fake, dir) = trusting().await;
    fake.set_user_info(
        "U0HANK",
        user("U0HANK", Some("T0WARDEN"), "Hank@Example.com", None),
    );
    let p = lookup(&dir, "T0WARDEN", "U0HANK")
        .await
        .unwrap()
        .expect("mapped by email");
    assert_eq!(p.id, "hank");
}

#[tokio::test]
async fn a_user_of_another_organisation_is_refused_even_with_a_matching_email() {
    let (fake, dir) = trusting().await;
    // Slack Connect: the user's home team is another org's; the event says so too.
    fake.set_user_info(
        "U0SPY",
        user("U0SPY", Some("T0OTHERORG"), "hank@example.com", None),
    );
    let got = lookup(&dir, "T0OTHERORG", "U0SPY").await;
    let why = got.expect_err("refused, not mapped and not silently nobody");
    assert!(why.contains("another organisation"), "{why}");
}

#[tokio::test]
async fn a_user_without_a_team_id_is_refused() {
    let (fake, dir) = trusting().await;
    fake.set_user_info("U0NOTEAM", user("U0NOTEAM", None, "hank@example.com", None));
    let got = lookup(&dir, "T0WARDEN", "U0NOTEAM").await;
    assert!(got.is_err(), "{got:?}");
}

#[tokio::test]
async fn enterprise_grid_members_of_the_same_org_map_and_other_orgs_do_not() {
    let (fake, dir) = trusting().await;
    fake.set_installation("T0WARDEN", Some("E0ORG"));
    // Another workspace of the same Grid org.
    fake.set_user_info(
        "W0HANK",
        user(
            "W0HANK",
            Some("T0SISTER"),
            "hank@example.com",
            Some("E0ORG"),
        ),
    );
    let p = lookup(&dir, "T0SISTER", "W0HANK").await.unwrap();
    assert_eq!(p.map(|p| p.id).as_deref(), Some("hank"));
    // A workspace of another Grid org.
    fake.set_user_info(
        "W0SPY",
        user(
            "W0SPY",
            Some("T0FOREIGN"),
            "hank@example.com",
            Some("E0FOREIGN"),
        ),
    );
    assert!(lookup(&dir, "T0FOREIGN", "W0SPY").await.is_err());
}

#[tokio::test]
async fn a_person_already_linked_on_slack_is_never_mapped_again_by_email() {
    let (fake, dir) = trusting().await;
    // Same workspace, Alice's email, but Alice's Slack account is U0ALICE.
    fake.set_user_info(
        "U0SECONDALICE",
        user("U0SECONDALICE", Some("T0WARDEN"), "alice@example.com", None),
    );
    let got = lookup(&dir, "T0WARDEN", "U0SECONDALICE").await;
    assert!(!matches!(got, Ok(Some(_))), "{got:?}");
    // Her linked account still is her.
    let p = lookup(&dir, "T0WARDEN", "U0ALICE").await.unwrap();
    assert_eq!(p.map(|p| p.id).as_deref(), Some("alice"));
}

async fn a_slack_connect_user_is_told_why_and_nothing_is_requested_for_them(db: TestDb) {
    let app = TestApp::start_with(db, 0, |s| s.slack.trust_email = true).await;
    app.slack.set_user_info(
        "U0SPY",
        user("U0SPY", Some("T0OTHERORG"), "alice@example.com", None),
    );
    let (body, _) = app.dm_body_from("U0SPY", "T0OTHERORG", "need read on the wiki for 1h");
    let resp = app
        .post_signed("/slack/events", "application/json", &body, &[])
        .await;
    assert_eq!(resp.status(), 200);
    app.wait_for("the refusal", |s| {
        s.calls().iter().any(|c| {
            c.body["text"]
                .as_str()
                .is_some_and(|t| t.contains("another organisation"))
        })
    })
    .await;
    assert!(
        app.requests().await.is_empty(),
        "nothing requested for them"
    );
}
