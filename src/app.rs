//! The composition root: settings in, a ready engine out. Nothing else reads configuration.

use crate::chat::ChatPort;
use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::Directory;
use crate::directory::file::FileDirectory;
use crate::domain::Catalog;
use crate::grants::GrantorRegistry;
use crate::grants::log::LogGrantor;
use crate::grants::webhook::WebhookGrantor;
use crate::intake::{Intake, ParserIntake};
use crate::metrics::Metrics;
use crate::policy::PolicyEngine;
use crate::store::Store;
use crate::workflow::{Engine, EngineParts, WorkflowOptions};
use anyhow::Context;
use std::sync::Arc;
use std::time::Duration;

pub use crate::examples::{EXAMPLE_CATALOG, EXAMPLE_DIRECTORY};
pub use crate::http_client::install_crypto;

/// The key that chains context logs, if configured (never stored in the database).
pub fn chain_key(s: &Settings) -> Option<crate::store::ChainKey> {
    crate::store::ChainKey::from_setting(s.evidence.chain_key.as_ref())
}

pub fn load_catalog(s: &Settings) -> anyhow::Result<Catalog> {
    let text = match &s.catalog.file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("Failed to read catalog.file {}", p.display()))?,
        None => EXAMPLE_CATALOG.to_string(),
    };
    Catalog::from_toml(&text).context("Invalid catalog")
}

pub fn load_directory(s: &Settings) -> anyhow::Result<Arc<dyn Directory>> {
    match s.directory.kind.as_str() {
        "scim" => crate::directory::scim::from_settings(&s.directory),
        _ => {
            let text = match &s.directory.file {
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("Failed to read directory.file {}", p.display()))?,
                None => EXAMPLE_DIRECTORY.to_string(),
            };
            Ok(Arc::new(
                FileDirectory::from_toml(&text).context("Invalid directory file")?,
            ))
        }
    }
}

pub fn build_policy(s: &Settings) -> anyhow::Result<Arc<dyn PolicyEngine>> {
    use crate::policy::{authzen::AuthzenPolicy, embedded::EmbeddedPolicy, opa::OpaPolicy};
    let timeout = Duration::from_millis(s.policy.timeout_ms);
    let url = || -> anyhow::Result<url::Url> {
        let raw = s
            .policy
            .url
            .as_deref()
            .context("policy.url is required for this engine")?;
        url::Url::parse(raw).context("policy.url is not a valid URL")
    };
    Ok(match s.policy.engine.as_str() {
        "opa" => Arc::new(OpaPolicy::new(url()?, &s.policy.path, timeout)?),
        "authzen" => Arc::new(AuthzenPolicy::new(url()?, s.policy.token.clone(), timeout)?),
        _ => {
            let mut p = match &s.policy.file {
                Some(f) => EmbeddedPolicy::from_file(f)?,
                None => EmbeddedPolicy::shipped()?,
            };
            if let Some(d) = &s.policy.data_file {
                let text = std::fs::read_to_string(d)
                    .with_context(|| format!("Failed to read policy.data_file {}", d.display()))?;
                p = p.with_data(
                    serde_json::from_str(&text).context("policy.data_file is not valid JSON")?,
                )?;
            }
            Arc::new(p)
        }
    })
}

/// The model intake when `llm.base_url` is set (the parser stays the fallback), else the parser.
pub fn build_intake(s: &Settings, metrics: Arc<Metrics>) -> anyhow::Result<Arc<dyn Intake>> {
    if s.llm.base_url.is_some() {
        let llm = crate::intake::llm::LlmIntake::from_settings(&s.llm, metrics)
            .context("Failed to set up the model intake")?;
        return Ok(Arc::new(llm));
    }
    Ok(Arc::new(ParserIntake))
}

pub fn build_grantors(s: &Settings) -> anyhow::Result<GrantorRegistry> {
    let mut reg = GrantorRegistry::default().with(Arc::new(LogGrantor));
    if let (Some(url), Some(secret)) = (&s.grants.webhook_url, &s.grants.webhook_secret) {
        let url = url::Url::parse(url).context("grants.webhook_url is not a valid URL")?;
        reg.register(Arc::new(WebhookGrantor::new(
            url,
            secret.clone(),
            Duration::from_millis(s.grants.webhook_timeout_ms),
        )?));
    }
    Ok(reg)
}

/// Everything an engine needs besides the chat adapters.
pub struct Wiring {
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub directory: Arc<dyn Directory>,
    pub policy: Arc<dyn PolicyEngine>,
    pub intake: Arc<dyn Intake>,
    pub grantors: GrantorRegistry,
    pub metrics: Arc<Metrics>,
    pub options: WorkflowOptions,
}

impl Wiring {
    pub async fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        install_crypto();
        let problems = s.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "invalid configuration:\n  - {}",
            problems.join("\n  - ")
        );
        let metrics = Arc::new(Metrics::default());
        let store = Store::open(&s.database.url, s.database.max_connections)
            .await?
            .with_chain_key(chain_key(s));
        Ok(Self {
            store,
            catalog: Arc::new(load_catalog(s)?),
            directory: crate::chat::slack::directory(s, load_directory(s)?)?,
            policy: build_policy(s)?,
            intake: build_intake(s, metrics.clone())?,
            grantors: build_grantors(s)?,
            metrics,
            options: WorkflowOptions::from_settings(&s.workflow),
        })
    }

    pub fn into_engine(self, chats: Vec<Arc<dyn ChatPort>>, clock: Arc<dyn Clock>) -> Engine {
        Engine::new(EngineParts {
            store: self.store,
            catalog: self.catalog,
            directory: self.directory,
            policy: self.policy,
            intake: self.intake,
            grantors: self.grantors,
            chats,
            clock,
            options: self.options,
            metrics: self.metrics,
        })
    }
}

/// The whole service, composed but not yet listening: `warden serve` binds it to
/// `server.listen`; tests bind it to port 0.
pub struct Server {
    pub router: axum::Router,
    pub state: crate::server::AppState,
}

impl Server {
    pub async fn build(s: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let mut wiring = Wiring::from_settings(s).await?;
        let mut chats: Vec<Arc<dyn ChatPort>> = Vec::new();
        // Chat adapters register their outbound client and their grant backends here.
        adapters::outbound(s, &mut chats, &mut wiring.grantors)?;
        let engine = Arc::new(wiring.into_engine(chats, clock));
        let state = crate::server::AppState::new(engine);
        // …and their inbound routes here.
        let router = adapters::routes(s, &state)?;
        Ok(Self { router, state })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.state.engine
    }

    /// Binds 127.0.0.1 on a free port and serves in the background (tests, benchmarks).
    /// Stop it with `state.shutdown.cancel()`.
    pub async fn spawn_local(
        self,
    ) -> anyhow::Result<(std::net::SocketAddr, crate::server::AppState)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = self.state.clone();
        tokio::spawn(crate::server::serve(
            listener,
            self.router,
            self.state,
            Duration::from_secs(5),
        ));
        Ok((addr, state))
    }
}

/// Where platform adapters plug in; each is enabled by its own settings.
mod adapters {
    use super::*;

    pub fn outbound(
        s: &Settings,
        chats: &mut Vec<Arc<dyn ChatPort>>,
        grantors: &mut GrantorRegistry,
    ) -> anyhow::Result<()> {
        crate::chat::slack::outbound(s, chats, grantors)?;
        crate::chat::discord::outbound(s, chats, grantors)?;
        Ok(())
    }

    pub fn routes(s: &Settings, state: &crate::server::AppState) -> anyhow::Result<axum::Router> {
        let router = crate::server::base_router(state.clone());
        // Admin UI and API: always mounted, always behind a token (see src/admin/mod.rs).
        let router = router.merge(crate::admin::routes(s, state)?);
        let router = crate::chat::slack::routes(s, state, router)?;
        let router = crate::chat::discord::routes(s, state, router)?;
        Ok(router)
    }
}
