//! Pasted secrets are masked before they are stored or shown to a model, end to end.

use super::app::TestApp;
use crate::support::console::Drive;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasted_secrets_are_masked_before_storage_and_the_masking_is_logged() {
    let app = TestApp::spawn().await;
    let secrets = [
        "AKIAABCDEFGHIJKLMNOP",
        "hunter2hunter2",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "dXNlcjpwYXNzd29yZDEyMzQ=",
        "correct-horse-battery",
    ];
    let text = format!(
        "need read on staging db for 1h, aws {} and password: {} and {} and {} and {} with Authorization: Basic {} and my password is {}",
        secrets[0], secrets[1], secrets[2], secrets[3], secrets[4], secrets[5], secrets[6]
    );
    app.say("alice", &text).await;
    let id = app.latest("alice").await;
    let stored: Vec<Option<String>> =
        sqlx::query_scalar("SELECT payload FROM context_log WHERE request_id = $1")
            .bind(&id)
            .fetch_all(app.store().pool())
            .await
            .unwrap();
    let everything = stored.into_iter().flatten().collect::<Vec<_>>().join("\n");
    for s in secrets {
        assert!(
            !everything.contains(s),
            "{s} reached the database:\n{everything}"
        );
    }
    let row = app.store().get_request(&id).await.unwrap().unwrap();
    for s in secrets {
        assert!(
            !format!("{row:?}").contains(s),
            "{s} reached the request row"
        );
    }
    assert!(
        everything.contains("[REDACTED:aws_access_key]"),
        "{everything}"
    );
    let v = app
        .get_json(&format!("/api/v1/requests/{id}"), &app.tokens.viewer)
        .await;
    let redaction = v["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "redaction")
        .expect("the masking is logged");
    assert_eq!(redaction["payload"]["masked_secrets"], secrets.len() as u64);
    let first = &v["log"][0]["payload"]["text"];
    assert!(
        first
            .as_str()
            .unwrap()
            .starts_with("need read on staging db for 1h"),
        "the request itself survives: {first}"
    );
}
