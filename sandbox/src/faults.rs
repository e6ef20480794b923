//! Fault injection (latency, transient errors, hangs), call statistics and quota windows
//! shared by the simulated networks.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Faults injected into every API call of one simulated network (not into `/__sandbox/*`).
///
/// Applied in this order: fixed latency plus a random jitter, then a hang, then a random
/// transient error. An injected error happens before the call has any effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fixed delay before answering, in milliseconds.
    pub latency_ms: u64,
    /// Random extra delay, uniform in `0..=jitter_ms` milliseconds.
    pub jitter_ms: u64,
    /// Share of calls (0.0–1.0) answered with a transient HTTP 500 or 503.
    pub error_rate: f64,
    /// Accept every call and never answer it.
    pub hang: bool,
    /// Share of deletes (0.0–1.0) that are performed and then answered by closing the
    /// connection without a response: a lost answer. Threads only (X ignores it).
    pub lose_response_rate: f64,
}

impl Faults {
    /// Whether the values are in range.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.error_rate) || self.error_rate.is_nan() {
            return Err(format!(
                "error_rate must be between 0.0 and 1.0, got {}",
                self.error_rate
            ));
        }
        if !(0.0..=1.0).contains(&self.lose_response_rate) || self.lose_response_rate.is_nan() {
            return Err(format!(
                "lose_response_rate must be between 0.0 and 1.0, got {}",
                self.lose_response_rate
            ));
        }
        Ok(())
    }

    /// A one-line description for the start banner.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.latency_ms > 0 || self.jitter_ms > 0 {
            if self.jitter_ms > 0 {
                parts.push(format!(
                    "latency {}+0..{} ms",
                    self.latency_ms, self.jitter_ms
                ));
            } else {
                parts.push(format!("latency {} ms", self.latency_ms));
            }
        }
        if self.error_rate > 0.0 {
            parts.push(format!("error rate {}", self.error_rate));
        }
        if self.hang {
            parts.push("hang (never answers)".to_owned());
        }
        if self.lose_response_rate > 0.0 {
            parts.push(format!(
                "lose-response rate {} (deletes done, answer dropped)",
                self.lose_response_rate
            ));
        }
        if parts.is_empty() {
            "none".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// A transient failure to answer instead of handling the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Injected {
    /// HTTP 500.
    Internal,
    /// HTTP 503.
    Unavailable,
}

/// The current faults of one network, changeable at run time.
#[derive(Debug, Default)]
pub(crate) struct FaultSwitch(RwLock<Faults>);

impl FaultSwitch {
    pub(crate) fn new(faults: Faults) -> Self {
        Self(RwLock::new(faults))
    }

    pub(crate) fn get(&self) -> Faults {
        *self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set(&self, faults: Faults) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// Whether this call's answer is to be lost (after the call had its effect).
    pub(crate) fn lose_response(&self, stats: &Stats) -> bool {
        let rate = self.get().lose_response_rate;
        let lose = rate > 0.0 && rand::random::<f64>() < rate;
        if lose {
            stats.lost.fetch_add(1, Ordering::Relaxed);
        }
        lose
    }

    /// Sleeps, hangs or picks an error as configured. `None`: handle the call.
    pub(crate) async fn apply(&self, stats: &Stats) -> Option<Injected> {
        stats.requests.fetch_add(1, Ordering::Relaxed);
        let f = self.get();
        if f.latency_ms == 0 && f.jitter_ms == 0 && !f.hang && f.error_rate <= 0.0 {
            return None;
        }
        let mut delay = f.latency_ms;
        if f.jitter_ms > 0 {
            delay += rand::random_range(0..=f.jitter_ms);
        }
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if f.hang {
            stats.hung.fetch_add(1, Ordering::Relaxed);
            // Dropped (and the connection closed) only when the client gives up.
            futures::future::pending::<()>().await;
        }
        if f.error_rate > 0.0 && rand::random::<f64>() < f.error_rate {
            stats.injected.fetch_add(1, Ordering::Relaxed);
            return Some(if rand::random::<bool>() {
                Injected::Internal
            } else {
                Injected::Unavailable
            });
        }
        None
    }
}

/// Counters of one simulated network, served at `GET /__sandbox/stats`.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub requests: AtomicU64,
    pub container: AtomicU64,
    pub publish: AtomicU64,
    pub get: AtomicU64,
    pub delete: AtomicU64,
    pub publishing_limit: AtomicU64,
    pub published: AtomicU64,
    pub deleted: AtomicU64,
    pub auth: AtomicU64,
    pub not_found: AtomicU64,
    pub forbidden: AtomicU64,
    pub rate_limited: AtomicU64,
    pub invalid: AtomicU64,
    pub injected: AtomicU64,
    pub hung: AtomicU64,
    pub lost: AtomicU64,
    pub media: AtomicU64,
    pub media_bytes: AtomicU64,
}

/// Which error class an answer falls in, for the counters.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ErrorKind {
    Auth,
    NotFound,
    Forbidden,
    RateLimited,
    Invalid,
}

impl Stats {
    pub(crate) fn error(&self, kind: ErrorKind) {
        let c = match kind {
            ErrorKind::Auth => &self.auth,
            ErrorKind::NotFound => &self.not_found,
            ErrorKind::Forbidden => &self.forbidden,
            ErrorKind::RateLimited => &self.rate_limited,
            ErrorKind::Invalid => &self.invalid,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        for c in [
            &self.requests,
            &self.container,
            &self.publish,
            &self.get,
            &self.delete,
            &self.publishing_limit,
            &self.published,
            &self.deleted,
            &self.auth,
            &self.not_found,
            &self.forbidden,
            &self.rate_limited,
            &self.invalid,
            &self.injected,
            &self.hung,
            &self.lost,
            &self.media,
            &self.media_bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self, network: &str, live_posts: u64) -> StatsSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let errors = ErrorCounts {
            auth: l(&self.auth),
            not_found: l(&self.not_found),
            forbidden: l(&self.forbidden),
            rate_limited: l(&self.rate_limited),
            invalid: l(&self.invalid),
            injected: l(&self.injected),
            total: 0,
        };
        StatsSnapshot {
            network: network.to_owned(),
            requests: l(&self.requests),
            calls: CallCounts {
                container: l(&self.container),
                publish: l(&self.publish),
                get: l(&self.get),
                delete: l(&self.delete),
                publishing_limit: l(&self.publishing_limit),
            },
            published: l(&self.published),
            deleted: l(&self.deleted),
            errors: ErrorCounts {
                total: errors.auth
                    + errors.not_found
                    + errors.forbidden
                    + errors.rate_limited
                    + errors.invalid
                    + errors.injected,
                ..errors
            },
            hung: l(&self.hung),
            lost_responses: l(&self.lost),
            live_posts,
            media: l(&self.media),
            media_bytes: l(&self.media_bytes),
        }
    }
}

/// A copy of one network's counters (the body of `GET /__sandbox/stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// `threads` or `x`.
    pub network: String,
    /// Every API call received (faults included; `/__sandbox/*` excluded).
    pub requests: u64,
    /// Calls by kind that got past fault injection, whatever their answer.
    pub calls: CallCounts,
    /// Posts published (Threads `threads_publish`, X `POST /2/tweets`) successfully.
    pub published: u64,
    /// Posts deleted successfully.
    pub deleted: u64,
    /// Error answers by class.
    pub errors: ErrorCounts,
    /// Calls held open by the hang fault.
    pub hung: u64,
    /// Calls performed and then answered by closing the connection (the lose-response fault).
    #[serde(default)]
    pub lost_responses: u64,
    /// Posts currently live (published or seeded, not deleted).
    pub live_posts: u64,
    /// Images received: X media uploads, Bluesky blobs, Threads image containers (the
    /// sandbox keeps their URLs; Threads fetches nothing).
    #[serde(default)]
    pub media: u64,
    /// Bytes of the uploaded images (X, Bluesky).
    #[serde(default)]
    pub media_bytes: u64,
}

/// Calls by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    /// Threads `POST /{user}/threads` (container creation); always 0 on X.
    pub container: u64,
    /// Threads `POST /{user}/threads_publish`; X `POST /2/tweets`.
    pub publish: u64,
    /// Reads: Threads `GET /{id}`; X `GET /2/tweets/{id}`.
    pub get: u64,
    /// Deletes: Threads `DELETE /{id}`; X `DELETE /2/tweets/{id}` and v1.1
    /// `POST /1.1/statuses/destroy/{id}.json`.
    pub delete: u64,
    /// Threads `GET /{user}/threads_publishing_limit`; always 0 on X.
    pub publishing_limit: u64,
}

/// Error answers by class.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCounts {
    /// Unknown or missing token, bad OAuth signature.
    pub auth: u64,
    /// Unknown or deleted post (and, on Threads, a post of another account).
    pub not_found: u64,
    /// Refused: not the author (X), text too long (X).
    pub forbidden: u64,
    /// Over a quota.
    pub rate_limited: u64,
    /// Malformed request (missing or invalid parameter).
    pub invalid: u64,
    /// Transient 500/503 answers injected by `error_rate`.
    pub injected: u64,
    /// Sum of the above.
    pub total: u64,
}

/// Seconds since the Unix epoch.
pub(crate) fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A moving-window quota (Threads: "100 deletes per 24-hour moving period"). A limit of 0
/// means no quota.
#[derive(Debug)]
pub(crate) struct MovingWindow {
    limit: u32,
    window: Duration,
    events: VecDeque<Instant>,
}

impl MovingWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            events: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&first) = self.events.front() {
            if now.duration_since(first) >= self.window {
                self.events.pop_front();
            } else {
                break;
            }
        }
    }

    /// Events in the window.
    pub(crate) fn usage(&mut self, now: Instant) -> u32 {
        self.expire(now);
        self.events.len() as u32
    }

    /// Whether another event would exceed the quota.
    pub(crate) fn is_full(&mut self, now: Instant) -> bool {
        self.limit > 0 && self.usage(now) >= self.limit
    }

    /// Counts one event (not tracked when there is no quota).
    pub(crate) fn record(&mut self, now: Instant) {
        if self.limit > 0 {
            self.events.push_back(now);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.events.clear();
    }
}

/// A fixed-window request limit as X applies it (`x-rate-limit-*`). A limit of 0 means no
/// limit (and no headers).
#[derive(Debug)]
pub(crate) struct FixedWindow {
    limit: u32,
    window: Duration,
    start: Option<(Instant, u64)>,
    count: u32,
}

/// The state of a fixed window after a request was counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateState {
    pub limit: u32,
    pub remaining: u32,
    /// Unix epoch seconds when the window resets.
    pub reset: u64,
    /// The request was over the limit (answer 429).
    pub exceeded: bool,
}

impl FixedWindow {
    pub(crate) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            start: None,
            count: 0,
        }
    }

    /// Counts one request. `None` when there is no limit.
    pub(crate) fn hit(&mut self, now: Instant) -> Option<RateState> {
        if self.limit == 0 {
            return None;
        }
        let start_epoch = match self.start {
            Some((s, e)) if now.duration_since(s) < self.window => e,
            _ => {
                let e = epoch_secs();
                self.start = Some((now, e));
                self.count = 0;
                e
            }
        };
        let exceeded = self.count >= self.limit;
        if !exceeded {
            self.count += 1;
        }
        Some(RateState {
            limit: self.limit,
            remaining: self.limit - self.count,
            reset: start_epoch + self.window.as_secs().max(1),
            exceeded,
        })
    }

    pub(crate) fn clear(&mut self) {
        self.start = None;
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_window_expires() {
        let mut w = MovingWindow::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(!w.is_full(t0));
        w.record(t0);
        w.record(t0 + Duration::from_secs(1));
        assert!(w.is_full(t0 + Duration::from_secs(2)));
        assert!(!w.is_full(t0 + Duration::from_secs(10)));
        assert_eq!(w.usage(t0 + Duration::from_secs(11)), 0);
        let mut off = MovingWindow::new(0, Duration::from_secs(10));
        off.record(t0);
        assert!(!off.is_full(t0));
    }

    #[test]
    fn fixed_window_counts_and_resets() {
        let mut w = FixedWindow::new(2, Duration::from_secs(900));
        let t0 = Instant::now();
        let a = w.hit(t0).unwrap();
        assert_eq!((a.remaining, a.exceeded), (1, false));
        let b = w.hit(t0).unwrap();
        assert_eq!((b.remaining, b.exceeded), (0, false));
        let c = w.hit(t0).unwrap();
        assert_eq!((c.remaining, c.exceeded), (0, true));
        assert!(c.reset >= epoch_secs() + 899);
        let d = w.hit(t0 + Duration::from_secs(900)).unwrap();
        assert_eq!((d.remaining, d.exceeded), (1, false));
        assert_eq!(FixedWindow::new(0, Duration::from_secs(1)).hit(t0), None);
    }
}
