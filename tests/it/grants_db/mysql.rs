//! The `mysql` backend against the local MariaDB (`WARDEN_TEST_MYSQL`, the TCP user `.ci/run`
//! creates): accounts that connect, read what they were granted only, and are gone after the
//! revoke, their open sessions ended.

use super::{call, catalog, in_hours, request_id, server, tag};
use secrecy::ExposeSecret;
use sqlx::{Connection, MySqlConnection};
use warden::grants::database::mysql::MySqlGrantor;
use warden::grants::{GrantEffect, GrantOp, Grantor};

fn admin_url() -> String {
    std::env::var("WARDEN_TEST_MYSQL")
        .unwrap_or_else(|_| "mysql://warden:warden-test@127.0.0.1:3306/mysql".into())
}

struct MyTarget {
    db: String,
    role: String,
    admin: MySqlConnection,
}

impl MyTarget {
    /// `None` (the test skipped with a note) when MariaDB is unreachable outside CI.
    async fn new() -> Option<Self> {
        let db = tag();
        let role = format!("{db}_read");
        let mut admin = match MySqlConnection::connect(&admin_url()).await {
            Ok(c) => c,
            Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("MariaDB is required in CI: {e}")
            }
            Err(e) => {
                eprintln!("skipping MariaDB test: {e}");
                return None;
            }
        };
        for sql in [
            format!("CREATE DATABASE {db}"),
            format!("CREATE TABLE {db}.granted_t (v int)"),
            format!("INSERT INTO {db}.granted_t VALUES (42)"),
            format!("CREATE TABLE {db}.secret_t (v int)"),
            format!("INSERT INTO {db}.secret_t VALUES (7)"),
            format!("CREATE ROLE {role}"),
            format!("GRANT SELECT ON {db}.granted_t TO {role}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        Some(Self { db, role, admin })
    }

    async fn read(&self, connection: &str, table: &str) -> Result<i32, String> {
        let mut c = MySqlConnection::connect(connection)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT v FROM {}.{table}",
            self.db
        )))
        .fetch_one(&mut c)
        .await
        .map_err(|e| e.to_string())
    }

    async fn account_exists(&mut self, login: &str) -> bool {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mysql.user WHERE User = ?")
            .bind(login)
            .fetch_one(&mut self.admin)
            .await
            .unwrap();
        n > 0
    }

    async fn cleanup(mut self) {
        for sql in [
            format!("DROP DATABASE {}", self.db),
            format!("DROP ROLE {}", self.role),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut self.admin)
                .await
                .unwrap();
        }
    }
}

fn grantor() -> MySqlGrantor {
    MySqlGrantor::new(vec![server("test", &admin_url())]).unwrap()
}

async fn grant_connect_deny_revoke(params: String, t: &mut MyTarget) {
    let cat = catalog("mysql", &params);
    let id = request_id();
    let g = grantor();
    let receipt = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let cred = receipt.credential.clone().expect("a credential");
    let conn = cred
        .connection
        .expose_secret()
        .replace("/mysql", &format!("/{}", t.db));
    assert_eq!(t.read(&conn, "granted_t").await, Ok(42));
    let denied = t.read(&conn, "secret_t").await.unwrap_err();
    assert!(denied.contains("denied"), "{denied}");
    assert!(
        !serde_json::to_string(&receipt)
            .unwrap()
            .contains(cred.password.expose_secret())
    );
    // A retry finds the account: a fresh password, still one account.
    let again = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let cred = again.credential.clone().unwrap();
    let conn = cred
        .connection
        .expose_secret()
        .replace("/mysql", &format!("/{}", t.db));
    let mut open = MySqlConnection::connect(&conn).await.unwrap();
    let mut revoke = call(&cat, GrantOp::Revoke, &id, in_hours(1));
    revoke.grant = Some(again);
    let done = g.revoke(&revoke).await.unwrap();
    assert_eq!(done.effect, GrantEffect::Applied);
    assert_eq!(done.detail["sessions_ended"], 1, "{}", done.detail);
    assert!(open.ping().await.is_err(), "the open session was ended");
    assert!(t.read(&conn, "granted_t").await.is_err());
    assert!(!t.account_exists(&cred.username).await);
    let gone = g.revoke(&revoke).await.unwrap();
    assert_eq!(
        gone.effect,
        GrantEffect::AlreadyHeld,
        "a missing account is a success"
    );
}

#[tokio::test]
async fn a_role_account_connects_reads_only_what_is_granted_and_ends_at_the_revoke() {
    let Some(mut t) = MyTarget::new().await else {
        return;
    };
    let params = format!(r#"roles = {{ read = "{}" }}"#, t.role);
    grant_connect_deny_revoke(params, &mut t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn a_privileges_account_connects_reads_only_what_is_granted_and_ends_at_the_revoke() {
    let Some(mut t) = MyTarget::new().await else {
        return;
    };
    let params = format!(
        r#"privileges = {{ read = "SELECT ON {}.granted_t" }}"#,
        t.db
    );
    grant_connect_deny_revoke(params, &mut t).await;
    t.cleanup().await;
}

#[tokio::test]
async fn a_privilege_that_is_not_a_plain_grant_is_refused() {
    let cat = catalog(
        "mysql",
        r#"privileges = { read = "ALL ON *.* TO x; DROP DATABASE y" }"#,
    );
    let err = grantor()
        .grant(&call(&cat, GrantOp::Grant, &request_id(), in_hours(1)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, warden::grants::GrantError::Permanent(_)),
        "{err}"
    );
}

/// The README's least privileges for the MariaDB admin account, privileges mode: no `ALL`, no
/// write access to the grant tables.
#[tokio::test]
async fn an_admin_with_the_documented_least_privileges_can_grant_and_revoke() {
    let Some(mut t) = MyTarget::new().await else {
        return;
    };
    let admin = format!("{}_adm", t.db);
    for sql in [
        format!("CREATE USER '{admin}'@'127.0.0.1' IDENTIFIED BY 'admin-pw'"),
        format!("GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '{admin}'@'127.0.0.1'"),
        format!("GRANT SELECT (User, Host) ON mysql.user TO '{admin}'@'127.0.0.1'"),
        format!(
            "GRANT SELECT ON {}.granted_t TO '{admin}'@'127.0.0.1' WITH GRANT OPTION",
            t.db
        ),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut t.admin)
            .await
            .unwrap();
    }
    let url = url::Url::parse(&admin_url()).unwrap();
    let admin_url = format!(
        "mysql://{admin}:admin-pw@{}:{}/mysql",
        url.host_str().unwrap(),
        url.port().unwrap_or(3306),
    );
    let g = MySqlGrantor::new(vec![server("test", &admin_url)]).unwrap();
    let privileges = format!(
        r#"privileges = {{ read = "SELECT ON {}.granted_t" }}"#,
        t.db
    );
    let cat = catalog("mysql", &privileges);
    let id = request_id();
    let receipt = g
        .grant(&call(&cat, GrantOp::Grant, &id, in_hours(1)))
        .await
        .unwrap();
    let cred = receipt.credential.clone().unwrap();
    let conn = cred
        .connection
        .expose_secret()
        .replace("/mysql", &format!("/{}", t.db));
    let mut open = MySqlConnection::connect(&conn).await.unwrap();
    let mut revoke = call(&cat, GrantOp::Revoke, &id, in_hours(1));
    revoke.grant = Some(receipt);
    let done = g.revoke(&revoke).await.unwrap();
    assert_eq!(done.detail["sessions_ended"], 1, "{}", done.detail);
    assert!(open.ping().await.is_err());
    assert!(!t.account_exists(&cred.username).await);
    drop(g);
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP USER '{admin}'@'127.0.0.1'"
    )))
    .execute(&mut t.admin)
    .await
    .unwrap();
    t.cleanup().await;
}
