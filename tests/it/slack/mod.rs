//! Slack integration tests: the real server on a random port with signed, Slack-shaped requests,
//! a fake Slack Web API that records every call, SQLite and PostgreSQL.

mod app;
mod flows;
mod grants;
mod inbound;
mod usergroup_flows;
