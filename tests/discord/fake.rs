//! Kept for `benches/discord_ack.rs`, which includes this path: the fake Discord REST API itself
//! lives with the integration tests.

#[path = "../it/discord/fake.rs"]
mod inner;
pub use inner::*;
