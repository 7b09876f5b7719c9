//! The kill switch (issue 12): freezes stop new grants in their scope on every instance, and
//! revoke what is active there once each, on SQLite and PostgreSQL, with a real webhook backend.

mod agents;
mod bounds;
mod kill_switch;

use crate::support::engine::Setup;
use crate::support::fakes::receiver::Receiver;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use warden::domain::Catalog;
use warden::grants::webhook::WebhookGrantor;

/// The example catalog with every resource granted through the signed webhook.
pub fn webhook_catalog() -> Arc<Catalog> {
    let text: String = warden::app::EXAMPLE_CATALOG
        .replace(r#"backend = "log""#, r#"backend = "webhook""#)
        .split("[[resource]]")
        .map(|block| {
            // Only resource blocks (the header's comment names `[[resource]]` too).
            if block.contains("grant =") || !block.contains("\nid = ") {
                return block.to_string();
            }
            format!(
                "{}\ngrant = {{ backend = \"webhook\" }}\n\n",
                block.trim_end()
            )
        })
        .collect::<Vec<_>>()
        .join("[[resource]]");
    Arc::new(Catalog::from_toml(&text).expect("webhook catalog"))
}

/// The example deployment, granting and revoking over HTTP to `backend`.
/// The shipped policy with lifting a freeze direct (`step_up_admin_actions = []`): these tests
/// are about what a freeze does; the passkey for lifting one has its own (admin::freeze_step_up).
pub fn policy_without_admin_step_up() -> Arc<dyn warden::policy::PolicyEngine> {
    let data = serde_json::json!({ "warden": { "config": { "step_up_admin_actions": [] } } });
    Arc::new(
        warden::policy::embedded::EmbeddedPolicy::shipped()
            .unwrap()
            .with_data(data)
            .unwrap(),
    )
}

pub fn webhook_setup(backend: &Receiver) -> Setup {
    warden::app::install_crypto();
    let grantor = WebhookGrantor::new(
        url::Url::parse(&backend.url()).unwrap(),
        SecretString::from("s3cret"),
        Duration::from_secs(5),
    )
    .unwrap();
    Setup {
        catalog: webhook_catalog(),
        grantors: vec![Arc::new(grantor)],
        policy: policy_without_admin_step_up(),
        ..Setup::default()
    }
}

/// How many calls the backend received per idempotency key, for one operation.
pub fn calls_per_key(backend: &Receiver, op: &str) -> HashMap<String, usize> {
    let mut per_key = HashMap::new();
    for c in backend.calls() {
        if c.body["op"] == op {
            let key = c.headers["idempotency-key"].to_str().unwrap().to_string();
            *per_key.entry(key).or_default() += 1;
        }
    }
    per_key
}
