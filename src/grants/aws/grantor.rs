//! The `aws_identity_center` backend: an account assignment (AWS account + permission set +
//! the person's Identity Center user) created on grant and deleted on revoke.
//!
//! Idempotent by reading the target: a create or delete that AWS refuses with a conflict or
//! reports FAILED is followed by a listing, and an assignment already in place (grant) or
//! already gone (revoke) is a success. The revoke deletes the assignment named in the grant's
//! receipt (its principal and permission set), never one re-derived from today's catalog.

use super::api::{Assignment, IdentityCenter, OpStatus};
use super::client::AwsError;
use super::sts::StsError;
use crate::domain::{Person, Resource};
use crate::grants::{GrantCall, GrantError, GrantReceipt, Grantor, PriorAccess};
use async_trait::async_trait;
use std::collections::HashMap;

pub const NAME: &str = "aws_identity_center";
/// The key of a person's Identity Center user id among the directory's per-target ids.
pub const TARGET: &str = "aws";

pub struct AwsIdentityCenterGrantor {
    api: IdentityCenter,
}

impl AwsIdentityCenterGrantor {
    pub fn new(api: IdentityCenter) -> Self {
        Self { api }
    }

    /// The person's Identity Store user id: the directory's explicit `aws` id, else the user
    /// whose email is the person's (identitystore `GetUserId`).
    async fn principal(&self, call: &GrantCall) -> Result<String, GrantError> {
        if let Some(id) = call.identity.ids.get(TARGET) {
            return Ok(id.clone());
        }
        let Some(email) = call.identity.email.as_deref() else {
            return Err(GrantError::Permanent(format!(
                "{} has no aws id and no email in the directory",
                call.person
            )));
        };
        match self.api.user_id_by_email(email).await.map_err(failure)? {
            Some(id) => Ok(id),
            None => Err(GrantError::Permanent(format!(
                "no IAM Identity Center user has the email of {}",
                call.person
            ))),
        }
    }

    /// The assignment a grant call makes.
    async fn wanted(&self, call: &GrantCall) -> Result<Assignment, GrantError> {
        let (account_id, permission_set_arn) = target(&call.params, &call.role)?;
        Ok(Assignment {
            account_id,
            permission_set_arn,
            principal_id: self.principal(call).await?,
        })
    }

    /// The assignment a revoke call undoes: what the grant's receipt says it made.
    fn granted(call: &GrantCall) -> Result<Assignment, GrantError> {
        let receipt = call.grant.as_ref();
        let principal_id = receipt.and_then(|r| r.holder.clone()).ok_or_else(|| {
            // A grant whose outcome is unknown: Warden cannot name the user to remove, so a
            // person must look (the revoke job alerts while this fails).
            GrantError::Permanent(
                "the grant recorded no Identity Center user to remove; check the assignment by hand"
                    .into(),
            )
        })?;
        let detail = receipt.map(|r| &r.detail);
        let recorded = |k: &str| detail.and_then(|d| d[k].as_str()).map(str::to_string);
        let (account_id, permission_set_arn) =
            match (recorded("account_id"), recorded("permission_set_arn")) {
                (Some(a), Some(p)) => (a, p),
                _ => target(&call.params, &call.role)?,
            };
        Ok(Assignment {
            account_id,
            permission_set_arn,
            principal_id,
        })
    }

    fn receipt(&self, a: &Assignment, status: &str, request_id: Option<&str>) -> serde_json::Value {
        serde_json::json!({
            "instance_arn": self.api.instance_arn(),
            "account_id": a.account_id,
            "permission_set_arn": a.permission_set_arn,
            "principal_type": "USER",
            "principal_id": a.principal_id,
            "status": status,
            "aws_request_id": request_id,
        })
    }

    /// After a refusal or a FAILED status: whether the target is as wanted anyway (`held` is
    /// the state the call was meant to leave).
    async fn settled_anyway(&self, a: &Assignment, held: bool) -> Result<bool, GrantError> {
        Ok(self.api.holds(a).await.map_err(failure)? == held)
    }
}

#[async_trait]
impl Grantor for AwsIdentityCenterGrantor {
    fn needs_identity(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        NAME
    }

    fn check_person(&self, person: &Person, _resource: &Resource) -> Result<(), String> {
        let by_id = person.target_ids.contains_key(TARGET);
        let by_email = person.email.is_some() && self.api.finds_people_by_email();
        if by_id || by_email {
            Ok(())
        } else {
            Err("You have no AWS IAM Identity Center user linked in the directory (an `aws` id or, where Warden looks people up by email, an email address). Ask an admin to link one.".into())
        }
    }

    /// One account assignment of one person, whichever resource or role maps to it. Keyed on
    /// the Warden person, not the Identity Center user: that lookup is a call to AWS, and the
    /// key is needed before any call is made.
    fn access_key(&self, call: &GrantCall) -> Option<String> {
        target(&call.params, &call.role).ok().map(|(account, set)| {
            format!(
                "{NAME}:{}:account:{account}:set:{set}:person:{}",
                self.api.instance_arn(),
                call.person
            )
        })
    }

    async fn observe(&self, call: &GrantCall) -> Result<Option<PriorAccess>, GrantError> {
        let a = self.wanted(call).await?;
        let held = self.api.holds(&a).await.map_err(failure)?;
        Ok(Some(if held {
            PriorAccess::Held
        } else {
            PriorAccess::Absent
        }))
    }

    async fn holders(&self, resource: &Resource) -> Result<Option<Vec<String>>, GrantError> {
        let params = &resource.grant.params;
        let account = account_id(params)?;
        let mut users = std::collections::BTreeSet::new();
        for arn in permission_sets(params) {
            for (kind, id) in self.api.list(&account, &arn).await.map_err(failure)? {
                // Group assignments are standing access granted outside Warden.
                if kind == "USER" {
                    users.insert(id);
                }
            }
        }
        Ok(Some(users.into_iter().collect()))
    }

    async fn grant(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let a = self.wanted(call).await?;
        let applied = |status: &str, id: Option<&str>| {
            GrantReceipt::applied(NAME, self.receipt(&a, status, id))
                .with_holder(a.principal_id.clone())
        };
        match self.api.create(&a).await {
            Ok(OpStatus::Succeeded { request_id }) => Ok(applied("SUCCEEDED", Some(&request_id))),
            Ok(OpStatus::InProgress { request_id }) => Err(GrantError::Transient(format!(
                "assignment creation {request_id} still in progress"
            ))),
            Ok(OpStatus::Failed { request_id, reason }) => {
                if self.settled_anyway(&a, true).await? {
                    return Ok(applied("ALREADY_ASSIGNED", Some(&request_id)));
                }
                Err(GrantError::Permanent(format!(
                    "assignment creation {request_id} failed: {reason}"
                )))
            }
            Err(e) if e.code() == Some("ConflictException") => {
                if self.settled_anyway(&a, true).await? {
                    return Ok(applied("ALREADY_ASSIGNED", None));
                }
                Err(GrantError::Transient(e.to_string()))
            }
            Err(e) => Err(failure(e)),
        }
    }

    async fn revoke(&self, call: &GrantCall) -> Result<GrantReceipt, GrantError> {
        let a = Self::granted(call)?;
        let gone = |status: &str, id: Option<&str>| {
            GrantReceipt::unchanged(NAME, self.receipt(&a, status, id))
                .with_holder(a.principal_id.clone())
        };
        match self.api.delete(&a).await {
            Ok(OpStatus::Succeeded { request_id }) => Ok(GrantReceipt::applied(
                NAME,
                self.receipt(&a, "SUCCEEDED", Some(&request_id)),
            )
            .with_holder(a.principal_id.clone())),
            Ok(OpStatus::InProgress { request_id }) => Err(GrantError::Transient(format!(
                "assignment deletion {request_id} still in progress"
            ))),
            Ok(OpStatus::Failed { request_id, reason }) => {
                if self.settled_anyway(&a, false).await? {
                    return Ok(gone("ALREADY_REMOVED", Some(&request_id)));
                }
                Err(GrantError::Permanent(format!(
                    "assignment deletion {request_id} failed: {reason}"
                )))
            }
            Err(e)
                if matches!(
                    e.code(),
                    Some("ConflictException" | "ResourceNotFoundException")
                ) =>
            {
                if self.settled_anyway(&a, false).await? {
                    return Ok(gone("ALREADY_REMOVED", None));
                }
                Err(failure(e))
            }
            Err(e) => Err(failure(e)),
        }
    }
}

/// How an AWS failure counts for the workflow.
fn failure(e: AwsError) -> GrantError {
    match e {
        AwsError::Transient(_) | AwsError::Credentials(StsError::Transient(_)) => {
            GrantError::Transient(e.to_string())
        }
        // AWS asks for a retry with backoff on a conflict (a write still propagating).
        AwsError::Refused { ref code, .. } if code == "ConflictException" => {
            GrantError::Transient(e.to_string())
        }
        AwsError::Refused {
            after_uncertain: true,
            ..
        } => GrantError::Uncertain(e.to_string()),
        AwsError::Refused { .. } | AwsError::Credentials(_) | AwsError::Local(_) => {
            GrantError::Permanent(e.to_string())
        }
    }
}

fn bad(why: &str) -> GrantError {
    GrantError::Permanent(format!("aws_identity_center grant misconfigured: {why}"))
}

/// `account_id`: the 12-digit AWS account, as a string (a number would lose leading zeros).
fn account_id(params: &HashMap<String, toml::Value>) -> Result<String, GrantError> {
    let id = params
        .get("account_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("the catalog names no `account_id` (a 12-digit string)"))?;
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("`account_id` must be 12 digits"));
    }
    Ok(id.to_string())
}

/// `permission_set_arn`: one ARN for every role, or a table of ARNs by role.
fn permission_set(params: &HashMap<String, toml::Value>, role: &str) -> Result<String, GrantError> {
    let arn = match params.get("permission_set_arn") {
        Some(toml::Value::String(s)) => Some(s.as_str()),
        Some(toml::Value::Table(t)) => t.get(role).and_then(|v| v.as_str()),
        _ => None,
    }
    .ok_or_else(|| bad(&format!("no `permission_set_arn` for role `{role}`")))?;
    if !arn.starts_with("arn:aws") || !arn.contains(":permissionSet/") {
        return Err(bad("`permission_set_arn` is not a permission set ARN"));
    }
    Ok(arn.to_string())
}

/// Every permission set the resource grants, for listing its holders.
fn permission_sets(params: &HashMap<String, toml::Value>) -> Vec<String> {
    let mut arns: Vec<String> = match params.get("permission_set_arn") {
        Some(toml::Value::String(s)) => vec![s.clone()],
        Some(toml::Value::Table(t)) => t
            .values()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    arns.sort();
    arns.dedup();
    arns
}

fn target(
    params: &HashMap<String, toml::Value>,
    role: &str,
) -> Result<(String, String), GrantError> {
    Ok((account_id(params)?, permission_set(params, role)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(toml: &str) -> HashMap<String, toml::Value> {
        toml::from_str(toml).unwrap()
    }

    const PS: &str = "arn:aws:sso:::permissionSet/ssoins-1111/ps-2222";

    #[test]
    fn catalog_parameters_name_an_account_and_a_permission_set_per_role() {
        let one = params(&format!(
            "account_id = \"012345678901\"\npermission_set_arn = \"{PS}\""
        ));
        assert_eq!(
            target(&one, "any").unwrap(),
            ("012345678901".into(), PS.into())
        );
        let by_role = params(&format!(
            "account_id = \"012345678901\"\n[permission_set_arn]\nread = \"{PS}\"\nadmin = \"{PS}9\""
        ));
        assert_eq!(target(&by_role, "admin").unwrap().1, format!("{PS}9"));
        assert!(target(&by_role, "write").is_err(), "a role with no set");
        assert_eq!(permission_sets(&by_role).len(), 2);
        let numeric = params(&format!(
            "account_id = 12345678901\npermission_set_arn = \"{PS}\""
        ));
        assert!(target(&numeric, "read").is_err(), "a number loses zeros");
        let not_arn = params("account_id = \"012345678901\"\npermission_set_arn = \"ps-1\"");
        assert!(matches!(
            target(&not_arn, "read"),
            Err(GrantError::Permanent(_))
        ));
    }

    #[test]
    fn failures_map_to_what_the_workflow_does_next() {
        let refused = |code: &str, after_uncertain| AwsError::Refused {
            code: code.into(),
            message: String::new(),
            status: 400,
            after_uncertain,
        };
        assert!(matches!(
            failure(refused("AccessDeniedException", false)),
            GrantError::Permanent(_)
        ));
        assert!(matches!(
            failure(refused("ValidationException", false)),
            GrantError::Permanent(_)
        ));
        assert!(matches!(
            failure(refused("ValidationException", true)),
            GrantError::Uncertain(_)
        ));
        assert!(matches!(
            failure(refused("ConflictException", false)),
            GrantError::Transient(_)
        ));
        assert!(matches!(
            failure(AwsError::Transient("x".into())),
            GrantError::Transient(_)
        ));
        assert!(matches!(
            failure(AwsError::Credentials(StsError::Permanent("x".into()))),
            GrantError::Permanent(_)
        ));
    }
}
