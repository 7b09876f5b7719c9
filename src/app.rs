//! The composition root: settings in, a ready engine out. Nothing else reads configuration.

use crate::chat::ChatPort;
use crate::clock::Clock;
use crate::config::Settings;
use crate::directory::Directory;
use crate::directory::file::FileDirectory;
use crate::domain::{AgentRegistry, Catalog};
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

/// The agent registry, validated against the catalog. No `agents.file`: no agents.
pub fn load_agents(s: &Settings, catalog: &Catalog) -> anyhow::Result<AgentRegistry> {
    let Some(p) = &s.agents.file else {
        return Ok(AgentRegistry::default());
    };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("Failed to read agents.file {}", p.display()))?;
    AgentRegistry::from_toml(&text, catalog).context("Invalid agent registry")
}

/// Agents whose owner is not an active person in the directory, and agents whose id is also a
/// person's id, in plain words. An agent is only as accountable as its owner, and agent ids and
/// person ids must never name the same requester, so `config check` refuses these.
pub async fn agent_owner_problems(
    agents: &AgentRegistry,
    directory: &dyn Directory,
) -> Vec<String> {
    let mut out = Vec::new();
    for a in agents.agents() {
        match directory.person(&a.id).await {
            Ok(None) => {}
            Ok(Some(_)) => out.push(format!(
                "agent '{}': the id is also a person's id in the directory; agent and person ids must differ",
                a.id
            )),
            Err(e) => out.push(format!(
                "agent '{}': cannot check the id against the directory: {e}",
                a.id
            )),
        }
        match directory.person(&a.owner).await {
            Ok(Some(p)) if p.active => {}
            Ok(Some(_)) => out.push(format!(
                "agent '{}': owner '{}' is not active in the directory",
                a.id, a.owner
            )),
            Ok(None) => out.push(format!(
                "agent '{}': owner '{}' is not in the directory",
                a.id, a.owner
            )),
            Err(e) => out.push(format!(
                "agent '{}': cannot look up owner '{}': {e}",
                a.id, a.owner
            )),
        }
    }
    out
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

/// The policy engine. An AuthZEN PDP is discovered from its metadata here, so a PDP that
/// cannot be trusted stops start-up (and fails `config check`) instead of denying later.
pub async fn build_policy(s: &Settings) -> anyhow::Result<Arc<dyn PolicyEngine>> {
    use crate::policy::{authzen::AuthzenPolicy, embedded::EmbeddedPolicy, opa::OpaPolicy};
    let timeout = Duration::from_millis(s.policy.timeout_ms);
    let parse = |key: &str, raw: Option<&str>| -> anyhow::Result<url::Url> {
        let raw = raw.with_context(|| format!("{key} is required for this engine"))?;
        url::Url::parse(raw).with_context(|| format!("{key} is not a valid URL"))
    };
    let token = s.policy.token.clone();
    ensure_transport(s, "policy.")?;
    Ok(match s.policy.engine.as_str() {
        "opa" => Arc::new(
            OpaPolicy::new(
                parse("policy.url", s.policy.url.as_deref())?,
                &s.policy.path,
                timeout,
            )?
            .with_token(token),
        ),
        "authzen" => match s.policy.evaluation_url.as_deref() {
            Some(endpoint) => Arc::new(AuthzenPolicy::with_endpoint(
                parse("policy.evaluation_url", Some(endpoint))?,
                token,
                timeout,
            )?),
            None => Arc::new(
                AuthzenPolicy::discover(
                    parse("policy.url", s.policy.url.as_deref())?,
                    token,
                    timeout,
                    &s.transport.allow_http_hosts,
                )
                .await?,
            ),
        },
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

/// The transport rule (`Settings::transport_problems`) for the URLs under `prefix`, for
/// commands that build a client without `Wiring` (`policy eval`, `eval`).
fn ensure_transport(s: &Settings, prefix: &str) -> anyhow::Result<()> {
    let problems = s.transport_problems(prefix);
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
    Ok(())
}

/// The model intake when `llm.base_url` is set (the parser stays the fallback), else the parser.
pub fn build_intake(s: &Settings, metrics: Arc<Metrics>) -> anyhow::Result<Arc<dyn Intake>> {
    if s.llm.base_url.is_some() {
        ensure_transport(s, "llm.")?;
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
    register_database_grantors(s, &mut reg)?;
    register_saas_grantors(s, &mut reg)?;
    if s.grants.aws.enabled() {
        let source = crate::grants::aws::credentials::CredentialSource::from_env(
            &s.grants.aws.role_session_name,
        )
        .context("grants.aws is set but AWS credentials are not")?;
        reg.register(Arc::new(crate::grants::aws::from_settings(
            &s.grants.aws,
            source,
        )?));
    }
    Ok(reg)
}

/// The `okta`, `entra` and `github` membership backends, each when its section is set.
fn register_saas_grantors(s: &Settings, reg: &mut GrantorRegistry) -> anyhow::Result<()> {
    use crate::grants::saas::setup;
    let allow = &s.transport.allow_http_hosts;
    if let Some(o) = &s.grants.okta {
        reg.register(Arc::new(setup::okta(o, allow)?));
    }
    if let Some(e) = &s.grants.entra {
        reg.register(Arc::new(setup::entra(e, allow)?));
    }
    if let Some(g) = &s.grants.github {
        reg.register(Arc::new(setup::github(g, allow)?));
    }
    Ok(())
}

/// The `postgres` and `mysql` backends, each over the servers of its engine.
fn register_database_grantors(s: &Settings, reg: &mut GrantorRegistry) -> anyhow::Result<()> {
    use crate::grants::database::{ServerConfig, mysql::MySqlGrantor, postgres::PostgresGrantor};
    let (mut pg, mut my) = (Vec::new(), Vec::new());
    for (name, server) in &s.grants.databases {
        let config = ServerConfig::from_settings(name, server)?;
        match server.engine.as_str() {
            "postgres" => pg.push(config),
            "mysql" => my.push(config),
            other => {
                anyhow::bail!("grants.databases.{name}.engine `{other}` is not postgres or mysql")
            }
        }
    }
    if !pg.is_empty() {
        reg.register(Arc::new(PostgresGrantor::new(pg)?));
    }
    if !my.is_empty() {
        reg.register(Arc::new(MySqlGrantor::new(my)?));
    }
    Ok(())
}

/// The platform clients, built once per process and shared by every caller (chat port, grant
/// backend, inbound handlers, directory), so each keeps one rate-limit state for its workspace
/// or bot.
#[derive(Default)]
pub struct ChatClients {
    pub slack: Option<Arc<crate::chat::slack::api::SlackApi>>,
    pub discord: Option<Arc<crate::chat::discord::DiscordRest>>,
}

impl ChatClients {
    pub fn from_settings(s: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            slack: crate::chat::slack::api_from_settings(s)?,
            discord: match crate::chat::discord::enabled(s) {
                true => Some(crate::chat::discord::rest(s)?),
                false => None,
            },
        })
    }
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
    pub clients: ChatClients,
    /// Registered agents (`agents.file`); empty when none is configured.
    pub agents: Arc<AgentRegistry>,
    /// Seals credentials for agents (`agents.credential_key`).
    pub credential_key: Option<Arc<crate::domain::SealingKey>>,
    /// Where passkey step-up links point, when SSO gives Warden a passkey origin.
    pub step_up_origin: Option<String>,
    /// Who is on call now (`[oncall]`), cached; `None` when no source is configured.
    pub oncall: Option<Arc<crate::oncall::CachedOnCall>>,
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
        let clients = ChatClients::from_settings(s)?;
        let catalog = load_catalog(s)?;
        let agents = Arc::new(load_agents(s, &catalog)?);
        let unsealable = crate::agents::credential_problems(s, &agents, &catalog);
        anyhow::ensure!(
            unsealable.is_empty(),
            "invalid configuration:\n  - {}",
            unsealable.join("\n  - ")
        );
        let credential_key = crate::agents::credential_key(s)?;
        let step_up_origin = step_up_origin(s)?;
        Ok(Self {
            store,
            catalog: Arc::new(catalog),
            directory: crate::chat::slack::directory(s, load_directory(s)?, clients.slack.as_ref()),
            policy: build_policy(s).await?,
            intake: build_intake(s, metrics.clone())?,
            grantors: build_grantors(s)?,
            metrics,
            options: WorkflowOptions {
                limits: s.limits.clone(),
                reconcile_interval_secs: s.reconcile.interval_secs(),
                reconcile_lease_secs: crate::config::secs(&s.reconcile.lease),
                ..WorkflowOptions::from_settings(&s.workflow)
            },
            clients,
            agents,
            credential_key,
            step_up_origin,
            oncall: crate::oncall::from_settings(&s.oncall)?.map(Arc::new),
        })
    }

    pub fn into_engine(self, chats: Vec<Arc<dyn ChatPort>>, clock: Arc<dyn Clock>) -> Engine {
        let agents = self.agents;
        let mut engine = Engine::new(EngineParts {
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
        });
        engine.set_agents(agents);
        engine.set_credential_key(self.credential_key);
        engine.set_step_up_origin(self.step_up_origin);
        engine.set_oncall(self.oncall);
        engine
    }
}

/// Step-up needs both halves: SSO to sign the approver in, and a passkey origin (a domain in
/// `sso.redirect_url`). Without either, decisions requiring step-up fail closed.
fn step_up_origin(s: &Settings) -> anyhow::Result<Option<String>> {
    if s.sso.issuer.is_none() {
        return Ok(None);
    }
    Ok(
        crate::admin::passkeys::RelyingParty::from_public_url(s.sso.redirect_url.as_deref())?
            .map(|rp| rp.origin().to_string()),
    )
}

/// The engine `serve` runs, with its outbound chat clients and grant backends but no inbound
/// adapter (no routes, no Discord gateway or Slack Socket Mode connection): for one-shot
/// commands that act through the engine, such as `warden freeze --revoke`.
pub async fn build_engine(s: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Engine> {
    let mut wiring = Wiring::from_settings(s).await?;
    let mut chats: Vec<Arc<dyn ChatPort>> = Vec::new();
    let clients = std::mem::take(&mut wiring.clients);
    adapters::outbound(s, &clients, &mut chats, &mut wiring.grantors);
    Ok(wiring.into_engine(chats, clock))
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
        let clients = std::mem::take(&mut wiring.clients);
        adapters::outbound(s, &clients, &mut chats, &mut wiring.grantors);
        let engine = Arc::new(wiring.into_engine(chats, clock));
        let state = crate::server::AppState::new(engine);
        // …and their inbound routes here, on the same clients.
        let router = adapters::routes(s, &state, &clients)?;
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
        self.spawn_on(listener)
    }

    /// Serves on a listener bound beforehand (a test that must know the address before the
    /// server is built, e.g. to register an SSO callback URL, binds it first).
    pub fn spawn_on(
        self,
        listener: tokio::net::TcpListener,
    ) -> anyhow::Result<(std::net::SocketAddr, crate::server::AppState)> {
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
        clients: &ChatClients,
        chats: &mut Vec<Arc<dyn ChatPort>>,
        grantors: &mut GrantorRegistry,
    ) {
        crate::chat::slack::outbound(clients.slack.as_ref(), chats, grantors);
        crate::chat::discord::outbound(s, clients.discord.as_ref(), chats, grantors);
    }

    pub fn routes(
        s: &Settings,
        state: &crate::server::AppState,
        clients: &ChatClients,
    ) -> anyhow::Result<axum::Router> {
        let router = crate::server::base_router(state.clone());
        // Admin UI and API: always mounted, always behind a token (see src/admin/mod.rs).
        let router = router.merge(crate::admin::routes(s, state)?);
        let router = crate::chat::slack::routes(s, state, router, clients.slack.as_ref())?;
        let router = crate::chat::discord::routes(s, state, router, clients.discord.as_ref())?;
        Ok(router.merge(agent_routes(s, state)?))
    }

    /// The agent API: always mounted; with no registered agents every call is a 401. The MCP
    /// server and its metadata: mounted when `agents.mcp_resource` is set.
    fn agent_routes(s: &Settings, state: &crate::server::AppState) -> anyhow::Result<axum::Router> {
        let registry = state.engine.agents.clone();
        let jwks = crate::agents::jwks(s)?;
        let verifier = Arc::new(crate::agents::verifier(s, registry.clone(), jwks.clone()));
        let service = crate::agents::AgentService::new(
            state.engine.clone(),
            verifier,
            state.shutdown.clone(),
        );
        let mut router = crate::agents::api::routes(service.clone());
        if let Some(resource) = &s.agents.mcp_resource {
            let resource = crate::agents::mcp::resource_url(resource)
                .map_err(|why| anyhow::anyhow!("agents.mcp_resource {why}"))?;
            let mcp_verifier =
                crate::agents::verifier(s, registry.clone(), jwks).for_resource(resource.as_str());
            let mcp = service.on(crate::workflow::AgentChannel::Mcp, Arc::new(mcp_verifier));
            router = router.merge(crate::agents::mcp::routes(
                mcp,
                resource,
                &registry,
                state.shutdown.clone(),
            ));
        }
        Ok(router)
    }
}
