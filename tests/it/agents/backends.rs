//! Grant backends that act on a chat account refuse an agent, before any call to the platform.

use crate::support::fakes::slack::FakeSlack;
use secrecy::SecretString;
use std::sync::Arc;
use warden::chat::slack::api::{ApiOptions, SlackApi};
use warden::chat::slack::usergroup::SlackUsergroupGrantor;
use warden::domain::{Catalog, Platform, PlatformUser};
use warden::grants::{GrantCall, GrantError, GrantOp, Grantor};

#[tokio::test]
async fn the_slack_user_group_backend_refuses_an_agent_without_calling_slack() {
    warden::app::install_crypto();
    let (fake, url) = FakeSlack::start().await;
    let api = SlackApi::new(
        Some(&url),
        &SecretString::from("xoxb-test-token"),
        ApiOptions::default(),
    )
    .unwrap();
    let grantor = SlackUsergroupGrantor::new(Arc::new(api));
    let catalog = Catalog::from_toml(
        "[[resource]]\nid = \"wiki\"\nname = \"Wiki\"\nroles = [\"edit\"]\nrisk = \"low\"\nmax_duration = \"1d\"\n\
         grant = { backend = \"slack_usergroup\", usergroup = \"S0WIKI\" }\n",
    )
    .unwrap();
    let call = GrantCall::new(
        GrantOp::Grant,
        "AR-00000000",
        catalog.get("wiki").unwrap(),
        "edit",
        "ci-migrate",
        &PlatformUser::new(Platform::Agent, "agents", "ci-migrate"),
        chrono::Utc::now(),
        None,
    );
    match grantor.grant(&call).await {
        Err(GrantError::Permanent(why)) => assert!(why.contains("agent"), "{why}"),
        other => panic!("expected a permanent refusal, got {other:?}"),
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}
