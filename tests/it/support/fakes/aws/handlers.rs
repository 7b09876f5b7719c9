//! The fake's JSON 1.1 operations: signature check, queued faults, then the operation.

use super::{AwsCall, Fault, Held, IDENTITY_STORE, INSTANCE_ARN, Op, REGION, State, sigv4};
use axum::body::Bytes;
use axum::extract::State as Axum;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

type Shared = Arc<Mutex<State>>;

pub async fn handle(Axum(state): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if form {
        return super::sts::handle(&state, &body);
    }
    let mut s = state.lock().unwrap();
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (service, operation) = match target.split_once('.') {
        Some(("SWBExternalService", op)) => ("sso", op.to_string()),
        Some(("AWSIdentityStore", op)) => ("identitystore", op.to_string()),
        _ => ("", target.clone()),
    };
    let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let signed = check_signature(&s, &headers, &body, service);
    let (status, answer) = match &signed {
        Err(why) => error(403, "InvalidSignatureException", why),
        Ok(_) if service.is_empty() => error(400, "UnknownOperationException", &target),
        Ok(_)
            if headers.get("content-type").map(|v| v.as_bytes())
                != Some(b"application/x-amz-json-1.1") =>
        {
            error(400, "SerializationException", "wrong content type")
        }
        Ok(_) => run(&mut s, &operation, &input),
    };
    s.calls.push(AwsCall {
        operation,
        body: input,
        signed,
        status: status.0,
        at: std::time::Instant::now(),
    });
    status.1.into_response_with(answer)
}

/// (status, headers to add): the answer's envelope.
struct Status(u16, Option<u32>);

impl Status {
    fn into_response_with(self, body: Value) -> Response {
        let code = StatusCode::from_u16(self.0).unwrap();
        let mut r = (code, body.to_string()).into_response();
        let h = r.headers_mut();
        h.insert(
            "content-type",
            "application/x-amz-json-1.1".parse().unwrap(),
        );
        if let Some(t) = body["__type"].as_str() {
            let short = t.rsplit('#').next().unwrap_or(t);
            h.insert("x-amzn-errortype", short.parse().unwrap());
        }
        if let Some(secs) = self.1 {
            h.insert("retry-after", secs.to_string().parse().unwrap());
        }
        r
    }
}

fn error(status: u16, code: &str, message: &str) -> ((u16, Status), Value) {
    let body = json!({
        "__type": format!("com.amazonaws.swbexternalservice#{code}"),
        "Message": message,
    });
    ((status, Status(status, None)), body)
}

fn check_signature(
    s: &State,
    headers: &HeaderMap,
    body: &[u8],
    service: &str,
) -> Result<sigv4::Signed, String> {
    let (claimed, _, _) = sigv4::parse(headers)?;
    let (secret, token) = s
        .keys
        .get(&claimed.access_key_id)
        .ok_or("unknown access key")?;
    let sent = headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    if sent != token.as_deref() {
        return Err("the session token does not belong to the key".into());
    }
    let signed = sigv4::verify(headers, body, secret)?;
    if signed.region != REGION || signed.service != service {
        return Err(format!(
            "scoped to {}/{}, not {REGION}/{service}",
            signed.region, signed.service
        ));
    }
    Ok(signed)
}

fn run(s: &mut State, operation: &str, input: &Value) -> ((u16, Status), Value) {
    if let Some(i) = s
        .faults
        .iter()
        .position(|(op, f)| op == operation && !matches!(f, Fault::FailAsync(_)))
    {
        let (_, fault) = s.faults.remove(i).unwrap();
        return match fault {
            Fault::Throttle(after) => {
                let ((st, _), b) = error(400, "ThrottlingException", "Rate exceeded");
                ((st, Status(st, after)), b)
            }
            Fault::Internal => error(500, "InternalServerException", "internal error"),
            Fault::Refuse(code) => error(400, code, "refused by the fake"),
            Fault::FailAsync(_) => unreachable!(),
        };
    }
    if operation != "GetUserId" && input["InstanceArn"] != INSTANCE_ARN {
        return error(400, "ValidationException", "unknown InstanceArn");
    }
    let ok = |v: Value| ((200, Status(200, None)), v);
    match operation {
        "CreateAccountAssignment" | "DeleteAccountAssignment" => {
            let Some(assignment) = assignment_of(input) else {
                return error(400, "ValidationException", "missing or invalid parameters");
            };
            let create = operation == "CreateAccountAssignment";
            let fail = s
                .faults
                .iter()
                .position(|(op, f)| op == operation && matches!(f, Fault::FailAsync(_)))
                .and_then(|i| s.faults.remove(i))
                .map(|(_, f)| match f {
                    Fault::FailAsync(r) => r.to_string(),
                    _ => unreachable!(),
                });
            let id = uuid::Uuid::new_v4().to_string();
            s.ops.insert(
                id.clone(),
                Op {
                    create,
                    assignment,
                    polls_left: s.polls_before_done,
                    fail,
                    done: None,
                },
            );
            ok(json!({ field(create): status(s, &id) }))
        }
        "DescribeAccountAssignmentCreationStatus" | "DescribeAccountAssignmentDeletionStatus" => {
            let create = operation.contains("Creation");
            let key = if create {
                "AccountAssignmentCreationRequestId"
            } else {
                "AccountAssignmentDeletionRequestId"
            };
            let id = input[key].as_str().unwrap_or_default().to_string();
            match s.ops.get_mut(&id) {
                Some(op) if op.create == create => {
                    op.polls_left = op.polls_left.saturating_sub(1);
                    ok(json!({ field(create): status(s, &id) }))
                }
                _ => error(400, "ResourceNotFoundException", "no such request"),
            }
        }
        "ListAccountAssignments" => list(s, input),
        "GetUserId" => get_user_id(s, input),
        _ => error(400, "UnknownOperationException", operation),
    }
}

fn field(create: bool) -> &'static str {
    if create {
        "AccountAssignmentCreationStatus"
    } else {
        "AccountAssignmentDeletionStatus"
    }
}

fn assignment_of(input: &Value) -> Option<Held> {
    let text = |k: &str| input[k].as_str().map(str::to_string);
    let principal_type = text("PrincipalType").filter(|t| t == "USER" || t == "GROUP")?;
    (input["TargetType"] == "AWS_ACCOUNT").then_some(())?;
    Some(Held {
        account: text("TargetId").filter(|t| t.len() == 12)?,
        permission_set: text("PermissionSetArn")?,
        principal_type,
        principal_id: text("PrincipalId")?,
    })
}

/// The operation's status object; settles it (changing the assignments) when its reads are up.
fn status(s: &mut State, id: &str) -> Value {
    let op = s.ops.get_mut(id).unwrap();
    if op.polls_left == 0 && op.done.is_none() {
        let outcome = match (&op.fail, op.create) {
            (Some(reason), _) => Err(reason.clone()),
            (None, true) => {
                s.assignments.insert(op.assignment.clone());
                Ok(())
            }
            (None, false) if s.assignments.remove(&op.assignment) => Ok(()),
            // What AWS reports when the assignment to delete is not there.
            (None, false) => Err("Received a 404 status error: assignment not found".into()),
        };
        op.done = Some(outcome);
    }
    let a = &op.assignment;
    let mut v = json!({
        "RequestId": id,
        "Status": match &op.done { None => "IN_PROGRESS", Some(Ok(())) => "SUCCEEDED", Some(Err(_)) => "FAILED" },
        "TargetId": a.account, "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": a.permission_set,
        "PrincipalType": a.principal_type, "PrincipalId": a.principal_id,
        "CreatedDate": chrono::Utc::now().timestamp() as f64,
    });
    if let Some(Err(reason)) = &op.done {
        v["FailureReason"] = json!(reason);
    }
    v
}

fn list(s: &State, input: &Value) -> ((u16, Status), Value) {
    let from: usize = input["NextToken"]
        .as_str()
        .map_or(Some(0), |t| t.parse().ok())
        .unwrap_or(usize::MAX);
    let matching: Vec<&Held> = s
        .assignments
        .iter()
        .filter(|a| {
            input["AccountId"] == a.account && input["PermissionSetArn"] == a.permission_set
        })
        .collect();
    if from > matching.len() {
        return error(400, "ValidationException", "invalid NextToken");
    }
    let page: Vec<Value> = matching
        .iter()
        .skip(from)
        .take(s.page_size)
        .map(|a| {
            json!({ "AccountId": a.account, "PermissionSetArn": a.permission_set,
                    "PrincipalType": a.principal_type, "PrincipalId": a.principal_id })
        })
        .collect();
    let mut v = json!({ "AccountAssignments": page });
    if from + s.page_size < matching.len() {
        v["NextToken"] = json!((from + s.page_size).to_string());
    }
    ((200, Status(200, None)), v)
}

fn get_user_id(s: &State, input: &Value) -> ((u16, Status), Value) {
    let attr = &input["AlternateIdentifier"]["UniqueAttribute"];
    if input["IdentityStoreId"] != IDENTITY_STORE || attr["AttributePath"] != "emails.value" {
        return error(400, "ValidationException", "unsupported identifier");
    }
    match attr["AttributeValue"].as_str().and_then(|e| s.users.get(e)) {
        Some(id) => (
            (200, Status(200, None)),
            json!({ "IdentityStoreId": IDENTITY_STORE, "UserId": id }),
        ),
        None => error(400, "ResourceNotFoundException", "user not found"),
    }
}
