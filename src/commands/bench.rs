//! `warden bench`: complete request flows through the engine (console adapter, embedded
//! policy): words in → confirmation → policy → grant → revocation, on SQLite and PostgreSQL.
//! Each concurrent worker is its own synthetic person. Prints flows per second, per-flow
//! latency percentiles and the store's statements and commits per flow. Figures, not assertions.

use super::demo::Demo;
use crate::chat::CardAction;
use crate::directory::file::FileDirectory;
use crate::domain::{Catalog, RequestState};
use crate::store::{Store, StoreStats};
use anyhow::Context;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most requesters in flight at once: each is a person in the generated directory.
pub const MAX_CONCURRENCY: usize = 1_000;

/// The one catalog entry every flow asks for. Low risk, so the shipped policy allows it without
/// an approver and each flow measures the engine, not a person clicking.
pub const BENCH_CATALOG: &str = r#"
[[resource]]
id = "wiki"
name = "Engineering wiki"
aliases = ["confluence", "docs"]
roles = ["edit"]
risk = "low"
max_duration = "1w"
default_duration = "1d"
"#;

/// What every flow types: the structured command, so no model is involved.
const ASK: &str = "/access request wiki edit for 2h because docs";

/// The directory id of synthetic person `i` (1-based): bench-0001, bench-0002, …
pub fn person_id(i: usize) -> String {
    format!("bench-{i:04}")
}

/// A directory file of `n` synthetic people, bench-0001…, each with one account on `platform`
/// in `workspace` whose user id is `user_id(i)`.
pub fn synthetic_directory(
    n: usize,
    platform: &str,
    workspace: &str,
    user_id: impl Fn(usize) -> String,
) -> String {
    (1..=n)
        .map(|i| {
            let id = person_id(i);
            format!(
                "[[person]]\nid = \"{id}\"\ndisplay_name = \"Bench Person {i:04}\"\ngroups = [\"engineering\"]\n\
                 accounts = [{{ platform = \"{platform}\", workspace = \"{workspace}\", user_id = \"{}\" }}]\n\n",
                user_id(i)
            )
        })
        .collect()
}

/// Throughput, latency and store work of one run.
#[derive(Debug)]
pub struct BenchResult {
    pub flows: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// The engine's statements and commits over the timed flows (the bench's own reads excluded).
    pub store: StoreStats,
}

impl BenchResult {
    pub fn per_sec(&self) -> f64 {
        self.flows as f64 / self.elapsed.as_secs_f64()
    }

    fn per_flow(&self, n: u64) -> f64 {
        n as f64 / self.flows as f64
    }
}

/// The engine under test and a second pool for the bench's own reads, so the engine's store
/// counts only what the engine did.
struct Rig {
    demo: Demo,
    reads: Store,
}

impl Rig {
    async fn latest(&self, person: &str) -> anyhow::Result<String> {
        self.reads
            .latest_of(person)
            .await?
            .map(|r| r.id.to_string())
            .with_context(|| format!("{person} has no request"))
    }

    /// One complete flow for `person`; returns its latency.
    async fn flow(&self, person: &str) -> anyhow::Result<Duration> {
        let d = &self.demo;
        let started = Instant::now();
        d.say(person, ASK).await?;
        let id = self.latest(person).await?;
        d.click(person, CardAction::Submit, &id, None).await?;
        d.click(person, CardAction::Revoke, &id, None).await?;
        let elapsed = started.elapsed();
        let state = self.reads.get_request(&id).await?.map(|r| r.state);
        anyhow::ensure!(
            state == Some(RequestState::Revoked),
            "flow {id} of {person} ended {state:?}, expected Revoked"
        );
        Ok(elapsed)
    }
}

pub async fn measure(
    url: &str,
    flows: usize,
    concurrency: usize,
    max_connections: u32,
) -> anyhow::Result<BenchResult> {
    let workers = concurrency.clamp(1, MAX_CONCURRENCY).min(flows.max(1));
    let directory = FileDirectory::from_toml(&synthetic_directory(
        workers,
        "console",
        crate::chat::console::WORKSPACE,
        person_id,
    ))
    .context("generated directory")?;
    let catalog = Catalog::from_toml(BENCH_CATALOG).context("bench catalog")?;
    let demo = Demo::with_data(url, max_connections, directory, catalog).await?;
    let reads = Store::connect(url, 2).await?;
    let rig = Arc::new(Rig { demo, reads });
    // Warm-up: first connections, prepared statements, policy engine.
    rig.flow(&person_id(1)).await?;
    let store = rig.demo.engine.store().clone();
    let before = store.stats();
    let started = Instant::now();
    // One worker per person, so `latest` always finds that worker's own request.
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let rig = rig.clone();
        let share = flows / workers + usize::from(w < flows % workers);
        tasks.push(tokio::spawn(async move {
            let person = person_id(w + 1);
            let mut lat = Vec::with_capacity(share);
            for _ in 0..share {
                lat.push(rig.flow(&person).await?);
            }
            anyhow::Ok(lat)
        }));
    }
    let mut lat = Vec::with_capacity(flows);
    for t in tasks {
        lat.extend(t.await??);
    }
    let elapsed = started.elapsed();
    let done = store.stats().since(before);
    rig.reads.close().await;
    store.close().await;
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

pub(super) fn print(name: &str, r: &BenchResult) {
    println!(
        "{name:<10} flows={:<6} elapsed={:>7.2}s {:>8.1} flows/s  p50={:>7.2}ms  p99={:>7.2}ms  statements/flow={:>5.1}  commits/flow={:>4.1}  transactions/flow={:>4.2}",
        r.flows,
        r.elapsed.as_secs_f64(),
        r.per_sec(),
        r.p50.as_secs_f64() * 1000.0,
        r.p99.as_secs_f64() * 1000.0,
        r.per_flow(r.store.statements),
        r.per_flow(r.store.commits),
        r.per_flow(r.store.transactions),
    );
}

pub async fn run(
    flows: usize,
    concurrency: usize,
    postgres: Option<String>,
    max_connections: u32,
) -> anyhow::Result<ExitCode> {
    if concurrency > MAX_CONCURRENCY {
        println!(
            "note: --concurrency {concurrency} is above the maximum of {MAX_CONCURRENCY} (one synthetic person each); running {MAX_CONCURRENCY}"
        );
    }
    let concurrency = concurrency.clamp(1, MAX_CONCURRENCY);
    let flows = flows.max(1);
    println!(
        "warden bench: {flows} complete flows (message → confirmation card → submit → policy → grant → revoke), \
         {} requesters at once, one synthetic person each; pool of {max_connections} connections",
        concurrency.min(flows)
    );
    on_both_databases("warden-bench", postgres, |url| async move {
        measure(&url, flows, concurrency, max_connections).await
    })
    .await
}

/// Runs one measurement on a fresh SQLite file and, when a base URL is given, on a fresh
/// PostgreSQL schema, printing each; both are removed afterwards.
pub(super) async fn on_both_databases<F, Fut>(
    file_prefix: &str,
    postgres: Option<String>,
    measure: F,
) -> anyhow::Result<ExitCode>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<BenchResult>>,
{
    let path = std::env::temp_dir().join(format!(
        "{file_prefix}-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let sqlite = measure(format!("sqlite://{}", path.display())).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    print("sqlite", &sqlite?);
    if let Some(base) = postgres {
        let (url, schema) = crate::store::fresh_postgres_schema(&base, "warden_bench").await?;
        let pg = measure(url).await;
        crate::store::drop_postgres_schema(&base, &schema).await?;
        print("postgres", &pg?);
    } else {
        println!("postgres   skipped (set --postgres or WARDEN_BENCH_POSTGRES)");
    }
    Ok(ExitCode::SUCCESS)
}
