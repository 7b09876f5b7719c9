//! Kept for `benches/discord_ack.rs`, which includes this path: the signed interactions are
//! `tests/it/support/fakes/discord/interactions.rs`.

#[path = "../it/support/fakes/discord/mod.rs"]
mod inner;
pub use inner::interactions::*;
