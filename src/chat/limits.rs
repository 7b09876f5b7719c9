//! Rate-limit pauses shared by every caller of one platform client: a 429 pauses its bucket.
//!
//! A platform's Retry-After speaks for a whole bucket (a Slack method in a workspace, a Discord
//! route bucket or the bot's global limit), so the pause is recorded for the bucket and every
//! call into it waits, not only the refused one. Pauses only ever grow: an answer to a call sent
//! before the limit cannot lift it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Pauses<K> {
    until: Mutex<HashMap<K, Instant>>,
}

impl<K> Default for Pauses<K> {
    fn default() -> Self {
        Self {
            until: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone> Pauses<K> {
    /// No call into `bucket` before `wait` from now (or later, if already paused longer).
    pub fn pause(&self, bucket: K, wait: Duration) {
        let at = Instant::now() + wait;
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, until| *until > now);
        let until = map.entry(bucket).or_insert(at);
        *until = (*until).max(at);
    }

    /// The latest end of a pause among `buckets`, if any is still running.
    pub fn paused_until(&self, buckets: &[K]) -> Option<Instant> {
        let map = self.lock();
        let now = Instant::now();
        buckets
            .iter()
            .filter_map(|b| map.get(b).copied())
            .filter(|until| *until > now)
            .max()
    }

    /// Waits until none of `buckets` is paused. Each sleep is capped at `max_wait`; a pause
    /// extended meanwhile (another 429) is waited out too.
    pub async fn wait(&self, buckets: &[K], max_wait: Duration) {
        let deadline = Instant::now() + max_wait;
        while let Some(until) = self.paused_until(buckets) {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            tokio::time::sleep(until.min(deadline) - now).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Instant>> {
        self.until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pause_holds_its_bucket_only_and_never_shrinks() {
        let p = Pauses::default();
        p.pause("a", Duration::from_millis(300));
        p.pause("a", Duration::from_millis(10));
        assert!(p.paused_until(&["b"]).is_none());
        let until = p.paused_until(&["a", "b"]).unwrap();
        assert!(until >= Instant::now() + Duration::from_millis(250));
        let start = Instant::now();
        p.wait(&["a"], Duration::from_secs(5)).await;
        assert!(start.elapsed() >= Duration::from_millis(250));
        assert!(p.paused_until(&["a"]).is_none());
    }

    #[tokio::test]
    async fn a_wait_is_capped() {
        let p = Pauses::default();
        p.pause(1, Duration::from_secs(60));
        let start = Instant::now();
        p.wait(&[1], Duration::from_millis(50)).await;
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
