//! Sealed credentials waiting for their agent: put once per grant, taken by exactly one read.

use super::Store;
use anyhow::Context;
use sqlx::Row;

impl Store {
    /// Keeps the sealed credential of `request_id`'s grant; a retried grant's newer one
    /// replaces it (the backend reset the password, so only the newest works).
    pub async fn put_agent_credential(
        &self,
        request_id: &str,
        sealed: &[u8],
        now_ms: i64,
    ) -> anyhow::Result<()> {
        sqlx::query("INSERT INTO agent_credentials (request_id, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (request_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at")
            .bind(request_id)
            .bind(sealed.to_vec())
            .bind(now_ms)
            .execute(self.write())
            .await
            .context("Failed to keep a sealed agent credential")?;
        Ok(())
    }

    /// Removes and returns the sealed credential in one statement, so of two instances
    /// answering the agent at once only one gets it.
    pub async fn take_agent_credential(&self, request_id: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let row =
            sqlx::query("DELETE FROM agent_credentials WHERE request_id = $1 RETURNING sealed")
                .bind(request_id)
                .fetch_optional(self.write())
                .await
                .context("Failed to take a sealed agent credential")?;
        row.map(|r| r.try_get::<Vec<u8>, _>(0))
            .transpose()
            .context("Failed to read a sealed agent credential")
    }

    /// Drops what was never fetched (revoke, expiry, a grant that did not commit). Returns
    /// whether there was one.
    pub async fn drop_agent_credential(&self, request_id: &str) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM agent_credentials WHERE request_id = $1")
            .bind(request_id)
            .execute(self.write())
            .await
            .context("Failed to drop a sealed agent credential")?;
        Ok(done.rows_affected() > 0)
    }
}
