//! What every integration test shares: throwaway databases, the engine and the server under test,
//! console users to drive them, one way to wait, and one fake per outside service.

pub mod catalogs;
pub mod console;
pub mod db;
pub mod engine;
pub mod fakes;
pub mod logs;
pub mod mcp_client;
pub mod overlap;
pub mod server;
pub mod wait;

pub use db::TestDb;
pub use wait::wait_until;
