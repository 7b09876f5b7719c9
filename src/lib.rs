//! Warden: chat-ops access requests. Plain-language requests, a deterministic policy decision
//! point, inline approvals, time-bound grants, and a hash-chained context log per request.

pub mod chat;
pub mod directory;
pub mod domain;
pub mod grants;
pub mod intake;
pub mod policy;
pub mod store;
pub mod clock;
pub mod config;
pub mod metrics;
pub mod workflow;
pub mod server;
pub mod app;
pub mod cli;
pub mod commands;
pub mod telemetry;
pub mod admin;
