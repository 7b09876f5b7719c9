//! Slack integration tests: the real server on a random port with signed, Slack-shaped requests,
//! a fake Slack Web API that records every call, SQLite and PostgreSQL.

pub(crate) mod app;
mod bundles;
mod credentials;
mod drift;
mod durable;
pub(crate) mod flows;
mod grants;
mod home;
mod identity;
mod inbound;
mod limits;
mod privacy;
mod socket;
mod usergroup_flows;
mod usergroup_shared;
