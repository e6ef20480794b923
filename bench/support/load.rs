//! Load generation (n clients over a list of items, bounded by a duration) and its statistics.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) struct Load {
    /// Per-request durations, sorted.
    pub(crate) times: Vec<Duration>,
    pub(crate) failed: usize,
    pub(crate) elapsed: Duration,
}

impl Load {
    pub(crate) fn count(&self) -> usize {
        self.times.len()
    }
    pub(crate) fn rate(&self) -> f64 {
        self.count() as f64 / self.elapsed.as_secs_f64()
    }
    pub(crate) fn pct(&self, p: f64) -> Duration {
        percentile(&self.times, p)
    }
}

/// Nearest-rank percentile of sorted durations.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `op` over `items` with `clients` concurrent clients until the items run out or
/// `limit` has passed (requests in flight then finish).
pub(crate) async fn run_load<T, F, Fut>(
    items: Vec<T>,
    clients: usize,
    limit: Duration,
    op: F,
) -> Load
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (items, next, op) = (items.clone(), next.clone(), op.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut failed = 0;
                while start.elapsed() < limit {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let t0 = Instant::now();
                    if !op(item.clone()).await {
                        failed += 1;
                    }
                    times.push(t0.elapsed());
                }
                (times, failed)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (t, f) = w.await.expect("load worker panicked");
        times.extend(t);
        failed += f;
    }
    let elapsed = start.elapsed();
    times.sort();
    Load {
        times,
        failed,
        elapsed,
    }
}
