//! Admin review: the `/admin` web UI, the `/api/v1` JSON API, SIEM export and retention.
//!
//! Both surfaces are always mounted and always require a token from `admin.tokens_file`
//! (without a file nobody can sign in, so they fail closed). Roles: `viewer` reads everything,
//! `admin` also revokes grants, `requester` reads only their own requests.

use crate::config::Settings;
use crate::server::AppState;
use axum::Router;
use std::sync::Arc;

mod agents;
pub mod anchor;
pub mod anchor_check;
mod api;
mod auth;
mod drift;
mod errors;
pub mod export;
mod filters;
mod freezes;
mod jobs;
mod pages;
pub mod passkeys;
pub mod prune;
mod replay;
pub mod retention;
pub mod session;
pub mod siem;
pub mod sso;
mod templates;
pub mod token_source;
pub mod tokens;
mod view;

pub use tokens::{Principal, Role, TokenSet};

/// What admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub app: AppState,
    /// Read again whenever the file changes (see `token_source`).
    pub tokens: token_source::TokenSource,
    pub key: session::SessionKey,
    pub templates: Arc<handlebars::Handlebars<'static>>,
    /// Single sign-on through `[sso]`, when configured.
    pub sso: Option<Arc<sso::Sso>>,
    /// Passkeys, wherever SSO gives Warden a public origin.
    pub passkeys: Option<Arc<passkeys::RelyingParty>>,
}

impl AdminState {
    pub fn new(s: &Settings, app: AppState) -> anyhow::Result<Self> {
        if s.admin.tokens_file.is_none() && s.sso.issuer.is_none() {
            tracing::warn!(
                "admin.tokens_file is not set: the admin UI and API refuse everyone until tokens are configured"
            );
        }
        Ok(Self {
            app,
            tokens: token_source::TokenSource::load(s.admin.tokens_file.clone())?,
            key: session::SessionKey::from_setting(s.admin.session_secret.as_ref()),
            templates: Arc::new(templates::registry()?),
            sso: sso::Sso::from_settings(&s.sso, &s.transport.allow_http_hosts)?.map(Arc::new),
            passkeys: passkeys::RelyingParty::from_public_url(s.sso.redirect_url.as_deref())?
                .map(Arc::new),
        })
    }

    pub fn now_ms(&self) -> i64 {
        self.app.engine.clock().now_ms()
    }
}

/// The admin UI and API routes, ready to merge into the server's router.
pub fn routes(s: &Settings, app: &AppState) -> anyhow::Result<Router> {
    let state = AdminState::new(s, app.clone())?;
    Ok(Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .merge(jobs::routes())
        .merge(drift::routes())
        .merge(replay::routes())
        .merge(freezes::routes())
        .merge(agents::routes())
        .merge(sso::routes::routes())
        .merge(passkeys::routes::routes())
        .merge(passkeys::step_up::routes())
        .merge(passkeys::freeze_step_up::routes())
        .layer(axum::middleware::from_fn(pages::security_headers))
        .with_state(state))
}

/// The anchorer `evidence.anchor_file` and the SIEM configure, if any.
pub fn anchorer(s: &Settings, app: &AppState) -> anyhow::Result<Option<anchor::Anchorer>> {
    let found = anchor::Anchorer::new(
        app.engine.clone(),
        s.evidence.anchor_file.clone(),
        siem::SiemTarget::from_settings(&s.admin)?,
    )?;
    match (&found, app.engine.store().chain_key()) {
        (None, Some(_)) => tracing::warn!(
            "evidence.chain_key is set but nothing anchors the chain heads: set evidence.anchor_file (or admin.siem_url) so a deleted or rewritten request is detected"
        ),
        (None, None) => tracing::warn!(
            "neither evidence.chain_key nor evidence.anchor_file is set: anyone with database access can rewrite the context logs undetected"
        ),
        _ => {}
    }
    Ok(found)
}

/// Background work of `warden serve`: pruning de-duplication records, and the SIEM shipper and
/// the retention purge when configured.
pub fn spawn_background(s: &Settings, app: &AppState) -> anyhow::Result<()> {
    if let Some(shipper) = export::SiemShipper::from_settings(app.engine.store().clone(), &s.admin)?
    {
        app.spawn(shipper.run(std::time::Duration::from_secs(2), app.shutdown.clone()));
        tracing::info!("SIEM export enabled");
    }
    let window = chrono::Duration::seconds(crate::config::secs(&s.workflow.dedup_window) as i64);
    let pruner = prune::DedupPruner::new(app.engine.clone(), window);
    app.spawn(pruner.run(std::time::Duration::from_secs(3600), app.shutdown.clone()));
    if s.admin.retention_days > 0 {
        let job = retention::Retention::new(app.engine.clone(), s.admin.retention_days)
            .export_required(s.admin.siem_url.is_some());
        app.spawn(job.run(std::time::Duration::from_secs(3600), app.shutdown.clone()));
        tracing::info!(days = s.admin.retention_days, "retention purge enabled");
    }
    Ok(())
}
