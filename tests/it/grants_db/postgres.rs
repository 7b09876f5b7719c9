//! The `postgres` backend against the local server: per-grant logins that connect, read what
//! they were granted and nothing else, expire on their own, and are gone after the revoke.

use super::pg_target::{JIT_GROUP, PgTarget, grantor};
use super::{call, catalog, in_hours, request_id, server};
use crate::support::db::postgres_base;
use secrecy::ExposeSecret;
use sqlx::{Connection, PgConnection};
use warden::grants::database::postgres::PostgresGrantor;
use warden::grants::{GrantEffect, GrantOp, Grantor};

#[tokio::test]
async fn a_login_reads_the_granted_table_not_another_and_nothing_after_the_revoke() {
    let mut t = PgTarget::new().await;
    let cat = catalog("postgres", &t.params());
    let id = request_id();
    let g = grantor();
    let receipt = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let cred = receipt.credential.clone().expect("a credential");
    let conn = cred.connection.expose_secret().to_string();
    assert_eq!(t.read(&conn, "granted_t").await, Ok(42));
    let denied = t.read(&conn, "secret_t").await.unwrap_err();
    assert!(denied.contains("permission denied"), "{denied}");
    let logged = serde_json::to_string(&receipt).unwrap();
    assert!(!logged.contains(cred.password.expose_secret()), "{logged}");
    assert_eq!(receipt.detail["login"], cred.username);
    assert_eq!(receipt.detail["fingerprint"], cred.fingerprint());

    let mut revoke = call(&cat, GrantOp::Revoke, &id, in_hours(1));
    revoke.grant = Some(receipt.clone());
    let done = g.revoke(&revoke).await.unwrap();
    assert_eq!(done.effect, GrantEffect::Applied);
    assert!(!t.role_exists(&cred.username).await);
    let refused = t.read(&conn, "granted_t").await.unwrap_err();
    assert!(
        refused.contains(&cred.username) || refused.contains("authentication"),
        "{refused}"
    );
    let again = g.revoke(&revoke).await.unwrap();
    assert_eq!(
        again.effect,
        GrantEffect::AlreadyHeld,
        "a missing login is a success"
    );
    t.cleanup(&[]).await;
}

#[tokio::test]
async fn the_revoke_ends_sessions_already_open() {
    let t = PgTarget::new().await;
    let cat = catalog("postgres", &t.params());
    let id = request_id();
    let g = grantor();
    let receipt = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let cred = receipt.credential.clone().unwrap();
    let mut open = PgConnection::connect(cred.connection.expose_secret())
        .await
        .unwrap();
    let sql = format!("SELECT v FROM {}.granted_t", t.tag);
    let v: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_one(&mut open)
        .await
        .unwrap();
    assert_eq!(v, 42);
    let mut revoke = call(&cat, GrantOp::Revoke, &id, in_hours(1));
    revoke.grant = Some(receipt);
    let done = g.revoke(&revoke).await.unwrap();
    assert_eq!(done.detail["sessions_ended"], 1, "{}", done.detail);
    let after = sqlx::query_scalar::<_, i32>(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut open)
        .await;
    assert!(after.is_err(), "the open session was ended");
    t.cleanup(&[]).await;
}

#[tokio::test]
async fn with_warden_stopped_the_login_stops_at_valid_until() {
    let t = PgTarget::new().await;
    let cat = catalog("postgres", &t.params());
    let id = request_id();
    let soon = chrono::Utc::now() + chrono::Duration::seconds(3);
    let receipt = grantor()
        .grant(&call(&cat, GrantOp::Grant, &id, soon))
        .await
        .unwrap();
    let cred = receipt.credential.unwrap();
    let conn = cred.connection.expose_secret().to_string();
    assert_eq!(t.read(&conn, "granted_t").await, Ok(42));
    // No revoke: the server alone ends it.
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let refused = t.read(&conn, "granted_t").await.unwrap_err();
    assert!(
        refused.contains("password authentication failed"),
        "{refused}"
    );
    t.cleanup(&[&cred.username]).await;
}

#[tokio::test]
async fn a_retried_grant_finds_its_login_and_only_the_new_password_works() {
    let mut t = PgTarget::new().await;
    let cat = catalog("postgres", &t.params());
    let id = request_id();
    let g = grantor();
    let first = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let second = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let (a, b) = (first.credential.unwrap(), second.credential.unwrap());
    assert_eq!(a.username, b.username, "the same login, found again");
    assert_eq!(second.detail["retried"], true);
    assert!(
        t.read(a.connection.expose_secret(), "granted_t")
            .await
            .is_err()
    );
    assert_eq!(
        t.read(b.connection.expose_secret(), "granted_t").await,
        Ok(42)
    );
    let mut revoke = call(&cat, GrantOp::Revoke, &id, in_hours(1));
    revoke.grant = None; // A compensating revoke: the outcome was never recorded.
    g.revoke(&revoke).await.unwrap();
    assert!(!t.role_exists(&a.username).await, "no orphan");
    t.cleanup(&[]).await;
}

#[tokio::test]
async fn an_extension_moves_valid_until() {
    let mut t = PgTarget::new().await;
    let cat = catalog("postgres", &t.params());
    let id = request_id();
    let g = grantor();
    let receipt = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let login = receipt.credential.as_ref().unwrap().username.clone();
    let later = in_hours(3);
    let mut extend = call(&cat, GrantOp::Extend, &id, later);
    extend.grant = Some(receipt);
    g.extend(&extend).await.unwrap();
    let until: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1")
            .bind(&login)
            .fetch_one(&mut t.admin)
            .await
            .unwrap();
    assert_eq!(until.timestamp(), later.timestamp());
    t.cleanup(&[&login]).await;
}

#[tokio::test]
async fn the_second_mode_grants_a_role_to_the_persons_own_user_and_takes_only_that_back() {
    let mut t = PgTarget::new().await;
    let user = format!("{}_alice", t.tag);
    let other = format!("{}_other", t.tag);
    t.sql(format!(
        "CREATE ROLE {user} LOGIN; CREATE ROLE {other} NOLOGIN; GRANT {other} TO {user};"
    ))
    .await;
    let params = format!(
        r#"mode = "existing_user", user = "{}_{{person}}", roles = {{ read = ["{}", "{other}"] }}"#,
        t.tag, t.read_role
    );
    let cat = catalog("postgres", &params);
    let id = request_id();
    let g = grantor();
    let receipt = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    assert!(
        receipt.credential.is_none(),
        "the person logs in as themselves"
    );
    assert_eq!(receipt.detail["added"], serde_json::json!([t.read_role]));
    let mut revoke = call(&cat, GrantOp::Revoke, &id, in_hours(1));
    revoke.grant = Some(receipt);
    g.revoke(&revoke).await.unwrap();
    let held: Vec<String> = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid \
         JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1",
    )
    .bind(&user)
    .fetch_all(&mut t.admin)
    .await
    .unwrap();
    assert_eq!(
        held,
        vec![other.clone()],
        "what the person held before stays"
    );
    t.sql(format!("DROP ROLE {user}; DROP ROLE {other};")).await;
    t.cleanup(&[]).await;
}

/// The README's least privileges: CREATEROLE, ADMIN OPTION on the granted role,
/// pg_signal_backend — no superuser.
#[tokio::test]
async fn an_admin_with_the_documented_least_privileges_can_grant_and_revoke() {
    let mut t = PgTarget::new().await;
    let admin = format!("{}_admin", t.tag);
    t.sql(format!(
        "CREATE ROLE {admin} LOGIN CREATEROLE PASSWORD 'admin-pw'; \
         GRANT {} TO {admin} WITH ADMIN OPTION; GRANT {JIT_GROUP} TO {admin} WITH ADMIN OPTION; \
         GRANT pg_signal_backend TO {admin};",
        t.read_role
    ))
    .await;
    let base = url::Url::parse(&postgres_base()).unwrap();
    let url = format!(
        "postgres://{admin}:admin-pw@{}:{}{}",
        base.host_str().unwrap(),
        base.port().unwrap_or(5432),
        base.path()
    );
    let g = PostgresGrantor::new(vec![server("test", &url)]).unwrap();
    let cat = catalog("postgres", &t.params());
    let id = request_id();
    let receipt = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let cred = receipt.credential.clone().unwrap();
    let mut open = PgConnection::connect(cred.connection.expose_secret())
        .await
        .unwrap();
    let mut revoke = call(&cat, GrantOp::Revoke, &id, in_hours(1));
    revoke.grant = Some(receipt);
    let done = g.revoke(&revoke).await.unwrap();
    assert_eq!(done.detail["sessions_ended"], 1, "{}", done.detail);
    assert!(!t.role_exists(&cred.username).await);
    assert!(open.ping().await.is_err());
    drop(g);
    t.sql(format!("DROP ROLE {admin}")).await;
    t.cleanup(&[]).await;
}
