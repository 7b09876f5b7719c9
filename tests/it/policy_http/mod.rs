//! The HTTP policy decision points (OPA and AuthZEN) against fake servers over real HTTP.
//! Every fault must deny.

mod authzen;
mod discovery;
mod opa;
mod transport;

use crate::support::fakes::pdp::FakePdp;
use crate::support::fakes::scripted::Reply;
use serde_json::{Value, json};
use std::time::Duration;
use url::Url;
use warden::domain::{Action, Intent, Platform, PlatformUser};
use warden::policy::authzen::AuthzenPolicy;
use warden::policy::opa::OpaPolicy;
use warden::policy::{
    ChannelInput, Decision, INPUT_VERSION, PolicyInput, RequestContextInput, RequesterInput,
    ResourceInput, SubjectInput,
};

pub const TIMEOUT: Duration = Duration::from_millis(200);

pub fn input() -> PolicyInput {
    PolicyInput {
        version: INPUT_VERSION.to_string(),
        subject: SubjectInput::Person,
        requester: RequesterInput {
            id: "alice".into(),
            display_name: "Alice Example".into(),
            groups: vec!["engineering".into()],
            manager: Some("bob".into()),
            account: PlatformUser::new(Platform::Slack, "T0001", "U0ALICE"),
        },
        intent: Intent {
            action: Action::Request,
            resource: Some("billing-db".into()),
            role: Some("read".into()),
            duration_secs: Some(7200),
            justification: Some("INC-4411".into()),
            ticket: Some("INC-4411".into()),
            request_id: None,
            break_glass: false,
            notes: vec![],
            items: vec![],
        },
        resource: ResourceInput {
            id: "billing-db".into(),
            name: "Billing DB".into(),
            risk: "high".into(),
            owners: vec!["carol".into()],
            max_duration_secs: 14400,
            break_glass: false,
            tags: vec!["prod".into()],
            services: vec!["billing".into()],
        },
        time: "2025-01-01T12:00:00Z".into(),
        channel: ChannelInput {
            platform: "slack".into(),
            workspace: "T0001".into(),
            channel: "C0001".into(),
            kind: "channel".into(),
        },
        context: RequestContextInput {
            is_extension: false,
            extensions_so_far: 0,
        },
        oncall: Default::default(),
    }
}

pub fn doc(outcome: &str) -> Value {
    json!({"outcome": outcome, "reasons": [format!("because {outcome}")], "approvals": [], "break_glass": false, "deny_reason_required": false})
}

/// A fake OPA with a standing answer, and a client of it.
pub async fn opa_answering(answer: Reply) -> (FakePdp, OpaPolicy) {
    warden::app::install_crypto();
    let fake = FakePdp::opa(answer).await;
    let pdp = OpaPolicy::new(fake.url(), "access/decision", TIMEOUT).unwrap();
    (fake, pdp)
}

/// A fake AuthZEN PDP with a standing answer, and a client of it.
pub async fn authzen_answering(answer: Reply) -> (FakePdp, AuthzenPolicy) {
    warden::app::install_crypto();
    let fake = FakePdp::authzen(answer).await;
    let pdp = AuthzenPolicy::with_endpoint(fake.evaluation_url(), None, TIMEOUT).unwrap();
    (fake, pdp)
}

/// An address nothing listens on (wiremock pools its servers, so a dropped one may still answer).
pub fn closed_port_url() -> Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    Url::parse(&format!("http://127.0.0.1:{port}")).unwrap()
}

pub fn assert_fault(d: &Decision) {
    assert_eq!(d.outcome(), "deny", "{d:?}");
    assert!(d.fault_info().is_some(), "{d:?}");
    assert!(
        d.reasons().is_empty(),
        "a fault gives people no internals: {d:?}"
    );
}

/// What a fault says for the log (empty when it is no fault).
pub fn detail(d: &Decision) -> &str {
    d.fault_info()
        .map(|f| f.detail.as_str())
        .unwrap_or_default()
}

/// Every field of `expected` is in `actual` with the same value (objects may have more fields).
pub fn assert_json_includes(actual: &Value, expected: &Value) {
    fn includes(actual: &Value, expected: &Value) -> bool {
        match (actual, expected) {
            (Value::Object(a), Value::Object(e)) => e
                .iter()
                .all(|(k, v)| a.get(k).is_some_and(|av| includes(av, v))),
            (Value::Array(a), Value::Array(e)) => {
                a.len() == e.len() && a.iter().zip(e).all(|(av, ev)| includes(av, ev))
            }
            _ => actual == expected,
        }
    }
    assert!(
        includes(actual, expected),
        "{actual:#} does not include {expected:#}"
    );
}
