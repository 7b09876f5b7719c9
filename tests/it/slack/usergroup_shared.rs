//! Two active grants of the same Slack user group membership (two resources mapping to one
//! group), through the engine against the fake Web API: the membership ends when the last
//! Warden grant holding it ends, never earlier, and exactly once.

use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::engine::{Setup, TestEngine};
use crate::support::fakes::slack::FakeSlack;
use crate::support::overlap;
use secrecy::SecretString;
use std::sync::Arc;
use warden::chat::slack::api::{ApiOptions, SlackApi};
use warden::chat::slack::usergroup::SlackUsergroupGrantor;
use warden::domain::Catalog;

on_both_databases!(
    revoking_the_first_usergroup_grant_early_leaves_the_membership_to_the_second_until_it_ends,
);

const GROUP: &str = "S0SHARED";

/// Two resources whose grants are membership of the one user group.
fn shared_catalog() -> Catalog {
    let toml = crate::support::catalogs::sharing_one_access(
        [("app", "SaaS app"), ("ops", "Ops console")],
        &format!(r#"{{ backend = "slack_usergroup", usergroup = "{GROUP}" }}"#),
        "max_duration = \"1d\"",
    );
    Catalog::from_toml(&toml).expect("test catalog parses")
}

/// Writes that take someone off the group: a shorter member list, or disabling it.
fn removals(fake: &FakeSlack) -> usize {
    fake.ok("usergroups.disable").len()
        + fake
            .ok("usergroups.users.update")
            .iter()
            .filter(|c| !c.body.to_string().contains("alice"))
            .count()
}

async fn revoking_the_first_usergroup_grant_early_leaves_the_membership_to_the_second_until_it_ends(
    db: TestDb,
) {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    fake.set_usergroup(GROUP, &["U0OTHER"]);
    let api = SlackApi::new(
        Some(&url),
        &SecretString::from("xoxb-test-token"),
        ApiOptions::default(),
    )
    .unwrap();
    let t = TestEngine::start(
        db,
        Setup {
            catalog: Arc::new(shared_catalog()),
            grantors: vec![Arc::new(SlackUsergroupGrantor::new(Arc::new(api)))],
            ..Setup::default()
        },
    )
    .await;
    overlap::first_revoked_early_then_second_expires(
        &t,
        [
            "need read on the saas app for 1h",
            "need read on the ops console for 2h",
        ],
        || fake.usergroup(GROUP).contains(&"alice".to_string()),
        || removals(&fake),
    )
    .await;
    assert_eq!(
        fake.usergroup(GROUP),
        ["U0OTHER"],
        "the member held before stays"
    );
}
