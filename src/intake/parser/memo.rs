//! The draft a thread's earlier turns add up to, remembered so each turn is read once: the
//! intake is given the whole thread at every new message, and reading it all again made a
//! conversation cost the square of its length.
//!
//! Reading is a pure function of the requester's words and the catalog, so a remembered draft is
//! exactly what reading again would give. The key is a SHA-256 of the catalog's generation and
//! the messages (each length-prefixed): a draft is only ever reused for the very same words
//! against the very same catalog, never another thread's.

use crate::domain::intent::DraftIntent;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

/// Threads remembered. Two generations of half this each: the older is dropped when the newer
/// fills, so memory stays bounded and a thread in use is kept.
const CAPACITY: usize = 512;

pub(super) type Key = [u8; 32];

#[derive(Default)]
struct Generations {
    current: HashMap<Key, DraftIntent>,
    previous: HashMap<Key, DraftIntent>,
}

static MEMO: Mutex<Option<Generations>> = Mutex::new(None);

/// The key of every prefix of `messages`: `keys[k]` stands for the first `k + 1` messages.
pub(super) fn prefix_keys(generation: u64, messages: &[&str]) -> Vec<Key> {
    let mut hash = Sha256::new();
    hash.update(generation.to_le_bytes());
    messages
        .iter()
        .map(|m| {
            hash.update((m.len() as u64).to_le_bytes());
            hash.update(m.as_bytes());
            hash.clone().finalize().into()
        })
        .collect()
}

pub(super) fn get(key: &Key) -> Option<DraftIntent> {
    let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let g = memo.get_or_insert_with(Generations::default);
    if let Some(d) = g.current.get(key) {
        return Some(d.clone());
    }
    let d = g.previous.remove(key)?;
    insert(g, *key, d.clone());
    Some(d)
}

pub(super) fn put(key: Key, draft: DraftIntent) {
    let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    insert(memo.get_or_insert_with(Generations::default), key, draft);
}

fn insert(g: &mut Generations, key: Key, draft: DraftIntent) {
    if g.current.len() >= CAPACITY / 2 {
        g.previous = std::mem::take(&mut g.current);
    }
    g.current.insert(key, draft);
}

#[cfg(test)]
mod tests {
    use super::super::parse_thread;
    use crate::domain::Catalog;
    use crate::examples::EXAMPLE_CATALOG;
    use crate::intake::ThreadMessage;

    fn message(author: &str, text: &str) -> ThreadMessage {
        ThreadMessage {
            author: author.into(),
            text: text.into(),
        }
    }

    #[test]
    fn a_conversation_read_turn_by_turn_gives_what_reading_it_whole_gives() {
        let turns = [
            message("requester", "need access to the biling db"),
            message("warden", "Did you mean prod-billing-db?"),
            message("requester", "yes"),
            message("requester", "read"),
            message("warden", "For how long?"),
            message("requester", "for 2h because INC-4411"),
            message("requester", "actually make it write"),
        ];
        let remembered = Catalog::from_toml(EXAMPLE_CATALOG).unwrap();
        for n in 1..=turns.len() {
            // A catalog of its own never finds a remembered draft: the thread is read whole.
            let whole = Catalog::from_toml(EXAMPLE_CATALOG).unwrap();
            let want = parse_thread(&turns[..n], &whole);
            assert_eq!(parse_thread(&turns[..n], &remembered), want, "turn {n}");
            assert_eq!(
                parse_thread(&turns[..n], &remembered),
                want,
                "again, turn {n}"
            );
        }
    }

    #[test]
    fn other_words_are_never_taken_for_a_remembered_thread() {
        let catalog = Catalog::from_toml(EXAMPLE_CATALOG).unwrap();
        let a = [message("requester", "need read on prod-billing-db for 1h")];
        let b = [message("requester", "need write on prod-billing-db for 1h")];
        assert_eq!(parse_thread(&a, &catalog).role.as_deref(), Some("read"));
        assert_eq!(parse_thread(&b, &catalog).role.as_deref(), Some("write"));
    }
}
