//! The `warden` binary: parses the command line and hands it to `warden::commands`.

use clap::Parser;
use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: a flow allocates and frees many small buffers across
/// the runtime's threads (statements, rows, JSON), and under `warden bench` glibc's malloc,
/// free and arena consolidation took about 15% of the process's CPU. Set in the binary only,
/// so the library's users keep their own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = warden::cli::Cli::parse();
    warden::commands::run(cli).await
}
