//! The `discord_role` grant backend: access is a guild role, added and removed on the member.
//!
//! Catalog: `grant = { backend = "discord_role", role = "<role id>" }`, or per role
//! `grant = { backend = "discord_role", roles = { write = "<role id>" } }`. The guild and user come
//! from the requester's verified Discord account, never from the catalog or from text.

use super::rest::{DiscordRest, RestError, Route};
use crate::domain::Platform;
use crate::domain::catalog::GrantTarget;
use crate::grants::{GrantCall, GrantError, GrantReceipt, Grantor};
use async_trait::async_trait;
use reqwest::Method;
use std::sync::Arc;

pub const BACKEND: &str = "discord_role";

pub struct DiscordRoleGrantor {
    rest: Arc<DiscordRest>,
}

impl DiscordRoleGrantor {
    pub fn new(rest: Arc<DiscordRest>) -> Self {
        Self { rest }
    }

    async fn apply_role(
        &self,
        call: &GrantCall,
        method: Method,
    ) -> Result<GrantReceipt, GrantError> {
        if call.account.platform != Platform::Discord {
            return Err(GrantError::Permanent(format!(
                "discord_role needs a Discord account, but the request came from {}",
                call.account.platform
            )));
        }
        let target = GrantTarget {
            backend: BACKEND.into(),
            params: call.params.clone(),
        };
        let role = target.param_for_role("role", &call.role).ok_or_else(|| {
            GrantError::Permanent(format!(
                "catalog entry {} names no Discord role for {}",
                call.resource, call.role
            ))
        })?;
        let (guild, user) = (&call.account.workspace, &call.account.user_id);
        let path = format!("/guilds/{guild}/members/{user}/roles/{role}");
        let reason = format!("Warden {} ({})", call.request_id, call.op.as_str());
        let result = self
            .rest
            .call(
                method.clone(),
                Route::new("member_role", guild.as_str()),
                &path,
                None::<&()>,
                Some(&reason),
            )
            .await;
        let detail = serde_json::json!({ "guild": guild, "user": user, "role": role });
        match result {
            Ok(_) => Ok(GrantReceipt {
                backend: BACKEND.into(),
                detail,
            }),
            // Removing from someone who left the guild: the role is gone either way.
            Err(RestError::Status {
                status: 404,
                code: Some(10007),
                ..
            }) if method == Method::DELETE => Ok(GrantReceipt {
                backend: BACKEND.into(),
                detail: serde_json::json!({ "guild": guild, "user": user, "role": role, "note": "member no longer in the guild" }),
            }),
            Err(e) if e.is_transient() => Err(GrantError::Transient(e.to_string())),
            Err(e) => Err(GrantError::Permanent(e.to_string())),
        }
    }
}

#[async_trait]
impl Grantor for DiscordRoleGrantor {
    fn name(&self) -> &str {
        BACKEND
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.apply_role(call, Method::PUT).await
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.apply_role(call, Method::DELETE).await
    }
}
