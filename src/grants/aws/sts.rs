//! STS `AssumeRoleWithWebIdentity`: a web identity token exchanged for temporary credentials.
//!
//! The call is not signed (the token is the proof). Query protocol: a form-encoded POST, an
//! XML answer; errors are `<ErrorResponse><Error><Code>…`. Only four elements are read, so a
//! small extractor does instead of an XML crate.

use super::credentials::Credentials;
use secrecy::SecretString;
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum StsError {
    /// Throttling, STS or the identity provider briefly unavailable: worth retrying.
    #[error("AWS STS temporarily failed: {0}")]
    Transient(String),
    /// A token STS refuses, a role that cannot be assumed: retrying will not help.
    #[error("AWS STS refused: {0}")]
    Permanent(String),
}

pub struct StsClient {
    http: reqwest::Client,
    endpoint: url::Url,
}

impl StsClient {
    pub fn new(http: reqwest::Client, endpoint: url::Url) -> Self {
        Self { http, endpoint }
    }

    pub async fn assume_role_with_web_identity(
        &self,
        role_arn: &str,
        session_name: &str,
        token: &str,
    ) -> Result<Credentials, StsError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "AssumeRoleWithWebIdentity")
            .append_pair("Version", "2011-06-15")
            .append_pair("RoleArn", role_arn)
            .append_pair("RoleSessionName", session_name)
            .append_pair("WebIdentityToken", token)
            .finish();
        let resp = self
            .http
            .post(self.endpoint.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| StsError::Transient(super::client::transport_kind(&e).into()))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| StsError::Transient(super::client::transport_kind(&e).into()))?;
        if status.is_success() {
            return parse_credentials(&text);
        }
        let code = element(&text, "Code").unwrap_or_default();
        let why = format!("{status} {code}");
        let retry = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || [
                "Throttling",
                "IDPCommunicationError",
                "ExpiredTokenException",
            ]
            .contains(&code.as_str());
        Err(if retry {
            StsError::Transient(why)
        } else {
            StsError::Permanent(why)
        })
    }
}

fn parse_credentials(xml: &str) -> Result<Credentials, StsError> {
    let get = |name: &str| {
        element(xml, name)
            .ok_or_else(|| StsError::Transient(format!("the STS answer has no {name}")))
    };
    let expiration = get("Expiration")?;
    let expires_at = chrono::DateTime::parse_from_rfc3339(&expiration)
        .map_err(|_| StsError::Transient("the STS answer's Expiration is not a time".into()))?;
    let secs = expires_at.timestamp().max(0) as u64;
    Ok(Credentials {
        access_key_id: get("AccessKeyId")?,
        secret_access_key: SecretString::from(get("SecretAccessKey")?),
        session_token: Some(SecretString::from(get("SessionToken")?)),
        expires_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
    })
}

/// The text of the first `<name>…</name>`, entities decoded.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(
        xml[start..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    /// The documented answer's shape (STS API reference, AssumeRoleWithWebIdentity example).
    const ANSWER: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn the_documented_answer_parses_into_credentials() {
        let c = parse_credentials(ANSWER).unwrap();
        assert_eq!(c.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.secret_access_key.expose_secret(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
        );
        assert_eq!(
            c.session_token.unwrap().expose_secret(),
            "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE"
        );
        let at = c.expires_at.unwrap().duration_since(SystemTime::UNIX_EPOCH);
        assert_eq!(at.unwrap().as_secs(), 1_414_191_623);
    }

    #[test]
    fn an_answer_without_keys_is_an_error_not_empty_credentials() {
        assert!(parse_credentials("<ok/>").is_err());
        assert_eq!(element("<a>x &amp; y</a>", "a").as_deref(), Some("x & y"));
    }
}
