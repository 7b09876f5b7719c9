//! The fake's STS: `AssumeRoleWithWebIdentity` (query protocol, XML), handing out session keys
//! the JSON services then accept, each lasting `sts_lifetime_secs`.

use super::{AwsCall, Fault, ROLE_ARN, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;

pub fn handle(state: &Mutex<State>, body: &[u8]) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut s = state.lock().unwrap();
    let (status, xml) = answer(&mut s, &form);
    s.calls.push(AwsCall {
        operation: form.get("Action").cloned().unwrap_or_default(),
        body: serde_json::to_value(&form).unwrap(),
        signed: Err("unsigned".into()),
        status,
        at: std::time::Instant::now(),
    });
    let mut r = (StatusCode::from_u16(status).unwrap(), xml).into_response();
    r.headers_mut()
        .insert("content-type", "text/xml".parse().unwrap());
    r
}

fn error(status: u16, code: &str) -> (u16, String) {
    (
        status,
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>refused by the fake</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        ),
    )
}

fn answer(s: &mut State, form: &HashMap<String, String>) -> (u16, String) {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("Action") != "AssumeRoleWithWebIdentity" || get("Version") != "2011-06-15" {
        return error(400, "InvalidAction");
    }
    if get("RoleArn") != ROLE_ARN || get("RoleSessionName").is_empty() {
        return error(400, "ValidationError");
    }
    s.sts_tokens.push(get("WebIdentityToken").to_string());
    if let Some(i) = s
        .faults
        .iter()
        .position(|(op, _)| op == "AssumeRoleWithWebIdentity")
    {
        let (_, fault) = s.faults.remove(i).unwrap();
        return match fault {
            Fault::Throttle(_) => error(400, "Throttling"),
            Fault::Internal => error(500, "InternalFailure"),
            Fault::Refuse(code) | Fault::FailAsync(code) => error(400, code),
        };
    }
    s.issued += 1;
    let n = s.issued;
    let (key, secret, token) = (
        format!("ASIAFAKESTS{n:09}"),
        format!("sts/secret/{n}"),
        format!("FwoGZXIvYXdzEFAKE+session/token=={n}"),
    );
    s.keys
        .insert(key.clone(), (secret.clone(), Some(token.clone())));
    let expires = chrono::Utc::now() + chrono::Duration::seconds(s.sts_lifetime_secs);
    let expiration = expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    (
        200,
        format!(
            r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:warden:warden</SubjectFromWebIdentityToken>
    <AssumedRoleUser><Arn>{ROLE_ARN}/warden</Arn><AssumedRoleId>AROAFAKE:warden</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <SessionToken>{token}</SessionToken>
      <SecretAccessKey>{secret}</SecretAccessKey>
      <Expiration>{expiration}</Expiration>
      <AccessKeyId>{key}</AccessKeyId>
    </Credentials>
    <Provider>oidc.eks.eu-west-1.amazonaws.com/id/FAKE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>{n}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
        ),
    )
}
