//! Revoking every active grant in a frozen scope, concurrently and through the one revoke path,
//! with progress for each revoke and a summary of what still holds access.

use super::{Engine, Handled, UserError};
use crate::domain::{Freeze, Request, RequestState};
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;

/// Revokes run at once when a freeze revokes, unless the caller says otherwise.
pub const DEFAULT_REVOKE_CONCURRENCY: usize = 8;

/// How one revoke of a freeze ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeOutcome {
    /// The backend removed the access; the request is revoked.
    Revoked,
    /// The request was no longer active when its turn came (expired or revoked meanwhile).
    AlreadyEnded,
    /// The backend failed; the revoke job keeps retrying with alerts, access is still in place.
    Retrying,
    /// Warden could not start the revoke (see the log).
    Error,
}

/// One revoke done, for progress reports.
#[derive(Debug, Clone, Serialize)]
pub struct RevokeProgress {
    pub done: usize,
    pub total: usize,
    pub request_id: String,
    pub outcome: RevokeOutcome,
}

/// What a freeze's revoke did, in counts and the requests that still hold access.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RevokeSummary {
    pub total: usize,
    pub revoked: usize,
    pub already_ended: usize,
    /// Requests whose access is still in place (backend failing, retried by the scheduler).
    pub still_active: Vec<String>,
    pub elapsed_ms: u128,
}

impl Engine {
    /// Revokes every active grant in `freeze`'s scope, `concurrency` at a time, each through
    /// `revoke_early` (its revoke job `<id>:revoke` is the backend's idempotency key, so each
    /// grant is revoked once) and logged in its request's context log with `actor` and the
    /// freeze's reference and reason. `progress` hears about each revoke as it ends.
    pub async fn revoke_frozen(
        self: &Arc<Self>,
        freeze: &Freeze,
        actor: &str,
        concurrency: usize,
        progress: &(dyn Fn(&RevokeProgress) + Sync),
    ) -> anyhow::Result<RevokeSummary> {
        let started = std::time::Instant::now();
        let active: Vec<Request> = self
            .store
            .active_grants(i64::MAX)
            .await?
            .into_iter()
            .filter(|r| freeze.scope.covers(r.subject(), r.resource()))
            .collect();
        let total = active.len();
        let reason = format!("frozen ({}): {}", freeze.id, freeze.reason);
        tracing::warn!(freeze = %freeze.id, total, "revoking every active grant in the frozen scope");
        let mut summary = RevokeSummary {
            total,
            ..Default::default()
        };
        let mut ends = futures::stream::iter(active)
            .map(|req| {
                // Each revoke on its own task: it starts at the bottom of a worker's stack (a
                // revoke runs its job inline, deep on PostgreSQL), and it finishes even if the
                // caller goes away (an HTTP client that disconnects).
                let (engine, actor, reason) = (self.clone(), actor.to_string(), reason.clone());
                let id = req.id.to_string();
                async move {
                    let task =
                        tokio::spawn(async move { engine.revoke_one(req, &actor, &reason).await });
                    task.await.unwrap_or_else(|e| {
                        tracing::error!(request = %id, error = ?e, "a freeze's revoke task failed");
                        (id, RevokeOutcome::Error)
                    })
                }
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((id, outcome)) = ends.next().await {
            match outcome {
                RevokeOutcome::Revoked => summary.revoked += 1,
                RevokeOutcome::AlreadyEnded => summary.already_ended += 1,
                RevokeOutcome::Retrying | RevokeOutcome::Error => {
                    summary.still_active.push(id.clone())
                }
            }
            let done = summary.revoked + summary.already_ended + summary.still_active.len();
            progress(&RevokeProgress {
                done,
                total,
                request_id: id,
                outcome,
            });
        }
        summary.elapsed_ms = started.elapsed().as_millis();
        Ok(summary)
    }

    async fn revoke_one(&self, req: Request, actor: &str, reason: &str) -> (String, RevokeOutcome) {
        let id = req.id.to_string();
        let outcome = match self.revoke_early(&req, actor, reason, None).await {
            Ok(Handled::Done | Handled::Duplicate | Handled::Refused(_)) => {
                match self.store.get_request(&id).await {
                    Ok(Some(r)) if r.state == RequestState::Active => RevokeOutcome::Retrying,
                    Ok(Some(r)) if r.state == RequestState::Revoked => RevokeOutcome::Revoked,
                    Ok(Some(_)) => RevokeOutcome::AlreadyEnded,
                    Ok(None) | Err(_) => RevokeOutcome::Error,
                }
            }
            Err(e) if e.downcast_ref::<UserError>().is_some() => RevokeOutcome::AlreadyEnded,
            Err(e) => {
                tracing::error!(request = %id, error = ?e, "a freeze could not revoke this grant");
                RevokeOutcome::Error
            }
        };
        (id, outcome)
    }
}
