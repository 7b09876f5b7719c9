//! The database grant backends against the local PostgreSQL and MariaDB: real logins, real
//! connections, real privileges.

mod config;
mod drift;
mod flow;
mod mysql;
pub(crate) mod pg_target;
mod postgres;

use secrecy::SecretString;
use warden::domain::{Catalog, Platform, PlatformUser};
use warden::grants::database::ServerConfig;
use warden::grants::{GrantCall, GrantOp};

/// A short random tag for names on the shared servers.
pub fn tag() -> String {
    format!("jit_{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// A request id of the form Warden uses, unique per call.
pub fn request_id() -> String {
    format!(
        "AR-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()
    )
}

pub fn server(name: &str, admin_url: &str) -> ServerConfig {
    ServerConfig {
        name: name.into(),
        admin_url: SecretString::from(admin_url.to_string()),
        public_host: None,
        public_port: None,
        database: None,
    }
}

/// A catalog of one resource `db` with role `read` on backend `backend`, server `test`.
pub fn catalog(backend: &str, params: &str) -> Catalog {
    Catalog::from_toml(&format!(
        r#"
[[resource]]
id = "db"
name = "Test database"
aliases = ["test db"]
roles = ["read"]
risk = "low"
max_duration = "1d"
default_duration = "1h"
grant = {{ backend = "{backend}", server = "test", {params} }}
"#
    ))
    .expect("test catalog parses")
}

/// A grant call as the grant job makes it, expiring at `expires_at`.
pub fn call(
    catalog: &Catalog,
    op: GrantOp,
    request: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> GrantCall {
    GrantCall::new(
        op,
        request,
        catalog.get("db").expect("resource db"),
        "read",
        "alice",
        &PlatformUser::new(Platform::Console, "local", "alice"),
        expires_at,
        None,
    )
}

pub fn in_hours(h: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::hours(h)
}
