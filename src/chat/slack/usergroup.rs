//! The `slack_usergroup` grant backend: adds the requester to a Slack user group, and removes
//! them on revoke. Idempotent: it reads the group first and changes only what differs.
//!
//! Slack will not empty a group through `usergroups.users.update`: the last member is removed
//! by `usergroups.disable`, and a grant to a disabled group enables it and then sets its members
//! to exactly the new member (a disabled group's old list is not membership to keep). Every call
//! reads the whole member list and writes it back, so calls on one group declare a
//! `serial_key` and the workflow serialises them across instances through the database.
//!
//! Catalog: `grant = { backend = "slack_usergroup", usergroup = "S0123" }`, per role
//! `roles.<role>.usergroup`.
//!
//! A grant's holder is `<group>:<user>` (a resource's roles may name different groups), and a
//! revoke removes exactly that: the group recorded at grant time, not today's catalog's.
//! Holders are listed from `usergroups.list` (one call for every group, and it says which
//! groups are disabled: a disabled group's kept list is nobody's access), not one
//! `usergroups.users.list` per group.

use super::api::SlackApi;
use crate::chat::ChatError;
use crate::domain::catalog::GrantTarget;
use crate::domain::{Platform, Resource};
use crate::grants::{GrantCall, GrantError, GrantOp, GrantReceipt, Grantor, PriorAccess};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub const BACKEND: &str = "slack_usergroup";

pub struct SlackUsergroupGrantor {
    api: Arc<SlackApi>,
}

/// A user group as `usergroups.list` describes it.
#[derive(Debug, Deserialize)]
struct Group {
    id: String,
    /// Set (non-zero) while the group is disabled.
    #[serde(default)]
    date_delete: Option<i64>,
    #[serde(default)]
    users: Vec<String>,
}

#[derive(Deserialize)]
struct GroupList {
    usergroups: Vec<Group>,
}

#[derive(Serialize)]
struct UsersUpdate<'a> {
    usergroup: &'a str,
    users: String,
}

#[derive(Serialize)]
struct GroupArg<'a> {
    usergroup: &'a str,
}

#[derive(Deserialize)]
struct Ack {}

/// What one call must write to reach its goal, decided from the group as read.
#[derive(Debug, PartialEq, Eq)]
enum Write {
    /// Already as wanted.
    Nothing(&'static str),
    Members(Vec<String>),
    /// Slack's only way to remove the last member.
    Disable,
    /// A disabled group is switched on with exactly these members.
    Enable(Vec<String>),
}

/// Whether `user` has the group's access: on its list, and the group enabled.
fn holds(user: &str, members: &[String], disabled: bool) -> bool {
    !disabled && members.iter().any(|m| m == user)
}

fn plan(op: GrantOp, user: &str, members: &[String], disabled: bool) -> Write {
    let present = holds(user, members, disabled);
    match op {
        GrantOp::Grant if present => Write::Nothing("already a member"),
        GrantOp::Grant if disabled => Write::Enable(vec![user.to_string()]),
        GrantOp::Grant => {
            Write::Members(members.iter().cloned().chain([user.to_string()]).collect())
        }
        GrantOp::Extend => Write::Nothing("membership has no expiry of its own"),
        GrantOp::Revoke if !present => Write::Nothing("already not a member"),
        GrantOp::Revoke => {
            let rest: Vec<String> = members.iter().filter(|m| *m != user).cloned().collect();
            if rest.is_empty() {
                Write::Disable
            } else {
                Write::Members(rest)
            }
        }
    }
}

impl SlackUsergroupGrantor {
    pub fn new(api: Arc<SlackApi>) -> Self {
        Self { api }
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

    /// The group's members and whether it is disabled (disabled groups included).
    async fn read(&self, group: &str) -> Result<(Vec<String>, bool), GrantError> {
        let g = self
            .read_all()
            .await?
            .into_iter()
            .find(|g| g.id == group)
            .ok_or_else(|| GrantError::Permanent(format!("Slack has no user group {group}")))?;
        Ok((g.users, g.date_delete.unwrap_or(0) != 0))
    }

    /// Every user group of the workspace with its members, disabled ones included.
    async fn read_all(&self) -> Result<Vec<Group>, GrantError> {
        let params = vec![
            ("include_disabled", Some("true")),
            ("include_users", Some("true")),
        ];
        let list: GroupList = self
            .api
            .call("usergroups.list", || async {
                self.api
                    .session()
                    .http_session_api
                    .http_get("usergroups.list", &params, None)
                    .await
            })
            .await
            .map_err(grant_error)?;
        Ok(list.usergroups)
    }

    async fn post<T: Serialize + Send + Sync>(
        &self,
        method: &str,
        body: &T,
    ) -> Result<(), GrantError> {
        self.api
            .call(method, || async {
                self.api
                    .session()
                    .http_session_api
                    .http_post::<_, Ack>(method, body, None)
                    .await
            })
            .await
            .map(|_| ())
            .map_err(grant_error)
    }

    async fn set_members(&self, group: &str, users: &[String]) -> Result<(), GrantError> {
        let body = UsersUpdate {
            usergroup: group,
            users: users.join(","),
        };
        self.post("usergroups.users.update", &body).await
    }

    /// The group and user a call changes: on a revoke, the holder its grant recorded.
    fn target_of(call: &GrantCall) -> Result<(String, String), GrantError> {
        let recorded = call.grant.as_ref().and_then(|g| g.holder.as_deref());
        match recorded.and_then(|h| h.split_once(':')) {
            Some((group, user)) if call.op == GrantOp::Revoke => {
                Ok((group.to_string(), user.to_string()))
            }
            _ => Ok((Self::group_of(call)?, call.account.user_id.clone())),
        }
    }

    async fn change(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let (group, user) = Self::target_of(call)?;
        let (members, disabled) = self.read(&group).await?;
        let arg = GroupArg { usergroup: &group };
        let result = match plan(call.op, &user, &members, disabled) {
            Write::Nothing(what) => return Ok(receipt(&group, &user, what, false)),
            Write::Members(users) => {
                self.set_members(&group, &users).await?;
                if call.op == GrantOp::Grant {
                    "added"
                } else {
                    "removed"
                }
            }
            Write::Disable => {
                self.post("usergroups.disable", &arg).await?;
                "removed the last member by disabling the group"
            }
            Write::Enable(users) => {
                self.post("usergroups.enable", &arg).await?;
                if let Err(e) = self.set_members(&group, &users).await {
                    // Enabled with its old list, the group would give access back to whoever
                    // was in it when it was disabled: switch it off again.
                    if let Err(off) = self.post("usergroups.disable", &arg).await {
                        tracing::error!(usergroup = %group, error = %off, "a re-enabled user group could not be disabled again; its old members may have access");
                        return Err(GrantError::Uncertain(e.to_string()));
                    }
                    return Err(e);
                }
                "enabled the group with this member"
            }
        };
        Ok(receipt(&group, &user, result, true))
    }
}

fn receipt(group: &str, user: &str, what: &str, changed: bool) -> GrantReceipt {
    let detail = serde_json::json!({ "usergroup": group, "user": user, "result": what });
    let receipt = if changed {
        GrantReceipt::applied(BACKEND, detail)
    } else {
        GrantReceipt::unchanged(BACKEND, detail)
    };
    receipt.with_holder(holder(group, user))
}

/// How a member of a group is named as a holder.
fn holder(group: &str, user: &str) -> String {
    format!("{group}:{user}")
}

/// The groups a resource's grants go to: the resource-wide one and each role's.
fn groups_of(resource: &Resource) -> Vec<String> {
    let mut groups: Vec<String> = resource
        .roles
        .iter()
        .filter_map(|r| resource.grant.param_for_role("usergroup", &r.name))
        .collect();
    groups.sort();
    groups.dedup();
    groups
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

    /// Every call reads and writes back the whole member list of its group.
    fn serial_key(&self, call: &GrantCall) -> Option<String> {
        Self::target_of(call)
            .ok()
            .map(|(g, _)| format!("{BACKEND}:{g}"))
    }

    /// Membership of one group by one Slack user, whichever resource or role maps to the group.
    fn access_key(&self, call: &GrantCall) -> Option<String> {
        Self::group_of(call)
            .ok()
            .map(|g| format!("{BACKEND}:{g}:user:{}", call.account.user_id))
    }

    /// The members of the resource's groups, as `<group>:<user>`; a disabled group has none.
    async fn holders(&self, resource: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        let wanted = groups_of(resource);
        let all = self.read_all().await?;
        let mut found = Vec::new();
        for id in &wanted {
            let g = all
                .iter()
                .find(|g| &g.id == id)
                .ok_or_else(|| GrantError::Permanent(format!("Slack has no user group {id}")))?;
            if g.date_delete.unwrap_or(0) == 0 {
                found.extend(g.users.iter().map(|u| holder(id, u)));
            }
        }
        Ok(Some(found))
    }

    async fn observe(&self, call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        let group = Self::group_of(call)?;
        let (members, disabled) = self.read(&group).await?;
        let held = holds(&call.account.user_id, &members, disabled);
        Ok(Some(if held {
            PriorAccess::Held
        } else {
            PriorAccess::Absent
        }))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        // An agent's account is no Slack user: its id would be written into the group as if it
        // were one. Refused before any call, so there is nothing to undo (a revoke still runs
        // and finds nothing to remove).
        if call.account.platform == Platform::Agent {
            return Err(GrantError::Permanent(
                "slack_usergroup grants to Slack users; an agent has no Slack account".into(),
            ));
        }
        self.change(call).await
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        self.change(call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_last_member_is_removed_by_disabling_and_a_disabled_group_is_enabled_with_the_new_member()
    {
        assert_eq!(
            plan(GrantOp::Revoke, "U1", &v(&["U1"]), false),
            Write::Disable
        );
        assert_eq!(
            plan(GrantOp::Revoke, "U1", &v(&["U1", "U2"]), false),
            Write::Members(v(&["U2"]))
        );
        // A disabled group's kept list is nobody's membership.
        assert_eq!(
            plan(GrantOp::Grant, "U2", &v(&["U1"]), true),
            Write::Enable(v(&["U2"]))
        );
        assert_eq!(
            plan(GrantOp::Grant, "U1", &v(&["U1"]), true),
            Write::Enable(v(&["U1"]))
        );
        assert!(matches!(
            plan(GrantOp::Revoke, "U1", &v(&["U1"]), true),
            Write::Nothing(_)
        ));
        assert!(matches!(
            plan(GrantOp::Grant, "U1", &v(&["U1"]), false),
            Write::Nothing(_)
        ));
        assert_eq!(
            plan(GrantOp::Grant, "U3", &v(&["U1"]), false),
            Write::Members(v(&["U1", "U3"]))
        );
    }

    fn call(op: GrantOp, holder: Option<&str>) -> GrantCall {
        let catalog = crate::domain::Catalog::from_toml(
            "[[resource]]\nid = \"wiki\"\nname = \"Wiki\"\nroles = [\"edit\", \"admin\"]\nrisk = \"low\"\n\
             max_duration = \"1d\"\ngrant = { backend = \"slack_usergroup\", usergroup = \"S1\", roles = { admin = { usergroup = \"S2\" } } }\n",
        )
        .unwrap();
        let res = catalog.get("wiki").unwrap();
        assert_eq!(groups_of(res), v(&["S1", "S2"]), "every role's group");
        let mut c = GrantCall::new(
            op,
            "AR-1",
            res,
            "edit",
            "alice",
            &crate::domain::PlatformUser::new(Platform::Slack, "T1", "U1"),
            chrono::Utc::now(),
            None,
        );
        c.grant =
            holder.map(|h| GrantReceipt::applied(BACKEND, serde_json::Value::Null).with_holder(h));
        c
    }

    #[test]
    fn a_revoke_removes_the_recorded_holder_and_a_grant_goes_to_the_catalogs_group() {
        let t = |c: &GrantCall| SlackUsergroupGrantor::target_of(c).unwrap();
        assert_eq!(t(&call(GrantOp::Grant, None)), ("S1".into(), "U1".into()));
        assert_eq!(
            t(&call(GrantOp::Revoke, Some("S9:U7"))),
            ("S9".into(), "U7".into()),
            "what was granted, not today's catalog"
        );
        assert_eq!(t(&call(GrantOp::Revoke, None)), ("S1".into(), "U1".into()));
        assert_eq!(
            receipt("S1", "U1", "added", true).holder.as_deref(),
            Some("S1:U1")
        );
    }
}
