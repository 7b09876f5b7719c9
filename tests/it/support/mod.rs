//! What every integration test shares: throwaway databases, one way to wait, and one fake per
//! outside service.

pub mod db;
pub mod fakes;
pub mod wait;

pub use db::TestDb;
pub use wait::wait_until;
