//! Slack ack latency: sends N signed Events API callbacks to the running server at a steady
//! rate, all in flight concurrently, and prints acknowledgement latency p50/p99 and events per
//! second. The engine's work (a request, its card) runs in the background meanwhile, as in
//! production. Run: `cargo bench --bench slack_ack -- [N] [events per second]`.
//! `cargo bench --bench slack_ack -- burst [N=50000] [connections=256]`: N distinct events at full
//! speed, with ack latency and resident memory during and after.

#[path = "../tests/it/support/fakes/slack.rs"]
#[allow(dead_code)]
mod fake_slack;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden::app::Server;
use warden::config::Settings;

const SECRET: &str = "bench-signing-secret";

fn sign(body: &str, ts: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// A DM asking for access (the engine makes a request and posts a card), or, with `bot`, a bot's
/// message, which is verified and parsed but then ignored: the acknowledgement path alone.
fn event(i: usize, bot: bool) -> String {
    let mut ev = serde_json::json!({ "type": "message", "channel": "D0ALICE", "channel_type": "im", "user": "U0ALICE",
        "text": "need read on staging db for 1h", "ts": format!("1710000000.{i:06}"), "event_ts": format!("1710000000.{i:06}") });
    if bot {
        ev["subtype"] = "bot_message".into();
        ev["bot_id"] = "B0OTHER".into();
    }
    serde_json::json!({
        "token": "ignored", "team_id": "T0WARDEN", "api_app_id": "A0WARDEN", "type": "event_callback",
        "event_id": format!("EvBENCH{}{i:08}", if bot { "B" } else { "U" }), "event_time": chrono::Utc::now().timestamp(),
        "authorizations": [{ "team_id": "T0WARDEN", "user_id": "U0WARDENBOT", "is_bot": true }], "event": ev,
    })
    .to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Offers `n` signed events at `rate` per second, all concurrently in flight; prints the figures.
async fn phase(
    label: &str,
    url: &str,
    client: &reqwest::Client,
    n: usize,
    rate: usize,
    bot: bool,
) -> anyhow::Result<()> {
    // Bodies are signed up front: the timing covers only the request and its acknowledgement.
    let ts = chrono::Utc::now().timestamp().to_string();
    let signed: Vec<(String, String)> = (0..n)
        .map(|i| event(i, bot))
        .map(|b| (sign(&b, &ts), b))
        .collect();
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::with_capacity(n);
    for (i, (sig, body)) in signed.into_iter().enumerate() {
        tokio::time::sleep_until((started + gap * i as u32).into()).await;
        let (client, url, ts) = (client.clone(), url.to_string(), ts.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let resp = client
                .post(&url)
                .header("content-type", "application/json")
                .header("x-slack-request-timestamp", ts)
                .header("x-slack-signature", sig)
                .body(body)
                .send()
                .await;
            (t.elapsed(), resp.map(|r| r.status().as_u16()).unwrap_or(0))
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    let mut failed = 0;
    for t in tasks {
        let (d, status) = t.await?;
        failed += usize::from(status != 200);
        latencies.push(d);
    }
    let wall = started.elapsed();
    latencies.sort();
    println!("{label}: {n} signed events offered at {rate}/s");
    println!("  acknowledged: {} ok, {failed} failed", n - failed);
    println!(
        "  ack latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[n - 1])
    );
    println!(
        "  throughput: {:.0} events/s acknowledged ({:.2} s wall)",
        n as f64 / wall.as_secs_f64(),
        wall.as_secs_f64()
    );
    Ok(())
}

/// This process's resident memory, from `/proc/self/status` (the server runs in-process).
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `n` distinct signed events as fast as `in_flight` connections carry them, while resident
/// memory is sampled; then memory again once the burst is over. Every acknowledged event is on
/// disk (the durable inbox) and the engine works through them at its own pace.
async fn burst(
    url: &str,
    client: &reqwest::Client,
    n: usize,
    in_flight: usize,
) -> anyhow::Result<()> {
    use futures::StreamExt;
    let before = rss_mb();
    let peak = Arc::new(std::sync::Mutex::new(before));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                let now = rss_mb();
                {
                    let mut p = peak.lock().unwrap();
                    *p = p.max(now);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    let results: Vec<(Duration, u16)> = futures::stream::iter(0..n)
        .map(|i| {
            let (client, url) = (client.clone(), url.to_string());
            async move {
                // Signed as it is sent: a burst longer than Slack's 5-minute window stays valid.
                let ts = chrono::Utc::now().timestamp().to_string();
                let body = event(1_000_000 + i, false);
                let sig = sign(&body, &ts);
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("x-slack-request-timestamp", ts)
                    .header("x-slack-signature", sig)
                    .body(body)
                    .send()
                    .await;
                (t.elapsed(), resp.map(|r| r.status().as_u16()).unwrap_or(0))
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await;
    let wall = started.elapsed();
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    sampler.await?;
    let failed = results.iter().filter(|(_, s)| *s != 200).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    println!("slack_ack burst: {n} distinct signed events, {in_flight} connections at full speed");
    println!(
        "  acknowledged: {} ok, {failed} failed, in {:.1} s ({:.0}/s)",
        n - failed,
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64()
    );
    println!(
        "  ack latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[n - 1])
    );
    let peak = *peak.lock().unwrap();
    println!("  resident memory: {before:.0} MB before, {peak:.0} MB peak during the burst");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let burst_mode = std::env::args().any(|a| a == "burst");
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(2000);
    let rate = args.get(1).copied().unwrap_or(1000);
    warden::app::install_crypto();
    let dir = tempfile::tempdir()?;
    let (_fake, api_url) = fake_slack::FakeSlack::start().await;
    let mut s = Settings::default();
    s.database.url = format!("sqlite://{}", dir.path().join("bench.db").display());
    s.directory.file =
        Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/slack/directory.toml").into());
    s.slack.api_url = Some(api_url);
    s.slack.bot_token = Some(SecretString::from("xoxb-test-token"));
    s.slack.signing_secret = Some(SecretString::from(SECRET));
    s.slack.post_interval_ms = 0;
    let server = Server::build(&s, Arc::new(warden::clock::SystemClock)).await?;
    let (addr, state) = server.spawn_local().await?;
    let url = format!("http://{addr}/slack/events");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()?;
    if burst_mode {
        let n = args.first().copied().unwrap_or(50_000);
        burst(&url, &client, n, args.get(1).copied().unwrap_or(256)).await?;
        let store = state.engine.store().clone();
        for secs in [10u64, 30] {
            tokio::time::sleep(Duration::from_secs(if secs == 10 { 10 } else { 20 })).await;
            println!(
                "  {secs} s after the burst: {:.0} MB resident, {} events still in the inbox",
                rss_mb(),
                store.inbox_depth().await?
            );
        }
        state.shutdown.cancel();
        return Ok(());
    }

    phase(
        "slack_ack, acknowledgement only (verified, parsed, ignored)",
        &url,
        &client,
        n,
        rate,
        true,
    )
    .await?;
    phase(
        "slack_ack, with engine work (SQLite request + card per event, in the background)",
        &url,
        &client,
        n,
        rate,
        false,
    )
    .await?;
    let drain = Instant::now();
    let handled = || {
        state
            .engine
            .metrics()
            .counter("warden_events_total", "result=\"ok\"")
    };
    while handled() < n as u64 && drain.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "  background: {} of {n} events handled by the engine, {:.1} s after the last ack",
        handled(),
        drain.elapsed().as_secs_f64()
    );
    state.shutdown.cancel();
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
