//! The IAM Identity Center operations the backend uses, typed: account assignments (create,
//! delete, their asynchronous status, the paged list) and the identity store's `GetUserId`.

use super::client::{AwsClient, AwsError, Service};
use serde_json::{Value, json};
use std::time::Duration;

/// One account assignment: a user, a permission set, an AWS account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub account_id: String,
    pub permission_set_arn: String,
    /// The Identity Store user id.
    pub principal_id: String,
}

/// The state of an asynchronous create or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpStatus {
    InProgress { request_id: String },
    Succeeded { request_id: String },
    Failed { request_id: String, reason: String },
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Creation,
    Deletion,
}

impl Op {
    fn status_field(self) -> &'static str {
        match self {
            Op::Creation => "AccountAssignmentCreationStatus",
            Op::Deletion => "AccountAssignmentDeletionStatus",
        }
    }
}

/// Where the two services answer, and how long an assignment may take.
pub struct Endpoints {
    pub sso: url::Url,
    pub identitystore: url::Url,
}

pub struct IdentityCenter {
    client: AwsClient,
    endpoints: Endpoints,
    instance_arn: String,
    identity_store_id: Option<String>,
    poll_interval: Duration,
    poll_attempts: u32,
}

/// Most pages read from one listing (100 assignments each): a bound, not a limit met in practice.
const MAX_PAGES: usize = 200;

impl IdentityCenter {
    pub fn new(
        client: AwsClient,
        endpoints: Endpoints,
        instance_arn: String,
        identity_store_id: Option<String>,
        poll_interval: Duration,
        poll_attempts: u32,
    ) -> Self {
        Self {
            client,
            endpoints,
            instance_arn,
            identity_store_id,
            poll_interval,
            poll_attempts,
        }
    }

    pub fn finds_people_by_email(&self) -> bool {
        self.identity_store_id.is_some()
    }

    pub fn instance_arn(&self) -> &str {
        &self.instance_arn
    }

    async fn sso(&self, operation: &str, body: Value) -> Result<Value, AwsError> {
        self.client
            .call(Service::SsoAdmin, &self.endpoints.sso, operation, &body)
            .await
    }

    fn assignment_body(&self, a: &Assignment) -> Value {
        json!({
            "InstanceArn": self.instance_arn,
            "TargetId": a.account_id,
            "TargetType": "AWS_ACCOUNT",
            "PermissionSetArn": a.permission_set_arn,
            "PrincipalType": "USER",
            "PrincipalId": a.principal_id,
        })
    }

    /// Creates the assignment and waits (bounded) for it to settle.
    pub async fn create(&self, a: &Assignment) -> Result<OpStatus, AwsError> {
        let v = self
            .sso("CreateAccountAssignment", self.assignment_body(a))
            .await?;
        self.settle(Op::Creation, status(&v, Op::Creation)?).await
    }

    /// Deletes the assignment and waits (bounded) for it to settle.
    pub async fn delete(&self, a: &Assignment) -> Result<OpStatus, AwsError> {
        let v = self
            .sso("DeleteAccountAssignment", self.assignment_body(a))
            .await?;
        self.settle(Op::Deletion, status(&v, Op::Deletion)?).await
    }

    /// Reads the operation's status until it succeeds or fails, `poll_attempts` times at most.
    async fn settle(&self, op: Op, mut current: OpStatus) -> Result<OpStatus, AwsError> {
        let (operation, id_field) = match op {
            Op::Creation => (
                "DescribeAccountAssignmentCreationStatus",
                "AccountAssignmentCreationRequestId",
            ),
            Op::Deletion => (
                "DescribeAccountAssignmentDeletionStatus",
                "AccountAssignmentDeletionRequestId",
            ),
        };
        for _ in 0..self.poll_attempts {
            let OpStatus::InProgress { request_id } = &current else {
                return Ok(current);
            };
            tokio::time::sleep(self.poll_interval).await;
            let body = json!({ "InstanceArn": self.instance_arn, id_field: request_id });
            current = status(&self.sso(operation, body).await?, op)?;
        }
        Ok(current)
    }

    /// The principals assigned `permission_set_arn` on `account_id`, as `(type, id)`.
    pub async fn list(
        &self,
        account_id: &str,
        permission_set_arn: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let mut found = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut body = json!({
                "InstanceArn": self.instance_arn,
                "AccountId": account_id,
                "PermissionSetArn": permission_set_arn,
                "MaxResults": 100,
            });
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let page = self.sso("ListAccountAssignments", body).await?;
            for a in page["AccountAssignments"].as_array().into_iter().flatten() {
                if let (Some(t), Some(id)) =
                    (a["PrincipalType"].as_str(), a["PrincipalId"].as_str())
                {
                    found.push((t.to_string(), id.to_string()));
                }
            }
            next = page["NextToken"]
                .as_str()
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if next.is_none() {
                return Ok(found);
            }
        }
        Err(AwsError::Transient(format!(
            "ListAccountAssignments had more than {MAX_PAGES} pages"
        )))
    }

    /// Whether the user holds the assignment now.
    pub async fn holds(&self, a: &Assignment) -> Result<bool, AwsError> {
        let listed = self.list(&a.account_id, &a.permission_set_arn).await?;
        Ok(listed
            .iter()
            .any(|(t, id)| t == "USER" && *id == a.principal_id))
    }

    /// The Identity Store user whose (unique) email is `email`; `None` if there is none.
    pub async fn user_id_by_email(&self, email: &str) -> Result<Option<String>, AwsError> {
        let Some(store) = &self.identity_store_id else {
            return Ok(None);
        };
        let body = json!({
            "IdentityStoreId": store,
            "AlternateIdentifier": {
                "UniqueAttribute": { "AttributePath": "emails.value", "AttributeValue": email }
            }
        });
        let answer = self
            .client
            .call(
                Service::IdentityStore,
                &self.endpoints.identitystore,
                "GetUserId",
                &body,
            )
            .await;
        match answer {
            Ok(v) => Ok(v["UserId"].as_str().map(str::to_string)),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The status object in an answer.
fn status(v: &Value, op: Op) -> Result<OpStatus, AwsError> {
    let s = &v[op.status_field()];
    let request_id = s["RequestId"].as_str().unwrap_or_default().to_string();
    match s["Status"].as_str() {
        Some("IN_PROGRESS") if !request_id.is_empty() => Ok(OpStatus::InProgress { request_id }),
        Some("SUCCEEDED") => Ok(OpStatus::Succeeded { request_id }),
        Some("FAILED") => Ok(OpStatus::Failed {
            request_id,
            reason: s["FailureReason"]
                .as_str()
                .unwrap_or("no reason given")
                .into(),
        }),
        _ => Err(AwsError::Transient(format!(
            "the answer has no readable {}",
            op.status_field()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_documented() {
        let v = json!({ "AccountAssignmentCreationStatus": {
            "Status": "IN_PROGRESS", "RequestId": "r-1", "TargetId": "111122223333" } });
        assert_eq!(
            status(&v, Op::Creation).unwrap(),
            OpStatus::InProgress {
                request_id: "r-1".into()
            }
        );
        let v = json!({ "AccountAssignmentDeletionStatus": {
            "Status": "FAILED", "RequestId": "r-2", "FailureReason": "nope" } });
        assert!(matches!(
            status(&v, Op::Deletion).unwrap(),
            OpStatus::Failed { ref reason, .. } if reason == "nope"
        ));
        // The other operation's field is not read as this one's.
        assert!(status(&v, Op::Creation).is_err());
    }
}
