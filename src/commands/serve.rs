//! `warden serve`: recovery, then the HTTP server and the scheduler until SIGTERM.

use crate::app::Server;
use crate::clock::SystemClock;
use crate::config::Loaded;
use crate::server::{serve, shutdown_signal};
use anyhow::Context;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(loaded: Loaded) -> anyhow::Result<ExitCode> {
    let s = &loaded.settings;
    tracing::info!(config = ?loaded.file, listen = %s.server.listen, policy = %s.policy.engine, "starting warden");
    let server = Server::build(s, Arc::new(SystemClock)).await?;
    let engine = server.engine().clone();
    // Overdue grants are revoked before anything else happens.
    let ran = engine.recover().await.context("Start-up recovery failed")?;
    tracing::info!(jobs = ran, "recovery complete");
    engine
        .arm_reconcile()
        .await
        .context("Failed to arm drift reconciliation")?;
    let listener = tokio::net::TcpListener::bind(&s.server.listen)
        .await
        .with_context(|| format!("Failed to bind {}", s.server.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let state = server.state.clone();
    crate::admin::spawn_background(s, &state)?;
    let anchors = crate::admin::anchorer(s, &state)?;
    if let Some(a) = &anchors {
        state.spawn(a.clone().run(
            Duration::from_secs(s.evidence.anchor_interval_secs),
            state.shutdown.clone(),
        ));
    }
    let scheduler = tokio::spawn(engine.clone().run_scheduler(
        Duration::from_millis(s.workflow.scheduler_interval_ms),
        state.shutdown.clone(),
    ));
    let token = state.shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        token.cancel();
    });
    serve(
        listener,
        server.router,
        state,
        Duration::from_secs(s.server.shutdown_grace_secs),
    )
    .await?;
    let _ = scheduler.await;
    // The last anchor, after the last in-flight commit.
    if let Some(a) = &anchors {
        match a.anchor_final().await {
            Ok(n) => tracing::info!(heads = n, "chain heads anchored at shutdown"),
            Err(e) => tracing::error!(error = ?e, "could not anchor the chain heads at shutdown"),
        }
    }
    engine.store().close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
