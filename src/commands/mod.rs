//! The subcommands of `warden`. Each returns an error with context; `run` prints it once.

use crate::cli::{Cli, Command, ConfigCommand, LlmCommand, PolicyCommand};
use crate::config;
use std::process::ExitCode;

mod admin;
mod audit;
pub mod bench;
pub mod bench_agents;
mod check;
pub mod demo;
pub mod demo_agent;
mod discord;
pub mod eval;
mod freeze;
mod llm;
mod policy;
mod reconcile;
mod serve;

pub async fn run(cli: Cli) -> ExitCode {
    crate::app::install_crypto();
    let result = match cli.command {
        Command::Demo { interactive, keep } => {
            crate::telemetry::init(if cli.log_json { "json" } else { "text" }, "error");
            demo::run(interactive, keep.as_deref()).await
        }
        Command::Bench {
            scenario,
            flows,
            concurrency,
            postgres,
            connections,
        } => {
            crate::telemetry::init("text", "error");
            let connections = connections
                .unwrap_or_else(|| crate::config::Settings::default().database.max_connections);
            match scenario {
                crate::cli::BenchScenario::Flows => {
                    bench::run(flows, concurrency, postgres, connections).await
                }
                crate::cli::BenchScenario::Agents => {
                    bench_agents::run(flows, concurrency, postgres, connections).await
                }
            }
        }
        Command::Config {
            command: ConfigCommand::Check { online },
        } => check::run(cli.config.as_deref(), online).await,
        Command::Admin { command } => admin::run(command),
        command => match config::load(cli.config.as_deref()) {
            Err(e) => Err(e),
            Ok(loaded) => {
                let format = if cli.log_json {
                    "json"
                } else {
                    loaded.settings.log.format.as_str()
                };
                crate::telemetry::init(format, &loaded.settings.log.level);
                match command {
                    Command::Serve => serve::run(loaded).await,
                    Command::Migrate => migrate(&loaded.settings).await,
                    Command::Audit { command } => audit::run(&loaded.settings, command).await,
                    Command::Policy {
                        command: PolicyCommand::Eval { file },
                    } => policy::eval(&loaded.settings, &file).await,
                    Command::Policy {
                        command:
                            PolicyCommand::Replay {
                                since,
                                policy,
                                format,
                            },
                    } => policy::replay(&loaded.settings, &since, policy.as_deref(), &format).await,
                    Command::Eval {
                        corpus,
                        catalog,
                        output,
                        limit,
                        concurrency,
                        explain,
                    } => {
                        let mut settings = loaded.settings;
                        if let Some(mode) = output {
                            settings.llm.output = mode;
                        }
                        eval::run(
                            &settings,
                            &corpus,
                            catalog.as_deref(),
                            limit,
                            concurrency,
                            explain,
                        )
                        .await
                    }
                    Command::Llm {
                        command: LlmCommand::Probe,
                    } => llm::probe(&loaded.settings).await,
                    Command::Discord { command } => discord::run(&loaded.settings, command).await,
                    Command::Freeze(args) => freeze::freeze(&loaded.settings, args).await,
                    Command::Reconcile { resource, format } => {
                        reconcile::run(&loaded.settings, resource.as_deref(), format).await
                    }
                    Command::Unfreeze(args) => freeze::unfreeze(&loaded.settings, args).await,
                    Command::Demo { .. }
                    | Command::Bench { .. }
                    | Command::Config { .. }
                    | Command::Admin { .. } => unreachable!("handled above"),
                }
            }
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(s: &config::Settings) -> anyhow::Result<ExitCode> {
    let store = crate::store::Store::connect(&s.database.url, 1).await?;
    store.migrate().await?;
    println!("migrations applied ({:?})", store.backend());
    Ok(ExitCode::SUCCESS)
}
