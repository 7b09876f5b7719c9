//! `warden demo`'s agent scenario: a CI job asks for read on the billing database for a migration, its owner approves in chat, the job releases it.
//!
//! The job's calls go through the engine's agent operations, as the agent API's would after the
//! workload token is verified; the demo has no issuer, so it shows the claims a token would
//! have proved instead of checking one.

use super::demo::Demo;
use crate::agents::AgentRequestView;
use crate::app::Wiring;
use crate::chat::CardAction;
use crate::directory::file::FileDirectory;
use crate::domain::Catalog;
use crate::domain::{AgentAsk, AgentRegistry, AskDuration, Request};
use crate::workflow::{AgentCaller, AgentChannel};
use anyhow::Context;
use std::sync::Arc;

/// The example registry's GitHub Actions job (owner: carol).
const AGENT: &str = "billing-migrations";

impl Demo {
    /// As `with_data`, with registered agents too (`warden bench agents`).
    pub async fn with_agents(
        db_url: &str,
        max_connections: u32,
        directory: FileDirectory,
        catalog: Catalog,
        agents: crate::domain::AgentRegistry,
    ) -> anyhow::Result<Self> {
        let mut wiring = Wiring::from_settings(&Self::settings(db_url, max_connections)).await?;
        wiring.directory = Arc::new(directory);
        wiring.catalog = Arc::new(catalog);
        wiring.agents = Arc::new(agents);
        Ok(Self::from_wiring(wiring, false))
    }
}

/// The example agents, validated against the demo's catalog.
pub fn example_agents(catalog: &crate::domain::Catalog) -> anyhow::Result<AgentRegistry> {
    AgentRegistry::from_toml(crate::examples::EXAMPLE_AGENTS, catalog)
        .context("the example agent registry")
}

fn show(verb: &str, req: &Request) {
    let view = AgentRequestView::of(req);
    println!(
        "\n{AGENT} (agent, API) {verb} → {} [{}]: {}",
        req.id,
        view.task["status"].as_str().unwrap_or_default(),
        view.next
    );
}

/// Runs the scenario; returns the agent request's id.
pub async fn scenario(d: &Demo) -> anyhow::Result<String> {
    let agent = d
        .engine
        .agents()
        .get(AGENT)
        .context("the example registry has no billing-migrations agent")?;
    let claims = serde_json::json!({
        "iss": agent.workload.issuer,
        "sub": agent.workload.subject,
        "aud": agent.workload.audience,
        "repository": "acme/billing",
        "ref": "refs/heads/main",
        "job_workflow_ref": "acme/billing/.github/workflows/migrate.yml@refs/heads/main",
    });
    let caller = AgentCaller {
        agent,
        claims: &claims,
        channel: AgentChannel::Api,
    };
    let ask = AgentAsk {
        resource: "prod-billing-db".into(),
        role: "read".into(),
        duration: AskDuration::Text("20m".into()),
        task: "pre-flight checks for migration 0042".into(),
        ticket: Some("CHG-42".into()),
    };
    println!(
        "\n{AGENT} (agent, API): POST /api/v1/agent/requests {}",
        serde_json::to_string(&ask)?
    );
    let (req, _) = d
        .engine
        .agent_create(caller, &ask, Some("run-4242"))
        .await?;
    show("created", &req);
    d.click("carol", CardAction::Approve, &req.id, None).await?;
    let active = d.engine.agent_request(AGENT, &req.id).await?;
    show("polls", &active);
    println!(
        "\n{AGENT} (agent, API): POST /api/v1/agent/requests/{}/release",
        req.id
    );
    let released = d.engine.agent_release(AGENT, &req.id).await?;
    show("released", &released);
    Ok(req.id.to_string())
}
