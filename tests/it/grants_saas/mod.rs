//! The Okta, Microsoft Entra ID and GitHub membership backends against fakes of their APIs over
//! real HTTP: grant, revoke, idempotent retries, throttling, refusals, token refresh, holders.

mod drift;
mod entra;
mod flow;
mod github;
mod latency;
mod okta;
mod shared;

use std::collections::BTreeMap;
use warden::domain::{Catalog, Platform, PlatformUser};
use warden::grants::{GrantCall, GrantOp, GrantReceipt, TargetIdentity};

/// A catalog of one resource `app` with role `read`, granted by `grant` (an inline table).
pub fn catalog(grant: &str) -> Catalog {
    Catalog::from_toml(&format!(
        r#"
[[resource]]
id = "app"
name = "SaaS app"
aliases = ["saas app"]
roles = ["read"]
risk = "low"
max_duration = "1d"
default_duration = "1h"
grant = {grant}
"#
    ))
    .expect("test catalog parses")
}

/// The person's identity on the targets: an email and explicit ids.
pub fn identity(email: Option<&str>, ids: &[(&str, &str)]) -> TargetIdentity {
    TargetIdentity {
        email: email.map(str::to_string),
        ids: ids
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// A grant call for `app`, as the grant job makes it, for a person of this identity.
pub fn grant_call(catalog: &Catalog, request: &str, who: TargetIdentity) -> GrantCall {
    let mut call = GrantCall::new(
        GrantOp::Grant,
        request,
        catalog.get("app").expect("resource app"),
        "read",
        "alice",
        &PlatformUser::new(Platform::Console, "local", "alice"),
        chrono::Utc::now() + chrono::Duration::hours(1),
        None,
    );
    call.identity = who;
    call
}

/// The revoke of a grant, as the workflow builds it: from the grant's receipt, with no identity
/// (what was granted, not today's directory).
pub fn revoke_call(grant: &GrantCall, receipt: &GrantReceipt) -> GrantCall {
    let mut call = grant.clone();
    call.op = GrantOp::Revoke;
    call.idempotency_key = format!("{}:revoke", grant.request_id);
    call.grant = Some(receipt.clone());
    call.identity = TargetIdentity::default();
    call
}

pub fn request_id() -> String {
    format!(
        "AR-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8].to_uppercase()
    )
}
