//! Model intake integration tests: the real engine on SQLite, a fake OpenAI-compatible server
//! over real HTTP, and a recording wrapper around the shipped policy.

pub mod app;
mod cli;
mod extraction;
mod isolation;
mod real_server;
mod self_hosted;
mod transport;
