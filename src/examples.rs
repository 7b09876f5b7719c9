//! The example catalog and directory, shipped inside the binary so `warden demo` needs no files.

pub const EXAMPLE_CATALOG: &str = include_str!("../catalog.example.toml");
pub const EXAMPLE_DIRECTORY: &str = include_str!("../directory.example.toml");
pub const EXAMPLE_AGENTS: &str = include_str!("../agents.example.toml");
