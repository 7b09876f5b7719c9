//! Kept for `benches/slack_ack.rs`, which includes this path: the fake Slack Web API itself is
//! `tests/it/support/fakes/slack.rs`.

#[path = "../it/support/fakes/slack.rs"]
mod inner;
pub use inner::*;
