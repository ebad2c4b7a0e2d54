//! Timing and CPU accounting shared by every row.

use std::time::{Duration, Instant};

/// Median and 95th percentile of `rounds` runs of `call`, after a warm-up.
pub async fn latency<F, Fut>(rounds: usize, mut call: F) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..rounds / 10 + 1 {
        call().await;
    }
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        call().await;
        samples.push(started.elapsed());
    }
    samples.sort();
    (samples[rounds / 2], samples[rounds * 95 / 100])
}

/// CPU time of every live thread of this process whose name does not start
/// with `excluded` (the fake's threads): what the client side spent.
pub fn cpu_except(excluded: &str) -> Duration {
    let mut total = 0u64;
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if name.starts_with(excluded) {
            continue;
        }
        // schedstat: nanoseconds on CPU, first field.
        let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        total += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Duration::from_nanos(total)
}

/// Client CPU and wall time of `work`.
pub async fn cpu_and_wall<T>(work: impl Future<Output = T>) -> (Duration, Duration, T) {
    let cpu = cpu_except(super::FAKE_THREADS);
    let started = Instant::now();
    let out = work.await;
    (
        cpu_except(super::FAKE_THREADS).saturating_sub(cpu),
        started.elapsed(),
        out,
    )
}

/// Resident set size of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// One figure of a measure and of its baseline per round, taken in turns so
/// that whatever else the machine does falls on both alike.
pub struct Paired {
    pub value: Vec<f64>,
    pub baseline: Vec<f64>,
}

impl Paired {
    /// `rounds` rounds of `value` then `baseline`, after one of each to warm up.
    pub async fn interleave<A, FA, B, FB>(rounds: usize, mut value: A, mut baseline: B) -> Self
    where
        A: FnMut() -> FA,
        FA: Future<Output = f64>,
        B: FnMut() -> FB,
        FB: Future<Output = f64>,
    {
        value().await;
        baseline().await;
        let mut paired = Self {
            value: Vec::with_capacity(rounds),
            baseline: Vec::with_capacity(rounds),
        };
        for _ in 0..rounds {
            paired.value.push(value().await);
            paired.baseline.push(baseline().await);
        }
        paired
    }

    pub fn median_value(&self) -> f64 {
        median(&self.value)
    }

    pub fn median_baseline(&self) -> f64 {
        median(&self.baseline)
    }

    /// The lowest and highest ratio of a round's value to its baseline.
    pub fn ratio_spread(&self) -> (f64, f64) {
        self.value
            .iter()
            .zip(&self.baseline)
            .map(|(value, baseline)| value / baseline)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), ratio| {
                (low.min(ratio), high.max(ratio))
            })
    }
}

pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// CPU time of every thread of this process, for a process that runs only
/// the work it measures.
pub fn cpu_of_process() -> Duration {
    // No thread name starts with a NUL.
    cpu_except("\0")
}
