//! Just-in-time database logins (PostgreSQL, MariaDB/MySQL): what the two backends share.
//!
//! Per grant a login named after the request (so a retry after a crash finds the one it made),
//! a fresh random password handed to the person once (`Credential`), membership in the
//! catalog's database roles, a connection limit; the revoke ends its sessions and drops it.
//! Admin connections come from `[grants.databases.<server>]`, their URLs from the environment.

use super::{GrantCall, GrantError};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

pub mod mysql;
pub mod postgres;
mod scram;

/// How a catalog resource is granted on a database server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A new login per grant, with a password for the person (the default).
    NewLogin,
    /// Membership added to the person's own database user, named by `user` from the directory id.
    ExistingUser,
}

/// Whether granting through `backend` with `params` (a catalog target, or what a grant record
/// kept of it) makes a new login, a credential to hand over: the `postgres` and `mysql`
/// backends in their default `new_login` mode.
pub fn makes_login(backend: &str, params: &std::collections::HashMap<String, toml::Value>) -> bool {
    ["postgres", "mysql"].contains(&backend)
        && params
            .get("mode")
            .and_then(|m| m.as_str())
            .is_none_or(|m| m == "new_login")
}

/// The catalog's parameters for one call, parsed and checked.
#[derive(Debug, Clone)]
pub struct DbParams {
    pub server: String,
    pub mode: Mode,
    /// Database roles (PostgreSQL, MariaDB) the catalog role maps to.
    pub db_roles: Vec<String>,
    /// MariaDB/MySQL only: privilege grants (`SELECT ON app.*`) instead of roles.
    pub privileges: Vec<String>,
    pub connection_limit: u32,
    /// `ExistingUser`: the database user, `{person}` replaced by the directory id.
    pub user_template: String,
    /// MariaDB/MySQL: the host part of the account (`'login'@'host'`).
    pub host: String,
}

impl DbParams {
    /// Reads `server`, `mode`, `roles.<role>` (a name or a list), `privileges.<role>`,
    /// `connection_limit`, `user` and `host` from the catalog's grant parameters.
    pub fn parse(call: &GrantCall) -> Result<Self, GrantError> {
        let p = &call.params;
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let server = text("server").ok_or_else(|| bad("the catalog names no `server`"))?;
        let mode = match text("mode").as_deref() {
            None | Some("new_login") => Mode::NewLogin,
            Some("existing_user") => Mode::ExistingUser,
            Some(other) => return Err(bad(&format!("unknown mode `{other}`"))),
        };
        let per_role = |k: &str| -> Vec<String> {
            match p.get(k).and_then(|r| r.get(&call.role)) {
                Some(toml::Value::String(s)) => vec![s.clone()],
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let db_roles = per_role("roles");
        let privileges = per_role("privileges");
        if db_roles.is_empty() && privileges.is_empty() {
            return Err(bad(&format!(
                "no database role is configured for role `{}`",
                call.role
            )));
        }
        let connection_limit = p
            .get("connection_limit")
            .and_then(|v| v.as_integer())
            .unwrap_or(2)
            .clamp(1, 1000) as u32;
        Ok(Self {
            server,
            mode,
            db_roles,
            privileges,
            connection_limit,
            user_template: text("user").unwrap_or_else(|| "{person}".into()),
            host: text("host").unwrap_or_else(|| "%".into()),
        })
    }

    /// The server and mode a resource's logins live on, for listing them (no role needed).
    pub fn server_and_mode(
        resource: &crate::domain::Resource,
    ) -> Result<(String, Mode), GrantError> {
        let p = &resource.grant.params;
        let server = p
            .get("server")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("the catalog names no `server`"))?;
        let mode = match p.get("mode").and_then(|v| v.as_str()) {
            None | Some("new_login") => Mode::NewLogin,
            Some("existing_user") => Mode::ExistingUser,
            Some(other) => return Err(bad(&format!("unknown mode `{other}`"))),
        };
        Ok((server.to_string(), mode))
    }

    /// The person's own database user (`ExistingUser` mode).
    pub fn existing_user(&self, person: &str) -> String {
        self.user_template.replace("{person}", person)
    }
}

fn bad(why: &str) -> GrantError {
    GrantError::Permanent(format!("database grant misconfigured: {why}"))
}

/// The login a grant creates: `warden_` and the request id, lower-case, letters, digits and
/// `_` only. Derived from the request alone, so the grant, its retries and every revoke
/// (including a compensating one whose grant never answered) name the same login.
pub fn login_name(request_id: &str) -> String {
    let id: String = request_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    format!("warden_{id}")
}

/// The mark a login carries on its server (a role comment): which catalog resource it was made
/// for, so drift reconciliation can tell Warden's logins per resource from everything else,
/// from the target alone, even when Warden's own record of the grant never got written.
pub fn resource_mark(resource_id: &str) -> String {
    format!("warden resource={resource_id}")
}

/// The login a revoke drops: the grant's recorded holder, else the login its receipt names,
/// else the one the grant would have made (a compensating revoke of an unknown outcome).
pub fn recorded_login(call: &GrantCall) -> String {
    let g = call.grant.as_ref();
    g.and_then(|g| g.holder.clone())
        .or_else(|| {
            g.and_then(|g| g.detail.get("login"))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| login_name(&call.request_id))
}

/// A quoted identifier (PostgreSQL `"x"`, MySQL `` `x` ``), the quote doubled inside.
pub fn quote_ident(name: &str, quote: char) -> String {
    let doubled = name.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{doubled}{quote}")
}

/// A single-quoted SQL string literal, the quote doubled. Backslashes are refused (PostgreSQL
/// keeps them, MySQL reads escapes): nothing Warden quotes needs one.
pub fn quote_literal(s: &str) -> Result<String, GrantError> {
    if s.contains('\\') {
        return Err(bad("a backslash in a name"));
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

/// One database server Warden administers: the admin URL (a secret) and what the person's
/// connection string should name (the address people reach, which may differ from Warden's).
#[derive(Clone)]
pub struct ServerConfig {
    pub name: String,
    pub admin_url: SecretString,
    pub public_host: Option<String>,
    pub public_port: Option<u16>,
    pub database: Option<String>,
}

impl ServerConfig {
    /// From `[grants.databases.<name>]`: the admin URL as given, or read from `admin_url_env`.
    pub fn from_settings(
        name: &str,
        s: &crate::config::DatabaseServerSettings,
    ) -> anyhow::Result<Self> {
        let admin_url = match (&s.admin_url, &s.admin_url_env) {
            (Some(url), _) => url.clone(),
            (None, Some(var)) => SecretString::from(std::env::var(var).map_err(|_| {
                anyhow::anyhow!(
                    "grants.databases.{name}: the variable {var} (the admin URL) is not set"
                )
            })?),
            (None, None) => anyhow::bail!("grants.databases.{name}: no admin_url or admin_url_env"),
        };
        Ok(Self {
            name: name.to_string(),
            admin_url,
            public_host: s.public_host.clone(),
            public_port: s.public_port,
            database: s.database.clone(),
        })
    }

    /// The connection string handed to the person: `scheme://login:password@host:port/db`.
    pub fn connection_string(
        &self,
        scheme: &str,
        login: &str,
        password: &SecretString,
    ) -> Result<SecretString, GrantError> {
        let admin = url::Url::parse(self.admin_url.expose_secret())
            .map_err(|_| bad(&format!("the admin URL of `{}` does not parse", self.name)))?;
        let host = self
            .public_host
            .clone()
            .or_else(|| admin.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into());
        let port = self.public_port.or(admin.port());
        let db = self
            .database
            .clone()
            .unwrap_or_else(|| admin.path().trim_start_matches('/').to_string());
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        Ok(SecretString::from(format!(
            "{scheme}://{login}:{}@{host}{port}/{db}",
            password.expose_secret()
        )))
    }
}

/// Servers by name; a call naming an unknown server is a configuration error.
pub fn server<'a, T>(servers: &'a HashMap<String, T>, p: &DbParams) -> Result<&'a T, GrantError> {
    servers.get(&p.server).ok_or_else(|| {
        bad(&format!(
            "no server `{}` under [grants.databases]",
            p.server
        ))
    })
}

/// sqlx errors: transport and pool trouble is worth retrying, a refusal by the server is not.
/// Only the server's error code and the step are kept: a message may quote the statement.
pub fn db_error(step: &str, e: sqlx::Error) -> GrantError {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.to_string()).unwrap_or_default();
            // Serialization failures, deadlocks and a concurrent CREATE of the same name clear
            // up on a retry, which then finds the login (PostgreSQL 40001, 40P01, 23505, 42710;
            // MySQL 1213, 1205).
            if matches!(
                code.as_str(),
                "40001" | "40P01" | "23505" | "42710" | "1213" | "1205"
            ) {
                GrantError::Transient(format!("{step}: database error {code}"))
            } else {
                GrantError::Permanent(format!("{step}: database refused (code {code})"))
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            GrantError::Transient(format!("{step}: database unreachable"))
        }
        sqlx::Error::Tls(_) => GrantError::Transient(format!("{step}: TLS to the database failed")),
        _ => GrantError::Transient(format!("{step}: database call failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names_are_stable_lowercase_and_safe() {
        assert_eq!(login_name("AR-7KQ2M9XD"), "warden_ar_7kq2m9xd");
        assert_eq!(login_name("a\"b'c;"), "warden_a_b_c_");
        assert!(login_name(&"x".repeat(100)).len() <= 31, "fits MySQL's 32");
    }

    fn call_with(grant: &str) -> GrantCall {
        let catalog = crate::domain::Catalog::from_toml(&format!(
            "[[resource]]\nid = \"db\"\nname = \"DB\"\nroles = [\"read\"]\nrisk = \"low\"\n\
             max_duration = \"1d\"\ngrant = {grant}\n"
        ))
        .unwrap();
        GrantCall::new(
            super::super::GrantOp::Grant,
            "AR-X",
            catalog.get("db").unwrap(),
            "read",
            "alice",
            &crate::domain::PlatformUser::new(crate::domain::Platform::Console, "local", "alice"),
            chrono::Utc::now(),
            None,
        )
    }

    #[test]
    fn parameters_take_a_role_or_a_list_and_refuse_what_is_missing_or_unknown() {
        let one = DbParams::parse(&call_with(
            r#"{ backend = "postgres", server = "s", roles = { read = "r1" } }"#,
        ))
        .unwrap();
        assert_eq!(
            (one.db_roles, one.mode, one.connection_limit),
            (vec!["r1".to_string()], Mode::NewLogin, 2)
        );
        let list = DbParams::parse(&call_with(
            r#"{ backend = "postgres", server = "s", mode = "existing_user", user = "db_{person}", roles = { read = ["a", "b"] } }"#,
        ))
        .unwrap();
        assert_eq!(list.db_roles, ["a", "b"]);
        assert_eq!(list.existing_user("alice"), "db_alice");
        for bad in [
            r#"{ backend = "postgres", roles = { read = "r1" } }"#,
            r#"{ backend = "postgres", server = "s" }"#,
            r#"{ backend = "postgres", server = "s", mode = "sideways", roles = { read = "r1" } }"#,
        ] {
            assert!(
                matches!(
                    DbParams::parse(&call_with(bad)),
                    Err(GrantError::Permanent(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn quoting_doubles_the_quote() {
        assert_eq!(quote_ident("a\"b", '"'), "\"a\"\"b\"");
        assert_eq!(quote_ident("a`b", '`'), "`a``b`");
        assert_eq!(quote_literal("it's").unwrap(), "'it''s'");
        assert!(quote_literal("a\\b").is_err());
    }
}
