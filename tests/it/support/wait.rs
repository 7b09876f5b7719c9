//! One way to wait for work that finishes after the call that started it: poll until a check
//! holds, or fail saying what never happened.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long the tests wait for background work unless they say otherwise. A liveness bound, not
/// a speed check: CI runs two scenarios at once on two cores next to Chromium and the databases,
/// where a step that takes milliseconds alone was seen to take over 10 s. Waits that take longer
/// than `SLOW` are written down (see `note_slow`), so a stall shows even when the test passes.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A wait longer than this is noted in `slow-waits.log`.
const SLOW: Duration = Duration::from_secs(3);

const POLL: Duration = Duration::from_millis(20);

/// What a check may return: `true`, or `Some(value)` to hand the value back.
pub trait Ready {
    type Value;
    fn ready(self) -> Option<Self::Value>;
}

impl Ready for bool {
    type Value = ();
    fn ready(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Ready for Option<T> {
    type Value = T;
    fn ready(self) -> Option<T> {
        self
    }
}

/// Runs `check` every 20 ms until it is ready, for at most `timeout`, and returns its value.
/// On timeout it panics with `what`, which is formatted only then (so it may describe the state
/// at that moment, such as the calls a fake received).
pub async fn wait_until<R, F, Fut>(timeout: Duration, what: impl Display, mut check: F) -> R::Value
where
    R: Ready,
    F: FnMut() -> Fut,
    Fut: Future<Output = R>,
{
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        if let Some(value) = check().await.ready() {
            if start.elapsed() > SLOW {
                note_slow(start.elapsed(), &what);
            }
            return value;
        }
        if Instant::now() >= deadline {
            // A stall, not a deliberately short wait (a test that expects a timeout).
            if start.elapsed() > SLOW {
                note_slow(
                    start.elapsed(),
                    &format_args!("TIMED OUT waiting for {what}"),
                );
            }
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Appends a slow (or timed-out) wait to `slow-waits.log` in Cargo's scratch directory for
/// integration tests, which `.ci/run` prints after the suite: the test that waited, how long,
/// and for what.
fn note_slow(took: Duration, what: &impl Display) {
    use std::io::Write;
    let test = std::thread::current()
        .name()
        .unwrap_or("an unnamed thread")
        .to_string();
    let what: String = what.to_string().chars().take(160).collect();
    let line = format!(
        "{:>6.1}s  {test}: {}\n",
        took.as_secs_f64(),
        what.replace('\n', " ")
    );
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("slow-waits.log");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::wait_until;
    use std::time::Duration;

    #[tokio::test]
    async fn it_returns_the_value_once_the_check_holds() {
        let mut n = 0;
        let got = wait_until(Duration::from_secs(1), "three polls", || {
            n += 1;
            let now = n;
            async move { (now >= 3).then_some(now) }
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible")]
    async fn it_panics_naming_what_never_happened() {
        wait_until(Duration::from_millis(50), "the impossible", || async {
            false
        })
        .await;
    }
}
