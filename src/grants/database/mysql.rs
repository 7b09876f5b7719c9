//! The `mysql` grant backend (MariaDB and MySQL): an account per grant, a role or privileges,
//! a connection limit; the revoke locks it, ends its sessions and drops it.
//!
//! Neither server has a time at which an account stops working (PostgreSQL's `VALID UNTIL`):
//! Warden's revoke ends the access, backed by `PASSWORD EXPIRE INTERVAL` in whole days.

use super::{
    DbParams, Mode, ServerConfig, db_error, login_name, quote_ident, quote_literal, recorded_login,
};
use crate::domain::Credential;
use crate::domain::credential::random_password;
use crate::grants::{GrantCall, GrantError, GrantReceipt, Grantor};
use async_trait::async_trait;
use secrecy::ExposeSecret;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::LazyLock;
use std::time::Duration;

const BACKEND: &str = "mysql";

/// `SELECT, INSERT ON app.*`: privilege names, then one database-level or table-level object.
static PRIVILEGES: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"^(?i)[a-z ]+(, *[a-z ]+)* ON (`?[A-Za-z0-9_$]+`?|\*)\.(`?[A-Za-z0-9_$]+`?|\*)$",
    )
    .expect("valid regex")
});

struct Server {
    config: ServerConfig,
    pool: MySqlPool,
}

pub struct MySqlGrantor {
    servers: HashMap<String, Server>,
}

impl MySqlGrantor {
    /// Lazy pools (call on a Tokio runtime), statement logging off (`IDENTIFIED BY` carries
    /// the password).
    pub fn new(servers: Vec<ServerConfig>) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for config in servers {
            let options = MySqlConnectOptions::from_str(config.admin_url.expose_secret())
                .map_err(|_| {
                    anyhow::anyhow!(
                        "the admin URL of database server `{}` does not parse",
                        config.name
                    )
                })?
                .disable_statement_logging();
            let pool = MySqlPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy_with(options);
            map.insert(config.name.clone(), Server { config, pool });
        }
        Ok(Self { servers: map })
    }

    /// Runs one statement over the text protocol (account statements are not all preparable).
    async fn exec(srv: &Server, step: &str, sql: String) -> Result<(), GrantError> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&srv.pool)
            .await
            .map(|_| ())
            .map_err(|e| db_error(step, e))
    }

    fn account(login: &str, host: &str) -> Result<String, GrantError> {
        Ok(format!(
            "{}@{}",
            quote_literal(login)?,
            quote_literal(host)?
        ))
    }

    async fn is_mariadb(srv: &Server) -> Result<bool, GrantError> {
        let v: String = sqlx::query_scalar("SELECT VERSION()")
            .fetch_one(&srv.pool)
            .await
            .map_err(|e| db_error("read the server version", e))?;
        Ok(v.contains("MariaDB"))
    }

    async fn grant_login(
        &self,
        srv: &Server,
        call: &GrantCall,
        p: &DbParams,
    ) -> Result<GrantReceipt, GrantError> {
        for privilege in &p.privileges {
            if !PRIVILEGES.is_match(privilege) {
                return Err(GrantError::Permanent(format!(
                    "database grant misconfigured: `{privilege}` is not `PRIVS ON db.table`"
                )));
            }
        }
        let login = login_name(&call.request_id);
        let account = Self::account(&login, &p.host)?;
        let password = random_password();
        let days = (call.expires_at - chrono::Utc::now()).num_seconds().max(0) / 86_400 + 1;
        // CREATE … IF NOT EXISTS then ALTER: a retry after a crash resets the password of the
        // account an earlier attempt made (that password was never handed over) and unlocks it.
        let options = format!(
            "WITH MAX_USER_CONNECTIONS {} PASSWORD EXPIRE INTERVAL {days} DAY ACCOUNT UNLOCK",
            p.connection_limit
        );
        let pw = quote_literal(password.expose_secret())?;
        let sql = format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {pw} {options}");
        Self::exec(srv, "create the account", sql).await?;
        let sql = format!("ALTER USER {account} IDENTIFIED BY {pw} {options}");
        Self::exec(srv, "set the password", sql).await?;
        for privilege in &p.privileges {
            Self::exec(
                srv,
                "grant privileges",
                format!("GRANT {privilege} TO {account}"),
            )
            .await?;
        }
        if !p.db_roles.is_empty() {
            for role in &p.db_roles {
                let sql = format!("GRANT {} TO {account}", quote_ident(role, '`'));
                Self::exec(srv, "grant the database role", sql).await?;
            }
            // A role's privileges apply once it is active: make it the default at login.
            let sql = if Self::is_mariadb(srv).await? {
                format!(
                    "SET DEFAULT ROLE {} FOR {account}",
                    quote_ident(&p.db_roles[0], '`')
                )
            } else {
                format!("SET DEFAULT ROLE ALL TO {account}")
            };
            Self::exec(srv, "make the role the default", sql).await?;
        }
        let credential = Credential {
            username: login.clone(),
            connection: srv.config.connection_string("mysql", &login, &password)?,
            password,
            valid_until: None,
        };
        let detail = serde_json::json!({
            "server": p.server, "mode": "new_login", "login": login, "host": p.host,
            "db_roles": p.db_roles, "privileges": p.privileges,
            "connection_limit": p.connection_limit, "password_expires_in_days": days,
            "fingerprint": credential.fingerprint(),
        });
        Ok(GrantReceipt::applied(BACKEND, detail)
            .with_holder(login)
            .with_credential(credential))
    }

    async fn revoke_login(
        &self,
        srv: &Server,
        call: &GrantCall,
        p: &DbParams,
    ) -> Result<GrantReceipt, GrantError> {
        let login = recorded_login(call);
        let account = Self::account(&login, &p.host)?;
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?")
                .bind(&login)
                .bind(&p.host)
                .fetch_one(&srv.pool)
                .await
                .map_err(|e| db_error("look up the account", e))?;
        if exists == 0 {
            let detail = serde_json::json!({ "login": login, "result": "already gone" });
            return Ok(GrantReceipt::unchanged(BACKEND, detail));
        }
        // Locked first, so no session starts while the open ones are ended; DROP USER leaves
        // open sessions running, hence the KILLs.
        Self::exec(
            srv,
            "lock the account",
            format!("ALTER USER {account} ACCOUNT LOCK"),
        )
        .await?;
        let sessions: Vec<i64> = sqlx::query_scalar(
            "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST WHERE USER = ?",
        )
        .bind(&login)
        .fetch_all(&srv.pool)
        .await
        .map_err(|e| db_error("list the account's sessions", e))?;
        for id in &sessions {
            // A session that ended meanwhile is fine (unknown thread id).
            if let Err(e) = Self::exec(srv, "end a session", format!("KILL CONNECTION {id}")).await
            {
                tracing::debug!(error = %e, "a session of a revoked account had already ended");
            }
        }
        Self::exec(
            srv,
            "drop the account",
            format!("DROP USER IF EXISTS {account}"),
        )
        .await?;
        let detail = serde_json::json!({ "login": login, "result": "dropped", "sessions_ended": sessions.len() });
        Ok(GrantReceipt::applied(BACKEND, detail))
    }

    fn server(&self, p: &DbParams) -> Result<&Server, GrantError> {
        super::server(&self.servers, p)
    }
}

#[async_trait]
impl Grantor for MySqlGrantor {
    fn name(&self) -> &str {
        BACKEND
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let p = DbParams::parse(call)?;
        if p.mode == Mode::ExistingUser {
            return Err(GrantError::Permanent(
                "the mysql backend only makes new logins".into(),
            ));
        }
        let srv = self.server(&p)?;
        self.grant_login(srv, call, &p).await
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let p = DbParams::parse(call)?;
        let srv = self.server(&p)?;
        self.revoke_login(srv, call, &p).await
    }
}
