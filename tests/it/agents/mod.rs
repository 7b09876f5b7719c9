//! Agents as requesters: workload-token authentication against a fake OIDC issuer, and the agent
//! API driving the same governed flow as people's.

mod api;
mod app;
mod auth;
mod backends;
mod bench;
mod credentials;
mod discord;
mod flow;
mod frozen;
mod mcp;
