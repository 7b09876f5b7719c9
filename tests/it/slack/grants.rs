//! The `slack_usergroup` backend and email-based identity, against the fake Web API.

use crate::support::fakes::slack::FakeSlack;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Arc;
use warden::chat::slack::api::{ApiOptions, SlackApi};
use warden::chat::slack::identity::EmailTrustingDirectory;
use warden::chat::slack::usergroup::SlackUsergroupGrantor;
use warden::directory::Directory;
use warden::directory::file::FileDirectory;
use warden::domain::{Platform, PlatformUser};
use warden::grants::{GrantCall, GrantOp, Grantor};

async fn api() -> (FakeSlack, Arc<SlackApi>) {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    let api = SlackApi::new(
        Some(&url),
        &SecretString::from("xoxb-test-token"),
        ApiOptions::default(),
    )
    .unwrap();
    (fake, Arc::new(api))
}

fn call(op: GrantOp, role: &str, user: &str) -> GrantCall {
    let params: HashMap<String, toml::Value> = toml::from_str(
        "usergroup = \"S0ONCALL\"\nroles = { admin = { usergroup = \"S0ADMINS\" } }",
    )
    .unwrap();
    GrantCall {
        op,
        idempotency_key: format!("AR-1:{}", op.as_str()),
        request_id: "AR-1".into(),
        resource: "pager".into(),
        role: role.into(),
        person: "alice".into(),
        account: PlatformUser::new(Platform::Slack, "T0WARDEN", user),
        expires_at: chrono::Utc::now(),
        params,
        grant: None,
        identity: Default::default(),
    }
}

#[tokio::test]
async fn the_usergroup_backend_adds_and_removes_a_member_once() {
    let (fake, api) = api().await;
    fake.set_usergroup("S0ONCALL", &["U0ERIN"]);
    let g = SlackUsergroupGrantor::new(api);
    g.apply(&call(GrantOp::Grant, "member", "U0ALICE"))
        .await
        .unwrap();
    assert_eq!(fake.usergroup("S0ONCALL"), vec!["U0ERIN", "U0ALICE"]);
    // Granting again (a retried job) changes nothing and calls no update.
    let receipt = g
        .apply(&call(GrantOp::Grant, "member", "U0ALICE"))
        .await
        .unwrap();
    assert_eq!(receipt.detail["result"], "already a member");
    assert_eq!(fake.ok("usergroups.users.update").len(), 1);
    g.apply(&call(GrantOp::Revoke, "member", "U0ALICE"))
        .await
        .unwrap();
    assert_eq!(fake.usergroup("S0ONCALL"), vec!["U0ERIN"]);
    g.apply(&call(GrantOp::Revoke, "member", "U0ALICE"))
        .await
        .unwrap();
    assert_eq!(fake.ok("usergroups.users.update").len(), 2);
}

#[tokio::test]
async fn a_role_can_name_its_own_usergroup_and_a_missing_one_is_a_permanent_error() {
    let (fake, api) = api().await;
    fake.set_usergroup("S0ADMINS", &[]);
    fake.set_usergroup("S0ONCALL", &[]);
    let g = SlackUsergroupGrantor::new(api);
    g.apply(&call(GrantOp::Grant, "admin", "U0ALICE"))
        .await
        .unwrap();
    assert_eq!(fake.usergroup("S0ADMINS"), vec!["U0ALICE"]);
    assert!(fake.usergroup("S0ONCALL").is_empty());
    let mut bare = call(GrantOp::Grant, "member", "U0ALICE");
    bare.params.clear();
    assert!(matches!(
        g.apply(&bare).await,
        Err(warden::grants::GrantError::Permanent(_))
    ));
    // A group Slack does not have is refused for good too.
    let mut unknown = call(GrantOp::Grant, "member", "U0ALICE");
    unknown
        .params
        .insert("usergroup".into(), toml::Value::String("S0GONE".into()));
    assert!(matches!(
        g.apply(&unknown).await,
        Err(warden::grants::GrantError::Permanent(_))
    ));
}

#[tokio::test]
async fn the_receipt_says_whether_the_grant_changed_anything() {
    let (fake, api) = api().await;
    fake.set_usergroup("S0ONCALL", &["U0ALICE"]);
    let g = SlackUsergroupGrantor::new(api);
    let held = g
        .apply(&call(GrantOp::Grant, "member", "U0ALICE"))
        .await
        .unwrap();
    assert_eq!(held.effect, warden::grants::GrantEffect::AlreadyHeld);
    let added = g
        .apply(&call(GrantOp::Grant, "member", "U0BOB"))
        .await
        .unwrap();
    assert_eq!(added.effect, warden::grants::GrantEffect::Applied);
    // Disabled with its last member gone, the group comes back with exactly the new member.
    fake.set_usergroup("S0ONCALL", &["U0BOB"]);
    g.apply(&call(GrantOp::Revoke, "member", "U0BOB"))
        .await
        .unwrap();
    assert!(fake.is_disabled("S0ONCALL"));
    assert_eq!(
        fake.refused("usergroups.users.update"),
        Vec::<String>::new()
    );
    g.apply(&call(GrantOp::Grant, "member", "U0ALICE"))
        .await
        .unwrap();
    assert!(!fake.is_disabled("S0ONCALL"));
    assert_eq!(fake.usergroup("S0ONCALL"), vec!["U0ALICE"]);
}

#[tokio::test]
async fn an_unlinked_account_maps_by_its_slack_email_only_when_trusted() {
    let (fake, api) = api().await;
    let mut text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/slack/directory.toml"
    ))
    .unwrap();
    // Someone the directory knows who has no Slack account linked yet.
    text.push_str("\n[[person]]\nid = \"hank\"\ndisplay_name = \"Hank Moody\"\nemail = \"hank@example.com\"\n");
    let inner: Arc<dyn Directory> = Arc::new(FileDirectory::from_toml(&text).unwrap());
    fake.set_email("U0NEWHANK", "Hank@Example.com");
    let stranger = PlatformUser::new(Platform::Slack, "T0WARDEN", "U0NEWHANK");
    assert!(
        inner.person_by_account(&stranger).await.unwrap().is_none(),
        "the plain directory knows only linked accounts"
    );
    let trusting = EmailTrustingDirectory::new(inner, api);
    let p = trusting
        .person_by_account(&stranger)
        .await
        .unwrap()
        .expect("mapped by email");
    assert_eq!(p.id, "hank");
    assert!(p.accounts.contains(&stranger));
    // No email, or an email nobody has: nobody.
    assert!(
        trusting
            .person_by_account(&PlatformUser::new(Platform::Slack, "T0WARDEN", "U0NOEMAIL"))
            .await
            .unwrap()
            .is_none()
    );
    fake.set_email("U0ODD", "odd@elsewhere.example");
    assert!(
        trusting
            .person_by_account(&PlatformUser::new(Platform::Slack, "T0WARDEN", "U0ODD"))
            .await
            .unwrap()
            .is_none()
    );
    // A linked account never calls Slack.
    let before = fake.ok("users.info").len();
    assert!(
        trusting
            .person_by_account(&PlatformUser::new(Platform::Slack, "T0WARDEN", "U0DANA"))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(fake.ok("users.info").len(), before);
}
