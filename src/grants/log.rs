//! The `log` backend: records grants in the store and the log only. For trials and the demo.

use super::{GrantCall, GrantError, GrantReceipt, Grantor};
use async_trait::async_trait;

pub struct LogGrantor;

#[async_trait]
impl Grantor for LogGrantor {
    fn name(&self) -> &str {
        "log"
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        tracing::info!(request = %call.request_id, resource = %call.resource, role = %call.role, person = %call.person, expires_at = %call.expires_at, key = %call.idempotency_key, "log backend: grant");
        Ok(GrantReceipt::applied(
            "log",
            serde_json::json!({ "recorded": true }),
        ))
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        tracing::info!(request = %call.request_id, resource = %call.resource, role = %call.role, person = %call.person, key = %call.idempotency_key, "log backend: revoke");
        Ok(GrantReceipt::applied(
            "log",
            serde_json::json!({ "recorded": true }),
        ))
    }
}
