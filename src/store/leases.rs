//! Leases on named keys: an exclusive hold taken in one atomic upsert, released by its holder,
//! and taken over once it runs out, so a crashed holder blocks nobody for long.

use super::Store;
use super::codec::Val;
use super::plan::{Applied, Stmt};
use anyhow::Context;

impl Store {
    /// Takes the lease on `key` for `holder` until `until_ms` if it is free or ran out before
    /// `now_ms`; `true` when this holder has it.
    pub async fn try_lease(
        &self,
        key: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> anyhow::Result<bool> {
        let taken = self
            .run_plan(vec![Stmt::new(
                "INSERT INTO leases (key, holder, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leases.expires_at < $4",
                vec![
                    Val::Text(Some(key.into())),
                    Val::Text(Some(holder.into())),
                    Val::Int(Some(until_ms)),
                    Val::Int(Some(now_ms)),
                ],
            )])
            .await
            .with_context(|| format!("Failed to take the lease on {key}"))?;
        Ok(matches!(taken, Applied::Done(1)))
    }

    /// Gives the lease back, if `holder` still has it.
    pub async fn release_lease(&self, key: &str, holder: &str) -> anyhow::Result<()> {
        self.run_plan(vec![Stmt::new(
            "DELETE FROM leases WHERE key = $1 AND holder = $2",
            vec![Val::Text(Some(key.into())), Val::Text(Some(holder.into()))],
        )])
        .await
        .with_context(|| format!("Failed to release the lease on {key}"))?;
        Ok(())
    }
}
