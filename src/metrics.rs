//! Prometheus metrics, rendered as text at `/metrics`. Small and dependency-free on purpose.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Latency buckets in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(String, String), u64>>,
    histograms: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Metrics {
    /// Adds to a counter; `labels` is already-rendered Prometheus label text (`outcome="allow"`).
    pub fn inc(&self, name: &str, labels: &str, by: u64) {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry((name.to_string(), labels.to_string())).or_default() += by;
    }

    pub fn observe(&self, name: &str, labels: &str, seconds: f64) {
        let mut h = self.histograms.lock().unwrap_or_else(|e| e.into_inner());
        let entry = h.entry((name.to_string(), labels.to_string())).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                entry.counts[i] += 1;
            }
        }
        entry.sum += seconds;
        entry.total += 1;
    }

    pub fn counter(&self, name: &str, labels: &str) -> u64 {
        let c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        c.get(&(name.to_string(), labels.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Renders every metric, plus gauges computed by the caller (requests by state).
    pub fn render(&self, gauges: &[(&str, String, f64)]) -> String {
        let mut out = String::new();
        let mut last = String::new();
        for ((name, labels), v) in self
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name.clone();
            }
            let _ = writeln!(out, "{name}{} {v}", braces(labels));
        }
        for ((name, labels), h) in self
            .histograms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} histogram");
                last = name.clone();
            }
            let sep = if labels.is_empty() { "" } else { "," };
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.total);
            let _ = writeln!(out, "{name}_sum{} {}", braces(labels), h.sum);
            let _ = writeln!(out, "{name}_count{} {}", braces(labels), h.total);
        }
        for (name, labels, v) in gauges {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} gauge");
                last = name.to_string();
            }
            let _ = writeln!(out, "{name}{} {v}", braces(labels));
        }
        out
    }
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::default();
        m.inc("warden_decisions_total", "outcome=\"allow\"", 2);
        m.observe("warden_flow_seconds", "", 0.003);
        let text = m.render(&[("warden_requests", "state=\"active\"".into(), 3.0)]);
        assert!(text.contains("warden_decisions_total{outcome=\"allow\"} 2"));
        assert!(text.contains("warden_flow_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("warden_flow_seconds_count 1"));
        assert!(text.contains("warden_requests{state=\"active\"} 3"));
    }
}
