//! `warden bench agents`: complete agent cycles through the engine's agent operations — create (structured ask) → policy → grant → release — with the shipped policy auto-approving a low-risk ask inside each agent's ceiling, on SQLite and PostgreSQL.
//!
//! Each concurrent worker is its own registered agent (the per-agent concurrency limit is 1).
//! Workload-token verification is not part of a cycle: it is measured by its own tests, and a
//! real agent reuses one token for its whole task. Figures, not assertions.

use super::bench::{BENCH_CATALOG, BenchResult, MAX_CONCURRENCY, on_both_databases, person_id};
use super::demo::Demo;
use crate::directory::file::FileDirectory;
use crate::domain::{AgentAsk, AgentRegistry, AskDuration, Catalog, RequestState};
use crate::workflow::{AgentCaller, AgentChannel, Engine};
use anyhow::Context;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn agent_id(i: usize) -> String {
    format!("bench-agent-{i:04}")
}

/// `n` agents, each owned by synthetic person `i`, allowed `wiki edit` for up to an hour.
fn registry(n: usize, catalog: &Catalog) -> anyhow::Result<AgentRegistry> {
    let text: String = (1..=n)
        .map(|i| {
            format!(
                "[[agent]]\nid = \"{}\"\nname = \"Bench agent {i:04}\"\nowner = \"{}\"\nmax_duration = \"1h\"\n\
                 [agent.workload]\nissuer = \"https://issuer.bench.invalid\"\naudience = \"https://warden.bench.invalid\"\n\
                 subject = \"bench:{i}\"\n[[agent.ceiling]]\nresource = \"wiki\"\nroles = [\"edit\"]\n\n",
                agent_id(i),
                person_id(i)
            )
        })
        .collect();
    AgentRegistry::from_toml(&text, catalog).context("bench agent registry")
}

fn ask() -> AgentAsk {
    AgentAsk {
        resource: "wiki".into(),
        role: "edit".into(),
        duration: AskDuration::Secs(1800),
        task: "bench: update the runbook".into(),
        ticket: None,
    }
}

/// One cycle for agent `i`; returns its latency.
async fn cycle(engine: &Engine, i: usize, claims: &serde_json::Value) -> anyhow::Result<Duration> {
    let agent = engine
        .agents()
        .get(&agent_id(i))
        .context("bench agent missing")?;
    let caller = AgentCaller {
        agent,
        claims,
        channel: AgentChannel::Api,
    };
    let started = Instant::now();
    let (req, _) = engine.agent_create(caller, &ask(), None).await?;
    anyhow::ensure!(
        req.state == RequestState::Active,
        "agent request {} is {}, expected active",
        req.id,
        req.state
    );
    let released = engine.agent_release(&agent.id, &req.id).await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        released.state == RequestState::Revoked,
        "agent request {} ended {}, expected revoked",
        released.id,
        released.state
    );
    Ok(elapsed)
}

pub async fn measure(
    url: &str,
    cycles: usize,
    concurrency: usize,
    max_connections: u32,
) -> anyhow::Result<BenchResult> {
    let workers = concurrency.clamp(1, MAX_CONCURRENCY).min(cycles.max(1));
    let directory = FileDirectory::from_toml(&super::bench::synthetic_directory(
        workers,
        "console",
        crate::chat::console::WORKSPACE,
        person_id,
    ))
    .context("generated directory")?;
    let catalog = Catalog::from_toml(BENCH_CATALOG).context("bench catalog")?;
    let agents = registry(workers, &catalog)?;
    let demo = Demo::with_agents(url, max_connections, directory, catalog, agents).await?;
    let engine = demo.engine.clone();
    let claims =
        Arc::new(serde_json::json!({ "iss": "https://issuer.bench.invalid", "sub": "bench" }));
    // Warm-up: first connections, prepared statements, policy engine.
    cycle(&engine, 1, &claims).await?;
    let before = engine.store().stats();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let engine = engine.clone();
        let claims = claims.clone();
        let share = cycles / workers + usize::from(w < cycles % workers);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(share);
            for _ in 0..share {
                lat.push(cycle(&engine, w + 1, &claims).await?);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(cycles);
    for t in tasks {
        lat.extend(t.await??);
    }
    let elapsed = started.elapsed();
    let done = engine.store().stats().since(before);
    engine.store().close().await;
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Ok(BenchResult {
        flows: lat.len(),
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
        store: done,
    })
}

pub async fn run(
    cycles: usize,
    concurrency: usize,
    postgres: Option<String>,
    max_connections: u32,
) -> anyhow::Result<ExitCode> {
    let concurrency = concurrency.clamp(1, MAX_CONCURRENCY);
    let cycles = cycles.max(1);
    println!(
        "warden bench agents: {cycles} agent cycles (create → policy allows → grant → release), \
         {} agents at once; pool of {max_connections} connections; \"flows\" below are cycles",
        concurrency.min(cycles)
    );
    on_both_databases("warden-bench-agents", postgres, |url| async move {
        measure(&url, cycles, concurrency, max_connections).await
    })
    .await
}
