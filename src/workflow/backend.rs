//! Revokes built from the grant record: what the grant changed, never today's catalog.

use super::Engine;
use crate::domain::{GrantEffect, GrantReceipt, GrantRecord, Request};
use crate::grants::{GrantCall, GrantOp};

impl Engine {
    /// Undoes what a grant record says was granted: nothing when the person held the access
    /// before the grant, else a revoke call to the backend named in the record.
    pub(crate) async fn revoke_as_recorded(
        &self,
        record: &GrantRecord,
        call: &GrantCall,
    ) -> Result<GrantReceipt, String> {
        if record.effect() == GrantEffect::AlreadyHeld {
            return Ok(GrantReceipt::unchanged(
                record.backend.clone(),
                serde_json::json!({ "result": "held before the grant; left in place" }),
            ));
        }
        match self.grantors.get(&record.backend) {
            Some(g) => g.apply(call).await.map_err(|e| e.to_string()),
            None => Err(format!(
                "no grant backend '{}' is configured",
                record.backend
            )),
        }
    }
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
    }
}
