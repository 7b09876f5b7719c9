//! The `okta` grant backend: membership of an Okta group.
//!
//! Users API `GET /api/v1/users/{login}` finds the person (by their `okta` id or login from
//! the directory, else their email as login); Groups API `PUT` / `DELETE
//! /api/v1/groups/{groupId}/users/{userId}` add and remove them (both 204, and both idempotent
//! on Okta's side); `GET /api/v1/groups/{groupId}/users` lists members. Auth: an API token
//! (`SSWS`) or an OAuth service app (`private_key_jwt` → bearer). Throttling: 429 with
//! `X-Rate-Limit-Reset`.

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

const BACKEND: &str = "okta";

pub struct OktaGrantor {
    api: Api,
}

impl OktaGrantor {
    pub fn new(api: Api) -> Self {
        Self { api }
    }

    fn group(call: &GrantCall) -> Result<String, GrantError> {
        group_for(&call.params, &call.role, "group_id", "groups")
            .ok_or_else(|| misconfigured(BACKEND, &format!("no group_id for role `{}`", call.role)))
    }

    /// The Okta user id of an account (a login, an email used as login, or an id).
    async fn user_id(&self, account: &Account) -> Result<String, GrantError> {
        let url = self
            .api
            .url(&format!("/api/v1/users/{}", segment(account.as_str())))?;
        let a = self.api.call(Method::GET, url, None).await?;
        match a.status {
            s if s.is_success() => a.body["id"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| GrantError::Transient("Okta sent a user without an id".into())),
            StatusCode::NOT_FOUND => Err(GrantError::Permanent(format!(
                "Okta has no user {}",
                account.as_str()
            ))),
            _ => Err(refusal(&a, "user lookup")),
        }
    }

    async fn grant_user(&self, call: &GrantCall) -> Result<String, GrantError> {
        let account = super::account(&call.identity, BACKEND, true).ok_or_else(|| {
            GrantError::Permanent("the person has no Okta account on record".into())
        })?;
        self.user_id(&account).await
    }

    fn membership(&self, group: &str, user: &str) -> Result<url::Url, GrantError> {
        self.api.url(&format!(
            "/api/v1/groups/{}/users/{}",
            segment(group),
            segment(user)
        ))
    }
}

/// A refusal as a `GrantError`: Okta's error code, never its summary (it may echo input).
fn refusal(a: &Answer, step: &str) -> GrantError {
    let code = error_code(&a.body).unwrap_or_else(|| "no error code".into());
    a.refused(format!("Okta refused the {step} ({}, {code})", a.status))
}

#[async_trait]
impl Grantor for OktaGrantor {
    fn needs_identity(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        BACKEND
    }

    fn check_person(&self, person: &Person, _resource: &Resource) -> Result<(), String> {
        check_account(person, BACKEND, "Okta", true)
    }

    /// Membership of one group by one person, whichever resource or role maps to the group.
    fn access_key(&self, call: &GrantCall) -> Option<String> {
        Self::group(call)
            .ok()
            .map(|g| format!("{BACKEND}:group:{g}:person:{}", call.person))
    }

    async fn observe(&self, call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        let group = Self::group(call)?;
        let user = self.grant_user(call).await?;
        let url = self.api.url(&format!(
            "/api/v1/users/{}/groups?limit=200",
            segment(&user)
        ))?;
        let groups = self.api.list(url).await?;
        let held = groups
            .iter()
            .any(|g| g["id"].as_str() == Some(group.as_str()));
        Ok(Some(if held {
            PriorAccess::Held
        } else {
            PriorAccess::Absent
        }))
    }

    async fn holders(&self, resource: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        let mut out = Vec::new();
        for group in groups_of(resource, "group_id", "groups") {
            let url = self.api.url(&format!(
                "/api/v1/groups/{}/users?limit=200",
                segment(&group)
            ))?;
            out.extend(
                self.api
                    .list(url)
                    .await?
                    .iter()
                    .filter_map(|u| u["id"].as_str().map(str::to_string)),
            );
        }
        out.sort();
        out.dedup();
        Ok(Some(out))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let group = Self::group(call)?;
        let user = self.grant_user(call).await?;
        let a = self
            .api
            .call(Method::PUT, self.membership(&group, &user)?, None)
            .await?;
        if !a.status.is_success() {
            return Err(refusal(&a, "group membership"));
        }
        Ok(GrantReceipt::applied(
            BACKEND,
            json!({ "group": group, "user": user, "result": "member" }),
        )
        .with_holder(user))
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let group = Self::group(call)?;
        let user = match revoke_target(call, BACKEND, true)? {
            RevokeTarget::Holder(h) => h,
            RevokeTarget::Lookup(account) => self.user_id(&account).await?,
        };
        let a = self
            .api
            .call(Method::DELETE, self.membership(&group, &user)?, None)
            .await?;
        let detail = |result: &str| json!({ "group": group, "user": user, "result": result });
        match a.status {
            s if s.is_success() => {
                Ok(GrantReceipt::applied(BACKEND, detail("removed")).with_holder(user.clone()))
            }
            // The user or the membership is gone already: nothing is left to take away.
            StatusCode::NOT_FOUND => {
                Ok(GrantReceipt::unchanged(BACKEND, detail("already gone"))
                    .with_holder(user.clone()))
            }
            _ => Err(refusal(&a, "membership removal")),
        }
    }
}
