use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = warden::cli::Cli::parse();
    warden::commands::run(cli).await
}
