//! Discord adapter tests: real Ed25519 signatures against the running server, a fake Discord
//! REST API that records calls, SQLite and PostgreSQL.

pub(crate) mod app;
mod bundles;
mod cards;
mod durable;
mod flow;
mod gateway;
mod limits;
mod privacy;
mod roles;
mod roles_shared;
mod security;
mod status;
