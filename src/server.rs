//! The HTTP server of `warden serve`: health, readiness, metrics, and the routes adapters add.
//!
//! Adapters acknowledge inbound requests at once and hand the work to `AppState::spawn`, which
//! tracks it so a SIGTERM lets in-flight work finish before the process exits.

use crate::workflow::Engine;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Runs work after the platform was answered; tracked for graceful shutdown.
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(work);
    }
}

/// Health, readiness and metrics; adapters merge their own routes into this.
pub fn base_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the database answers and every migration is applied.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.engine.store().ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        ),
        Err(e) => {
            tracing::warn!(error = ?e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "not ready" })),
            )
        }
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut gauges: Vec<(&str, String, f64)> = Vec::new();
    match state.engine.store().count_by_state().await {
        Ok(counts) => {
            for (s, n) in counts {
                gauges.push(("warden_requests", format!("state=\"{s}\""), n as f64));
            }
        }
        Err(e) => tracing::warn!(error = ?e, "metrics: failed to count requests"),
    }
    if let Ok(n) = state.engine.store().inbox_depth().await {
        gauges.push(("warden_inbox_depth", String::new(), n as f64));
    }
    if let Ok(n) = state.engine.store().pending_jobs().await {
        gauges.push(("warden_jobs_pending", String::new(), n as f64));
    }
    match state.engine.store().count_jobs_by_status().await {
        // Dead-lettered jobs need an admin: alert on `warden_jobs{status="dead"} > 0`.
        Ok(counts) => {
            for (status, n) in counts {
                let labels = format!("status=\"{}\"", status.as_str());
                gauges.push(("warden_jobs", labels, n as f64));
            }
        }
        Err(e) => tracing::warn!(error = ?e, "metrics: failed to count jobs"),
    }
    // Open drift: alert on `warden_drift_findings > 0`.
    match state.engine.store().count_open_drift().await {
        Ok(counts) => {
            for (resource, kind, n) in counts {
                let labels = format!(
                    "resource=\"{}\",kind=\"{}\"",
                    crate::workflow::metric_label(&resource),
                    kind.as_str()
                );
                gauges.push(("warden_drift_findings", labels, n as f64));
            }
        }
        Err(e) => tracing::warn!(error = ?e, "metrics: failed to count drift findings"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.engine.metrics().render(&gauges),
    )
}

/// Serves until `state.shutdown` fires, then waits up to `grace` for in-flight work.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    state: AppState,
    grace: Duration,
) -> anyhow::Result<()> {
    // Whatever accepts inbound events also handles them, from the durable inbox. Not one of
    // `tasks` (the work started by requests, which tests wait to drain): it runs until shutdown.
    let inbox = tokio::spawn(state.engine.clone().run_inbox(state.shutdown.clone()));
    let token = state.shutdown.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { token.cancelled().await })
        .await?;
    state.tasks.close();
    let drained = async {
        state.tasks.wait().await;
        let _ = inbox.await;
    };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!("in-flight work did not finish within the shutdown grace period");
    }
    Ok(())
}

/// Resolves on SIGTERM (fly.io deploys) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight work");
}
