//! A fake webhook receiver (a grant webhook, a SIEM's ingest endpoint): records every POST to
//! its path and answers from a script, 200 unless told otherwise.

use super::scripted::{Call, Reply, Scripted};
use serde_json::Value;

pub struct Receiver {
    inner: Scripted,
    path: String,
}

impl Receiver {
    pub async fn start(path: &str) -> Self {
        Self {
            inner: Scripted::route("POST", path, Reply::empty(200)).await,
            path: path.into(),
        }
    }

    /// The URL to post to.
    pub fn url(&self) -> String {
        format!("{}{}", self.inner.uri(), self.path)
    }

    /// Answers the next call (after any queued before it).
    pub fn push(&self, reply: Reply) {
        self.inner.push(reply)
    }

    /// Answers every call once the queue is empty.
    pub fn answer(&self, reply: Reply) {
        self.inner.answer(reply)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls()
    }

    /// The JSON lines of every delivery answered with 200, in order; panics on a line that is
    /// not JSON.
    pub fn accepted_json_lines(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .filter(|c| c.status == 200)
            .flat_map(|c| {
                let text = String::from_utf8(c.raw.clone()).expect("a UTF-8 body");
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).expect("each line is JSON"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
