//! TEMP placeholder until the policy branch lands.
use super::{Decision, PolicyEngine, PolicyInput};
pub struct OpaPolicy;
impl OpaPolicy { pub fn new(_u: url::Url, _p: &str, _t: std::time::Duration) -> anyhow::Result<Self> { Ok(Self) } }
#[async_trait::async_trait]
impl PolicyEngine for OpaPolicy { fn name(&self) -> &'static str { "opa" } async fn decide(&self, _i: &PolicyInput) -> Decision { Decision::fault("placeholder") } }
