//! Kept for `benches/discord_ack.rs`, which includes this path: the fake Discord itself is
//! `tests/it/support/fakes/discord/`.

#[path = "../it/support/fakes/discord/mod.rs"]
mod inner;
pub use inner::*;
