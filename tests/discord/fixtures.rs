//! Kept for `benches/discord_ack.rs`, which includes this path: the signed interactions
//! themselves live with the integration tests.

#[path = "../it/discord/fixtures.rs"]
mod inner;
#[allow(unused_imports)]
use crate::fake;
pub use inner::*;
