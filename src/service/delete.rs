//! The delete orchestrator: resolve → plan → claim (durable intent) → fan out concurrently → record.
//!
//! Invariants held here (see DESIGN.md): a platform is reported deleted only when its network
//! confirmed it; the intent is durable before any network call and the outcome is written with
//! the post's status in one transaction; platforms already deleted are never called again;
//! concurrent deletes of one post serialize on its lock, so each network is called once.

use super::locks::PostLocks;
use crate::domain::{
    DeleteFailure, DeleteOutcome, EntryError, EntryState, NetworkPostId, Platform, Post, PostId,
    PostStatus,
};
use crate::networks::{CallContext, Existence, Gone, Network, NetworkError, Networks};
use crate::store::{LinkedAccount, QuotaDecision, Store, StoreError};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;

/// Posts read from the store at once when a request walks a whole profile.
pub const SCAN_PAGE: usize = 256;

pub use crate::networks::Quota;

/// Exponential backoff with jitter for transient network failures.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// First delay.
    pub base: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails for good, or the attempts run out. Only
    /// [`NetworkError::is_transient`] failures are retried; 4xx, auth, not-found never are.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, NetworkError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, NetworkError>>,
    {
        use backon::Retryable;
        let backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.base)
            .with_max_delay(self.max)
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .with_jitter();
        call.retry(backoff)
            .when(NetworkError::is_transient)
            .notify(|e, after| tracing::warn!(error = %e, retry_in_ms = after.as_millis() as u64, "transient network failure, retrying"))
            .await
    }
}

/// What the orchestrator needs from settings.
#[derive(Clone, Debug)]
pub struct DeleteConfig {
    /// Time budget of one platform's delete, retries included.
    pub deadline: Duration,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
    /// Posts of a bulk processed at once.
    pub bulk_concurrency: usize,
}

/// One platform's line in a delete answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryReport {
    /// The network.
    pub platform: Platform,
    /// The network's post id, if it had one.
    pub id: Option<NetworkPostId>,
    /// What happened.
    pub outcome: DeleteOutcome,
}

/// The per-platform result of deleting one post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteReport {
    /// The post.
    pub post_id: PostId,
    /// One line per platform, in the post's order.
    pub entries: Vec<EntryReport>,
}

impl DeleteReport {
    /// Whether every platform has no live copy left.
    pub fn all_succeeded(&self) -> bool {
        self.entries.iter().all(|e| e.outcome.is_success())
    }
}

/// The answer for one id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteResult {
    /// Unknown id, malformed id, or another profile's post (indistinguishable on purpose).
    NotFound(String),
    /// The post was deleted before.
    AlreadyDeleted(PostId),
    /// The delete ran; see each platform.
    Done(DeleteReport),
    /// An internal failure (store error, a bug) stopped this id's delete; the other ids of a
    /// bulk are not affected. Platforms already confirmed are recorded; retrying is safe.
    Internal(String),
}

/// The answer of a `markManualDeleted` for one id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManualResult {
    /// Unknown or foreign id.
    NotFound(String),
    /// Already deleted.
    AlreadyDeleted(PostId),
    /// A network says the post is still there; nothing was recorded.
    StillLive {
        /// The post.
        post_id: PostId,
        /// Platforms where it is still live.
        platforms: Vec<Platform>,
    },
    /// A network could not be asked; nothing was recorded.
    CheckFailed {
        /// The post.
        post_id: PostId,
        /// The platform that could not be checked.
        platform: Platform,
        /// Why.
        failure: DeleteFailure,
    },
    /// Recorded as deleted.
    Recorded(PostId),
    /// An internal failure stopped this id's check; nothing was recorded.
    Internal(String),
}

/// Deletes posts.
#[derive(Clone)]
pub struct DeleteService {
    store: Arc<dyn Store>,
    networks: Networks,
    locks: PostLocks,
    config: DeleteConfig,
    /// Where deletes detached from their requests run, so shutdown waits for them.
    tasks: TaskTracker,
    /// The runtime they run on: the one that built the service (the gateway's). A request
    /// handler's own runtime is an HTTP worker's, dropped when the server stops, which would
    /// cut a detached delete off between its network call and its record.
    home: Option<tokio::runtime::Handle>,
    /// What the quota decisions left each account (`postgate_quota_remaining`).
    quota_gauge: crate::metrics::QuotaRemaining,
}

/// A delete of one post, planned: the post and one step per entry, in the post's order.
struct PlannedDelete {
    post: Post,
    steps: Vec<Step>,
    /// Whether the intent of its calls was written (then the record is flushed too).
    claimed: bool,
}

impl PlannedDelete {
    fn has_calls(&self) -> bool {
        self.calls().next().is_some()
    }

    fn calls(&self) -> impl Iterator<Item = &PlannedCall> {
        self.steps.iter().filter_map(|s| match s {
            Step::Call(call) => Some(call),
            Step::Settled(_) => None,
        })
    }
}

/// One entry's share of a delete.
// A `Call` carries the linked account (with its token life since #12); steps live briefly,
// one per platform of one post, so boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// Its outcome is known without (or after) a network call.
    Settled(DeleteOutcome),
    /// A network call to make.
    Call(PlannedCall),
}

/// A network call a delete will make, with everything it needs.
struct PlannedCall {
    network: Arc<dyn Network>,
    id: NetworkPostId,
    account: LinkedAccount,
    /// The quota the call's slot was taken from (given back on an authorization failure).
    quota: Quota,
    /// The entry was already `deleting`: a delete sent earlier never had its answer recorded
    /// (a crash, or a lost answer), so that earlier call may well have deleted it.
    interrupted: bool,
}

/// A network's answer to one delete call.
struct CallAnswer {
    result: Result<Gone, NetworkError>,
    /// Whether an attempt may have reached the network without its answer coming back (a
    /// timeout or a connection lost after the request was written).
    maybe_sent: bool,
    /// How long the network took, retries included (the log's `network_ms`).
    elapsed: std::time::Duration,
}

/// Counts each platform outcome this delete decided (`postgate_deletes_total`) and logs it
/// with the post id and the network's latency (retries included), one info line per
/// platform.
fn observe(report: &DeleteReport, latencies: &[(Platform, std::time::Duration)]) {
    for entry in &report.entries {
        let Some(outcome) = crate::metrics::delete_outcome_label(&entry.outcome) else {
            continue;
        };
        crate::metrics::delete(entry.platform.as_str(), outcome);
        let network_ms = latencies
            .iter()
            .find(|(p, _)| *p == entry.platform)
            .map(|(_, d)| d.as_secs_f64() * 1000.0);
        tracing::info!(
            post_id = %report.post_id,
            platform = entry.platform.as_str(),
            outcome,
            network_ms,
            "delete"
        );
    }
}

/// When a block for a network's `retry_after` hint ends, if that date can be written.
fn blocked_until(now: DateTime<Utc>, retry_after: u64) -> Option<DateTime<Utc>> {
    // Checked: a network's hint is clamped already, but no number from outside may overflow
    // the date arithmetic.
    let secs = retry_after
        .min(crate::networks::MAX_RETRY_AFTER_SECS)
        .try_into()
        .unwrap_or(i64::MAX);
    chrono::Duration::try_seconds(secs).and_then(|d| now.checked_add_signed(d))
}

/// The quota bucket of a linked account.
pub(crate) fn quota_bucket(platform: &Platform, account: &LinkedAccount) -> String {
    format!("delete:{}:{}", platform.as_str(), account.user_id)
}

impl DeleteService {
    /// A service over `store` and `networks`, sharing `locks` with the publisher and scheduler.
    pub fn new(
        store: Arc<dyn Store>,
        networks: Networks,
        locks: PostLocks,
        config: DeleteConfig,
    ) -> Self {
        let quota_gauge =
            crate::metrics::QuotaRemaining::new(networks.platforms().filter_map(|p| {
                let quota = networks.get(p)?.delete_quota();
                let window = Duration::from_secs(quota.window_secs);
                Some((p.as_str().to_owned(), quota.limit, window))
            }));
        Self {
            store,
            networks,
            locks,
            config,
            tasks: TaskTracker::new(),
            home: tokio::runtime::Handle::try_current().ok(),
            quota_gauge,
        }
    }

    /// The local delete quota left per network, as this service's decisions saw it (for
    /// `GET /metrics`).
    pub fn quota_remaining(&self) -> &crate::metrics::QuotaRemaining {
        &self.quota_gauge
    }

    /// Runs `work` detached on the service's tasks and home runtime.
    fn detach<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.home {
            Some(home) => self.tasks.spawn_on(work, home),
            None => self.tasks.spawn(work),
        }
    }

    /// Runs the detached deletes on `tasks` (the gateway's), which shutdown waits for.
    pub fn with_tasks(mut self, tasks: TaskTracker) -> Self {
        self.tasks = tasks;
        self
    }

    /// Resolves `raw_id` for `profile_id` and deletes it everywhere it is live.
    ///
    /// The work runs in its own task: a client that disconnects does not cut a delete short
    /// between its network calls and the record of their outcome.
    pub async fn delete(
        &self,
        profile_id: &str,
        raw_id: &str,
        ctx: &CallContext,
    ) -> Result<DeleteResult, StoreError> {
        let this = self.clone();
        let profile_id = profile_id.to_owned();
        let raw_id = raw_id.to_owned();
        let ctx = ctx.clone();
        self.detach(async move { this.delete_inner(&profile_id, &raw_id, &ctx).await })
            .await
            .unwrap_or_else(|e| Err(StoreError::Open(format!("delete task failed: {e}"))))
    }

    /// Deletes many ids, at most `bulk_concurrency` at once; results in request order.
    /// Duplicate ids are deleted once and answered at each place they appear. Each id runs
    /// in its own task: a failure (even a panic) in one answers [`DeleteResult::Internal`]
    /// for that id while the others complete.
    pub async fn delete_bulk(
        &self,
        profile_id: &str,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<DeleteResult>, StoreError> {
        let this = self.clone();
        let ctx = ctx.clone();
        self.bulk(
            profile_id,
            ids,
            DeleteResult::Internal,
            move |profile_id, id| {
                let (this, ctx) = (this.clone(), ctx.clone());
                async move { this.delete_inner(&profile_id, &id, &ctx).await }
            },
        )
        .await
    }

    /// `markManualDeleted` for many ids, with the bounded concurrency and isolation of
    /// [`DeleteService::delete_bulk`].
    pub async fn mark_manual_deleted_bulk(
        &self,
        profile_id: &str,
        ids: &[String],
        ctx: &CallContext,
    ) -> Result<Vec<ManualResult>, StoreError> {
        let this = self.clone();
        let ctx = ctx.clone();
        self.bulk(
            profile_id,
            ids,
            ManualResult::Internal,
            move |profile_id, id| {
                let (this, ctx) = (this.clone(), ctx.clone());
                async move { this.mark_manual_deleted(&profile_id, &id, &ctx).await }
            },
        )
        .await
    }

    /// Runs `work` for each distinct id, at most `bulk_concurrency` at once, each in its own
    /// task; answers in request order. Spawned as a whole too: a client that disconnects
    /// mid-bulk does not stop the posts already claimed.
    async fn bulk<R, F, Fut>(
        &self,
        profile_id: &str,
        ids: &[String],
        internal: fn(String) -> R,
        work: F,
    ) -> Result<Vec<R>, StoreError>
    where
        R: Clone + Send + 'static,
        F: Fn(String, String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<String> = ids.iter().filter(|id| seen.insert(*id)).cloned().collect();
        let profile_id = profile_id.to_owned();
        let concurrency = self.config.bulk_concurrency.max(1);
        let uniq = unique.clone();
        let tasks = self.tasks.clone();
        // Each id's task is spawned from inside this one, so on the home runtime too.
        let results: Vec<R> = self
            .detach(async move {
                futures::stream::iter(uniq)
                .map(move |id| {
                    let task = tasks.spawn(work(profile_id.clone(), id.clone()));
                    async move {
                        match task.await {
                            Ok(Ok(r)) => r,
                            Ok(Err(e)) => {
                                tracing::error!(error = %e, id = %id, "one id of a bulk failed");
                                internal(id)
                            }
                            Err(e) => {
                                tracing::error!(error = %e, id = %id, "one id of a bulk panicked");
                                internal(id)
                            }
                        }
                    }
                })
                .buffered(concurrency)
                .collect()
                .await
            })
            .await
            .map_err(|e| StoreError::Open(format!("bulk task failed: {e}")))?;
        let by_id: std::collections::HashMap<String, R> = unique.into_iter().zip(results).collect();
        Ok(ids.iter().filter_map(|id| by_id.get(id).cloned()).collect())
    }

    async fn owned_post(&self, profile_id: &str, raw_id: &str) -> Result<Option<Post>, StoreError> {
        let Ok(id) = PostId::parse(raw_id) else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_post(&id)
            .await?
            .filter(|p| p.profile_id == profile_id))
    }

    /// Deletes one post everywhere it may be live: plan → claim (durable intent) → fan out →
    /// settle each answer → record.
    async fn delete_inner(
        &self,
        profile_id: &str,
        raw_id: &str,
        ctx: &CallContext,
    ) -> Result<DeleteResult, StoreError> {
        self.delete_only(profile_id, raw_id, ctx, None).await
    }

    /// Deletes only the `platforms` of one post (the queue worker's way in), through the
    /// same lock, plan, claim and record as any delete: a platform deleted meanwhile (by a
    /// synchronous delete or `markManualDeleted`) is not called again. The report lists only
    /// those platforms.
    pub async fn delete_platforms(
        &self,
        profile_id: &str,
        post_id: &PostId,
        platforms: &[Platform],
        ctx: &CallContext,
    ) -> Result<DeleteResult, StoreError> {
        self.delete_only(profile_id, post_id.as_str(), ctx, Some(platforms))
            .await
    }

    async fn delete_only(
        &self,
        profile_id: &str,
        raw_id: &str,
        ctx: &CallContext,
        only: Option<&[Platform]>,
    ) -> Result<DeleteResult, StoreError> {
        let Some(post) = self.owned_post(profile_id, raw_id).await? else {
            return Ok(DeleteResult::NotFound(raw_id.to_owned()));
        };
        let _held = self.locks.hold(self.store.as_ref(), &post.id).await?;
        self.delete_held(raw_id, &post.id, ctx, only).await
    }

    /// [`DeleteService::delete_only`] once the caller holds post `id` (in this process and
    /// across processes): re-read, plan, claim, fan out, record.
    async fn delete_held(
        &self,
        raw_id: &str,
        id: &PostId,
        ctx: &CallContext,
        only: Option<&[Platform]>,
    ) -> Result<DeleteResult, StoreError> {
        // Re-read under the lock: whoever held it before may have changed the post.
        let Some(post) = self.store.get_post(id).await? else {
            return Ok(DeleteResult::NotFound(raw_id.to_owned()));
        };
        if post.status == PostStatus::Deleted {
            return Ok(DeleteResult::AlreadyDeleted(post.id));
        }
        if post.status.is_held() {
            return self.cancel_scheduled(post).await.map(DeleteResult::Done);
        }
        let mut plan = self.plan(post, ctx, only).await?;
        let mut latencies = Vec::new();
        if plan.has_calls() {
            self.claim(&mut plan).await?;
            let answers = {
                let _in_flight = crate::metrics::InFlight::start(plan.calls().count());
                // The network calls' debug lines carry the post id.
                let span = tracing::debug_span!("delete", post_id = %plan.post.id);
                tracing::Instrument::instrument(self.fan_out(&plan, ctx), span).await
            };
            latencies = plan
                .calls()
                .zip(&answers)
                .map(|(call, answer)| (call.network.platform(), answer.elapsed))
                .collect();
            self.settle(&mut plan, answers).await?;
        }
        let mut report = self.record(plan).await?;
        if let Some(only) = only {
            report.entries.retain(|e| only.contains(&e.platform));
        }
        observe(&report, &latencies);
        Ok(DeleteResult::Done(report))
    }

    /// Decides each entry's step: an outcome known without a call, or a call to make.
    async fn plan(
        &self,
        post: Post,
        ctx: &CallContext,
        only: Option<&[Platform]>,
    ) -> Result<PlannedDelete, StoreError> {
        let mut steps = Vec::with_capacity(post.entries.len());
        for entry in &post.entries {
            // Left as it is (no call, no error written); left out of the report.
            if only.is_some_and(|only| !only.contains(&entry.platform)) {
                steps.push(Step::Settled(DeleteOutcome::NotPublished));
                continue;
            }
            let step = match entry.state {
                EntryState::Deleted | EntryState::ManualDeleted => {
                    Step::Settled(DeleteOutcome::PreviouslyDeleted)
                }
                EntryState::Cancelled | EntryState::Failed | EntryState::Pending => {
                    Step::Settled(DeleteOutcome::NotPublished)
                }
                EntryState::Publishing => Step::Settled(DeleteOutcome::Failed(DeleteFailure::Ambiguous(
                    "publishing this post was interrupted and its outcome is unknown; it may be live at the network".into(),
                ))),
                EntryState::Published | EntryState::Deleting => {
                    match self.plan_call(&post.profile_id, entry, ctx).await? {
                        Ok(call) => Step::Call(call),
                        Err(failure) => Step::Settled(DeleteOutcome::Failed(failure)),
                    }
                }
            };
            steps.push(step);
        }
        Ok(PlannedDelete {
            post,
            steps,
            claimed: false,
        })
    }

    /// Decides whether an entry can be sent to its network now, and with which account;
    /// takes its local quota slot.
    async fn plan_call(
        &self,
        profile_id: &str,
        entry: &crate::domain::PlatformEntry,
        ctx: &CallContext,
    ) -> Result<Result<PlannedCall, DeleteFailure>, StoreError> {
        if let Some(msg) = self.networks.delete_unsupported(entry) {
            return Ok(Err(DeleteFailure::Unsupported(msg)));
        }
        let Some(network) = self.networks.get(&entry.platform) else {
            return Ok(Err(DeleteFailure::NoAdapter));
        };
        let Some(id) = entry.id.clone() else {
            return Ok(Err(DeleteFailure::Rejected(
                "no network post id is recorded for this platform".into(),
            )));
        };
        let Some(account) = self
            .store
            .linked_account(profile_id, &entry.platform)
            .await?
        else {
            return Ok(Err(DeleteFailure::NotLinked));
        };
        if let Err(e) = network.check_context(ctx) {
            return Ok(Err(e.into()));
        }
        let quota = network.delete_quota();
        let bucket = quota_bucket(&entry.platform, &account);
        let call = PlannedCall {
            network: network.clone(),
            id,
            account,
            quota,
            interrupted: entry.state == EntryState::Deleting,
        };
        if quota.limit == 0 {
            // Local counting switched off (e.g. benchmarks); the network's own limits still
            // apply, including a block it answered earlier (429 with Retry-After).
            return Ok(match self.store.quota_blocked(&bucket, Utc::now()).await? {
                None => Ok(call),
                Some(retry_after) => Err(DeleteFailure::RateLimited {
                    retry_after,
                    message: format!(
                        "{} answered that this account's rate limit is reached",
                        entry.platform.display_name()
                    ),
                }),
            });
        }
        let decision = self
            .store
            .take_quota(&bucket, quota.limit, quota.window_secs, Utc::now())
            .await?;
        let granted = matches!(decision, QuotaDecision::Granted { .. });
        crate::metrics::quota_decision(entry.platform.as_str(), granted);
        let remaining = match decision {
            QuotaDecision::Granted { remaining } => remaining,
            QuotaDecision::Exhausted { .. } => 0,
        };
        self.quota_gauge
            .decided(entry.platform.as_str(), &bucket, remaining);
        match decision {
            QuotaDecision::Granted { .. } => Ok(Ok(call)),
            QuotaDecision::Exhausted { retry_after } => Ok(Err(DeleteFailure::RateLimited {
                retry_after,
                message: format!(
                    "{} delete limit for this account reached ({} per {} s)",
                    entry.platform.display_name(),
                    quota.limit,
                    quota.window_secs
                ),
            })),
        }
    }

    /// Intent first, durably: every entry about to be called is `deleting` on disk before any
    /// network call, so a crash from here on is found and finished on restart.
    async fn claim(&self, plan: &mut PlannedDelete) -> Result<(), StoreError> {
        for (entry, step) in plan.post.entries.iter_mut().zip(&plan.steps) {
            if matches!(step, Step::Call(_)) {
                entry.state = EntryState::Deleting;
            }
        }
        plan.claimed = true;
        self.store.update_post(&plan.post).await?;
        self.store.flush().await
    }

    /// Calls every planned network at once; one answer per call, in the plan's order.
    async fn fan_out(&self, plan: &PlannedDelete, ctx: &CallContext) -> Vec<CallAnswer> {
        futures::future::join_all(plan.calls().map(|call| self.call_delete(call, ctx))).await
    }

    /// Turns each answer into the entry's outcome and state. A rate limit blocks the
    /// account's bucket until the network's hint; an authorization failure gives back the
    /// quota slot it took.
    async fn settle(
        &self,
        plan: &mut PlannedDelete,
        answers: Vec<CallAnswer>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut answers = answers.into_iter();
        for (entry, step) in plan.post.entries.iter_mut().zip(plan.steps.iter_mut()) {
            let Step::Call(call) = step else { continue };
            let Some(answer) = answers.next() else {
                break; // One answer per call: cannot happen.
            };
            // A delete with this token reached (or may have reached) the network earlier and
            // its answer never came: in this call's retries, in an earlier request, or before
            // a crash.
            let sent_before = call.interrupted || answer.maybe_sent;
            let outcome = match answer.result {
                Ok(Gone::Deleted) => DeleteOutcome::Deleted,
                Ok(Gone::AlreadyGone) => DeleteOutcome::AlreadyGone,
                // Threads' 100/33 ("does not exist or no permission"), confirmed by a read that
                // did not find the post, after our own delete whose answer was lost: that
                // earlier delete went through. An unknown read (`Ambiguous`) never completes a
                // delete.
                Err(NetworkError::NotFoundOrNoAccess(_)) if sent_before => {
                    DeleteOutcome::AlreadyGone
                }
                Err(e) => {
                    let bucket = quota_bucket(&entry.platform, &call.account);
                    if let NetworkError::RateLimited { retry_after, .. } = &e {
                        if let Some(until) = blocked_until(now, *retry_after) {
                            self.store.block_until(&bucket, until).await?;
                        }
                    }
                    // An authorization failure did nothing at the network: the slot taken for
                    // it is given back, so failed calls cannot exhaust the window.
                    if matches!(e, NetworkError::Auth(_)) && call.quota.limit != 0 {
                        self.store.give_back_quota(&bucket).await?;
                        self.quota_gauge.gave_back(entry.platform.as_str(), &bucket);
                    }
                    DeleteOutcome::Failed(e.into())
                }
            };
            if outcome.is_success() {
                entry.state = EntryState::Deleted;
                entry.deleted_at = Some(now);
                entry.error = None;
            } else if sent_before {
                // The post may be gone already: `deleting` keeps the record that a delete was
                // sent, so the next delete (or recovery at start-up) can finish it.
                entry.state = EntryState::Deleting;
            } else {
                entry.state = EntryState::Published;
            }
            *step = Step::Settled(outcome);
        }
        Ok(())
    }

    /// Writes the outcome with the post's status in one update (flushed when networks were
    /// called) and answers the report.
    async fn record(&self, plan: PlannedDelete) -> Result<DeleteReport, StoreError> {
        let called = plan.claimed;
        let PlannedDelete {
            mut post, steps, ..
        } = plan;
        let mut outcomes = Vec::with_capacity(steps.len());
        for (entry, step) in post.entries.iter_mut().zip(steps) {
            let outcome = match step {
                Step::Settled(outcome) => outcome,
                // Only if a call went unanswered, which `settle` rules out.
                Step::Call(_) => DeleteOutcome::Failed(DeleteFailure::Ambiguous(
                    "the network's answer was not recorded".into(),
                )),
            };
            if let DeleteOutcome::Failed(f) = &outcome {
                entry.error = Some(EntryError {
                    kind: f.into(),
                    message: failure_message(f),
                });
            }
            outcomes.push(outcome);
        }
        if post.nothing_left() {
            post.status = PostStatus::Deleted;
        }
        self.store.update_post(&post).await?;
        if called {
            self.store.flush().await?;
        }
        Ok(DeleteReport {
            post_id: post.id.clone(),
            entries: post
                .entries
                .iter()
                .zip(outcomes)
                .map(|(e, outcome)| EntryReport {
                    platform: e.platform.clone(),
                    id: e.id.clone(),
                    outcome,
                })
                .collect(),
        })
    }

    /// Deletes at one network, retrying transient failures within the deadline.
    async fn call_delete(&self, call: &PlannedCall, ctx: &CallContext) -> CallAnswer {
        let network = &call.network;
        let started = std::time::Instant::now();
        let sent = std::sync::atomic::AtomicBool::new(false);
        let (sent_ref, id_ref, account) = (&sent, &call.id, &call.account);
        let retried = self.config.retry.run(move || async move {
            let r = network.delete(account, id_ref, ctx).await;
            if matches!(r, Err(NetworkError::Timeout(_))) {
                sent_ref.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            r
        });
        let result = match tokio::time::timeout(self.config.deadline, retried).await {
            Ok(r) => r,
            Err(_) => {
                // The attempt cut short may have been sent.
                sent.store(true, std::sync::atomic::Ordering::Relaxed);
                Err(NetworkError::Timeout(format!(
                    "{} did not answer within {} ms",
                    network.platform().display_name(),
                    self.config.deadline.as_millis()
                )))
            }
        };
        CallAnswer {
            result,
            maybe_sent: sent.load(std::sync::atomic::Ordering::Relaxed),
            elapsed: started.elapsed(),
        }
    }

    /// Cancels a scheduled, never-sent post: no network call.
    async fn cancel_scheduled(&self, mut post: Post) -> Result<DeleteReport, StoreError> {
        for e in &mut post.entries {
            if e.state == EntryState::Pending {
                e.state = EntryState::Cancelled;
            }
        }
        post.status = PostStatus::Deleted;
        self.store.update_post(&post).await?;
        self.store.flush().await?;
        Ok(DeleteReport {
            post_id: post.id.clone(),
            entries: post
                .entries
                .iter()
                .map(|e| EntryReport {
                    platform: e.platform.clone(),
                    id: e.id.clone(),
                    outcome: DeleteOutcome::NotPublished,
                })
                .collect(),
        })
    }

    /// Cancels every pending scheduled post of a profile. The profile is read a page at a
    /// time (bounded memory whatever its size); each page's pending posts are cancelled in
    /// one transaction while holding all their locks, so the scheduler cannot publish any of
    /// them meanwhile: each post is either cancelled whole or published, never half.
    pub async fn delete_all_scheduled(&self, profile_id: &str) -> Result<Vec<PostId>, StoreError> {
        let mut cancelled_ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .posts_by_profile_page(profile_id, cursor.as_ref(), SCAN_PAGE)
                .await?;
            let candidates: Vec<PostId> = page
                .posts
                .into_iter()
                .filter(|p| p.status.is_held())
                .map(|p| p.id)
                .collect();
            if !candidates.is_empty() {
                let _held = self
                    .locks
                    .hold_many(self.store.as_ref(), &candidates)
                    .await?;
                let mut cancelled = Vec::new();
                for id in &candidates {
                    if let Some(mut post) = self.store.get_post(id).await? {
                        if post.status.is_held() && post.profile_id == profile_id {
                            for e in &mut post.entries {
                                if e.state == EntryState::Pending {
                                    e.state = EntryState::Cancelled;
                                }
                            }
                            post.status = PostStatus::Deleted;
                            cancelled.push(post);
                        }
                    }
                }
                self.store.update_posts(&cancelled).await?;
                cancelled_ids.extend(cancelled.into_iter().map(|p| p.id));
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.store.flush().await?;
        Ok(cancelled_ids)
    }

    /// Records that the user deleted the post at the networks by hand, after checking every
    /// network that can tell that it is really gone.
    pub async fn mark_manual_deleted(
        &self,
        profile_id: &str,
        raw_id: &str,
        ctx: &CallContext,
    ) -> Result<ManualResult, StoreError> {
        let Some(post) = self.owned_post(profile_id, raw_id).await? else {
            return Ok(ManualResult::NotFound(raw_id.to_owned()));
        };
        let _held = self.locks.hold(self.store.as_ref(), &post.id).await?;
        let Some(mut post) = self.store.get_post(&post.id).await? else {
            return Ok(ManualResult::NotFound(raw_id.to_owned()));
        };
        if post.status == PostStatus::Deleted {
            return Ok(ManualResult::AlreadyDeleted(post.id));
        }
        let mut checks = Vec::new();
        for (i, e) in post.entries.iter().enumerate() {
            if !e.state.may_be_live() || self.networks.delete_unsupported(e).is_some() {
                continue;
            }
            let (Some(network), Some(id)) = (self.networks.get(&e.platform), e.id.clone()) else {
                continue;
            };
            let Some(account) = self.store.linked_account(profile_id, &e.platform).await? else {
                continue;
            };
            if network.check_context(ctx).is_err() {
                continue;
            }
            checks.push((i, network.clone(), id, account));
        }
        let answers = futures::future::join_all(checks.iter().map(|(_, network, id, account)| {
            let network = network.clone();
            async move {
                let retried = self.config.retry.run(|| network.exists(account, id, ctx));
                match tokio::time::timeout(self.config.deadline, retried).await {
                    Ok(r) => r,
                    Err(_) => Err(NetworkError::Timeout("no answer in time".into())),
                }
            }
        }))
        .await;
        let mut live = Vec::new();
        for ((i, _, _, _), answer) in checks.iter().zip(answers) {
            let platform = post.entries[*i].platform.clone();
            match answer {
                Ok(Existence::Gone) => {}
                Ok(Existence::Exists) => live.push(platform),
                Err(e) => {
                    return Ok(ManualResult::CheckFailed {
                        post_id: post.id.clone(),
                        platform,
                        failure: e.into(),
                    })
                }
            }
        }
        if !live.is_empty() {
            return Ok(ManualResult::StillLive {
                post_id: post.id.clone(),
                platforms: live,
            });
        }
        let now = Utc::now();
        for e in &mut post.entries {
            if e.state.may_be_live() {
                e.state = EntryState::ManualDeleted;
                e.deleted_at = Some(now);
                e.error = None;
            } else if e.state == EntryState::Pending {
                e.state = EntryState::Cancelled;
            }
        }
        post.status = PostStatus::Deleted;
        self.store.update_post(&post).await?;
        self.store.flush().await?;
        Ok(ManualResult::Recorded(post.id))
    }

    /// Finishes deletes whose intent was recorded but whose outcome was not (a crash between
    /// the two). The networks are asked again; "already gone" completes them. A post another
    /// gateway process holds is left to it (its delete is running, not interrupted); one
    /// taken here stays held from the look at its entries to the record of the retry, so
    /// nobody changes it in between.
    pub async fn recover(&self, ctx: &CallContext) -> Result<usize, StoreError> {
        let ids = self.store.in_flight_posts().await?;
        let mut finished = 0;
        for id in ids {
            let Some(_held) = self.locks.try_hold(self.store.as_ref(), &id).await? else {
                continue;
            };
            let Some(post) = self.store.get_post(&id).await? else {
                continue;
            };
            if post.entries.iter().any(|e| e.state == EntryState::Deleting) {
                let r = self.delete_held(id.as_str(), &id, ctx, None).await?;
                tracing::info!(post_id = %id, done = matches!(&r, DeleteResult::Done(rep) if rep.all_succeeded()), "recovered an interrupted delete");
                finished += 1;
            }
        }
        Ok(finished)
    }
}

/// A one-line description of a failure, for the stored entry and the logs.
pub fn failure_message(f: &DeleteFailure) -> String {
    match f {
        DeleteFailure::Unsupported(m)
        | DeleteFailure::Auth(m)
        | DeleteFailure::Transient(m)
        | DeleteFailure::Timeout(m)
        | DeleteFailure::Rejected(m)
        | DeleteFailure::Ambiguous(m) => m.clone(),
        DeleteFailure::RateLimited { message, .. } => message.clone(),
        DeleteFailure::NoAdapter => "this gateway has no adapter for the platform".into(),
        DeleteFailure::NotLinked => "no account of this platform is linked to the profile".into(),
        DeleteFailure::NoXCredentials => "X consumer credentials are missing".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration::Settings;
    use crate::store::SledStore;

    /// Panics raised on purpose here stay out of the test output.
    fn quiet_induced_panics() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .copied()
                    .unwrap_or_default();
                if !msg.contains("induced panic") {
                    default(info);
                }
            }));
        });
    }

    #[tokio::test]
    async fn a_panicking_bulk_item_answers_internal_and_the_others_complete() {
        quiet_induced_panics();
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::load_with_env(None, Vec::<(String, String)>::new()).unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
        let service = DeleteService::new(
            store,
            Networks::from_settings(&settings),
            PostLocks::default(),
            DeleteConfig {
                deadline: Duration::from_secs(1),
                retry: RetryPolicy {
                    attempts: 1,
                    base: Duration::from_millis(1),
                    max: Duration::from_millis(1),
                },
                bulk_concurrency: 2,
            },
        );
        let this = service.clone();
        let ids: Vec<String> = ["a", "boom", "b", "boom", "c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let results = service
            .bulk(
                "profile",
                &ids,
                DeleteResult::Internal,
                move |profile, id| {
                    let this = this.clone();
                    async move {
                        if id == "boom" {
                            panic!("induced panic in one bulk item");
                        }
                        this.delete_inner(&profile, &id, &CallContext::default())
                            .await
                    }
                },
            )
            .await
            .unwrap();
        assert_eq!(
            results,
            vec![
                DeleteResult::NotFound("a".into()),
                DeleteResult::Internal("boom".into()),
                DeleteResult::NotFound("b".into()),
                DeleteResult::Internal("boom".into()),
                DeleteResult::NotFound("c".into()),
            ]
        );
    }
}
