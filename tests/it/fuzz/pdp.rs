//! Fuzz targets for what a remote PDP answers (OPA's data API, AuthZEN), over real HTTP: no
//! panic, and nothing but an explicit allow is ever an allow (faults fail closed).

use super::{any_text, fuzz, json_swapped, mutated};
use crate::policy_http::input;
use crate::support::fakes::pdp::{AUTHZEN_PATH, OPA_PATH};
use crate::support::fakes::scripted::{Reply, Scripted};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;
use warden::policy::authzen::AuthzenPolicy;
use warden::policy::opa::OpaPolicy;
use warden::policy::{Decision, PolicyEngine};

/// Bodies and statuses a PDP (or something in front of it) might send.
fn answers(samples: Vec<Value>) -> impl Strategy<Value = (u16, String)> {
    let texts: Vec<String> = samples.iter().map(Value::to_string).collect();
    let body = prop_oneof![4 => json_swapped(samples), 2 => mutated(texts), 1 => any_text(300)];
    let status = prop_oneof![8 => Just(200u16), 1 => Just(500u16), 1 => 200u16..600];
    (status, body)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn allowed(d: &Decision) -> bool {
    matches!(d, Decision::Allow { .. })
}

#[test]
fn opa_answers_never_panic_and_only_an_explicit_allow_allows() {
    let rt = runtime();
    let pdp = rt.block_on(Scripted::route("POST", OPA_PATH, Reply::empty(500)));
    let url = Url::parse(&pdp.uri()).unwrap();
    let opa = OpaPolicy::new(url, "access/decision", Duration::from_secs(2)).unwrap();
    let samples = vec![
        json!({ "result": { "outcome": "allow", "reasons": ["low risk"], "break_glass": false } }),
        json!({ "result": { "outcome": "require_approval", "reasons": ["critical"], "approvals": [{ "from": "manager", "count": 1 }, { "from": "group", "group": "sre", "count": 2 }], "break_glass": false, "deny_reason_required": true } }),
        json!({ "result": { "outcome": "deny", "reasons": ["no"] }, "decision_id": "d-1" }),
    ];
    fuzz("opa_answers", answers(samples), |(status, body)| {
        pdp.answer(Reply::raw(status, &body, "application/json"));
        let decision = rt.block_on(opa.decide(&input()));
        if allowed(&decision) {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            prop_assert!((200..300).contains(&status), "{}", status);
            prop_assert_eq!(
                v.pointer("/result/outcome"),
                Some(&json!("allow")),
                "{}",
                body
            );
        }
        Ok(())
    });
}

#[test]
fn authzen_answers_never_panic_and_only_an_explicit_allow_allows() {
    let rt = runtime();
    let pdp = rt.block_on(Scripted::route("POST", AUTHZEN_PATH, Reply::empty(500)));
    let url = Url::parse(&format!("{}{AUTHZEN_PATH}", pdp.uri())).unwrap();
    let authzen = AuthzenPolicy::with_endpoint(url, None, Duration::from_secs(2)).unwrap();
    let samples = vec![
        json!({ "decision": true }),
        json!({ "decision": true, "context": { "reason_user": { "en": "ok" }, "approvals": [{ "from": "manager", "count": 1 }] } }),
        json!({ "decision": false, "context": { "reason_user": { "en": "not on call" } } }),
    ];
    fuzz("authzen_answers", answers(samples), |(status, body)| {
        pdp.answer(Reply::raw(status, &body, "application/json"));
        let decision = rt.block_on(authzen.decide(&input()));
        if allowed(&decision) {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            prop_assert!((200..300).contains(&status), "{}", status);
            prop_assert_eq!(v.get("decision"), Some(&json!(true)), "{}", body);
        }
        Ok(())
    });
}
