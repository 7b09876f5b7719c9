//! A database login granted from Slack reaches the requester privately and only once: never in
//! a card, a card update or a message others in the conversation see.

use super::app::TestApp;
use super::flows::card;
use crate::grants_db::pg_target::{JIT_GROUP, PgTarget};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::db::postgres_base;
use secrecy::SecretString;
use warden::config::DatabaseServerSettings;
use warden::domain::RequestState;

on_both_databases!(a_database_login_is_sent_privately_once_and_never_in_cards);

async fn a_database_login_is_sent_privately_once_and_never_in_cards(db: TestDb) {
    let target = PgTarget::new().await;
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        format!(
            r#"
[[resource]]
id = "reports-db"
name = "Reports database"
aliases = ["reports db"]
roles = ["read"]
risk = "low"
max_duration = "1d"
default_duration = "1h"
grant = {{ backend = "postgres", server = "reports", roles = {{ read = ["{}", "{JIT_GROUP}"] }} }}
"#,
            target.read_role
        ),
    )
    .unwrap();
    let app = TestApp::start_with(db, 0, |s| {
        s.catalog.file = Some(catalog.clone());
        s.grants.databases.insert(
            "reports".into(),
            DatabaseServerSettings {
                engine: "postgres".into(),
                admin_url_env: None,
                admin_url: Some(SecretString::from(postgres_base())),
                public_host: None,
                public_port: None,
                database: None,
            },
        );
    })
    .await;
    app.dm("U0ALICE", "need read on the reports db for 1h")
        .await;
    let confirm = card(&app, "submit", None).await;
    app.click(
        "U0ALICE",
        "submit",
        &confirm.request_id,
        &confirm.channel,
        &confirm.ts,
    )
    .await;
    app.wait_state(&confirm.request_id, RequestState::Active)
        .await;
    app.wait_for("the credential message", |s| {
        s.calls()
            .iter()
            .any(|c| c.body.to_string().contains("password: "))
    })
    .await;

    let with_password: Vec<_> = app
        .slack
        .calls()
        .into_iter()
        .filter(|c| c.body.to_string().contains("password: "))
        .collect();
    assert_eq!(with_password.len(), 1, "sent once: {with_password:?}");
    let sent = &with_password[0];
    assert_eq!(
        sent.method, "chat.postEphemeral",
        "only Alice sees it: {sent:?}"
    );
    assert_eq!(sent.body["user"], "U0ALICE");
    let text = sent.body["text"].as_str().unwrap().to_string();
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap()
        .to_string();
    let connection = text
        .lines()
        .find_map(|l| l.strip_prefix("connection: "))
        .unwrap()
        .to_string();
    assert_eq!(target.read(&connection, "granted_t").await, Ok(42));
    assert!(text.contains("stops working at"), "{text}");
    for c in app.slack.calls() {
        if c.method != "chat.postEphemeral" {
            assert!(
                !c.body.to_string().contains(&password),
                "leaked in {}: {:?}",
                c.method,
                c.body
            );
        }
    }
    let log = app.store().log_entries(&confirm.request_id).await.unwrap();
    assert!(
        log.iter()
            .all(|e| !format!("{:?}", e.payload).contains(&password))
    );
    drop(app);
    let login = warden::grants::database::login_name(&confirm.request_id);
    target.cleanup(&[&login]).await;
}
