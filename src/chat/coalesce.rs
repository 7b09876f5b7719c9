//! Latest-wins edits: while an edit of a message waits (a rate limit) or is in flight, newer
//! edits of that message replace its content instead of queueing behind it.
//!
//! A burst of approvals edits the same cards many times; sent one by one into a rate limit they
//! would become a burst of refused calls, and a stale retry could land after a newer edit. Here
//! the first edit of a message becomes its sender; later ones only leave their content, and the
//! sender reads the newest content at every attempt, so N edits while limited are one call.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

struct Slot<V> {
    latest: V,
    version: u64,
    /// The sender that owns this slot.
    owner: u64,
}

pub struct LatestEdits<K, V> {
    slots: Mutex<HashMap<K, Slot<V>>>,
    next_owner: AtomicU64,
}

impl<K, V> Default for LatestEdits<K, V> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            next_owner: AtomicU64::new(1),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone> LatestEdits<K, V> {
    /// Offers new content for `key`. `None`: an edit of it is already under way and will send
    /// this content (or newer); the caller is done. `Some`: the caller is the sender.
    pub fn offer(&self, key: K, value: V) -> Option<Sender<'_, K, V>> {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(&key) {
            slot.latest = value;
            slot.version += 1;
            return None;
        }
        let owner = self.next_owner.fetch_add(1, Ordering::Relaxed);
        slots.insert(
            key.clone(),
            Slot {
                latest: value,
                version: 0,
                owner,
            },
        );
        Some(Sender {
            edits: self,
            key,
            owner,
            sent: AtomicU64::new(0),
            done: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Slot<V>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The one caller sending edits of a message. Dropped without `delivered` (an error), it frees
/// the message so the next edit sends again.
pub struct Sender<'a, K: Eq + Hash + Clone, V: Clone> {
    edits: &'a LatestEdits<K, V>,
    key: K,
    owner: u64,
    sent: AtomicU64,
    done: std::sync::atomic::AtomicBool,
}

impl<K: Eq + Hash + Clone, V: Clone> Sender<'_, K, V> {
    /// The newest content, remembered as the one being sent. Call it at every attempt.
    pub fn latest(&self) -> V {
        let slots = self.edits.lock();
        let slot = slots
            .get(&self.key)
            .filter(|s| s.owner == self.owner)
            .expect("a sender's slot lives until the sender is done");
        self.sent.store(slot.version, Ordering::SeqCst);
        slot.latest.clone()
    }

    /// After a successful send: `true` when it carried the newest content (the message is
    /// free again), `false` when newer content arrived meanwhile and must be sent too.
    pub fn delivered(&self) -> bool {
        let mut slots = self.edits.lock();
        let newer = slots
            .get(&self.key)
            .is_some_and(|s| s.owner == self.owner && s.version > self.sent.load(Ordering::SeqCst));
        if !newer {
            slots.remove(&self.key);
            self.done.store(true, Ordering::SeqCst);
        }
        !newer
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Drop for Sender<'_, K, V> {
    fn drop(&mut self) {
        if self.done.load(Ordering::SeqCst) {
            return;
        }
        let mut slots = self.edits.lock();
        if slots.get(&self.key).is_some_and(|s| s.owner == self.owner) {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_edits_hand_their_content_to_the_sender() {
        let edits = LatestEdits::default();
        let sender = edits.offer("m1", 1).expect("the first edit sends");
        assert!(edits.offer("m1", 2).is_none());
        assert!(edits.offer("m1", 3).is_none());
        let other = edits
            .offer("m2", 9)
            .expect("another message has its own sender");
        assert_eq!(sender.latest(), 3);
        assert!(sender.delivered());
        assert_eq!(other.latest(), 9);
        assert!(
            edits.offer("m1", 4).is_some(),
            "a delivered message is free again"
        );
    }

    #[test]
    fn content_that_arrives_during_a_send_is_sent_again() {
        let edits = LatestEdits::default();
        let sender = edits.offer("m", "a").unwrap();
        assert_eq!(sender.latest(), "a");
        assert!(edits.offer("m", "b").is_none());
        assert!(!sender.delivered());
        assert_eq!(sender.latest(), "b");
        assert!(sender.delivered());
    }

    #[test]
    fn a_failed_sender_frees_the_message() {
        let edits = LatestEdits::default();
        drop(edits.offer("m", 1).unwrap());
        assert!(edits.offer("m", 2).is_some());
    }
}
