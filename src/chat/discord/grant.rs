//! The `discord_role` grant backend: access is a guild role, added and removed on the member.
//!
//! Catalog: `grant = { backend = "discord_role", role = "<role id>" }`, or per role
//! `grant = { backend = "discord_role", roles = { write = "<role id>" } }`. The guild and user come
//! from the requester's verified Discord account, never from the catalog or from text.
//!
//! A grant reads the member's roles first: a role the member already holds is reported as
//! unchanged, so the revoke leaves it in place.
//!
//! It does not list holders for drift reconciliation: Discord has no "members with role R"
//! endpoint, and walking `GET /guilds/{guild}/members` needs the privileged Server Members
//! intent switched on for the bot (and a page per 1,000 members), which Warden does not ask
//! for. Receipts still name the member (`holder`), for the day it does.

use super::rest::{DiscordRest, RestError, Route};
use crate::domain::Platform;
use crate::domain::catalog::GrantTarget;
use crate::grants::{GrantCall, GrantError, GrantReceipt, Grantor, PriorAccess};
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
        let role = role_of(call)?;
        let (guild, user) = (&call.account.workspace, &call.account.user_id);
        let detail = serde_json::json!({ "guild": guild, "user": user, "role": role });
        if method == Method::PUT && self.holds(guild, user, &role).await? {
            return Ok(GrantReceipt::unchanged(BACKEND, detail));
        }
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
        match result {
            Ok(_) => Ok(GrantReceipt::applied(BACKEND, detail)),
            // Removing from someone who left the guild: the role is gone either way.
            Err(RestError::Status {
                status: 404,
                code: Some(10007),
                ..
            }) if method == Method::DELETE => Ok(GrantReceipt::unchanged(
                BACKEND,
                serde_json::json!({ "guild": guild, "user": user, "role": role, "note": "member no longer in the guild" }),
            )),
            Err(e) => Err(grant_error(e)),
        }
    }

    /// Whether the member holds the role now (`GET /guilds/{guild}/members/{user}`).
    async fn holds(&self, guild: &str, user: &str, role: &str) -> Result<bool, GrantError> {
        let member = self
            .rest
            .call(
                Method::GET,
                Route::new("member", guild),
                &format!("/guilds/{guild}/members/{user}"),
                None::<&()>,
                None,
            )
            .await
            .map_err(grant_error)?;
        Ok(member["roles"]
            .as_array()
            .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role))))
    }
}

/// The role a call is about, from the catalog parameters recorded with it.
fn role_of(call: &GrantCall) -> Result<String, GrantError> {
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
    target.param_for_role("role", &call.role).ok_or_else(|| {
        GrantError::Permanent(format!(
            "catalog entry {} names no Discord role for {}",
            call.resource, call.role
        ))
    })
}

fn grant_error(e: RestError) -> GrantError {
    if e.is_transient() {
        GrantError::Transient(e.to_string())
    } else {
        GrantError::Permanent(e.to_string())
    }
}

#[async_trait]
impl Grantor for DiscordRoleGrantor {
    fn name(&self) -> &str {
        BACKEND
    }

    /// One role in one guild held by one member, whichever resource or role maps to it.
    fn access_key(&self, call: &GrantCall) -> Option<String> {
        role_of(call).ok().map(|role| {
            format!(
                "{BACKEND}:{}:role:{role}:user:{}",
                call.account.workspace, call.account.user_id
            )
        })
    }

    async fn observe(&self, call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        let role = role_of(call)?;
        let held = self
            .holds(&call.account.workspace, &call.account.user_id, &role)
            .await?;
        Ok(Some(if held {
            PriorAccess::Held
        } else {
            PriorAccess::Absent
        }))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let receipt = self.apply_role(call, Method::PUT).await?;
        Ok(receipt.with_holder(call.account.user_id.clone()))
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.apply_role(call, Method::DELETE).await
    }
}
