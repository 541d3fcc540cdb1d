//! Prometheus metrics without a metrics crate: fixed-bucket histograms and labelled counters
//! on atomics, rendered in the text exposition format at `/metrics`.
//!
//! Labels are only ever values keyledger chose (operation names of the catalog or the
//! route table, AWS error codes, key states), never caller text, so the series are bounded.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

/// Latency buckets, in seconds: half a millisecond to ten seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Events per commit.
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// A histogram with fixed upper bounds (cumulative on rendering, as Prometheus wants).
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket, not cumulative; the last is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// The sum, in millionths (of a second, or of an event).
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add((value.max(0.0) * 1e6) as u64, Relaxed);
    }

    pub fn observe_duration(&self, took: Duration) {
        self.observe(took.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name` with `labels` (`a="b",` form, or
    /// empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
        }
        let bare = labels.trim_end_matches(',');
        let braced = if bare.is_empty() {
            String::new()
        } else {
            format!("{{{bare}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braced} {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braced} {cumulative}");
    }
}

/// Requests by operation and outcome, and their latency by operation: one lock per request
/// (the answer's path), one entry per operation.
#[derive(Default)]
pub struct Requests {
    by_operation: Mutex<BTreeMap<&'static str, OperationStats>>,
}

struct OperationStats {
    outcomes: BTreeMap<&'static str, u64>,
    latency: Histogram,
}

impl Requests {
    /// One answered request: its operation, its outcome (`ok` or the error code) and how
    /// long it took.
    pub fn observe(&self, operation: &'static str, outcome: &'static str, took: Duration) {
        let mut by_operation = self.by_operation.lock().unwrap_or_else(|p| p.into_inner());
        let stats = by_operation
            .entry(operation)
            .or_insert_with(|| OperationStats {
                outcomes: BTreeMap::new(),
                latency: Histogram::new(LATENCY_BUCKETS),
            });
        *stats.outcomes.entry(outcome).or_insert(0) += 1;
        stats.latency.observe_duration(took);
    }

    pub fn count(&self, operation: &str, outcome: &str) -> u64 {
        self.by_operation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(operation)
            .and_then(|s| s.outcomes.get(outcome).copied())
            .unwrap_or(0)
    }

    pub fn render(&self, out: &mut String) {
        let by_operation = self.by_operation.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str(
            "# HELP keyledger_requests_total Requests answered, by operation and outcome (ok, or the error code).\n\
             # TYPE keyledger_requests_total counter\n",
        );
        for (operation, stats) in by_operation.iter() {
            for (outcome, n) in &stats.outcomes {
                let _ = writeln!(
                    out,
                    "keyledger_requests_total{{operation=\"{operation}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str(
            "# HELP keyledger_request_duration_seconds Time from a request's arrival to its answer, by operation.\n\
             # TYPE keyledger_request_duration_seconds histogram\n",
        );
        for (operation, stats) in by_operation.iter() {
            stats.latency.render(
                out,
                "keyledger_request_duration_seconds",
                &format!("operation=\"{operation}\","),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets_its_sum_and_count() {
        let h = Histogram::new(&[1.0, 10.0]);
        for v in [0.5, 2.0, 3.0, 50.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\",");
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"1\"} 1\nx_bucket{a=\"b\",le=\"10\"} 3\n\
             x_bucket{a=\"b\",le=\"+Inf\"} 4\nx_sum{a=\"b\"} 55.5\nx_count{a=\"b\"} 4\n"
        );
    }

    #[test]
    fn requests_count_by_operation_and_outcome() {
        let r = Requests::default();
        r.observe("Encrypt", "ok", Duration::from_millis(2));
        r.observe("Encrypt", "ok", Duration::from_millis(3));
        r.observe("Encrypt", "NotFoundException", Duration::from_millis(1));
        assert_eq!(r.count("Encrypt", "ok"), 2);
        let mut out = String::new();
        r.render(&mut out);
        assert!(out.contains("keyledger_requests_total{operation=\"Encrypt\",outcome=\"ok\"} 2"));
        assert!(out.contains("keyledger_request_duration_seconds_count{operation=\"Encrypt\"} 3"));
    }
}
