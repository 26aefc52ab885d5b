//! A closed-loop load generator in the manner of perf_analyzer: at each
//! concurrency level, that many workers send the same prepared request back to
//! back for a number of requests or a duration; latencies go into one
//! [`LatencyStats`] per level.

use super::stats::LatencyStats;
use super::{Client, ClientError, ModelClient, PreparedRequest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Upper bound on requests of one level in duration mode (a runaway guard).
pub const MAX_REQUESTS_PER_LEVEL: u64 = 10_000_000;

/// When a level ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchLimit {
    /// This many requests in all (split among the workers as they free up).
    Requests(u64),
    /// Keep sending until this much time has passed.
    Duration(Duration),
}

/// One concurrency level's result (the `--json` / `--csv` record).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelReport {
    pub concurrency: usize,
    /// Requests completed (successful and failed).
    pub requests: u64,
    pub errors: u64,
    /// Successful requests per second of wall time.
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// Wall time of the level.
    pub elapsed_s: f64,
    /// The first error's message, when any request failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_error: Option<String>,
}

/// CSV header matching [`LevelReport::csv_row`].
pub const CSV_HEADER: &str = "concurrency,requests,errors,throughput_rps,p50_ms,p90_ms,p95_ms,p99_ms,max_ms,mean_ms,elapsed_s";

impl LevelReport {
    pub fn csv_row(&self) -> String {
        format!(
            "{},{},{},{:.2},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3}",
            self.concurrency,
            self.requests,
            self.errors,
            self.throughput_rps,
            self.p50_ms,
            self.p90_ms,
            self.p95_ms,
            self.p99_ms,
            self.max_ms,
            self.mean_ms,
            self.elapsed_s
        )
    }
}

/// Live counters of a running level (for a progress bar).
#[derive(Debug, Default)]
pub struct Progress {
    pub completed: AtomicU64,
    pub errors: AtomicU64,
    /// Set to end the level early (Ctrl-C).
    pub stop: AtomicBool,
}

/// Sends `count` requests one after another; the first failure ends it.
pub async fn warm_up(
    client: &Client,
    request: &PreparedRequest,
    count: u64,
) -> Result<(), ClientError> {
    for _ in 0..count {
        client.send_prepared(request).await?;
    }
    Ok(())
}

/// Runs one level: `concurrency` workers until `limit`.
pub async fn run_level(
    client: &Client,
    request: &Arc<PreparedRequest>,
    concurrency: usize,
    limit: BenchLimit,
    progress: &Arc<Progress>,
) -> LevelReport {
    let concurrency = concurrency.max(1);
    let claimed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = match limit {
        BenchLimit::Duration(duration) => Some(started + duration),
        BenchLimit::Requests(_) => None,
    };
    let budget = match limit {
        BenchLimit::Requests(count) => count,
        BenchLimit::Duration(_) => MAX_REQUESTS_PER_LEVEL,
    };
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, request, claimed, progress) = (
            client.clone(),
            request.clone(),
            claimed.clone(),
            progress.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut stats = LatencyStats::with_recent_capacity(0);
            let mut first_error: Option<String> = None;
            loop {
                if progress.stop.load(Ordering::Relaxed)
                    || deadline.is_some_and(|end| Instant::now() >= end)
                {
                    break;
                }
                if claimed.fetch_add(1, Ordering::Relaxed) >= budget {
                    break;
                }
                let sent = Instant::now();
                match client.send_prepared(&request).await {
                    Ok(_) => stats.record(sent.elapsed()),
                    Err(err) => {
                        stats.record_error();
                        progress.errors.fetch_add(1, Ordering::Relaxed);
                        first_error.get_or_insert_with(|| err.to_string());
                        // A dead server fails fast: do not spin on it.
                        if matches!(
                            err,
                            ClientError::Refused { .. } | ClientError::Unreachable { .. }
                        ) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
                progress.completed.fetch_add(1, Ordering::Relaxed);
            }
            (stats, first_error)
        }));
    }
    let mut total = LatencyStats::with_recent_capacity(0);
    let mut first_error = None;
    for worker in workers {
        match worker.await {
            Ok((stats, error)) => {
                total.merge(&stats);
                if first_error.is_none() {
                    first_error = error;
                }
            }
            Err(join) => {
                first_error.get_or_insert_with(|| format!("a worker stopped: {join}"));
            }
        }
    }
    report(concurrency, &total, started.elapsed(), first_error)
}

/// A level's report from its statistics.
pub fn report(
    concurrency: usize,
    stats: &LatencyStats,
    elapsed: Duration,
    first_error: Option<String>,
) -> LevelReport {
    let snapshot = stats.snapshot();
    let seconds = elapsed.as_secs_f64();
    LevelReport {
        concurrency,
        requests: snapshot.count + snapshot.errors,
        errors: snapshot.errors,
        throughput_rps: if seconds > 0.0 {
            snapshot.count as f64 / seconds
        } else {
            0.0
        },
        p50_ms: snapshot.p50_ms,
        p90_ms: snapshot.p90_ms,
        p95_ms: snapshot.p95_ms,
        p99_ms: snapshot.p99_ms,
        max_ms: snapshot.max_ms,
        mean_ms: snapshot.mean_ms,
        elapsed_s: seconds,
        first_error,
    }
}

/// `1,2,4,8` -> `[1, 2, 4, 8]`; also `1:8` for powers of two from 1 to 8.
pub fn parse_concurrency(text: &str) -> Result<Vec<usize>, String> {
    let text = text.trim();
    if let Some((low, high)) = text.split_once(':') {
        let low: usize = low
            .trim()
            .parse()
            .map_err(|_| format!("bad concurrency range '{text}'"))?;
        let high: usize = high
            .trim()
            .parse()
            .map_err(|_| format!("bad concurrency range '{text}'"))?;
        if low == 0 || high < low || high > 4096 {
            return Err(format!(
                "concurrency range '{text}' must be within 1..=4096, low <= high"
            ));
        }
        let mut levels = Vec::new();
        let mut level = low;
        while level < high {
            levels.push(level);
            level *= 2;
        }
        levels.push(high);
        return Ok(levels);
    }
    let levels: Vec<usize> = text
        .split(',')
        .map(|part| {
            part.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad concurrency '{part}'"))
        })
        .collect::<Result<_, _>>()?;
    if levels.is_empty() || levels.iter().any(|&level| level == 0 || level > 4096) {
        return Err(format!(
            "concurrency levels must be within 1..=4096 (got '{text}')"
        ));
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_lists_and_ranges() {
        assert_eq!(parse_concurrency("1,2,4,8").unwrap(), vec![1, 2, 4, 8]);
        assert_eq!(parse_concurrency("1:8").unwrap(), vec![1, 2, 4, 8]);
        assert_eq!(parse_concurrency("3:10").unwrap(), vec![3, 6, 10]);
        assert_eq!(parse_concurrency(" 4 ").unwrap(), vec![4]);
        for bad in ["0", "", "a", "8:1", "1,,2", "1:100000"] {
            assert!(parse_concurrency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reports_count_errors_and_throughput() {
        let mut stats = LatencyStats::new();
        for _ in 0..10 {
            stats.record(Duration::from_millis(5));
        }
        stats.record_error();
        let report = report(2, &stats, Duration::from_secs(2), Some("boom".into()));
        assert_eq!((report.requests, report.errors), (11, 1));
        assert!((report.throughput_rps - 5.0).abs() < 1e-9);
        assert!((report.p99_ms - 5.0).abs() < 0.01);
        let json = serde_json::to_value(&report).unwrap();
        for key in [
            "concurrency",
            "requests",
            "errors",
            "throughput_rps",
            "p50_ms",
            "p90_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "mean_ms",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(
            report.csv_row().split(',').count(),
            CSV_HEADER.split(',').count()
        );
    }
}
