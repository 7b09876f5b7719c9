//! Engine cost per step, end to end over HTTP: the real server on 127.0.0.1 (SQLite), a fake
//! Slack Web API and a fake model that answers every call after a fixed latency. Prints
//! (a) CPU time of the server's threads per step — message → confirmation card, and Submit →
//! grant — over sequential requests with an instant model, and (b) event → confirmation card
//! time for P people asking at once, as a multiple of the model latency. Figures, not assertions.
//! Run: `cargo bench --bench engine_http -- [--requests 200] [--latency-ms 1000] [--people 20,200]`.

#[path = "../tests/it/support/fakes/llm_wire.rs"]
#[allow(dead_code)]
mod fake_model;

#[path = "engine_http/cpu.rs"]
mod cpu;
#[path = "engine_http/fake_slack.rs"]
mod fake_slack;

use anyhow::Context;
use fake_slack::{Card, FakeSlack, Seen};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use warden::app::Server;
use warden::commands::bench::{BENCH_CATALOG, synthetic_directory};
use warden::config::Settings;
use warden::store::{Store, StoreStats};

const TEAM: &str = "T0WARDEN";
const BOT: &str = "U0WARDENBOT";
const SECRET: &str = "bench-signing-secret";
const ASK: &str = "need edit on the wiki for 2h to fix the onboarding page";
/// The server runtime's thread name: its CPU time is told from the fakes' and the client's by it.
const SERVER_THREADS: &str = "warden-server";
/// Sequential requests run before measuring (connections, prepared statements, policy).
const WARM_UP: usize = 3;

struct Args {
    requests: usize,
    latency: Duration,
    people: Vec<usize>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        requests: 200,
        latency: Duration::from_millis(1000),
        people: vec![20, 200],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--requests" => a.requests = value()?.parse::<usize>()?.max(1),
            "--latency-ms" => a.latency = Duration::from_millis(value()?.parse()?),
            "--people" => {
                a.people = value()?
                    .split(',')
                    .map(|p| p.trim().parse::<usize>().map(|p| p.clamp(1, 1_000)))
                    .collect::<Result<_, _>>()?
            }
            // `cargo bench` passes `--bench` to every harness.
            "--bench" => {}
            other => anyhow::bail!(
                "unknown argument {other}; use --requests N, --latency-ms MS, --people P,P"
            ),
        }
    }
    Ok(a)
}

/// Slack user and DM channel of synthetic person `i` (bench-0001 is U0BENCH0001 in D0BENCH0001).
fn user(i: usize) -> String {
    format!("U0BENCH{i:04}")
}

fn dm(i: usize) -> String {
    format!("D0BENCH{i:04}")
}

fn sign(body: &str, ts: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The bench's side: signed requests to the server, and what the fakes saw.
struct Rig {
    http: reqwest::Client,
    base: String,
    slack: FakeSlack,
    latency_ms: Arc<AtomicU64>,
    seq: AtomicU64,
}

impl Rig {
    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    async fn post(&self, path: &str, content_type: &str, body: String) -> anyhow::Result<()> {
        let ts = chrono::Utc::now().timestamp().to_string();
        let status = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", sign(&body, &ts))
            .body(body)
            .send()
            .await?
            .status();
        anyhow::ensure!(status.is_success(), "{path} answered {status}");
        Ok(())
    }

    /// Person `i` writes to Warden in their DM (an Events API callback as Slack sends it).
    async fn message(&self, i: usize) -> anyhow::Result<()> {
        let n = self.next();
        let ts = format!("1710000000.{n:06}");
        let event = json!({
            "type": "message", "channel": dm(i), "user": user(i), "text": ASK, "ts": ts, "event_ts": ts,
            "channel_type": "im", "client_msg_id": uuid::Uuid::new_v4().to_string(), "team": TEAM,
        });
        let body = json!({
            "token": "ignored", "team_id": TEAM, "api_app_id": "A0WARDEN", "event": event, "type": "event_callback",
            "event_id": format!("EvBENCH{n:08}"), "event_time": chrono::Utc::now().timestamp(),
            "authorizations": [{ "enterprise_id": null, "team_id": TEAM, "user_id": BOT, "is_bot": true, "is_enterprise_install": false }],
            "is_ext_shared_channel": false,
        });
        self.post("/slack/events", "application/json", body.to_string())
            .await
    }

    /// Person `i` presses Submit on their confirmation card (a block_actions payload).
    async fn submit(&self, i: usize, card: &Card) -> anyhow::Result<()> {
        let n = self.next();
        let payload = json!({
            "type": "block_actions", "user": { "id": user(i), "username": person(i), "name": person(i), "team_id": TEAM },
            "api_app_id": "A0WARDEN", "token": "ignored",
            "container": { "type": "message", "message_ts": card.ts, "channel_id": card.channel, "is_ephemeral": false },
            "trigger_id": format!("{}.1.{}", 4_000_000 + n, uuid::Uuid::new_v4().simple()),
            "team": { "id": TEAM, "domain": "warden-bench" }, "enterprise": null, "is_enterprise_install": false,
            "channel": { "id": card.channel, "name": "directmessage" }, "state": { "values": {} },
            "response_url": "https://hooks.slack.com/actions/T0WARDEN/1/abc",
            "actions": [{ "action_id": "warden_submit", "block_id": "warden_actions", "text": { "type": "plain_text", "text": "Submit" },
                "value": card.request_id, "type": "button", "action_ts": format!("{}.000200", 1_710_000_000 + n) }],
        });
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", &payload.to_string())
            .finish();
        self.post(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            body,
        )
        .await
    }

    /// Message → confirmation card for person `i`, waited for at the fake `chat.postMessage`.
    async fn ask(&self, i: usize, wait: Duration) -> anyhow::Result<Card> {
        let from = self.slack.seen();
        self.message(i).await?;
        match self.slack.wait(&dm(i), from, wait).await {
            Some(Seen::Confirmation(card)) => Ok(card),
            other => anyhow::bail!("no confirmation card for {} ({other:?})", person(i)),
        }
    }

    /// Submit → grant for person `i`: the "Access granted" message in their DM.
    async fn grant(&self, i: usize, card: &Card, wait: Duration) -> anyhow::Result<()> {
        let from = self.slack.seen();
        self.submit(i, card).await?;
        match self.slack.wait(&dm(i), from, wait).await {
            Some(Seen::Granted) => Ok(()),
            other => anyhow::bail!("{} was not granted ({other:?})", person(i)),
        }
    }
}

fn person(i: usize) -> String {
    warden::commands::bench::person_id(i)
}

/// CPU of the server's threads and of the process, and the store's counts, at one moment.
struct Snapshot(Option<Duration>, Option<Duration>, StoreStats);

fn snapshot(store: &Store) -> Snapshot {
    Snapshot(
        cpu::server_cpu(SERVER_THREADS),
        cpu::process_cpu(),
        store.stats(),
    )
}

/// (a) CPU per step over `n` sequential requests by people `first..first + n`, model at once.
async fn cpu_per_step(rig: &Rig, store: &Store, first: usize, n: usize) -> anyhow::Result<()> {
    rig.latency_ms.store(0, Ordering::Relaxed);
    let wait = Duration::from_secs(30);
    // Lets a step's trailing work (card bookkeeping, log entries) land inside its own window.
    let settle = || tokio::time::sleep(Duration::from_millis(100));
    let start = snapshot(store);
    let mut cards = Vec::with_capacity(n);
    for i in first..first + n {
        cards.push((i, rig.ask(i, wait).await?));
    }
    settle().await;
    let asked = snapshot(store);
    for (i, card) in &cards {
        rig.grant(*i, card, wait).await?;
    }
    settle().await;
    let granted = snapshot(store);
    println!("(a) CPU per step, {n} sequential requests, model answering at once");
    println!(
        "    {:<30} {:>14} {:>14} {:>11} {:>8}",
        "step", "server threads", "whole process", "statements", "commits"
    );
    let row = |step: &str, a: &Snapshot, b: &Snapshot| {
        let cpu = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
            (Some(a), Some(b)) => format!("{:.2} ms", ms(b.saturating_sub(a)) / n as f64),
            _ => "n/a".into(),
        };
        let counts = b.2.since(a.2);
        println!(
            "    {step:<30} {:>14} {:>14} {:>11.1} {:>8.1}",
            cpu(a.0, b.0),
            cpu(a.1, b.1),
            counts.statements as f64 / n as f64,
            counts.commits as f64 / n as f64
        );
    };
    row("message → confirmation card", &start, &asked);
    row("Submit → grant", &asked, &granted);
    Ok(())
}

/// (b) `p` people write at once; event → confirmation card times, sorted, and how many came.
async fn burst(rig: &Arc<Rig>, first: usize, p: usize, latency: Duration) -> Vec<Duration> {
    rig.latency_ms
        .store(latency.as_millis() as u64, Ordering::Relaxed);
    // Bounded even if the server handled one person at a time.
    let wait = Duration::from_secs(30) + latency * p as u32;
    let from = rig.slack.seen();
    let tasks: Vec<_> = (first..first + p)
        .map(|i| {
            let rig = rig.clone();
            tokio::spawn(async move {
                let sent = Instant::now();
                rig.message(i).await.ok()?;
                match rig.slack.wait(&dm(i), from, wait).await {
                    Some(Seen::Confirmation(card)) => Some(card.at - sent),
                    _ => None,
                }
            })
        })
        .collect();
    let mut times = Vec::with_capacity(p);
    for t in tasks {
        if let Ok(Some(d)) = t.await {
            times.push(d);
        }
    }
    times.sort();
    times
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(args: Args, server_rt: tokio::runtime::Handle) -> anyhow::Result<()> {
    let latency_ms = Arc::new(AtomicU64::new(0));
    let model_url = fake_model_start(latency_ms.clone()).await?;
    let (slack, api_url) = FakeSlack::start().await?;
    let people = WARM_UP + args.requests + args.people.iter().sum::<usize>();
    let dir = tempfile::tempdir()?;
    let directory = dir.path().join("directory.toml");
    std::fs::write(&directory, synthetic_directory(people, "slack", TEAM, user))?;
    let catalog = dir.path().join("catalog.toml");
    std::fs::write(&catalog, BENCH_CATALOG)?;

    let mut s = Settings::default();
    s.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    s.directory.file = Some(directory);
    s.catalog.file = Some(catalog);
    s.slack.api_url = Some(api_url);
    s.slack.bot_token = Some(SecretString::from("xoxb-bench-token"));
    s.slack.signing_secret = Some(SecretString::from(SECRET));
    s.slack.post_interval_ms = 0;
    s.llm.base_url = Some(model_url);
    s.llm.model = Some("bench-model".into());
    s.llm.api_key = Some(SecretString::from("sk-bench"));
    s.llm.timeout_secs = 10 + 3 * args.latency.as_secs();
    // Every message through the model (the parser would read the bench's exact ask alone, and
    // then (b) would not measure the wait for the model at all).
    s.llm.prefer = warden::intake::Prefer::Model;
    // Built on its own runtime, so everything the server spawns runs on its named threads.
    let (addr, state) = server_rt
        .spawn(async move {
            Server::build(&s, Arc::new(warden::clock::SystemClock))
                .await?
                .spawn_local()
                .await
        })
        .await??;
    let rig = Arc::new(Rig {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?,
        base: format!("http://{addr}"),
        slack,
        latency_ms,
        seq: AtomicU64::new(1),
    });
    println!(
        "engine_http: real server on {addr} (SQLite, {} pool connections), fake Slack Web API, fake model; {people} synthetic people",
        Settings::default().database.max_connections
    );
    for i in 1..=WARM_UP {
        let card = rig.ask(i, Duration::from_secs(30)).await?;
        rig.grant(i, &card, Duration::from_secs(30)).await?;
    }
    cpu_per_step(&rig, state.engine.store(), WARM_UP + 1, args.requests).await?;

    let l = args.latency;
    println!(
        "(b) event → confirmation card, people writing at once, model latency {:.0} ms",
        ms(l)
    );
    println!(
        "    {:>6} {:>9} {:>10} {:>10} {:>14} {:>11}",
        "people", "cards", "median", "p99", "median/model", "p99/model"
    );
    let mut first = WARM_UP + args.requests + 1;
    for &p in &args.people {
        let times = burst(&rig, first, p, l).await;
        first += p;
        if times.is_empty() {
            println!("    {p:>6} {:>9} (none arrived in time)", format!("0/{p}"));
            continue;
        }
        let (med, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        let ratio = |d: Duration| {
            if l.is_zero() {
                "n/a".to_string()
            } else {
                format!("{:.2}×", d.as_secs_f64() / l.as_secs_f64())
            }
        };
        println!(
            "    {p:>6} {:>9} {:>8.0}ms {:>8.0}ms {:>14} {:>11}",
            format!("{}/{p}", times.len()),
            ms(med),
            ms(p99),
            ratio(med),
            ratio(p99)
        );
    }
    state.shutdown.cancel();
    Ok(())
}

/// A fake OpenAI-compatible server: every call gets the same valid intent for the bench
/// resource, after the latency currently set.
async fn fake_model_start(latency_ms: Arc<AtomicU64>) -> anyhow::Result<String> {
    let answer = fake_model::intent(json!({
        "resource": "wiki", "role": "edit", "duration": "2h", "justification": "fix the onboarding page"
    }));
    let body = fake_model::completion(&answer).to_string();
    let app = axum::Router::new().fallback(move || {
        let (body, latency) = (body.clone(), latency_ms.load(Ordering::Relaxed));
        async move {
            tokio::time::sleep(Duration::from_millis(latency)).await;
            ([("content-type", "application/json")], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/v1"))
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    warden::app::install_crypto();
    // Blocking threads live on, so a thread's CPU time is not lost with it mid-measurement.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name(SERVER_THREADS)
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()?;
    let bench_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = bench_rt.block_on(run(args, server_rt.handle().clone()));
    server_rt.shutdown_timeout(Duration::from_secs(2));
    bench_rt.shutdown_timeout(Duration::from_secs(2));
    result
}
