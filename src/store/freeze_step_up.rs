//! Kill-switch step-up links: stored under their token's hash, read to show the page, spent once.

use super::Store;
use crate::domain::{AdminAction, FreezeScope, FreezeStepUp};
use anyhow::Context;
use sqlx::Row;

impl Store {
    pub async fn add_freeze_step_up(&self, link: &FreezeStepUp) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO freeze_step_ups (token_hash, action, person, actor, freeze_id, scope_kind, target, reason, revoke, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(&link.token_hash)
            .bind(link.action.as_str())
            .bind(&link.person)
            .bind(&link.actor)
            .bind(link.freeze_id.as_deref())
            .bind(link.scope.kind())
            .bind(link.scope.target())
            .bind(&link.reason)
            .bind(i64::from(link.revoke))
            .bind(link.created_at)
            .bind(link.expires_at)
            .execute(self.write())
            .await
            .context("Failed to record the kill-switch step-up link")?;
        Ok(())
    }

    /// The link stored under `token_hash`, used or not.
    pub async fn freeze_step_up(&self, token_hash: &str) -> anyhow::Result<Option<FreezeStepUp>> {
        let row = sqlx::query("SELECT token_hash, action, person, actor, freeze_id, scope_kind, target, reason, revoke, created_at, expires_at, used_at FROM freeze_step_ups WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.write())
            .await
            .context("Failed to read the kill-switch step-up link")?;
        let Some(row) = row else { return Ok(None) };
        let action: String = row.try_get("action")?;
        let kind: String = row.try_get("scope_kind")?;
        let target: String = row.try_get("target")?;
        let revoke: i64 = row.try_get("revoke")?;
        Ok(Some(FreezeStepUp {
            token_hash: row.try_get("token_hash")?,
            action: AdminAction::parse(&action).with_context(|| {
                format!("kill-switch step-up with an unknown action '{action}'")
            })?,
            person: row.try_get("person")?,
            actor: row.try_get("actor")?,
            freeze_id: row.try_get("freeze_id")?,
            scope: FreezeScope::parse(&kind, Some(&target))
                .context("kill-switch step-up with an invalid scope")?,
            reason: row.try_get("reason")?,
            revoke: revoke != 0,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
        }))
    }

    /// Spends the link for `person`, once (compare-and-set on `used_at`, so two racing
    /// confirmations get one). `false` when it is not theirs, used or expired.
    pub async fn spend_freeze_step_up(
        &self,
        token_hash: &str,
        person: &str,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        let spent = sqlx::query("UPDATE freeze_step_ups SET used_at = $1 WHERE token_hash = $2 AND person = $3 AND used_at IS NULL AND expires_at > $1")
            .bind(now_ms)
            .bind(token_hash)
            .bind(person)
            .execute(self.write())
            .await
            .context("Failed to spend the kill-switch step-up link")?
            .rows_affected();
        Ok(spent == 1)
    }
}
