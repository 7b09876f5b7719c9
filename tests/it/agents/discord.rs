//! An agent's approval card on Discord: its owner gets it in a DM, naming the agent, the owner
//! and the task, like the Slack card.

use super::auth::{AUDIENCE, SUBJECT, good_claims};
use crate::discord::app::Setup;
use crate::on_sqlite;
use crate::support::fakes::discord::dm_channel;
use crate::support::fakes::discord::interactions::CAROL;
use crate::support::fakes::oidc::{FakeIssuer, TestKey};
use crate::support::server::TestServer;
use crate::support::wait::PATIENCE;
use crate::support::{TestDb, wait_until};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use std::sync::Arc;

on_sqlite!(an_agent_s_approval_card_on_discord_names_the_agent_its_owner_and_the_task);

async fn an_agent_s_approval_card_on_discord_names_the_agent_its_owner_and_the_task(db: TestDb) {
    let key = TestKey::generate("rsa-1", Algorithm::RS256);
    let issuer = FakeIssuer::start(&[&key]).await;
    let setup = Setup::new().await;
    let files = tempfile::tempdir().unwrap();
    let agents = files.path().join("agents.toml");
    std::fs::write(
        &agents,
        format!(
            r#"
[[agent]]
id = "deploy-bot"
name = "Deploy bot"
owner = "carol"
[agent.workload]
issuer = "{}"
audience = "{AUDIENCE}"
subject = "{SUBJECT}"
[[agent.ceiling]]
resource = "game-servers"
roles = ["read"]
"#,
            issuer.issuer()
        ),
    )
    .unwrap();
    let mut settings = setup.settings();
    settings.agents.file = Some(agents);
    let server = TestServer::start(settings, db, Arc::new(warden::clock::SystemClock)).await;

    let resp = server
        .http
        .post(format!("{}/api/v1/agent/requests", server.base))
        .bearer_auth(key.sign(&good_claims(&issuer.issuer())))
        .json(&json!({ "resource": "game-servers", "role": "read", "duration": "10m", "task": "restart the eu shard" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["request"]["state"], "pending_approval", "{created}");

    let dm = format!("/channels/{}/messages", dm_channel(CAROL));
    let card = wait_until(PATIENCE, "the owner's card in her Discord DM", || async {
        setup
            .fake
            .find("POST", &dm)
            .into_iter()
            .find(|c| c.status == 200)
            .map(|c| c.body)
    })
    .await;
    let embed = &card["embeds"][0];
    assert_eq!(
        embed["title"],
        "An agent's access request needs your approval"
    );
    // Discord escapes markdown in field values; what the owner reads has no backslashes.
    let requester = embed["fields"][0]["value"]
        .as_str()
        .unwrap()
        .replace('\\', "");
    assert_eq!(
        requester,
        "requested by agent Deploy bot (deploy-bot) (owned by Carol Diaz) for task: restart the eu shard"
    );
    assert!(
        card.to_string()
            .contains(created["task"]["id"].as_str().unwrap()),
        "{card}"
    );
}
