//! The `entra` grant backend: membership of a Microsoft Entra ID group through Microsoft Graph.
//!
//! Token: client credentials at `{login}/{tenant}/oauth2/v2.0/token`, scope
//! `https://graph.microsoft.com/.default`, cached and refreshed before expiry. User: `GET
//! /v1.0/users/{id | userPrincipalName}`, else by `mail`. Add: `POST
//! /v1.0/groups/{id}/members/$ref` (204; 400 "One or more added object references already
//! exist" = already a member). Remove: `DELETE /v1.0/groups/{id}/members/{userId}/$ref` (204;
//! 404 = not a member). Members: `GET /v1.0/groups/{id}/members`, paged by `@odata.nextLink`.
//! Throttling: 429 and 503 with Retry-After.

use super::api::{Answer, Api, error_code};
use super::{
    Account, RevokeTarget, check_account, group_for, groups_of, misconfigured, revoke_target,
    segment,
};
use crate::domain::{Person, PriorAccess, Resource};
use crate::grants::{GrantCall, GrantError, GrantReceipt, Grantor};
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde_json::json;

const BACKEND: &str = "entra";

/// Graph's answer to adding a member who is one already.
const ALREADY_MEMBER: &str = "added object references already exist";

pub struct EntraGrantor {
    api: Api,
}

impl EntraGrantor {
    /// `api.base` is Graph's root (`https://graph.microsoft.com/`).
    pub fn new(api: Api) -> Self {
        Self { api }
    }

    fn group(call: &GrantCall) -> Result<String, GrantError> {
        group_for(&call.params, &call.role, "group_id", "groups")
            .ok_or_else(|| misconfigured(BACKEND, &format!("no group_id for role `{}`", call.role)))
    }

    /// The directory object id of an account: by id or UPN, then (for an email) by `mail`.
    async fn user_id(&self, account: &Account) -> Result<String, GrantError> {
        let url = self.api.url(&format!(
            "/v1.0/users/{}?$select=id",
            segment(account.as_str())
        ))?;
        let a = self.api.call(Method::GET, url, None).await?;
        if a.status.is_success() {
            return id_of(&a.body);
        }
        if a.status != StatusCode::NOT_FOUND {
            return Err(refusal(&a, "user lookup"));
        }
        let Account::Email(email) = account else {
            return Err(GrantError::Permanent(format!(
                "Entra ID has no user {}",
                account.as_str()
            )));
        };
        let mut url = self.api.url("/v1.0/users")?;
        url.query_pairs_mut()
            .append_pair(
                "$filter",
                &format!("mail eq '{}'", email.replace('\'', "''")),
            )
            .append_pair("$select", "id");
        let a = self.api.call(Method::GET, url, None).await?;
        if !a.status.is_success() {
            return Err(refusal(&a, "user lookup"));
        }
        match a.body["value"].as_array().map(Vec::as_slice) {
            Some([one]) => id_of(one),
            Some([]) | None => Err(GrantError::Permanent(format!(
                "Entra ID has no user {email}"
            ))),
            Some(_) => Err(GrantError::Permanent(format!(
                "Entra ID has several users with mail {email}"
            ))),
        }
    }

    async fn grant_user(&self, call: &GrantCall) -> Result<String, GrantError> {
        let account = super::account(&call.identity, BACKEND, true).ok_or_else(|| {
            GrantError::Permanent("the person has no Entra ID account on record".into())
        })?;
        self.user_id(&account).await
    }

    async fn members(&self, group: &str) -> Result<Vec<String>, GrantError> {
        let url = self.api.url(&format!(
            "/v1.0/groups/{}/members?$select=id",
            segment(group)
        ))?;
        Ok(self
            .api
            .list(url)
            .await?
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect())
    }
}

fn id_of(user: &serde_json::Value) -> Result<String, GrantError> {
    user["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| GrantError::Transient("Graph sent a user without an id".into()))
}

fn refusal(a: &Answer, step: &str) -> GrantError {
    let code = error_code(&a.body).unwrap_or_else(|| "no error code".into());
    a.refused(format!(
        "Microsoft Graph refused the {step} ({}, {code})",
        a.status
    ))
}

#[async_trait]
impl Grantor for EntraGrantor {
    fn needs_identity(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        BACKEND
    }

    fn check_person(&self, person: &Person, _resource: &Resource) -> Result<(), String> {
        check_account(person, BACKEND, "Microsoft Entra ID", true)
    }

    /// Direct membership (what the revoke would remove), read from the group's member list.
    /// Membership of one group by one person, whichever resource or role maps to the group.
    fn access_key(&self, call: &GrantCall) -> Option<String> {
        Self::group(call)
            .ok()
            .map(|g| format!("{BACKEND}:group:{g}:person:{}", call.person))
    }

    async fn observe(&self, call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        let group = Self::group(call)?;
        let user = self.grant_user(call).await?;
        let held = self.members(&group).await?.contains(&user);
        Ok(Some(if held {
            PriorAccess::Held
        } else {
            PriorAccess::Absent
        }))
    }

    async fn holders(&self, resource: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        let mut out = Vec::new();
        for group in groups_of(resource, "group_id", "groups") {
            out.extend(self.members(&group).await?);
        }
        out.sort();
        out.dedup();
        Ok(Some(out))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let group = Self::group(call)?;
        let user = self.grant_user(call).await?;
        let url = self
            .api
            .url(&format!("/v1.0/groups/{}/members/$ref", segment(&group)))?;
        let reference = self
            .api
            .url(&format!("/v1.0/directoryObjects/{}", segment(&user)))?;
        let body = json!({ "@odata.id": reference.as_str() });
        let a = self.api.call(Method::POST, url, Some(&body)).await?;
        let detail = |result: &str| json!({ "group": group, "user": user, "result": result });
        if a.status.is_success() {
            return Ok(GrantReceipt::applied(BACKEND, detail("added")).with_holder(user.clone()));
        }
        let message = a.body["error"]["message"].as_str().unwrap_or_default();
        if a.status == StatusCode::BAD_REQUEST && message.contains(ALREADY_MEMBER) {
            return Ok(GrantReceipt::unchanged(BACKEND, detail("already a member"))
                .with_holder(user.clone()));
        }
        Err(refusal(&a, "member add"))
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let group = Self::group(call)?;
        let user = match revoke_target(call, BACKEND, true)? {
            RevokeTarget::Holder(h) => h,
            RevokeTarget::Lookup(account) => self.user_id(&account).await?,
        };
        let url = self.api.url(&format!(
            "/v1.0/groups/{}/members/{}/$ref",
            segment(&group),
            segment(&user)
        ))?;
        let a = self.api.call(Method::DELETE, url, None).await?;
        let detail = |result: &str| json!({ "group": group, "user": user, "result": result });
        match a.status {
            s if s.is_success() => {
                Ok(GrantReceipt::applied(BACKEND, detail("removed")).with_holder(user.clone()))
            }
            StatusCode::NOT_FOUND => {
                Ok(GrantReceipt::unchanged(BACKEND, detail("already gone"))
                    .with_holder(user.clone()))
            }
            _ => Err(refusal(&a, "member removal")),
        }
    }
}
