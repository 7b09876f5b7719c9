//! The `slack_usergroup` grant backend: adds the requester to a Slack user group, and removes
//! them on revoke. Idempotent: it reads the members first and changes only what differs; a
//! grant that finds the person already a member says so in its receipt (changed nothing).
//!
//! Catalog: `grant = { backend = "slack_usergroup", usergroup = "S0123" }`, per role
//! `roles.<role>.usergroup`.

use super::api::SlackApi;
use crate::chat::ChatError;
use crate::domain::catalog::GrantTarget;
use crate::grants::{GrantCall, GrantError, GrantOp, GrantReceipt, Grantor};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const BACKEND: &str = "slack_usergroup";

pub struct SlackUsergroupGrantor {
    api: Arc<SlackApi>,
    /// Read-modify-write of one group is serialised within this process.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Serialize)]
struct UsersUpdate<'a> {
    usergroup: &'a str,
    users: String,
}

#[derive(Deserialize)]
struct UsersUpdateResponse {}

impl SlackUsergroupGrantor {
    pub fn new(api: Arc<SlackApi>) -> Self {
        Self {
            api,
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn group_of(call: &GrantCall) -> Result<String, GrantError> {
        let target = GrantTarget {
            backend: BACKEND.into(),
            params: call.params.clone(),
        };
        target
            .param_for_role("usergroup", &call.role)
            .ok_or_else(|| {
                GrantError::Permanent(format!(
                    "resource {} names no usergroup for role {}",
                    call.resource, call.role
                ))
            })
    }

    async fn change(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let group = Self::group_of(call)?;
        let user = call.account.user_id.clone();
        let lock = self
            .locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(group.clone())
            .or_default()
            .clone();
        let _held = lock.lock().await;
        let list = SlackApiUserGroupsUsersListRequest::new(SlackUserGroupId::new(group.clone()));
        let members: Vec<String> = self
            .api
            .call("usergroups.users.list", || async {
                self.api.session().usergroups_users_list(&list).await
            })
            .await
            .map_err(grant_error)?
            .users
            .into_iter()
            .map(|u| u.to_string())
            .collect();
        let present = members.contains(&user);
        let wanted: Vec<String> = match call.op {
            GrantOp::Grant if present => {
                return Ok(receipt(&group, &user, "already a member", false));
            }
            GrantOp::Revoke if !present => {
                return Ok(receipt(&group, &user, "already not a member", false));
            }
            GrantOp::Grant => members.into_iter().chain([user.clone()]).collect(),
            GrantOp::Revoke => members.into_iter().filter(|m| *m != user).collect(),
        };
        let body = UsersUpdate {
            usergroup: &group,
            users: wanted.join(","),
        };
        self.api
            .call("usergroups.users.update", || async {
                self.api
                    .session()
                    .http_session_api
                    .http_post::<_, UsersUpdateResponse>("usergroups.users.update", &body, None)
                    .await
            })
            .await
            .map_err(grant_error)?;
        Ok(receipt(
            &group,
            &user,
            if call.op == GrantOp::Grant {
                "added"
            } else {
                "removed"
            },
            true,
        ))
    }
}

fn receipt(group: &str, user: &str, what: &str, changed: bool) -> GrantReceipt {
    let detail = serde_json::json!({ "usergroup": group, "user": user, "result": what });
    if changed {
        GrantReceipt::applied(BACKEND, detail)
    } else {
        GrantReceipt::unchanged(BACKEND, detail)
    }
}

/// Transport trouble and rate limits are worth retrying; Slack refusing the change is not.
fn grant_error(e: ChatError) -> GrantError {
    match e {
        ChatError::Api(msg) if msg.contains("rate-limited") || msg.contains("HTTP 5") => {
            GrantError::Transient(msg)
        }
        ChatError::Api(msg) => GrantError::Permanent(msg),
        other => GrantError::Transient(other.to_string()),
    }
}

#[async_trait]
impl Grantor for SlackUsergroupGrantor {
    fn name(&self) -> &str {
        BACKEND
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.change(call).await
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.change(call).await
    }
}
