//! Latency statistics on an HDR histogram: record one latency at a time, read
//! percentiles at any moment. `tfprobe predict --repeat`, `tfprobe bench` and the
//! GUI's latency chart all use this one type.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Largest latency the histogram tracks exactly; longer ones are clamped to it.
const MAX_TRACKED_MICROS: u64 = 3_600 * 1_000_000;
/// Three significant digits: a percentile is within 0.1 % of the true value.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Recorded latencies (microsecond resolution) and an error count.
#[derive(Clone, Debug)]
pub struct LatencyStats {
    histogram: Histogram<u64>,
    errors: u64,
    sum_micros: u128,
    /// The most recent latencies in arrival order (for a time-series chart).
    recent: std::collections::VecDeque<f64>,
    recent_capacity: usize,
}

/// Percentiles and counts at one moment, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySnapshot {
    /// Successful requests recorded.
    pub count: u64,
    pub errors: u64,
    pub min_ms: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Default for LatencyStats {
    fn default() -> Self {
        LatencyStats::new()
    }
}

impl LatencyStats {
    /// Empty statistics that keep the last 1000 latencies for charts.
    pub fn new() -> LatencyStats {
        LatencyStats::with_recent_capacity(1000)
    }

    /// Empty statistics that keep the last `capacity` latencies in order.
    pub fn with_recent_capacity(capacity: usize) -> LatencyStats {
        let histogram = Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, SIGNIFICANT_DIGITS)
            .unwrap_or_else(|_| unreachable!("constant histogram bounds are valid"));
        LatencyStats {
            histogram,
            errors: 0,
            sum_micros: 0,
            recent: std::collections::VecDeque::with_capacity(capacity.min(4096)),
            recent_capacity: capacity,
        }
    }

    /// Records one successful request's latency.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_TRACKED_MICROS);
        self.histogram.saturating_record(micros);
        self.sum_micros += u128::from(micros);
        if self.recent_capacity > 0 {
            if self.recent.len() == self.recent_capacity {
                self.recent.pop_front();
            }
            self.recent.push_back(micros as f64 / 1000.0);
        }
    }

    /// Counts one failed request (its latency is not recorded).
    pub fn record_error(&mut self) {
        self.errors += 1;
    }

    /// Successful requests recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    pub fn errors(&self) -> u64 {
        self.errors
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The latency at quantile `q` (0.0..=1.0) in milliseconds; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        self.histogram.value_at_quantile(q.clamp(0.0, 1.0)) as f64 / 1000.0
    }

    /// Exact mean in milliseconds; 0 when empty.
    pub fn mean_ms(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            count => self.sum_micros as f64 / count as f64 / 1000.0,
        }
    }

    /// Counts and percentiles now.
    pub fn snapshot(&self) -> LatencySnapshot {
        if self.is_empty() {
            return LatencySnapshot {
                errors: self.errors,
                ..LatencySnapshot::default()
            };
        }
        LatencySnapshot {
            count: self.count(),
            errors: self.errors,
            min_ms: self.histogram.min() as f64 / 1000.0,
            mean_ms: self.mean_ms(),
            p50_ms: self.quantile_ms(0.50),
            p90_ms: self.quantile_ms(0.90),
            p95_ms: self.quantile_ms(0.95),
            p99_ms: self.quantile_ms(0.99),
            max_ms: self.histogram.max() as f64 / 1000.0,
        }
    }

    /// The most recent latencies (milliseconds, oldest first).
    pub fn recent_ms(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.recent.iter().copied()
    }

    /// Adds everything `other` recorded (its recent latencies go after ours).
    pub fn merge(&mut self, other: &LatencyStats) {
        // Both histograms share bounds, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
        self.errors += other.errors;
        self.sum_micros += other.sum_micros;
        for value in other.recent_ms() {
            if self.recent_capacity == 0 {
                break;
            }
            if self.recent.len() == self.recent_capacity {
                self.recent.pop_front();
            }
            self.recent.push_back(value);
        }
    }

    /// Forgets everything recorded.
    pub fn reset(&mut self) {
        self.histogram.reset();
        self.errors = 0;
        self.sum_micros = 0;
        self.recent.clear();
    }

    /// `(latency_ms, fraction of requests at or below it)` points of the
    /// distribution, for a percentile plot.
    pub fn percentile_curve(&self) -> Vec<(f64, f64)> {
        if self.is_empty() {
            return Vec::new();
        }
        self.histogram
            .iter_quantiles(2)
            .map(|step| {
                (
                    step.value_iterated_to() as f64 / 1000.0,
                    step.quantile_iterated_to(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn percentiles_of_one_to_a_hundred() {
        let mut stats = LatencyStats::new();
        for value in 1..=100 {
            stats.record(ms(value));
        }
        stats.record_error();
        let snap = stats.snapshot();
        assert_eq!(snap.count, 100);
        assert_eq!(snap.errors, 1);
        assert!((snap.mean_ms - 50.5).abs() < 1e-9, "{snap:?}");
        // Three significant digits: within 0.1 %.
        for (got, want) in [
            (snap.p50_ms, 50.0),
            (snap.p90_ms, 90.0),
            (snap.p95_ms, 95.0),
            (snap.p99_ms, 99.0),
        ] {
            assert!((got - want).abs() <= want * 0.001 + 1e-9, "{got} vs {want}");
        }
        assert!(
            (snap.max_ms - 100.0).abs() <= 0.1 && (snap.min_ms - 1.0).abs() <= 0.001,
            "{snap:?}"
        );
    }

    #[test]
    fn incremental_snapshots_and_merge() {
        let mut a = LatencyStats::with_recent_capacity(3);
        assert_eq!(a.snapshot(), LatencySnapshot::default());
        a.record(Duration::from_micros(1500));
        assert!((a.snapshot().p50_ms - 1.5).abs() < 0.002);
        let mut b = LatencyStats::new();
        b.record(ms(10));
        b.record(ms(20));
        b.record_error();
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.errors(), 1);
        assert_eq!(a.recent_ms().collect::<Vec<_>>(), vec![1.5, 10.0, 20.0]);
        a.record(ms(30));
        assert_eq!(a.recent_ms().len(), 3, "the ring keeps its capacity");
        assert!(!a.percentile_curve().is_empty());
        a.reset();
        assert!(a.is_empty());
    }

    #[test]
    fn extremes_are_clamped_not_lost() {
        let mut stats = LatencyStats::new();
        stats.record(Duration::ZERO);
        stats.record(Duration::from_secs(10 * 3600));
        assert_eq!(stats.count(), 2);
        assert!(stats.snapshot().max_ms >= 3_590_000.0);
    }
}
