//! CPU time from /proc (Linux): the server's threads alone, and the whole process.

use std::time::Duration;

/// CPU time so far of the server's threads (runtime workers, its blocking pool, SQLite's
/// connection threads); the fakes and the client run on other threads. None off Linux.
pub fn server_cpu(server_threads: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = entry.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.starts_with(server_threads) || comm.starts_with("sqlx-sqlite") {
            // A thread that has just exited reads as nothing.
            total += thread_cpu(&dir).unwrap_or_default();
        }
    }
    Some(total)
}

/// Nanoseconds on CPU from schedstat, else utime + stime in USER_HZ ticks (100 on Linux).
/// A kernel without scheduler statistics reports 0 there, hence the fallback.
fn thread_cpu(dir: &std::path::Path) -> Option<Duration> {
    if let Ok(s) = std::fs::read_to_string(dir.join("schedstat"))
        && let Some(ns) = s.split_whitespace().next().and_then(|n| n.parse().ok())
        && ns > 0
    {
        return Some(Duration::from_nanos(ns));
    }
    ticks(&std::fs::read_to_string(dir.join("stat")).ok()?)
}

fn ticks(stat: &str) -> Option<Duration> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let t: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(t * 10))
}

/// The whole process, fakes and client included: a cross-check at 10 ms resolution.
pub fn process_cpu() -> Option<Duration> {
    ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}
