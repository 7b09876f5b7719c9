//! The `aws_identity_center` backend against a fake AWS over real HTTP (sso-admin, identitystore
//! and STS with their documented shapes, every signature recomputed by the fake).

mod backend;
mod credentials;
mod flow;
mod latency;
mod shared;

use crate::support::fakes::aws::{self, FakeAws};
use secrecy::SecretString;
use warden::config::AwsSettings;
use warden::domain::{Catalog, Platform, PlatformUser};
use warden::grants::aws::AwsIdentityCenterGrantor;
use warden::grants::aws::credentials::{CredentialSource, Credentials};
use warden::grants::{GrantCall, GrantOp};

/// Alice's Identity Center user id in the fake.
pub const ALICE: &str = "9067642ac7-4b1e2f3a-5c6d-7e8f-9a0b-1c2d3e4f5a6b";

/// Settings aimed at the fake, with short waits.
pub fn settings(fake: &FakeAws) -> AwsSettings {
    AwsSettings {
        region: aws::REGION.into(),
        instance_arn: aws::INSTANCE_ARN.into(),
        identity_store_id: Some(aws::IDENTITY_STORE.into()),
        sso_endpoint: Some(fake.url()),
        identitystore_endpoint: Some(fake.url()),
        sts_endpoint: Some(fake.url()),
        timeout_ms: 2_000,
        attempts: 4,
        backoff_ms: 10,
        max_retry_after_ms: 3_000,
        poll_interval_ms: 10,
        poll_attempts: 20,
        ..AwsSettings::default()
    }
}

pub fn static_keys() -> CredentialSource {
    CredentialSource::Static(Credentials {
        access_key_id: aws::ACCESS_KEY.into(),
        secret_access_key: SecretString::from(aws::SECRET_KEY.to_string()),
        session_token: None,
        expires_at: None,
    })
}

pub fn grantor_with(s: &AwsSettings, source: CredentialSource) -> AwsIdentityCenterGrantor {
    warden::app::install_crypto();
    warden::grants::aws::from_settings(s, source).expect("the backend builds")
}

pub fn grantor(fake: &FakeAws) -> AwsIdentityCenterGrantor {
    grantor_with(&settings(fake), static_keys())
}

/// A catalog of one resource `aws-sandbox`, role `read`, on the fake's account and set.
pub fn catalog() -> Catalog {
    Catalog::from_toml(&format!(
        r#"
[[resource]]
id = "aws-sandbox"
name = "AWS sandbox account"
aliases = ["aws sandbox"]
roles = ["read"]
risk = "low"
max_duration = "1d"
default_duration = "1h"
grant = {{ backend = "aws_identity_center", account_id = "{}", permission_set_arn = {{ read = "{}" }} }}
"#,
        aws::ACCOUNT,
        aws::PERMISSION_SET
    ))
    .expect("test catalog parses")
}

/// A grant call for alice, known to the target by `email` and/or an explicit `aws` id.
pub fn call(op: GrantOp, email: Option<&str>, aws_id: Option<&str>) -> GrantCall {
    let cat = catalog();
    let mut c = GrantCall::new(
        op,
        "AR-AWS00001",
        cat.get("aws-sandbox").unwrap(),
        "read",
        "alice",
        &PlatformUser::new(Platform::Console, "local", "alice"),
        chrono::Utc::now() + chrono::Duration::hours(1),
        None,
    );
    c.identity.email = email.map(str::to_string);
    if let Some(id) = aws_id {
        c.identity.ids.insert("aws".into(), id.into());
    }
    c
}
