//! Kept for `benches/slack_ack.rs`, which includes this path: the fake Slack Web API itself lives
//! with the integration tests.

#[path = "../it/slack/fake_slack.rs"]
mod inner;
pub use inner::*;
