//! Step-up links: stored under their token's hash, read to show the page, spent once.

use super::Store;
use crate::domain::{PlatformUser, RequestId, StepUpLink, StepUpPurpose};
use anyhow::Context;
use sqlx::Row;

impl Store {
    pub async fn add_step_up_link(&self, link: &StepUpLink) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO step_up_links (token_hash, request_id, purpose, person, account, step, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&link.token_hash)
            .bind(link.request_id.as_str())
            .bind(link.purpose.as_str())
            .bind(&link.person)
            .bind(serde_json::to_string(&link.account)?)
            .bind(i64::from(link.step))
            .bind(link.created_at)
            .bind(link.expires_at)
            .execute(self.write())
            .await
            .context("Failed to record the step-up link")?;
        Ok(())
    }

    /// The link stored under `token_hash`, used or not.
    pub async fn step_up_link(&self, token_hash: &str) -> anyhow::Result<Option<StepUpLink>> {
        let row = sqlx::query("SELECT token_hash, request_id, purpose, person, account, step, created_at, expires_at, used_at FROM step_up_links WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.write())
            .await
            .context("Failed to read the step-up link")?;
        let Some(row) = row else { return Ok(None) };
        let purpose: String = row.try_get("purpose")?;
        let account: String = row.try_get("account")?;
        let step: i64 = row.try_get("step")?;
        Ok(Some(StepUpLink {
            token_hash: row.try_get("token_hash")?,
            request_id: RequestId::from_stored(row.try_get("request_id")?),
            purpose: StepUpPurpose::parse(&purpose)
                .with_context(|| format!("step-up link with an unknown purpose '{purpose}'"))?,
            person: row.try_get("person")?,
            account: serde_json::from_str::<PlatformUser>(&account)
                .context("step-up link account")?,
            step: u32::try_from(step).context("step-up link step")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
        }))
    }

    /// Spends the link for `person`, once: only an unused, unexpired link that is theirs
    /// (compare-and-set on `used_at`, so two racing confirmations get one). `false` otherwise.
    pub async fn spend_step_up_link(
        &self,
        token_hash: &str,
        person: &str,
        now_ms: i64,
    ) -> anyhow::Result<bool> {
        let spent = sqlx::query("UPDATE step_up_links SET used_at = $1 WHERE token_hash = $2 AND person = $3 AND used_at IS NULL AND expires_at > $1")
            .bind(now_ms)
            .bind(token_hash)
            .bind(person)
            .execute(self.write())
            .await
            .context("Failed to spend the step-up link")?
            .rows_affected();
        Ok(spent == 1)
    }
}
