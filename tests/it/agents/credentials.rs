//! A login a grant makes for an agent, against the local PostgreSQL: sealed in the store, handed
//! over once in the agent's status answer (the long poll too), dropped at release, and only its
//! fingerprint in the context log; no key, no configuration.

use super::app::{AgentApp, prod_read, staging_read};
use crate::grants_db::pg_target::{JIT_GROUP, PgTarget};
use crate::on_both_databases;
use crate::support::TestDb;
use crate::support::db::postgres_base;
use secrecy::SecretString;
use serde_json::Value;
use sqlx::Row;
use warden::config::{DatabaseServerSettings, Settings};
use warden::domain::{AgentRegistry, Catalog, RequestState};

on_both_databases!(
    an_agent_gets_its_login_once_in_the_long_poll_and_the_log_keeps_only_the_fingerprint,
    a_login_the_agent_never_fetched_is_dropped_at_release,
    without_a_key_a_login_made_for_an_agent_is_revoked_at_once,
);

const KEY: &str = "8f0e3d7a5c1b29e4f6a8c0d2e4b6a8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a1";

/// Both resources of ci-migrate's ceiling grant logins on the local PostgreSQL: staging-db
/// (low risk, granted at once) and prod-billing-db (high risk, the owner approves).
fn catalog(t: &PgTarget) -> String {
    let grant = format!(
        r#"grant = {{ backend = "postgres", server = "test", roles = {{ read = ["{}", "{JIT_GROUP}"] }} }}"#,
        t.read_role
    );
    format!(
        r#"
[[resource]]
id = "staging-db"
name = "Staging database"
roles = ["read"]
owners = ["carol"]
risk = "low"
max_duration = "1d"
{grant}

[[resource]]
id = "prod-billing-db"
name = "Production billing database"
roles = ["read", "write"]
owners = ["erin"]
risk = "high"
max_duration = "8h"
{grant}
"#
    )
}

async fn start(db: TestDb, t: &PgTarget) -> (AgentApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.toml");
    std::fs::write(&file, catalog(t)).unwrap();
    let app = AgentApp::start_with(db, move |s| {
        s.catalog.file = Some(file);
        s.grants.databases.insert(
            "test".into(),
            DatabaseServerSettings {
                engine: "postgres".into(),
                admin_url_env: None,
                admin_url: Some(SecretString::from(postgres_base())),
                public_host: None,
                public_port: None,
                database: None,
            },
        );
        s.agents.credential_key = Some(SecretString::from(KEY));
    })
    .await;
    (app, dir)
}

async fn sealed_rows(app: &AgentApp, id: &str) -> Vec<Vec<u8>> {
    sqlx::query("SELECT sealed FROM agent_credentials WHERE request_id = $1")
        .bind(id)
        .fetch_all(app.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<Vec<u8>, _>(0))
        .collect()
}

async fn log_text(app: &AgentApp, id: &str) -> String {
    let entries = app.store().log_entries(id).await.unwrap();
    entries
        .iter()
        .map(|e| format!("{:?}", e.payload))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn an_agent_gets_its_login_once_in_the_long_poll_and_the_log_keeps_only_the_fingerprint(
    db: TestDb,
) {
    let mut target = PgTarget::new().await;
    let (app, _dir) = start(db, &target).await;
    let token = app.token();
    let (status, created) = app.create(&token, &prod_read(), None).await;
    assert_eq!(status, 201, "{created}");
    let id = created["task"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["task"]["status"], "pending");

    // The long poll waits through the owner's approval and the grant, and carries the login.
    let poll = {
        let url = app.url(&format!("/requests/{id}?wait=25"));
        let (http, token) = (app.http.clone(), token.clone());
        tokio::spawn(async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    let (channel, ts) = app.approval_card(&id).await;
    app.click("U0CAROL", "approve", &id, &channel, &ts).await;
    let (status, polled) = poll.await.unwrap();
    assert_eq!(status, 200, "{polled}");
    // The poll waits through approved-and-granting and answers with the grant in place.
    assert_eq!(polled["request"]["state"], "active", "{polled}");
    assert_eq!(polled["task"]["status"], "approved", "{polled}");
    let credential = &polled["credential"];
    let password = credential["password"]
        .as_str()
        .expect("a password")
        .to_string();
    let connection = credential["connection"].as_str().unwrap().to_string();
    let login = warden::grants::database::login_name(&id);
    assert_eq!(credential["username"], login.as_str());
    assert_eq!(
        credential["fingerprint"],
        warden::domain::credential::fingerprint(&password).as_str()
    );
    assert_eq!(target.read(&connection, "granted_t").await, Ok(42));
    assert!(target.read(&connection, "secret_t").await.is_err());

    // Taken: a second read (and a second long poll) has no password, and the store none either.
    for path in [format!("/requests/{id}"), format!("/requests/{id}?wait=1")] {
        let (status, again) = app.get(&token, &path).await;
        assert_eq!(status, 200);
        assert!(again.get("credential").is_none(), "{again}");
        assert!(!again.to_string().contains(&password));
    }
    assert!(sealed_rows(&app, &id).await.is_empty());
    let log = log_text(&app, &id).await;
    assert!(
        !log.contains(&password),
        "the password is in the log: {log}"
    );
    let fingerprint = warden::domain::credential::fingerprint(&password);
    assert!(
        log.contains(&format!("handed to agent ci-migrate in its status response: login {login}, password {fingerprint}")),
        "{log}"
    );
    let row = format!(
        "{:?}",
        app.store()
            .get_request(&warden::domain::RequestId::parse(&id).unwrap())
            .await
            .unwrap()
    );
    assert!(!row.contains(&password), "{row}");

    let (status, released) = app.post(&token, &format!("/requests/{id}/release")).await;
    assert_eq!(status, 200, "{released}");
    app.wait_state(&id, RequestState::Revoked).await;
    assert!(!target.role_exists(&login).await, "the login is dropped");
    assert!(target.read(&connection, "granted_t").await.is_err());
    target.cleanup(&[&login]).await;
}

async fn a_login_the_agent_never_fetched_is_dropped_at_release(db: TestDb) {
    let mut target = PgTarget::new().await;
    let (app, _dir) = start(db, &target).await;
    let token = app.token();
    let (status, created) = app.create(&token, &staging_read(), None).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["task"]["status"], "approved", "granted at once");
    assert!(
        created.get("credential").is_none(),
        "only a status read hands it over"
    );
    let id = created["task"]["id"].as_str().unwrap().to_string();
    let login = warden::grants::database::login_name(&id);
    assert!(target.role_exists(&login).await);

    // Kept sealed: one row, and the bytes are not the connection string.
    let rows = sealed_rows(&app, &id).await;
    assert_eq!(rows.len(), 1);
    assert!(
        !String::from_utf8_lossy(&rows[0]).contains(&login),
        "sealed, not clear"
    );

    let (status, released) = app.post(&token, &format!("/requests/{id}/release")).await;
    assert_eq!(status, 200, "{released}");
    app.wait_state(&id, RequestState::Revoked).await;
    assert!(
        sealed_rows(&app, &id).await.is_empty(),
        "dropped at release"
    );
    let (_, after) = app.get(&token, &format!("/requests/{id}")).await;
    assert!(after.get("credential").is_none(), "{after}");
    assert!(
        log_text(&app, &id)
            .await
            .contains("credentials the agent never fetched are dropped")
    );
    target.cleanup(&[&login]).await;
}

/// Without `agents.credential_key`, an agent whose ceiling names a login-making resource is a
/// configuration problem (config check and start-up); a bad key is one too.
#[test]
fn an_agent_that_may_get_a_login_needs_the_credential_key() {
    let catalog = Catalog::from_toml(
        r#"
[[resource]]
id = "db"
name = "DB"
roles = ["read"]
risk = "low"
max_duration = "1d"
grant = { backend = "postgres", server = "s", roles = { read = "r" } }

[[resource]]
id = "db-own"
name = "DB, own user"
roles = ["read"]
risk = "low"
max_duration = "1d"
grant = { backend = "postgres", server = "s", mode = "existing_user", roles = { read = "r" } }
"#,
    )
    .unwrap();
    let registry = |resource: &str| {
        AgentRegistry::from_toml(
            &format!(
                r#"
[[agent]]
id = "job"
name = "Job"
owner = "carol"
[agent.workload]
issuer = "https://issuer.test"
audience = "warden"
subject = "job"
[[agent.ceiling]]
resource = "{resource}"
roles = ["read"]
"#
            ),
            &catalog,
        )
        .unwrap()
    };
    let mut s = Settings::default();
    let problems = warden::agents::credential_problems(&s, &registry("db"), &catalog);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("agent 'job' may ask for db")
            && problems[0].contains("agents.credential_key is not set"),
        "{problems:?}"
    );
    assert!(warden::agents::credential_problems(&s, &registry("db-own"), &catalog).is_empty());

    s.agents.credential_key = Some(SecretString::from("too-short"));
    let listed = s.problems().join("\n");
    assert!(listed.contains("agents.credential_key"), "{listed}");
    assert!(!listed.contains("too-short"), "the key is never shown");
    s.agents.credential_key = Some(SecretString::from(KEY));
    assert!(s.problems().is_empty(), "{:?}", s.problems());
    assert!(warden::agents::credential_problems(&s, &registry("db"), &catalog).is_empty());
}

/// Fail closed: an engine with no key that all the same grants a login to an agent (start-up
/// refuses this configuration; the engine is built directly here) takes the grant back at once.
async fn without_a_key_a_login_made_for_an_agent_is_revoked_at_once(db: TestDb) {
    use crate::support::console::Drive;
    use crate::support::engine::{Setup, TestEngine};
    use std::sync::Arc;
    let mut target = PgTarget::new().await;
    let catalog = Catalog::from_toml(&format!(
        r#"
[[resource]]
id = "staging-db"
name = "Staging database"
roles = ["read"]
risk = "low"
max_duration = "1d"
grant = {{ backend = "postgres", server = "test", roles = {{ read = ["{}", "{JIT_GROUP}"] }} }}
"#,
        target.read_role
    ))
    .unwrap();
    let t = TestEngine::start(
        db,
        Setup {
            catalog: Arc::new(catalog),
            grantors: vec![Arc::new(crate::grants_db::pg_target::grantor())],
            ..Setup::default()
        },
    )
    .await;
    let agent = t.engine.agents().get("ci-migrate").unwrap();
    let ask: warden::domain::AgentAsk = serde_json::from_value(
        serde_json::json!({ "resource": "staging-db", "role": "read", "duration": 600, "task": "seed" }),
    )
    .unwrap();
    let claims = serde_json::json!({ "sub": "ci-migrate" });
    let caller = warden::workflow::AgentCaller {
        agent,
        claims: &claims,
        channel: warden::workflow::AgentChannel::Api,
    };
    let (req, _) = t.engine.agent_create(caller, &ask, None).await.unwrap();
    let id = req.id.to_string();
    crate::support::wait::wait_until(
        crate::support::wait::PATIENCE,
        "the grant to be taken back",
        || async { t.state(&id).await == RequestState::Revoked },
    )
    .await;
    let login = warden::grants::database::login_name(&id);
    assert!(!target.role_exists(&login).await, "the login is dropped");
    let log = t
        .store
        .log_entries(&id)
        .await
        .unwrap()
        .iter()
        .map(|e| format!("{:?}", e.payload))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        log.contains(&format!(
            "credentials for login {login} could not be kept for the agent; the grant is revoked"
        )),
        "{log}"
    );
    assert!(
        t.engine
            .agent_take_credential(&t.store.get_request(&req.id).await.unwrap().unwrap())
            .await
            .is_none()
    );
    target.cleanup(&[&login]).await;
}
