//! One fake per outside service, each over real HTTP and recording what it was sent.

pub mod aws;
pub mod discord;
pub mod entra;
pub mod github;
pub mod llama;
pub mod llm;
pub mod llm_wire;
pub mod oidc;
pub mod oidc_provider;
pub mod okta;
pub mod opsgenie;
pub mod pagerduty;
pub mod pdp;
pub mod receiver;
pub mod saas;
pub mod scim;
pub mod scripted;
pub mod slack;
pub mod slack_socket;
