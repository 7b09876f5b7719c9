//! A throwaway target on the local PostgreSQL for the `postgres` backend's tests: a schema with
//! a granted and an ungranted table, a read role, and checks made as the admin.

use crate::support::db::postgres_base;
use sqlx::{Connection, PgConnection};
use warden::grants::database::postgres::PostgresGrantor;

use super::{server, tag};

/// See `PgTarget::params`.
pub const JIT_GROUP: &str = "warden_jit";

/// A schema with a granted and an ungranted table and a read role on the first, dropped by
/// `cleanup`.
pub struct PgTarget {
    pub tag: String,
    pub read_role: String,
    pub(super) admin: PgConnection,
}

impl PgTarget {
    pub async fn new() -> Self {
        let tag = tag();
        let mut admin = PgConnection::connect(&postgres_base())
            .await
            .expect("admin connects");
        let read_role = format!("{tag}_read");
        let sql = format!(
            "CREATE SCHEMA {tag};
             CREATE TABLE {tag}.granted_t (v int); INSERT INTO {tag}.granted_t VALUES (42);
             CREATE TABLE {tag}.secret_t (v int); INSERT INTO {tag}.secret_t VALUES (7);
             CREATE ROLE {read_role} NOLOGIN;
             GRANT USAGE ON SCHEMA {tag} TO {read_role};
             GRANT SELECT ON {tag}.granted_t TO {read_role};"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("target set up");
        Self {
            tag,
            read_role,
            admin,
        }
    }

    /// The read role, and `warden_jit`: the local server trusts every login except members
    /// of that group, which must give their password (`.ci/run` sets this up), so the
    /// password and `VALID UNTIL` are really checked.
    pub fn params(&self) -> String {
        format!(
            r#"roles = {{ read = ["{}", "{JIT_GROUP}"] }}"#,
            self.read_role
        )
    }

    pub async fn role_exists(&mut self, name: &str) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(name)
            .fetch_one(&mut self.admin)
            .await
            .unwrap()
    }

    pub async fn sql(&mut self, sql: String) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut self.admin)
            .await
            .unwrap();
    }

    /// What `connection` reads from `table`: `Ok(v)` or the refusal.
    pub async fn read(&self, connection: &str, table: &str) -> Result<i32, String> {
        let mut c = PgConnection::connect(connection)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT v FROM {}.{table}",
            self.tag
        )))
        .fetch_one(&mut c)
        .await
        .map_err(|e| e.to_string())
    }

    pub async fn cleanup(mut self, logins: &[&str]) {
        for l in logins {
            self.sql(format!("DROP ROLE IF EXISTS {l}")).await;
        }
        let (tag, role) = (self.tag.clone(), self.read_role.clone());
        self.sql(format!(
            "DROP SCHEMA {tag} CASCADE; DROP ROLE IF EXISTS {role};"
        ))
        .await;
    }
}

pub fn grantor() -> PostgresGrantor {
    PostgresGrantor::new(vec![server("test", &postgres_base())]).unwrap()
}

impl PgTarget {
    /// The admin URL, for checks from other tasks.
    pub fn probe() -> String {
        postgres_base()
    }

    pub async fn exists(url: &str, name: &str) -> bool {
        Self::count_like(url, name).await > 0
    }

    pub async fn count_like(url: &str, name: &str) -> i64 {
        let mut c = PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname = $1")
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

impl PgTarget {
    pub async fn valid_until(url: &str, name: &str) -> chrono::DateTime<chrono::Utc> {
        let mut c = PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar("SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1")
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}
