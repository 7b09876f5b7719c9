//! The `warden` command line: what each subcommand does lives in its own module.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    about = "Chat-ops access requests with a deterministic policy, inline approvals and time-bound grants"
)]
pub struct Cli {
    /// Config file (default: $WARDEN_CONFIG, then ./warden.toml if present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server, the adapters and the scheduler.
    Serve,
    /// Run a scripted scenario on the console with embedded defaults.
    Demo {
        /// Type as any demo user instead of running the script.
        #[arg(long)]
        interactive: bool,
        /// Keep the demo's SQLite database at this path (a new file) to look at afterwards with
        /// `warden audit` or `warden policy replay`.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Review the per-request context logs.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Evaluate the configured policy.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Score the configured intake over a labelled JSONL corpus, as `serve` reads messages.
    Eval {
        corpus: PathBuf,
        /// Catalog for the corpus (default: catalog.toml next to the corpus, else the configured one).
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// Output mode to use instead of llm.output (json_schema, tool, json_object).
        #[arg(long)]
        output: Option<String>,
        /// Score only the first N cases.
        #[arg(long)]
        limit: Option<usize>,
        /// Cases read at once (model calls in flight); at most 8. Keep it at or below the
        /// server's parallel slots.
        #[arg(long, default_value_t = 1)]
        concurrency: usize,
        /// Print, per case that reached the model, which reading was used and, for a rejected
        /// answer, why and what the model wrote.
        #[arg(long)]
        explain: bool,
    },
    /// The model server.
    Llm {
        #[command(subcommand)]
        command: LlmCommand,
    },
    /// Check the configuration and exit non-zero on any problem.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Measure the engine: complete request flows per second, per database.
    Bench {
        /// What to measure: people's chat flows (default) or agents' API cycles.
        #[arg(value_enum, default_value_t = BenchScenario::Flows)]
        scenario: BenchScenario,
        /// Number of complete flows, shared among the requesters.
        #[arg(long, default_value_t = 20_000)]
        flows: usize,
        /// Requesters in flight at once, each a synthetic person (at most 1,000; more is clamped).
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// PostgreSQL URL to measure as well (skipped if unset).
        #[arg(long, env = "WARDEN_BENCH_POSTGRES")]
        postgres: Option<String>,
        /// Connections in the engine's pool (default: `database.max_connections`'s default), to
        /// size the pool against a database before setting it in the configuration.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
        connections: Option<u32>,
    },
    /// Administer the admin UI and API.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The kill switch: stop new grants in a scope at once, on every instance (or `--list`).
    Freeze(FreezeArgs),
    /// Lift a freeze, by its id or its scope; explicit, with a reason, and recorded.
    Unfreeze(UnfreezeArgs),
    /// Drift reconciliation now: each listable target against Warden's active grants.
    Reconcile {
        /// Only this catalog resource.
        #[arg(long)]
        resource: Option<String>,
        /// `text` (default) or `json`.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Discord set-up tasks.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List requests, newest first.
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        requester: Option<String>,
        #[arg(long)]
        resource: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One request with its whole context log and chain status.
    Show { id: String },
    /// Verify hash chains (one request, or all), and hold the database to its anchors.
    Verify {
        id: Option<String>,
        /// Anchor file to check against (default: evidence.anchor_file).
        #[arg(long)]
        anchors: Option<PathBuf>,
    },
    /// Export context-log entries as JSON lines.
    Export {
        /// RFC 3339 time or a date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Evaluate a policy input document (JSON) and print the decision.
    Eval { file: PathBuf },
    /// Re-evaluate the recorded inputs of past decisions against a policy and print what would
    /// change (allow → deny, approvers). Changes nothing.
    Replay {
        /// How far back, e.g. `30d`, `12h`.
        #[arg(long, default_value = "30d")]
        since: String,
        /// A Rego file, or a directory of them (`*_test.rego` skipped), evaluated embedded.
        /// Default: the configured policy.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// `text` or `json`.
        #[arg(long, default_value = "text")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate settings, catalog, directory, policy and prompts.
    Check {
        /// Also call the model server and try each output mode (`warden llm probe`).
        #[arg(long)]
        online: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Try each output mode against the configured server; say which work and which to use.
    Probe,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Admin API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token: prints it once, and the lines to add to admin.tokens_file.
    Create {
        #[arg(long)]
        name: String,
        /// admin, viewer or requester.
        #[arg(long)]
        role: String,
        /// Directory id of the person (required for requesters).
        #[arg(long)]
        person: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DiscordCommand {
    /// Register the `/access` slash command (globally, or for one guild: instant, for testing).
    RegisterCommands {
        #[arg(long)]
        guild: Option<String>,
    },
}

/// Which requests a freeze covers: exactly one of these.
#[derive(Debug, Clone, clap::Args)]
#[group(multiple = false)]
pub struct ScopeArgs {
    /// One agent, by its id in the agent registry.
    #[arg(long)]
    pub agent: Option<String>,
    /// Every agent (people are not affected).
    #[arg(long)]
    pub all_agents: bool,
    /// One catalog resource, for agents and people.
    #[arg(long)]
    pub resource: Option<String>,
    /// Every new grant, for everyone.
    #[arg(long)]
    pub everything: bool,
}

#[derive(Debug, clap::Args)]
pub struct FreezeArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Why (recorded with the freeze and on every revoke it makes).
    #[arg(long)]
    pub reason: Option<String>,
    /// Also revoke every active grant in the scope now, printing progress.
    #[arg(long)]
    pub revoke: bool,
    /// Revokes in flight at once with --revoke.
    #[arg(long, default_value_t = crate::workflow::DEFAULT_REVOKE_CONCURRENCY)]
    pub concurrency: usize,
    /// List freezes (active first) instead of freezing.
    #[arg(long, conflicts_with_all = ["reason", "revoke", "agent", "all_agents", "resource", "everything"])]
    pub list: bool,
    /// Who is freezing, as recorded (`cli:<name>`).
    #[arg(long, env = "USER", default_value = "operator")]
    pub actor: String,
    /// Freeze even though the policy requires a passkey for freezing (a team's choice; not
    /// the shipped default). Recorded on the freeze and logged as an alert.
    #[arg(long)]
    pub break_glass_local: bool,
}

#[derive(Debug, clap::Args)]
pub struct UnfreezeArgs {
    /// The freeze's id (`FZ-…`), or give its scope instead.
    pub id: Option<String>,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Why the freeze is lifted (recorded).
    #[arg(long)]
    pub reason: String,
    /// Who is lifting it, as recorded (`cli:<name>`).
    #[arg(long, env = "USER", default_value = "operator")]
    pub actor: String,
    /// Lift it even though the policy requires a passkey (which a shell cannot present): for
    /// when the web UI or single sign-on is down. Recorded on the freeze and logged as an alert.
    #[arg(long)]
    pub break_glass_local: bool,
}

/// What `warden bench` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchScenario {
    /// Message → confirmation → submit → policy → grant → revoke, through the console adapter.
    Flows,
    /// An agent's create → policy → grant → release, through the engine's agent operations.
    Agents,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}
