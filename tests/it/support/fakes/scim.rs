//! A fake SCIM 2.0 directory: answers account lookups (`externalId eq "…"`) for the users it is
//! given, and can fail every other lookup, as a directory in the middle of an outage does.

use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USERS: &str = "/scim/v2/Users";

pub struct FakeScim(MockServer);

impl FakeScim {
    pub async fn start() -> Self {
        Self(MockServer::start().await)
    }

    /// The base URL to configure as the SCIM endpoint.
    pub fn url(&self) -> Url {
        Url::parse(&format!("{}/scim/v2", self.0.uri())).expect("fake SCIM URL")
    }

    /// Answers the lookup of `user`'s `externalId` with `user`.
    pub async fn user(&self, user: Value) {
        let external_id = user["externalId"].as_str().expect("an externalId");
        Mock::given(method("GET"))
            .and(path(USERS))
            .and(query_param(
                "filter",
                format!("externalId eq \"{external_id}\""),
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "Resources": [user] })))
            .mount(&self.0)
            .await;
    }

    /// Every lookup not answered by a user given so far gets a 500.
    pub async fn fail_everything_else(&self) {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(500))
            .with_priority(u8::MAX)
            .mount(&self.0)
            .await;
    }
}
