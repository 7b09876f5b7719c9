//! A fake policy decision point over HTTP, speaking OPA's data API or AuthZEN's evaluation API:
//! one standing answer on the right path (404 elsewhere), every call recorded. An AuthZEN fake
//! can also publish PDP metadata at its well-known address, as AuthZEN 1.0 describes it.

use super::scripted::{Call, Reply, Scripted};
use serde_json::{Value, json};
use url::Url;

pub const OPA_PATH: &str = "/v1/data/access/decision";
pub const AUTHZEN_PATH: &str = "/access/v1/evaluation";
pub const WELL_KNOWN: &str = "/.well-known/authzen-configuration";

pub struct FakePdp(Scripted);

impl FakePdp {
    /// OPA, with the decision at `access/decision`.
    pub async fn opa(answer: Reply) -> Self {
        Self(Scripted::route("POST", OPA_PATH, answer).await)
    }

    pub async fn authzen(answer: Reply) -> Self {
        Self(Scripted::route("POST", AUTHZEN_PATH, answer).await)
    }

    /// An AuthZEN PDP evaluating at `path` (not the conventional one), so only a client that
    /// read the metadata finds it.
    pub async fn authzen_at(path: &str, answer: Reply) -> Self {
        Self(Scripted::route("POST", path, answer).await)
    }

    /// Publishes `reply` as the metadata of the PDP identified by `{url}{tenant}`: served at
    /// `/.well-known/authzen-configuration{tenant}` (inserted between host and path).
    pub async fn publish_metadata(&self, tenant: &str, reply: Reply) {
        self.0
            .also("GET", &format!("{WELL_KNOWN}{tenant}"), reply)
            .await;
    }

    /// Metadata for the PDP `{url}{tenant}` that evaluates at `{url}{eval_path}`.
    pub fn metadata(&self, tenant: &str, eval_path: &str) -> Value {
        let base = self.0.uri();
        json!({
            "policy_decision_point": format!("{base}{tenant}"),
            "access_evaluation_endpoint": format!("{base}{eval_path}"),
            "access_evaluations_endpoint": format!("{base}{eval_path}s"),
        })
    }

    /// How often the metadata of `{url}{tenant}` was fetched.
    pub async fn metadata_fetches(&self, tenant: &str) -> usize {
        self.0.hits(&format!("{WELL_KNOWN}{tenant}")).await
    }

    /// The evaluation endpoint of a fake started with `authzen`.
    pub fn evaluation_url(&self) -> Url {
        self.url().join(AUTHZEN_PATH).expect("fake PDP endpoint")
    }

    /// The base URL to configure as `policy.url`.
    pub fn url(&self) -> Url {
        Url::parse(&self.0.uri()).expect("fake PDP URL")
    }

    pub fn calls(&self) -> Vec<Call> {
        self.0.calls()
    }
}
