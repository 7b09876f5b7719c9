//! Sign-ins begun at the OpenID provider: kept until their callback takes them, once.

use super::Store;
use anyhow::Context;
use sqlx::Row;

/// What the callback needs from the sign-in it finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub state_hash: String,
    /// Hash of the browser binding cookie's value.
    pub binding_hash: String,
    pub nonce: String,
    pub verifier: String,
    pub expires_at: i64,
}

impl Store {
    pub async fn begin_sso_login(&self, p: &PendingLogin, now_ms: i64) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO sso_logins (state_hash, binding_hash, nonce, verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&p.state_hash)
            .bind(&p.binding_hash)
            .bind(&p.nonce)
            .bind(&p.verifier)
            .bind(now_ms)
            .bind(p.expires_at)
            .execute(self.write())
            .await
            .context("Failed to record the SSO sign-in")?;
        Ok(())
    }

    /// Takes the sign-in for a callback: only an unused, unexpired one, bound to this browser,
    /// and only once (compare-and-set on `used_at`, so two racing callbacks get one sign-in).
    pub async fn take_sso_login(
        &self,
        state_hash: &str,
        binding_hash: &str,
        now_ms: i64,
    ) -> anyhow::Result<Option<PendingLogin>> {
        let taken = sqlx::query("UPDATE sso_logins SET used_at = $1 WHERE state_hash = $2 AND binding_hash = $3 AND used_at IS NULL AND expires_at > $1")
            .bind(now_ms)
            .bind(state_hash)
            .bind(binding_hash)
            .execute(self.write())
            .await
            .context("Failed to take the SSO sign-in")?
            .rows_affected();
        if taken != 1 {
            return Ok(None);
        }
        let row =
            sqlx::query("SELECT nonce, verifier, expires_at FROM sso_logins WHERE state_hash = $1")
                .bind(state_hash)
                .fetch_one(self.write())
                .await
                .context("Failed to read the SSO sign-in")?;
        Ok(Some(PendingLogin {
            state_hash: state_hash.to_string(),
            binding_hash: binding_hash.to_string(),
            nonce: row.try_get("nonce")?,
            verifier: row.try_get("verifier")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }
}
