//! Grant and revoke latency against the fake (not a test of behaviour; run on demand):
//! `cargo test --test it grants_aws::latency -- --ignored --nocapture`.

use super::{ALICE, call, grantor_with, settings, static_keys};
use crate::support::fakes::aws::FakeAws;
use std::time::{Duration, Instant};
use warden::grants::{GrantOp, Grantor};

const ROUNDS: usize = 50;

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::test]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn grant_and_revoke_latency_against_the_fake() {
    let fake = FakeAws::start().await;
    // One status read before an assignment settles, as AWS always answers IN_PROGRESS first;
    // no wait between reads, so the figures are Warden's own cost plus the loopback round trips.
    let s = warden::config::AwsSettings {
        poll_interval_ms: 0,
        ..settings(&fake)
    };
    let g = grantor_with(&s, static_keys());
    let (mut grants, mut revokes) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let receipt = g
            .grant(&call(GrantOp::Grant, None, Some(ALICE)))
            .await
            .unwrap();
        grants.push(started.elapsed());
        let mut revoke = call(GrantOp::Revoke, None, None);
        revoke.grant = Some(receipt);
        let started = Instant::now();
        g.revoke(&revoke).await.unwrap();
        revokes.push(started.elapsed());
        assert!(!fake.holds(ALICE));
    }
    grants.sort();
    revokes.sort();
    println!(
        "aws_identity_center against the fake, {ROUNDS} rounds (2 signed calls each): grant p50 {:?} p95 {:?}; revoke p50 {:?} p95 {:?}",
        percentile(&grants, 50),
        percentile(&grants, 95),
        percentile(&revokes, 50),
        percentile(&revokes, 95)
    );
}
