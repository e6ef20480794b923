//! Prometheus metrics: what `GET /metrics` shows, and the few functions the layers call to
//! record it (so metric names and label sets live in this one file).
//!
//! The `metrics` facade has one recorder per process. Tests run many gateways in one
//! process; they all record into the same registry, so a scrape shows the sum of every
//! gateway of the process and tests compare before/after values, never absolute ones. A
//! production process runs one gateway, where the two are the same.
//!
//! Labels are bounded sets only: route patterns (never a raw path), network and platform
//! names, outcome classes. No user, profile or post id is ever a label.

use crate::domain::{DeleteFailure, DeleteOutcome};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Histogram buckets in seconds, from a sub-millisecond answer to a network timing out.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder on first use and answers its handle; `None` when another
/// recorder was installed first (an embedding program's): then `/metrics` says so instead of
/// showing an empty page.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .map(PrometheusBuilder::build_recorder);
            let recorder = match recorder {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "metrics recorder could not be built");
                    return None;
                }
            };
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    spawn_upkeep(handle.clone());
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Folds histogram samples into their buckets every [`UPKEEP_EVERY`]. The recorder keeps each
/// raw sample until a scrape or an upkeep drains it (`build_recorder` starts no upkeep of its
/// own): unscraped, a busy gateway's memory grew by ~40 bytes per request without end. A
/// plain thread, not a task: the recorder outlives every runtime of the process.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .stack_size(64 * 1024)
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started; histograms are drained by scrapes only");
    }
}

/// The Prometheus text of every metric recorded so far.
pub fn render() -> Option<String> {
    let handle = handle()?;
    handle.run_upkeep();
    Some(handle.render())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "postgate_http_requests_total",
        "HTTP requests answered, by method, route pattern and status."
    );
    describe_histogram!(
        "postgate_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route pattern."
    );
    describe_counter!(
        "postgate_network_calls_total",
        "Calls to a network, by network, operation and outcome class."
    );
    describe_histogram!(
        "postgate_network_call_duration_seconds",
        Unit::Seconds,
        "Time a network took to answer one call, by network and operation."
    );
    describe_counter!(
        "postgate_deletes_total",
        "Per-platform delete outcomes decided by a delete, by platform and outcome."
    );
    describe_gauge!(
        "postgate_deletes_in_flight",
        "Per-platform deletes waiting on their network now."
    );
    describe_counter!(
        "postgate_quota_decisions_total",
        "Local delete-quota decisions, by network and decision (granted or exhausted)."
    );
    describe_histogram!(
        "postgate_scheduler_lag_seconds",
        Unit::Seconds,
        "How late a scheduled post was sent, after its scheduleDate."
    );
    describe_gauge!(
        "postgate_scheduler_backlog",
        "Scheduled posts due at the scheduler's last tick (at most scheduler.batch_size)."
    );
    describe_histogram!(
        "postgate_store_flush_duration_seconds",
        Unit::Seconds,
        "Time one durable store flush took."
    );
}

/// One HTTP request answered. `route` is the matched pattern (`/api/post/{id}`) or
/// `unmatched`.
pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    metrics::counter!(
        "postgate_http_requests_total",
        "method" => method.to_owned(),
        "route" => route.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    metrics::histogram!(
        "postgate_http_request_duration_seconds",
        "method" => method.to_owned(),
        "route" => route.to_owned()
    )
    .record(elapsed.as_secs_f64());
}

/// One call to a network answered (or given up on) after `elapsed`.
pub fn network_call(
    network: &str,
    operation: &'static str,
    outcome: &'static str,
    elapsed: Duration,
) {
    metrics::counter!(
        "postgate_network_calls_total",
        "network" => network.to_owned(),
        "operation" => operation,
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!(
        "postgate_network_call_duration_seconds",
        "network" => network.to_owned(),
        "operation" => operation
    )
    .record(elapsed.as_secs_f64());
}

/// The outcome class of a platform's delete for metrics and logs; `None` for outcomes no
/// delete decided now (deleted by an earlier request, never published).
pub fn delete_outcome_label(outcome: &DeleteOutcome) -> Option<&'static str> {
    Some(match outcome {
        DeleteOutcome::Deleted => "success",
        DeleteOutcome::AlreadyGone => "already_gone",
        DeleteOutcome::PreviouslyDeleted | DeleteOutcome::NotPublished => return None,
        DeleteOutcome::Failed(f) => match f {
            DeleteFailure::Unsupported(_) => "unsupported",
            DeleteFailure::RateLimited { .. } => "rate_limited",
            DeleteFailure::Timeout(_) | DeleteFailure::Ambiguous(_) => "unknown",
            DeleteFailure::NoAdapter
            | DeleteFailure::NotLinked
            | DeleteFailure::NoXCredentials
            | DeleteFailure::Auth(_)
            | DeleteFailure::Transient(_)
            | DeleteFailure::Rejected(_) => "failed",
        },
    })
}

/// One platform's delete decided with `outcome` (see [`delete_outcome_label`]).
pub fn delete(platform: &str, outcome: &'static str) {
    metrics::counter!(
        "postgate_deletes_total",
        "platform" => platform.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Counts per-platform deletes waiting on their network while it lives; dropping it (also
/// when the request is cancelled) takes them off again.
pub struct InFlight(f64);

impl InFlight {
    /// `n` deletes start waiting on their networks.
    pub fn start(n: usize) -> Self {
        let n = n as f64;
        metrics::gauge!("postgate_deletes_in_flight").increment(n);
        Self(n)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("postgate_deletes_in_flight").decrement(self.0);
    }
}

/// A local delete-quota decision for `network`.
pub fn quota_decision(network: &str, granted: bool) {
    metrics::counter!(
        "postgate_quota_decisions_total",
        "network" => network.to_owned(),
        "decision" => if granted { "granted" } else { "exhausted" }
    )
    .increment(1);
}

/// A scheduled post sent `lag` after it was due.
pub fn scheduler_lag(lag: Duration) {
    metrics::histogram!("postgate_scheduler_lag_seconds").record(lag.as_secs_f64());
}

/// How many scheduled posts the last tick found due.
pub fn scheduler_backlog(due: usize) {
    metrics::gauge!("postgate_scheduler_backlog").set(due as f64);
}

/// One durable store flush took `elapsed`.
pub fn store_flush(elapsed: Duration) {
    metrics::histogram!("postgate_store_flush_duration_seconds").record(elapsed.as_secs_f64());
}

/// Most accounts per network [`QuotaRemaining`] remembers: a bound on its memory and on the
/// work of a scrape, far above the accounts one gateway deletes for in a window.
const MAX_TRACKED_ACCOUNTS: usize = 10_000;

/// `postgate_quota_remaining{network}`: the fewest local delete-quota slots any account has
/// left, per network — the number an operator alerts on before deletes start answering
/// "rate limited". A sum over accounts would hide the one account about to run dry.
///
/// Fed by the gateway's own quota decisions (each grant says how many slots the account's
/// window still has, counted by the store, so other gateways' calls on a shared store are
/// included), not by scanning the store: a scrape does work bounded by the accounts seen in
/// the current windows ([`MAX_TRACKED_ACCOUNTS`]). An account's value is the one its latest
/// decision saw; it is forgotten a whole window after that decision, when its calls have
/// all left the window. In between, slots freed by the sliding window count only from the
/// account's next decision, so the gauge errs low, never high. With no account seen in the
/// window it shows the full limit.
///
/// Unlike the recorder's metrics it belongs to one gateway (its delete service), so tests
/// running several gateways in one process each see their own.
#[derive(Clone, Default)]
pub struct QuotaRemaining {
    by_network: Arc<Mutex<BTreeMap<String, NetworkQuota>>>,
}

struct NetworkQuota {
    limit: u32,
    window: Duration,
    /// Remaining slots after the latest decision, and when it was made, by quota bucket.
    accounts: HashMap<String, (u32, Instant)>,
}

impl NetworkQuota {
    fn forget_expired(&mut self, now: Instant) {
        let window = self.window;
        self.accounts
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < window);
    }

    fn min_remaining(&self) -> u32 {
        self.accounts
            .values()
            .map(|(remaining, _)| *remaining)
            .min()
            .unwrap_or(self.limit)
    }
}

impl QuotaRemaining {
    /// A gauge for `networks` (name, limit per window, window length) whose local counting is
    /// on; networks with a limit of 0 are left out (nothing is counted for them).
    pub fn new(networks: impl IntoIterator<Item = (String, u32, Duration)>) -> Self {
        let by_network = networks
            .into_iter()
            .filter(|(_, limit, _)| *limit > 0)
            .map(|(name, limit, window)| {
                let quota = NetworkQuota {
                    limit,
                    window,
                    accounts: HashMap::new(),
                };
                (name, quota)
            })
            .collect();
        Self {
            by_network: Arc::new(Mutex::new(by_network)),
        }
    }

    fn with_network<R>(&self, network: &str, f: impl FnOnce(&mut NetworkQuota) -> R) -> Option<R> {
        // A panic elsewhere while holding the lock leaves numbers, not broken invariants.
        let mut by_network = self
            .by_network
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        by_network.get_mut(network).map(f)
    }

    /// A quota decision for the account whose bucket is `bucket`: `remaining` slots left
    /// (0 when the window is full or the network blocked the account).
    pub fn decided(&self, network: &str, bucket: &str, remaining: u32) {
        let now = Instant::now();
        self.with_network(network, |q| {
            if let Some(entry) = q.accounts.get_mut(bucket) {
                *entry = (remaining, now);
                return;
            }
            if q.accounts.len() >= MAX_TRACKED_ACCOUNTS {
                q.forget_expired(now);
            }
            if q.accounts.len() >= MAX_TRACKED_ACCOUNTS {
                // Still full of live accounts: keep the ones closest to running out.
                let Some((fullest, most)) = q
                    .accounts
                    .iter()
                    .max_by_key(|(_, (r, _))| *r)
                    .map(|(b, (r, _))| (b.clone(), *r))
                else {
                    return;
                };
                if most <= remaining {
                    return;
                }
                q.accounts.remove(&fullest);
            }
            q.accounts.insert(bucket.to_owned(), (remaining, now));
        });
    }

    /// The slot of a call the network refused without acting on it was given back.
    pub fn gave_back(&self, network: &str, bucket: &str) {
        self.with_network(network, |q| {
            let limit = q.limit;
            if let Some((remaining, _)) = q.accounts.get_mut(bucket) {
                *remaining = remaining.saturating_add(1).min(limit);
            }
        });
    }

    /// The gauge in Prometheus text format, one sample per network.
    pub fn render(&self) -> String {
        let now = Instant::now();
        let mut by_network = self
            .by_network
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        if by_network.is_empty() {
            return text;
        }
        text.push_str(
            "# HELP postgate_quota_remaining Fewest local delete-quota slots any account has \
             left in its current window, by network (the full limit when no account used it).\n\
             # TYPE postgate_quota_remaining gauge\n",
        );
        for (network, q) in by_network.iter_mut() {
            q.forget_expired(now);
            // Network names are registry names ([a-z]+): nothing to escape.
            let _ = writeln!(
                text,
                "postgate_quota_remaining{{network=\"{network}\"}} {}",
                q.min_remaining()
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge() -> QuotaRemaining {
        QuotaRemaining::new([
            ("threads".to_owned(), 100, Duration::from_secs(86_400)),
            ("twitter".to_owned(), 50, Duration::from_secs(900)),
            ("off".to_owned(), 0, Duration::from_secs(60)),
        ])
    }

    #[test]
    fn the_gauge_shows_the_account_closest_to_its_limit() {
        let g = gauge();
        let text = g.render();
        assert!(
            text.contains("postgate_quota_remaining{network=\"threads\"} 100\n"),
            "{text}"
        );
        assert!(
            text.contains("postgate_quota_remaining{network=\"twitter\"} 50\n"),
            "{text}"
        );
        assert!(!text.contains("\"off\""), "counting off, no gauge: {text}");

        g.decided("threads", "delete:threads:a", 97);
        g.decided("threads", "delete:threads:b", 40);
        g.decided("threads", "delete:threads:a", 96);
        assert!(g.render().contains("{network=\"threads\"} 40\n"));
        g.decided("threads", "delete:threads:b", 0);
        assert!(g.render().contains("{network=\"threads\"} 0\n"));
        g.gave_back("threads", "delete:threads:b");
        assert!(g.render().contains("{network=\"threads\"} 1\n"));
        assert!(g.render().contains("{network=\"twitter\"} 50\n"));
        g.decided("unknown", "delete:unknown:a", 0);
    }

    #[test]
    fn an_account_is_forgotten_a_window_after_its_last_decision() {
        let g = QuotaRemaining::new([("threads".to_owned(), 5, Duration::ZERO)]);
        g.decided("threads", "delete:threads:a", 0);
        assert!(g.render().contains("{network=\"threads\"} 5\n"));
    }

    #[test]
    fn a_full_gauge_keeps_the_accounts_closest_to_running_out() {
        let g = QuotaRemaining::new([("x".to_owned(), 50, Duration::from_secs(900))]);
        for n in 0..MAX_TRACKED_ACCOUNTS {
            g.decided("x", &format!("b{n}"), 49);
        }
        g.decided("x", "low", 3);
        g.decided("x", "high", 49);
        assert!(g.render().contains("{network=\"x\"} 3\n"));
        let tracked = g.with_network("x", |q| q.accounts.len()).unwrap();
        assert_eq!(tracked, MAX_TRACKED_ACCOUNTS);
        assert!(g
            .with_network("x", |q| q.accounts.contains_key("low"))
            .unwrap());
        assert!(!g
            .with_network("x", |q| q.accounts.contains_key("high"))
            .unwrap());
    }
}
