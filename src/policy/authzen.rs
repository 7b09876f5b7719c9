//! TEMP placeholder until the policy branch lands.
use super::{Decision, PolicyEngine, PolicyInput};
pub struct AuthZenPolicy;
impl AuthZenPolicy { pub fn new(_u: url::Url, _t: std::time::Duration, _k: Option<secrecy::SecretString>) -> anyhow::Result<Self> { Ok(Self) } }
#[async_trait::async_trait]
impl PolicyEngine for AuthZenPolicy { fn name(&self) -> &'static str { "authzen" } async fn decide(&self, _i: &PolicyInput) -> Decision { Decision::fault("placeholder") } }
