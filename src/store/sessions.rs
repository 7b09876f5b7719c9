//! Admin sessions, held server-side so they can be ended: by signing out, or when the token
//! they were opened with is removed or rotated.

use super::Store;
use anyhow::Context;
use sqlx::Row;

/// A live or ended admin session, keyed by the hash of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub token_name: String,
    /// The token's stored hash when the session began.
    pub token_hash: String,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
}

impl AdminSession {
    pub fn live_at(&self, now_ms: i64) -> bool {
        self.ended_at.is_none() && self.expires_at > now_ms
    }
}

impl Store {
    pub async fn open_admin_session(
        &self,
        sid_hash: &str,
        token_name: &str,
        token_hash: &str,
        now_ms: i64,
        expires_at: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO admin_sessions (sid_hash, token_name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(sid_hash)
            .bind(token_name)
            .bind(token_hash)
            .bind(now_ms)
            .bind(expires_at)
            .execute(self.write())
            .await
            .context("Failed to record the admin session")?;
        Ok(())
    }

    pub async fn admin_session(&self, sid_hash: &str) -> anyhow::Result<Option<AdminSession>> {
        let row = sqlx::query("SELECT token_name, token_hash, expires_at, ended_at FROM admin_sessions WHERE sid_hash = $1")
            .bind(sid_hash)
            .fetch_optional(self.db())
            .await
            .context("Failed to read the admin session")?;
        row.map(|r| {
            Ok(AdminSession {
                token_name: r.try_get("token_name")?,
                token_hash: r.try_get("token_hash")?,
                expires_at: r.try_get("expires_at")?,
                ended_at: r.try_get("ended_at")?,
            })
        })
        .transpose()
    }

    /// Ends a session (once; the first reason stays).
    pub async fn end_admin_session(
        &self,
        sid_hash: &str,
        now_ms: i64,
        reason: &str,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE admin_sessions SET ended_at = $1, end_reason = $2 WHERE sid_hash = $3 AND ended_at IS NULL")
            .bind(now_ms)
            .bind(reason)
            .bind(sid_hash)
            .execute(self.write())
            .await
            .context("Failed to end the admin session")?;
        Ok(())
    }
}
