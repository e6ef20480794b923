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
use std::sync::OnceLock;
use std::time::Duration;

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
