//! Warden: chat-ops access requests. Plain-language requests, a deterministic policy decision
//! point, inline approvals, time-bound grants, and a hash-chained context log per request.

pub mod admin;
pub mod agents;
pub mod app;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod directory;
pub mod domain;
pub mod examples;
pub mod grants;
pub mod http_client;
pub mod intake;
pub mod metrics;
pub mod oncall;
pub mod policy;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod workflow;
