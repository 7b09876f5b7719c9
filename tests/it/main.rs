//! Warden's integration tests, compiled into one binary: one module per area, each driving the
//! real engine or the composed server over real SQLite files and PostgreSQL schemas.

mod support;

mod admin;
mod agents;
mod architecture;
mod discord;
mod engine;
mod freeze;
mod fuzz;
mod grants_aws;
mod grants_db;
mod grants_saas;
mod grants_webhook;
pub mod llm;
mod oncall;
mod policy_http;
mod policy_replay;
mod service;
mod slack;
mod store_cards;
mod store_commit;
mod store_leases;
