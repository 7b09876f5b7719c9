//! Calls to grant backends: serialised per key across instances, and revokes built from the
//! grant record (what the grant changed, never today's catalog).

use super::Engine;
use super::shared_access::HoldEnd;
use crate::domain::{GrantEffect, GrantReceipt, GrantRecord, Request};
use crate::grants::{GrantCall, GrantError, GrantOp, Grantor};
use crate::store::HoldOp;
use std::time::{Duration, Instant};

/// How long a backend call may hold its key. Longer than a slow call with rate-limit retries;
/// a holder that dies blocks the key this long at most.
const LEASE_MS: i64 = 120_000;
/// How long a call waits for a busy key before it fails as transient (its job is retried), so
/// one busy target never stalls the scheduler.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(25);

impl Engine {
    /// Runs one backend call. Calls whose backend declares the same `serial_key` (they read and
    /// write back one whole target) run one at a time across every instance on this database.
    pub(crate) async fn call_backend(
        &self,
        grantor: &dyn Grantor,
        call: &GrantCall,
    ) -> Result<GrantReceipt, GrantError> {
        let Some(key) = grantor.serial_key(call) else {
            return grantor.apply(call).await;
        };
        // One holder per call, so two calls of this very process are serialised too.
        let holder = format!("{}:{}", self.worker_id, uuid::Uuid::new_v4().simple());
        let give_up = Instant::now() + WAIT;
        loop {
            let now = self.now_ms();
            match self
                .store
                .try_lease(&key, &holder, now, now + LEASE_MS)
                .await
            {
                Ok(true) => break,
                Ok(false) if Instant::now() < give_up => tokio::time::sleep(POLL).await,
                Ok(false) => {
                    return Err(GrantError::Transient(format!(
                        "{key} is busy with another call"
                    )));
                }
                Err(e) => {
                    tracing::warn!(key, error = ?e, "could not take a backend lease");
                    return Err(GrantError::Transient(format!(
                        "could not serialise the call on {key}"
                    )));
                }
            }
        }
        let result = grantor.apply(call).await;
        if let Err(e) = self.store.release_lease(&key, &holder).await {
            // It runs out on its own; the next call waits until then.
            tracing::warn!(key, error = ?e, "could not release a backend lease");
        }
        result
    }

    /// Undoes what a grant record says was granted: nothing when the person held the access
    /// before the grant, nor while another active grant still holds the same shared access
    /// (`shared_access`), else a revoke call to the backend named in the record. `req` is
    /// brought up to date with what it logged.
    pub(crate) async fn revoke_as_recorded(
        &self,
        req: &mut Request,
        record: &GrantRecord,
        call: &GrantCall,
    ) -> Result<GrantReceipt, String> {
        let left =
            |detail: serde_json::Value| Ok(GrantReceipt::unchanged(record.backend.clone(), detail));
        if let Some(key) = &record.access_key {
            let end = self.end_hold(req, key, true).await.map_err(|e| {
                tracing::warn!(request = %req.id, error = ?e, "could not decide the end of a shared access");
                "could not read or record who else holds this access".to_string()
            })?;
            match end {
                HoldEnd::Remove => {}
                HoldEnd::HeldBefore => {
                    return left(
                        serde_json::json!({ "result": "held before the grant; left in place" }),
                    );
                }
                HoldEnd::StillHeld { by } => {
                    return left(
                        serde_json::json!({ "result": "still held by another active grant", HELD_BY: by }),
                    );
                }
                HoldEnd::NotHeld => {
                    return left(serde_json::json!({ "result": "no longer held by this grant" }));
                }
            }
        } else if record.effect() == GrantEffect::AlreadyHeld {
            return left(serde_json::json!({ "result": "held before the grant; left in place" }));
        }
        match self.grantors.get(&record.backend) {
            Some(g) => self
                .call_backend(g.as_ref(), call)
                .await
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "no grant backend '{}' is configured",
                record.backend
            )),
        }
    }
}

/// The receipt detail naming the active grant a revoke left a shared access to.
pub(crate) const HELD_BY: &str = "held_by";

/// The active grant that still holds the access a revoke left in place, if that is why.
pub(crate) fn still_held_by(receipt: &GrantReceipt) -> Option<&str> {
    receipt.detail.get(HELD_BY)?.as_str()
}

/// The hold a commit that ends a grant for good lets go of (none for unshared access).
pub(crate) fn drop_hold(record: Option<&GrantRecord>) -> Option<HoldOp> {
    let key = record?.access_key.clone()?;
    Some(HoldOp::Drop { key })
}

/// The revoke call for a grant record; `tag` names a revoke of its own kind (`compensate`) in
/// the idempotency key family `<id>:revoke[:tag]`.
pub(crate) fn revoke_call(
    req: &Request,
    record: &GrantRecord,
    tag: Option<&str>,
    now: i64,
) -> GrantCall {
    let op = GrantOp::Revoke.as_str();
    GrantCall {
        op: GrantOp::Revoke,
        idempotency_key: match tag {
            Some(t) => format!("{}:{op}:{t}", req.id),
            None => format!("{}:{op}", req.id),
        },
        request_id: req.id.to_string(),
        resource: record.resource.clone(),
        role: record.role.clone(),
        person: req.requester_id.clone(),
        account: record.account.clone(),
        expires_at: crate::clock::from_ms(req.expires_at.unwrap_or(now)),
        params: record.params.clone(),
        grant: record.receipt.clone(),
        identity: Default::default(),
    }
}
