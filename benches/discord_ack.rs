//! Ack latency of `POST /discord/interactions` under concurrent signed interactions: the time from
//! sending a signed slash command to receiving Discord's deferred response, while the engine
//! works on the earlier ones in the background. Prints p50/p99; run with
//! `cargo bench --bench discord_ack [-- TOTAL CONCURRENCY]`.

#[path = "../tests/it/support/fakes/discord/mod.rs"]
#[allow(dead_code)]
mod fake;
use fake::interactions as fixtures;

use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CATALOG: &str = r#"
[[resource]]
id = "game-servers"
name = "Game servers console"
roles = ["read"]
owners = ["carol"]
risk = "low"
max_duration = "8h"
default_duration = "1h"
grant = { backend = "discord_role", role = "7001" }
"#;

fn directory() -> String {
    format!(
        "[[person]]\nid = \"alice\"\ndisplay_name = \"Alice Ng\"\naccounts = [{{ platform = \"discord\", workspace = \"{}\", user_id = \"{}\" }}]\n",
        fixtures::GUILD,
        fixtures::ALICE
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let total = args.first().copied().unwrap_or(2000);
    let concurrency = args.get(1).copied().unwrap_or(32);
    warden::app::install_crypto();
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("catalog.toml"), CATALOG)?;
    std::fs::write(dir.path().join("directory.toml"), directory())?;
    let (_fake, fake_url) = fake::FakeDiscord::start().await;
    let keys = Arc::new(fixtures::Keys::generate());
    let mut s = warden::config::Settings::default();
    s.database.url = format!("sqlite://{}", dir.path().join("warden.db").display());
    s.catalog.file = Some(dir.path().join("catalog.toml"));
    s.directory.file = Some(dir.path().join("directory.toml"));
    s.discord.api_url = Some(fake_url);
    s.discord.bot_token = Some(SecretString::from("test-bot-token"));
    s.discord.public_key = Some(keys.public_hex());
    s.discord.guild_id = Some(fixtures::GUILD.into());
    let server = warden::app::Server::build(&s, Arc::new(warden::clock::SystemClock)).await?;
    let (addr, state) = server.spawn_local().await?;
    let url = format!("http://{addr}/discord/interactions");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;

    // Alternate status look-ups and new requests: both ack the same way, both leave engine work.
    let payloads: Vec<Vec<u8>> = (0..total)
        .map(|i| {
            let from = fixtures::From::guild(fixtures::ALICE);
            let p = if i % 2 == 0 {
                fixtures::slash(&from, "status", &[])
            } else {
                fixtures::slash(
                    &from,
                    "request",
                    &[
                        ("resource", "game-servers"),
                        ("role", "read"),
                        ("duration", "1h"),
                    ],
                )
            };
            serde_json::to_vec(&p).expect("fixture serialises")
        })
        .collect();
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(total);
    let mut chunks = payloads
        .chunks(total.div_ceil(concurrency).max(1))
        .map(<[Vec<u8>]>::to_vec)
        .collect::<Vec<_>>();
    let mut workers = Vec::new();
    for chunk in chunks.drain(..) {
        let (client, url, keys) = (client.clone(), url.clone(), keys.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(chunk.len());
            for body in chunk {
                let ts = chrono::Utc::now().timestamp().to_string();
                let sig = keys.sign(&ts, &body);
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .header("x-signature-ed25519", sig)
                    .header("x-signature-timestamp", ts)
                    .body(body)
                    .send()
                    .await
                    .expect("server answers");
                assert_eq!(resp.status().as_u16(), 200);
                let _ = resp.bytes().await;
                out.push(t.elapsed());
            }
            out
        }));
    }
    for w in workers {
        latencies.extend(w.await?);
    }
    let wall = started.elapsed();
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(latencies.len() - 1)]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "discord interactions ack latency ({total} signed slash commands, {concurrency} concurrent, SQLite)"
    );
    println!(
        "  p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms   throughput {:.0} acks/s",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO)),
        total as f64 / wall.as_secs_f64()
    );
    state.shutdown.cancel();
    state.tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(60), state.tasks.wait()).await;
    Ok(())
}
