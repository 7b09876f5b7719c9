//! `warden bench`: complete request flows through the engine (console adapter, embedded
//! policy): words in → confirmation → policy → grant → revocation, on SQLite and PostgreSQL.
//! Prints flows per second and per-flow latency percentiles. Figures, not assertions.

use super::demo::Demo;
use crate::chat::CardAction;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Throughput and latency of one run.
#[derive(Debug)]
pub struct BenchResult {
    pub flows: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl BenchResult {
    pub fn per_sec(&self) -> f64 {
        self.flows as f64 / self.elapsed.as_secs_f64()
    }
}

const USERS: [&str; 4] = ["alice", "gina", "dana", "carol"];

/// One complete flow; returns its latency.
async fn flow(d: &Demo, user: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    d.say(user, "/access request wiki edit for 2h because docs")
        .await?;
    let id = d.latest(user).await?;
    d.click(user, CardAction::Submit, &id, None).await?;
    d.click(user, CardAction::Revoke, &id, None).await?;
    let state = d.engine.store().get_request(&id).await?.map(|r| r.state);
    anyhow::ensure!(
        state == Some(crate::domain::RequestState::Revoked),
        "flow {id} ended {state:?}"
    );
    Ok(started.elapsed())
}

pub async fn measure(url: &str, flows: usize, concurrency: usize) -> anyhow::Result<BenchResult> {
    let demo = Arc::new(Demo::start(url, false).await?);
    // Warm-up: first connections, prepared statements, policy engine.
    flow(&demo, "alice").await?;
    let workers = concurrency.clamp(1, USERS.len());
    let started = Instant::now();
    // One worker per user, so `latest` always finds that worker's own request.
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let d = demo.clone();
        let share = flows / workers + usize::from(w < flows % workers);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(share);
            for _ in 0..share {
                lat.push(flow(&d, USERS[w]).await?);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(flows);
    for t in tasks {
        lat.extend(t.await??);
    }
    let elapsed = started.elapsed();
    demo.engine.store().close().await;
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    Ok(BenchResult {
        flows,
        elapsed,
        p50: pick(0.50),
        p99: pick(0.99),
    })
}

fn print(name: &str, r: &BenchResult) {
    println!(
        "{name:<10} flows={:<6} elapsed={:>7.2}s  {:>8.1} flows/s  p50={:>7.2}ms  p99={:>7.2}ms",
        r.flows,
        r.elapsed.as_secs_f64(),
        r.per_sec(),
        r.p50.as_secs_f64() * 1000.0,
        r.p99.as_secs_f64() * 1000.0
    );
}

pub async fn run(
    flows: usize,
    concurrency: usize,
    postgres: Option<String>,
) -> anyhow::Result<ExitCode> {
    println!(
        "warden bench: {flows} complete flows (request → confirm → policy → grant → revoke), concurrency {concurrency}"
    );
    let concurrency = concurrency.min(USERS.len());
    let path =
        std::env::temp_dir().join(format!("warden-bench-{}.db", uuid::Uuid::new_v4().simple()));
    let sqlite = measure(&format!("sqlite://{}", path.display()), flows, concurrency).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    print("sqlite", &sqlite?);
    if let Some(base) = postgres {
        let (url, schema) = crate::store::fresh_postgres_schema(&base, "warden_bench").await?;
        let pg = measure(&url, flows, concurrency).await;
        crate::store::drop_postgres_schema(&base, &schema).await?;
        print("postgres", &pg?);
    } else {
        println!("postgres   skipped (set --postgres or WARDEN_BENCH_POSTGRES)");
    }
    Ok(ExitCode::SUCCESS)
}
