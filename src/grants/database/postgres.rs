//! The `postgres` grant backend: a login role per grant with `VALID UNTIL`, or a role granted
//! to the person's own database user.
//!
//! Every step is idempotent: the grant creates the role or, on a retry, alters the one an
//! earlier attempt made (a fresh password: the earlier one was never handed over); the revoke
//! treats a missing role as done. `VALID UNTIL` ends logins even while Warden is down; sessions
//! already open are ended by Warden's revoke (`pg_terminate_backend`).

use super::{
    DbParams, Mode, ServerConfig, db_error, login_name, quote_ident, quote_literal, recorded_login,
    resource_mark,
};
use crate::domain::credential::random_password;
use crate::domain::{Credential, Resource};
use crate::grants::{GrantCall, GrantError, GrantReceipt, Grantor};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Postgres, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

const BACKEND: &str = "postgres";

struct Server {
    config: ServerConfig,
    pool: PgPool,
}

pub struct PostgresGrantor {
    servers: HashMap<String, Server>,
}

fn ident(name: &str) -> String {
    quote_ident(name, '"')
}

impl PostgresGrantor {
    /// Pools are lazy: a server that is down fails its grants (retried), not Warden's start.
    /// Call on a Tokio runtime.
    /// Statement logging is off: the statements carry password verifiers.
    pub fn new(servers: Vec<ServerConfig>) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for config in servers {
            let options = PgConnectOptions::from_str(config.admin_url.expose_secret())
                .map_err(|_| {
                    anyhow::anyhow!(
                        "the admin URL of database server `{}` does not parse",
                        config.name
                    )
                })?
                .application_name("warden")
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(options);
            map.insert(config.name.clone(), Server { config, pool });
        }
        Ok(Self { servers: map })
    }

    async fn exec(
        tx: &mut Transaction<'_, Postgres>,
        step: &str,
        sql: String,
    ) -> Result<(), GrantError> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await
            .map(|_| ())
            .map_err(|e| db_error(step, e))
    }

    async fn role_exists(
        tx: &mut Transaction<'_, Postgres>,
        name: &str,
    ) -> Result<bool, GrantError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(name)
            .fetch_one(&mut **tx)
            .await
            .map_err(|e| db_error("look up the role", e))
    }

    /// The roles `member` belongs to directly.
    async fn memberships(
        tx: &mut Transaction<'_, Postgres>,
        member: &str,
    ) -> Result<Vec<String>, GrantError> {
        sqlx::query_scalar(
            "SELECT r.rolname::text FROM pg_auth_members m \
             JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
             WHERE u.rolname = $1",
        )
        .bind(member)
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| db_error("list memberships", e))
    }

    async fn grant_login(
        &self,
        srv: &Server,
        call: &GrantCall,
        p: &DbParams,
    ) -> Result<GrantReceipt, GrantError> {
        let login = login_name(&call.request_id);
        let password = random_password();
        let verifier = super::scram::verifier(password.expose_secret());
        let until = call.expires_at.to_rfc3339();
        let mut tx = srv.pool.begin().await.map_err(|e| db_error("connect", e))?;
        let existed = Self::role_exists(&mut tx, &login).await?;
        let verb = if existed { "ALTER" } else { "CREATE" };
        let sql = format!(
            "{verb} ROLE {} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             CONNECTION LIMIT {} PASSWORD {} VALID UNTIL {}",
            ident(&login),
            p.connection_limit,
            quote_literal(&verifier)?,
            quote_literal(&until)?,
        );
        Self::exec(&mut tx, "create the login", sql).await?;
        let sql = format!(
            "COMMENT ON ROLE {} IS {}",
            ident(&login),
            quote_literal(&resource_mark(&call.resource))?
        );
        Self::exec(&mut tx, "mark the login", sql).await?;
        for role in &p.db_roles {
            let sql = format!("GRANT {} TO {}", ident(role), ident(&login));
            Self::exec(&mut tx, "grant the database role", sql).await?;
        }
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        let credential = Credential {
            username: login.clone(),
            connection: srv
                .config
                .connection_string("postgres", &login, &password)?,
            password,
            valid_until: Some(call.expires_at),
        };
        let detail = serde_json::json!({
            "server": p.server, "mode": "new_login", "login": login,
            "db_roles": p.db_roles, "valid_until": until,
            "connection_limit": p.connection_limit,
            "fingerprint": credential.fingerprint(), "retried": existed,
        });
        Ok(GrantReceipt::applied(BACKEND, detail)
            .with_holder(login)
            .with_credential(credential))
    }

    async fn revoke_login(
        &self,
        srv: &Server,
        call: &GrantCall,
    ) -> Result<GrantReceipt, GrantError> {
        let login = recorded_login(call);
        let mut tx = srv.pool.begin().await.map_err(|e| db_error("connect", e))?;
        if !Self::role_exists(&mut tx, &login).await? {
            let detail = serde_json::json!({ "login": login, "result": "already gone" });
            return Ok(GrantReceipt::unchanged(BACKEND, detail));
        }
        // No new sessions from here; then end the open ones (a dropped role's sessions would
        // otherwise live on with its privileges until they disconnect).
        Self::exec(
            &mut tx,
            "disable the login",
            format!("ALTER ROLE {} NOLOGIN", ident(&login)),
        )
        .await?;
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
        )
        .bind(&login)
        .fetch_all(&srv.pool)
        .await
        .map_err(|e| db_error("end the login's sessions", e))?;
        let mut tx = srv.pool.begin().await.map_err(|e| db_error("connect", e))?;
        let roles = Self::memberships(&mut tx, &login).await?;
        for role in &roles {
            let sql = format!("REVOKE {} FROM {}", ident(role), ident(&login));
            Self::exec(&mut tx, "revoke a database role", sql).await?;
        }
        // REASSIGN/DROP OWNED need the admin to hold the login's privileges; a CREATEROLE admin
        // may grant itself the login (a no-op for a superuser).
        let l = ident(&login);
        Self::exec(
            &mut tx,
            "take over the login",
            format!("GRANT {l} TO CURRENT_USER"),
        )
        .await?;
        Self::exec(
            &mut tx,
            "reassign what it owns",
            format!("REASSIGN OWNED BY {l} TO CURRENT_USER"),
        )
        .await?;
        Self::exec(&mut tx, "drop its privileges", format!("DROP OWNED BY {l}")).await?;
        Self::exec(&mut tx, "drop the login", format!("DROP ROLE {l}")).await?;
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        let detail = serde_json::json!({
            "login": login, "result": "dropped", "revoked_roles": roles,
            "sessions_ended": ended.iter().filter(|b| **b).count(),
        });
        Ok(GrantReceipt::applied(BACKEND, detail))
    }

    async fn grant_existing(
        &self,
        srv: &Server,
        call: &GrantCall,
        p: &DbParams,
    ) -> Result<GrantReceipt, GrantError> {
        let user = p.existing_user(&call.person);
        let mut tx = srv.pool.begin().await.map_err(|e| db_error("connect", e))?;
        if !Self::role_exists(&mut tx, &user).await? {
            return Err(GrantError::Permanent(format!(
                "there is no database user `{user}` for {}",
                call.person
            )));
        }
        let held = Self::memberships(&mut tx, &user).await?;
        let added: Vec<String> = p
            .db_roles
            .iter()
            .filter(|r| !held.contains(r))
            .cloned()
            .collect();
        for role in &added {
            let sql = format!("GRANT {} TO {}", ident(role), ident(&user));
            Self::exec(&mut tx, "grant the database role", sql).await?;
        }
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        let detail = serde_json::json!({
            "server": p.server, "mode": "existing_user", "user": user, "added": added,
        });
        let receipt = if added.is_empty() {
            GrantReceipt::unchanged(BACKEND, detail)
        } else {
            GrantReceipt::applied(BACKEND, detail)
        };
        Ok(receipt.with_holder(user))
    }

    async fn revoke_existing(
        &self,
        srv: &Server,
        call: &GrantCall,
        p: &DbParams,
    ) -> Result<GrantReceipt, GrantError> {
        let user = p.existing_user(&call.person);
        // Only what the grant added; every configured role when its outcome is unknown.
        let roles: Vec<String> = match call.grant.as_ref().and_then(|g| g.detail.get("added")) {
            Some(added) => serde_json::from_value(added.clone()).unwrap_or_default(),
            None => p.db_roles.clone(),
        };
        let mut tx = srv.pool.begin().await.map_err(|e| db_error("connect", e))?;
        if !Self::role_exists(&mut tx, &user).await? {
            let detail = serde_json::json!({ "user": user, "result": "user gone" });
            return Ok(GrantReceipt::unchanged(BACKEND, detail));
        }
        let held = Self::memberships(&mut tx, &user).await?;
        let removed: Vec<String> = roles.into_iter().filter(|r| held.contains(r)).collect();
        for role in &removed {
            let sql = format!("REVOKE {} FROM {}", ident(role), ident(&user));
            Self::exec(&mut tx, "revoke the database role", sql).await?;
        }
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        let detail = serde_json::json!({ "user": user, "removed": removed });
        Ok(GrantReceipt::applied(BACKEND, detail))
    }

    fn server(&self, p: &DbParams) -> Result<&Server, GrantError> {
        super::server(&self.servers, p)
    }
}

#[async_trait]
impl Grantor for PostgresGrantor {
    fn name(&self) -> &str {
        BACKEND
    }

    /// The logins Warden made for this resource that still exist on its server (marked with the
    /// resource when created; `warden_` and a request id). A person's own user (`existing_user`
    /// mode) held the roles before and beside Warden: that mode cannot tell, so it does not list.
    async fn holders(&self, resource: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        let (server, mode) = DbParams::server_and_mode(resource)?;
        if mode == Mode::ExistingUser {
            return Ok(None);
        }
        let srv = self.servers.get(&server).ok_or_else(|| {
            GrantError::Permanent(format!("no server `{server}` under [grants.databases]"))
        })?;
        let logins: Vec<String> = sqlx::query_scalar(
            "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'warden\\_%' \
             AND shobj_description(oid, 'pg_authid') = $1 ORDER BY rolname",
        )
        .bind(resource_mark(&resource.id))
        .fetch_all(&srv.pool)
        .await
        .map_err(|e| db_error("list the logins", e))?;
        Ok(Some(logins))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let p = DbParams::parse(call)?;
        let srv = self.server(&p)?;
        match p.mode {
            Mode::NewLogin => self.grant_login(srv, call, &p).await,
            Mode::ExistingUser => self.grant_existing(srv, call, &p).await,
        }
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let p = DbParams::parse(call)?;
        let srv = self.server(&p)?;
        match p.mode {
            Mode::NewLogin => self.revoke_login(srv, call).await,
            Mode::ExistingUser => self.revoke_existing(srv, call, &p).await,
        }
    }

    /// Moves `VALID UNTIL` to the new expiry; the person's own user has none to move.
    async fn extend(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let p = DbParams::parse(call)?;
        let srv = self.server(&p)?;
        if p.mode == Mode::ExistingUser {
            return Ok(GrantReceipt::unchanged(
                BACKEND,
                serde_json::json!({ "result": "no expiry on the user" }),
            ));
        }
        let login = recorded_login(call);
        let until = call.expires_at.to_rfc3339();
        let mut tx = srv.pool.begin().await.map_err(|e| db_error("connect", e))?;
        if !Self::role_exists(&mut tx, &login).await? {
            return Err(GrantError::Permanent(format!("the login {login} is gone")));
        }
        let sql = format!(
            "ALTER ROLE {} VALID UNTIL {}",
            ident(&login),
            quote_literal(&until)?
        );
        Self::exec(&mut tx, "move VALID UNTIL", sql).await?;
        tx.commit().await.map_err(|e| db_error("commit", e))?;
        Ok(GrantReceipt::applied(
            BACKEND,
            serde_json::json!({ "login": login, "valid_until": until }),
        ))
    }
}
