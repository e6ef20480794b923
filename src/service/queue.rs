//! Queued deletes (postgate extension, `"queue": true`): the platforms a delete could not
//! finish now — over the local quota, rate limited by the network, failed transiently — are
//! kept as durable jobs (kind [`KIND`], one per post and platform, grouped by the linked
//! account's quota bucket) and finished by [`QueueWorker`] as the quota frees up.
//!
//! The worker goes through [`DeleteService::delete_platforms`], the same lock → plan → claim
//! → record path as a synchronous delete, so the invariants hold unchanged: the local quota
//! is taken before any call (the worker can never exceed it; a full window only moves the
//! item to when a slot frees), the intent is durable before the call, one call per platform.
//! A platform deleted meanwhile (a later synchronous delete, `markManualDeleted`) is never
//! called again and its item completes; a post deleted as a whole drops its items. A 905
//! ("maybe sent") entry stays `deleting`, and its queued retry is what finishes it: the
//! network's "already gone" then completes it.

use super::delete::{quota_bucket, DeleteReport, DeleteResult, DeleteService, EntryReport};
use crate::domain::{DeleteFailure, DeleteOutcome, EntryState, Platform, PostId};
use crate::networks::{CallContext, Networks};
use crate::store::{Job, JobPut, Store, StoreError};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The job kind of queued deletes.
pub const KIND: &str = "delete";

/// What the queue needs from settings (`[delete]` `queue_*`).
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// Most queued items per linked account (quota bucket).
    pub max_per_account: usize,
    /// Posts the worker deletes at once.
    pub concurrency: usize,
    /// How often the worker looks for due items.
    pub tick: Duration,
    /// How long a claimed item is reserved for its worker.
    pub lease: Duration,
    /// First wait after a transient failure (doubles per attempt, 1 h at most).
    pub retry: Duration,
    /// Attempts of a transiently failing item before it is given up.
    pub max_attempts: u32,
}

/// A queued item's payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    post_id: PostId,
    profile_id: String,
    platform: Platform,
}

fn key(post: &PostId, platform: &Platform) -> String {
    format!("{}:{}", post.as_str(), platform.as_str())
}

fn post_prefix(post: &PostId) -> String {
    format!("{}:", post.as_str())
}

/// Why a platform was queued; the api layer turns it into a code (903, 904).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueReason {
    /// The local quota or the network's rate limit.
    RateLimited,
    /// A transient failure or a timeout (the entry may be `deleting`: "maybe sent").
    Transient,
}

/// Which failures a queue finishes later. Everything else (unsupported platforms, auth,
/// rejections, ambiguous answers) is answered as without a queue.
pub fn queue_reason(f: &DeleteFailure) -> Option<QueueReason> {
    match f {
        DeleteFailure::RateLimited { .. } => Some(QueueReason::RateLimited),
        DeleteFailure::Transient(_) | DeleteFailure::Timeout(_) => Some(QueueReason::Transient),
        _ => None,
    }
}

/// What became of one failed platform of a queued request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueMark {
    /// Kept; the worker retries it from `retry_at`.
    Queued {
        /// Not before this time.
        retry_at: DateTime<Utc>,
        /// Why.
        reason: QueueReason,
    },
    /// Not kept: the account's queue holds `max` items already.
    Full {
        /// `delete.queue_max_per_account`.
        max: usize,
    },
}

/// What a request's queueing did: a mark per queued (or refused) platform, and the estimate.
#[derive(Clone, Debug, Default)]
pub struct Enqueued {
    /// By post and platform.
    pub marks: HashMap<(PostId, Platform), QueueMark>,
    /// Platforms queued by this request.
    pub count: usize,
    /// When the last of them should be done, from each account's quota window and queue
    /// length (`None` when nothing was queued).
    pub estimated_completion: Option<DateTime<Utc>>,
}

impl Enqueued {
    /// The mark of one platform of one post, if it was queued (or refused).
    pub fn mark(&self, post: &PostId, platform: &Platform) -> Option<&QueueMark> {
        self.marks.get(&(post.clone(), platform.clone()))
    }
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now)
}

/// When `queued` items of one account are done, the first due at `first`: one more quota
/// window for each further full window (`first + ⌊(queued − 1) / limit⌋ × window`). Without
/// a local quota, `first`.
pub fn estimate(
    first: DateTime<Utc>,
    queued: usize,
    quota: crate::networks::Quota,
) -> DateTime<Utc> {
    let windows = if quota.limit == 0 {
        0
    } else {
        (queued.saturating_sub(1) / quota.limit as usize) as u64
    };
    after(
        first,
        Duration::from_secs(windows.saturating_mul(quota.window_secs)),
    )
}

/// The durable delete queue: enqueueing and reading. [`QueueWorker`] drains it.
#[derive(Clone)]
pub struct DeleteQueue {
    store: Arc<dyn Store>,
    networks: Networks,
    config: QueueConfig,
}

impl DeleteQueue {
    /// A queue over `store`.
    pub fn new(store: Arc<dyn Store>, networks: Networks, config: QueueConfig) -> Self {
        Self {
            store,
            networks,
            config,
        }
    }

    /// Queues the queueable failures of `results` (all of `profile_id`) and estimates when
    /// they will be done: per account, `first retry + ⌊(queued − 1) / limit⌋ × window`,
    /// counting what the account had queued before (950 Threads deletes at 100 per 24 h
    /// take about 9 days past the first window).
    pub async fn enqueue(
        &self,
        profile_id: &str,
        results: &[DeleteResult],
    ) -> Result<Enqueued, StoreError> {
        let now = Utc::now();
        let mut out = Enqueued::default();
        // Bucket → (platform, earliest retry of this request).
        let mut buckets: BTreeMap<String, (Platform, DateTime<Utc>)> = BTreeMap::new();
        for result in results {
            let DeleteResult::Done(report) = result else {
                continue;
            };
            for entry in &report.entries {
                let DeleteOutcome::Failed(failure) = &entry.outcome else {
                    continue;
                };
                let Some(reason) = queue_reason(failure) else {
                    continue;
                };
                let mark_key = (report.post_id.clone(), entry.platform.clone());
                if out.marks.contains_key(&mark_key) {
                    continue; // The same id twice in a bulk.
                }
                let Some(account) = self
                    .store
                    .linked_account(profile_id, &entry.platform)
                    .await?
                else {
                    continue;
                };
                let retry_at = match failure {
                    DeleteFailure::RateLimited { retry_after, .. } => {
                        after(now, Duration::from_secs(*retry_after))
                    }
                    _ => after(now, self.config.retry),
                };
                let bucket = quota_bucket(&entry.platform, &account);
                let job = Job {
                    kind: KIND.into(),
                    key: key(&report.post_id, &entry.platform),
                    group: bucket.clone(),
                    due: retry_at,
                    attempts: 0,
                    payload: serde_json::to_value(Item {
                        post_id: report.post_id.clone(),
                        profile_id: profile_id.to_owned(),
                        platform: entry.platform.clone(),
                    })
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                };
                let mark = match self
                    .store
                    .put_job(&job, self.config.max_per_account)
                    .await?
                {
                    JobPut::GroupFull => QueueMark::Full {
                        max: self.config.max_per_account,
                    },
                    JobPut::Added | JobPut::Replaced => {
                        out.count += 1;
                        let first = buckets
                            .entry(bucket)
                            .or_insert((entry.platform.clone(), retry_at));
                        first.1 = first.1.min(retry_at);
                        QueueMark::Queued { retry_at, reason }
                    }
                };
                out.marks.insert(mark_key, mark);
            }
        }
        if out.count > 0 {
            self.store.flush().await?;
        }
        for (bucket, (platform, first)) in buckets {
            let queued = self.store.count_jobs(KIND, &bucket).await?;
            let quota = self
                .networks
                .get(&platform)
                .map(|n| n.delete_quota())
                .unwrap_or(crate::networks::Quota {
                    limit: 0,
                    window_secs: 0,
                });
            let eta = estimate(first, queued, quota);
            out.estimated_completion = Some(out.estimated_completion.map_or(eta, |e| e.max(eta)));
        }
        Ok(out)
    }

    /// The queued platforms of a post with their retry times.
    pub async fn queued_for_post(
        &self,
        post: &PostId,
    ) -> Result<Vec<(Platform, DateTime<Utc>)>, StoreError> {
        Ok(self
            .store
            .jobs_with_prefix(KIND, &post_prefix(post))
            .await?
            .into_iter()
            .filter_map(|job| {
                let item: Item = serde_json::from_value(job.payload).ok()?;
                Some((item.platform, job.due))
            })
            .collect())
    }
}

/// Told when queued platforms of a post finished (deleted, or failed for good): the profile
/// and the report of those platforms. Written durably before the items are removed, so a
/// crash in between tells again (at-least-once).
pub type OnFinished =
    Arc<dyn Fn(String, DeleteReport) -> BoxFuture<'static, Result<(), StoreError>> + Send + Sync>;

/// The claimed items of one post: the post, its profile, each item with its platform.
type PostItems = (PostId, String, Vec<(Job, Platform)>);

/// Drains the queue in retry order.
#[derive(Clone)]
pub struct QueueWorker {
    queue: DeleteQueue,
    delete: DeleteService,
    ctx: CallContext,
    on_finished: Option<OnFinished>,
}

impl QueueWorker {
    /// A worker deleting through `delete` with the gateway's own credentials `ctx` (a
    /// request's BYO headers are not kept).
    pub fn new(queue: DeleteQueue, delete: DeleteService, ctx: CallContext) -> Self {
        Self {
            queue,
            delete,
            ctx,
            on_finished: None,
        }
    }

    /// Tells `f` about each finished post.
    pub fn on_finished(mut self, f: OnFinished) -> Self {
        self.on_finished = Some(f);
        self
    }

    /// Runs on `tasks` until `stop`; an item in progress at the stop finishes first.
    pub fn spawn(self, tasks: &TaskTracker, stop: CancellationToken) {
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(self.queue.config.tick) => {}
                }
                if let Err(e) = self.run_once().await {
                    tracing::error!(error = %e, "delete queue: a round failed");
                }
            }
        });
    }

    /// Claims the due items (in retry order) and works them off, one post at a time per
    /// slot, at most `concurrency` posts at once. Returns how many items were claimed.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let config = &self.queue.config;
        let batch = config.concurrency.max(1) * 4;
        let jobs = self
            .queue
            .store
            .claim_jobs(KIND, Utc::now(), batch, config.lease)
            .await?;
        let claimed = jobs.len();
        // One group per post, in the order of its first item.
        let mut groups: Vec<PostItems> = Vec::new();
        for job in jobs {
            let item: Item = match serde_json::from_value(job.payload.clone()) {
                Ok(item) => item,
                Err(e) => {
                    tracing::error!(error = %e, key = %job.key, "delete queue: unreadable item dropped");
                    self.queue.store.remove_job(KIND, &job.key).await?;
                    continue;
                }
            };
            match groups.iter_mut().find(|g| g.0 == item.post_id) {
                Some(g) => g.2.push((job, item.platform)),
                None => groups.push((item.post_id, item.profile_id, vec![(job, item.platform)])),
            }
        }
        let results: Vec<Result<(), StoreError>> = futures::stream::iter(groups)
            .map(|(post, profile, items)| self.process(post, profile, items))
            .buffer_unordered(config.concurrency.max(1))
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(claimed)
    }

    async fn requeue(&self, job: Job, due: DateTime<Utc>, attempts: u32) -> Result<(), StoreError> {
        let job = Job {
            due,
            attempts,
            ..job
        };
        self.queue.store.put_job(&job, usize::MAX).await.map(|_| ())
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.min(16));
        self.queue
            .config
            .retry
            .saturating_mul(factor)
            .min(Duration::from_secs(3600))
    }

    /// Completes the items of a post already deleted as a whole, telling what the post
    /// records for their platforms (nothing is called).
    async fn finish_deleted(
        &self,
        post: &PostId,
        profile: String,
        items: Vec<(Job, Platform)>,
    ) -> Result<(), StoreError> {
        let stored = self.queue.store.get_post(post).await?;
        let entries: Vec<EntryReport> = items
            .iter()
            .filter_map(|(_, platform)| {
                let e = stored
                    .as_ref()?
                    .entries
                    .iter()
                    .find(|e| &e.platform == platform)?;
                let outcome = match e.state {
                    EntryState::Deleted | EntryState::ManualDeleted => {
                        DeleteOutcome::PreviouslyDeleted
                    }
                    _ => DeleteOutcome::NotPublished,
                };
                Some(EntryReport {
                    platform: platform.clone(),
                    id: e.id.clone(),
                    outcome,
                })
            })
            .collect();
        if let (false, Some(notify)) = (entries.is_empty(), &self.on_finished) {
            notify(
                profile,
                DeleteReport {
                    post_id: post.clone(),
                    entries,
                },
            )
            .await?;
        }
        for (job, _) in items {
            self.queue.store.remove_job(KIND, &job.key).await?;
        }
        Ok(())
    }

    async fn process(
        &self,
        post: PostId,
        profile: String,
        items: Vec<(Job, Platform)>,
    ) -> Result<(), StoreError> {
        let platforms: Vec<Platform> = items.iter().map(|(_, p)| p.clone()).collect();
        let result = self
            .delete
            .delete_platforms(&profile, &post, &platforms, &self.ctx)
            .await;
        let now = Utc::now();
        let report = match result {
            Ok(DeleteResult::Done(report)) => report,
            Ok(DeleteResult::AlreadyDeleted(_)) => {
                // Deleted as a whole meanwhile (a synchronous delete, markManualDeleted), or
                // by this worker before a crash cut it off between the record and the
                // notification: finished, as the post now says.
                self.finish_deleted(&post, profile, items).await?;
                return self.queue.store.flush().await;
            }
            Ok(DeleteResult::NotFound(_)) => {
                // The post is no longer there for its profile: nothing to finish or tell.
                for (job, _) in items {
                    self.queue.store.remove_job(KIND, &job.key).await?;
                }
                return self.queue.store.flush().await;
            }
            Ok(DeleteResult::Internal(_)) | Err(_) => {
                if let Err(e) = &result {
                    tracing::error!(error = %e, post_id = %post, "delete queue: an item failed; retried later");
                }
                for (job, _) in items {
                    let attempts = job.attempts.saturating_add(1);
                    self.requeue(job, after(now, self.backoff(attempts)), attempts)
                        .await?;
                }
                return self.queue.store.flush().await;
            }
        };
        let mut finished: Vec<EntryReport> = Vec::new();
        let mut done = Vec::new();
        for (job, platform) in items {
            let Some(entry) = report.entries.iter().find(|e| e.platform == platform) else {
                done.push(job.key); // No longer a platform of the post.
                continue;
            };
            if let DeleteOutcome::Failed(f) = &entry.outcome {
                match (queue_reason(f), f) {
                    (
                        Some(QueueReason::RateLimited),
                        DeleteFailure::RateLimited { retry_after, .. },
                    ) => {
                        let due = after(now, Duration::from_secs((*retry_after).max(1)));
                        let attempts = job.attempts;
                        self.requeue(job, due, attempts).await?;
                        continue;
                    }
                    (Some(QueueReason::Transient), _)
                        if job.attempts.saturating_add(1) < self.queue.config.max_attempts =>
                    {
                        let attempts = job.attempts.saturating_add(1);
                        self.requeue(job, after(now, self.backoff(attempts)), attempts)
                            .await?;
                        continue;
                    }
                    _ => {}
                }
            }
            finished.push(entry.clone());
            done.push(job.key);
        }
        if !finished.is_empty() {
            if let Some(notify) = &self.on_finished {
                notify(
                    profile,
                    DeleteReport {
                        post_id: post.clone(),
                        entries: finished,
                    },
                )
                .await?;
            }
        }
        for key in done {
            self.queue.store.remove_job(KIND, &key).await?;
        }
        self.queue.store.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::networks::Quota;

    #[test]
    fn the_estimate_counts_whole_quota_windows() {
        let day = 86_400;
        let threads = Quota {
            limit: 100,
            window_secs: day,
        };
        let now = Utc::now();
        let first = now + chrono::Duration::seconds(day as i64);
        // 950 deletes on one account: 100 at once, 850 queued; the window frees after a day,
        // then 8 more windows of 100 finish the rest: 9 days (the linear 950/100 is 9.5).
        assert_eq!(
            estimate(first, 850, threads),
            now + chrono::Duration::days(9)
        );
        // 950 queued behind a full window: 10 days.
        assert_eq!(
            estimate(first, 950, threads),
            now + chrono::Duration::days(10)
        );
        assert_eq!(estimate(first, 1, threads), first);
        assert_eq!(estimate(first, 100, threads), first);
        assert_eq!(
            estimate(first, 101, threads),
            first + chrono::Duration::days(1)
        );
        let off = Quota {
            limit: 0,
            window_secs: 0,
        };
        assert_eq!(estimate(first, 5000, off), first);
    }

    #[test]
    fn only_rate_limits_and_transient_failures_are_queued() {
        assert_eq!(
            queue_reason(&DeleteFailure::RateLimited {
                retry_after: 5,
                message: String::new()
            }),
            Some(QueueReason::RateLimited)
        );
        assert_eq!(
            queue_reason(&DeleteFailure::Timeout(String::new())),
            Some(QueueReason::Transient)
        );
        assert_eq!(
            queue_reason(&DeleteFailure::Transient(String::new())),
            Some(QueueReason::Transient)
        );
        for f in [
            DeleteFailure::Unsupported(String::new()),
            DeleteFailure::NoAdapter,
            DeleteFailure::NotLinked,
            DeleteFailure::NoXCredentials,
            DeleteFailure::Auth(String::new()),
            DeleteFailure::Rejected(String::new()),
            DeleteFailure::Ambiguous(String::new()),
        ] {
            assert_eq!(queue_reason(&f), None, "{f:?}");
        }
    }
}
