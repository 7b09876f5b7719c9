//! The structured-command parser (pure, no I/O).

use super::ThreadMessage;
use crate::domain::Catalog;
use crate::domain::intent::DraftIntent;

/// Parses every requester message of a thread and merges them, later turns winning.
pub fn parse_thread(thread: &[ThreadMessage], catalog: &Catalog) -> DraftIntent {
    let _ = (thread, catalog);
    DraftIntent::default()
}
