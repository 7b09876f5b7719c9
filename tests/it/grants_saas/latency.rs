//! Grant and revoke latency of each SaaS backend against its fake (loopback HTTP, token cached
//! after the first call): prints figures, asserts only that every round succeeded. The fakes
//! live with the tests, so this is an ignored test rather than a bench:
//! `cargo test --test it grants_saas::latency -- --ignored --nocapture` (WARDEN_BENCH_ROUNDS,
//! default 200).

use super::{catalog, grant_call, identity, request_id, revoke_call};
use crate::support::fakes::{entra::FakeEntra, github::FakeGitHub, okta::FakeOkta};
use std::time::{Duration, Instant};
use warden::grants::{Grantor, TargetIdentity};

fn rounds() -> usize {
    std::env::var("WARDEN_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn ms(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

async fn measure(name: &str, g: &dyn Grantor, grant: &str, who: TargetIdentity) {
    let cat = catalog(grant);
    let (mut gs, mut rs) = (Vec::new(), Vec::new());
    g.grant(&grant_call(&cat, &request_id(), who.clone()))
        .await
        .expect("warm-up");
    for _ in 0..rounds() {
        let call = grant_call(&cat, &request_id(), who.clone());
        let t = Instant::now();
        let receipt = g.grant(&call).await.expect("grant");
        gs.push(t.elapsed());
        let t = Instant::now();
        g.revoke(&revoke_call(&call, &receipt))
            .await
            .expect("revoke");
        rs.push(t.elapsed());
    }
    for (what, mut xs) in [("grant", gs), ("revoke", rs)] {
        xs.sort();
        println!(
            "{name:<7} {what:<7} n={:<4} p50 {:>6.2} ms  p95 {:>6.2} ms  max {:>6.2} ms",
            xs.len(),
            ms(&xs, 0.5),
            ms(&xs, 0.95),
            ms(&xs, 1.0)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run on demand"]
async fn grant_and_revoke_latency_per_saas_backend() {
    let okta = FakeOkta::start().await;
    okta.user("00ualice", "alice@example.com");
    okta.group("00gbench", &[]);
    let g = super::okta::by_token(&okta);
    measure(
        "okta",
        &g,
        r#"{ backend = "okta", group_id = "00gbench" }"#,
        identity(Some("alice@example.com"), &[]),
    )
    .await;

    let entra = FakeEntra::start().await;
    entra.user("u-alice", "alice@example.com", "alice@example.com");
    entra.group("g-bench", &[]);
    let g = super::entra::grantor(&entra);
    measure(
        "entra",
        &g,
        r#"{ backend = "entra", group_id = "g-bench" }"#,
        identity(Some("alice@example.com"), &[]),
    )
    .await;

    let gh = FakeGitHub::start().await;
    gh.user("alice-gh", true);
    gh.team("bench", &[]);
    let g = super::github::grantor(&gh);
    let grant = format!(
        r#"{{ backend = "github", org = "{}", team = "bench" }}"#,
        crate::support::fakes::github::ORG
    );
    measure(
        "github",
        &g,
        &grant,
        identity(None, &[("github", "alice-gh")]),
    )
    .await;
}
