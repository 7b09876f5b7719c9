//! A fake policy decision point over HTTP, speaking OPA's data API or AuthZEN's evaluation API:
//! one standing answer on the right path (404 elsewhere), every call recorded.

use super::scripted::{Call, Reply, Scripted};
use url::Url;

pub const OPA_PATH: &str = "/v1/data/access/decision";
pub const AUTHZEN_PATH: &str = "/access/v1/evaluation";

pub struct FakePdp(Scripted);

impl FakePdp {
    /// OPA, with the decision at `access/decision`.
    pub async fn opa(answer: Reply) -> Self {
        Self(Scripted::route("POST", OPA_PATH, answer).await)
    }

    pub async fn authzen(answer: Reply) -> Self {
        Self(Scripted::route("POST", AUTHZEN_PATH, answer).await)
    }

    /// The base URL to configure as `policy.url`.
    pub fn url(&self) -> Url {
        Url::parse(&self.0.uri()).expect("fake PDP URL")
    }

    pub fn calls(&self) -> Vec<Call> {
        self.0.calls()
    }
}
