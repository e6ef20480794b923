//! The delete orchestrator: resolve → claim → record intent → fan out concurrently → record.
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
use crate::networks::{CallContext, Existence, Gone, NetworkError, Networks};
use crate::store::{LinkedAccount, QuotaDecision, Store, StoreError};
use chrono::Utc;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;

/// Posts read from the store at once when a request walks a whole profile.
pub const SCAN_PAGE: usize = 256;

/// A sliding-window delete quota for one network.
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    /// Deletes per window.
    pub limit: u32,
    /// Window length in seconds.
    pub window_secs: u64,
}

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
    /// Threads delete quota per account.
    pub threads_quota: Quota,
    /// X delete quota per user.
    pub x_quota: Quota,
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
        Self {
            store,
            networks,
            locks,
            config,
            tasks: TaskTracker::new(),
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
        self.tasks
            .spawn(async move { this.delete_inner(&profile_id, &raw_id, &ctx).await })
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
        let results: Vec<R> = self
            .tasks
            .spawn(async move {
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

    async fn delete_inner(
        &self,
        profile_id: &str,
        raw_id: &str,
        ctx: &CallContext,
    ) -> Result<DeleteResult, StoreError> {
        let Some(post) = self.owned_post(profile_id, raw_id).await? else {
            return Ok(DeleteResult::NotFound(raw_id.to_owned()));
        };
        let _guard = self.locks.lock(&post.id).await;
        // Re-read under the lock: whoever held it before may have changed the post.
        let Some(mut post) = self.store.get_post(&post.id).await? else {
            return Ok(DeleteResult::NotFound(raw_id.to_owned()));
        };
        if post.status == PostStatus::Deleted {
            return Ok(DeleteResult::AlreadyDeleted(post.id));
        }
        if post.status == PostStatus::Pending {
            return self.cancel_scheduled(post).await.map(DeleteResult::Done);
        }

        let mut outcomes: Vec<Option<DeleteOutcome>> = vec![None; post.entries.len()];
        let mut calls: Vec<(usize, LinkedAccount)> = Vec::new();
        for (i, entry) in post.entries.iter().enumerate() {
            let outcome = match entry.state {
                EntryState::Deleted | EntryState::ManualDeleted => {
                    Some(DeleteOutcome::PreviouslyDeleted)
                }
                EntryState::Cancelled | EntryState::Failed | EntryState::Pending => {
                    Some(DeleteOutcome::NotPublished)
                }
                EntryState::Publishing => Some(DeleteOutcome::Failed(DeleteFailure::Ambiguous(
                    "publishing this post was interrupted and its outcome is unknown; it may be live at the network".into(),
                ))),
                EntryState::Published | EntryState::Deleting => {
                    match self.plan_call(&post.profile_id, entry, ctx).await? {
                        Ok(account) => {
                            calls.push((i, account));
                            None
                        }
                        Err(failure) => Some(DeleteOutcome::Failed(failure)),
                    }
                }
            };
            outcomes[i] = outcome;
        }

        if !calls.is_empty() {
            // Intent first, durably: a crash from here on is found and finished on restart.
            // An entry already `Deleting` had a delete sent whose answer was never recorded
            // (a crash): that earlier call may well have deleted it.
            let interrupted: Vec<bool> = calls
                .iter()
                .map(|(i, _)| post.entries[*i].state == EntryState::Deleting)
                .collect();
            for (i, _) in &calls {
                post.entries[*i].state = EntryState::Deleting;
            }
            self.store.update_post(&post).await?;
            self.store.flush().await?;

            let results = futures::future::join_all(calls.iter().map(|(i, account)| {
                let entry = &post.entries[*i];
                self.call_delete(entry.platform.clone(), entry.id.clone(), account, ctx)
            }))
            .await;

            let now = Utc::now();
            for (((i, account), (result, sent_now)), interrupted) in
                calls.iter().zip(results).zip(interrupted)
            {
                let entry = &mut post.entries[*i];
                // A delete with this token reached (or may have reached) the network earlier
                // and its answer never came: in this call's retries, in an earlier request, or
                // before a crash.
                let sent_before = interrupted || sent_now;
                let outcome = match result {
                    Ok(Gone::Deleted) => DeleteOutcome::Deleted,
                    Ok(Gone::AlreadyGone) => DeleteOutcome::AlreadyGone,
                    // Threads' 100/33 ("does not exist or no permission"), confirmed by a read
                    // that did not find the post, after our own delete whose answer was lost:
                    // that earlier delete went through. An unknown read (`Ambiguous`) never
                    // completes a delete.
                    Err(NetworkError::NotFoundOrNoAccess(_)) if sent_before => {
                        DeleteOutcome::AlreadyGone
                    }
                    Err(e) => {
                        if let NetworkError::RateLimited { retry_after, .. } = &e {
                            // Checked: a network's hint is clamped already, but no
                            // number from outside may overflow the date arithmetic.
                            let secs = (*retry_after)
                                .min(crate::networks::MAX_RETRY_AFTER_SECS)
                                .try_into()
                                .unwrap_or(i64::MAX);
                            let until = chrono::Duration::try_seconds(secs)
                                .and_then(|d| now.checked_add_signed(d));
                            if let Some(until) = until {
                                self.store
                                    .block_until(&quota_bucket(&entry.platform, account), until)
                                    .await?;
                            }
                        }
                        if matches!(e, NetworkError::Auth(_)) {
                            self.give_back_quota(&entry.platform, account).await?;
                        }
                        DeleteOutcome::Failed(e.into())
                    }
                };
                if outcome.is_success() {
                    entry.state = EntryState::Deleted;
                    entry.deleted_at = Some(now);
                    entry.error = None;
                } else if sent_before {
                    // The post may be gone already: `deleting` keeps the record that a delete
                    // was sent, so the next delete (or recovery at start-up) can finish it.
                    entry.state = EntryState::Deleting;
                } else {
                    entry.state = EntryState::Published;
                }
                outcomes[*i] = Some(outcome);
            }
        }

        for (entry, outcome) in post.entries.iter_mut().zip(&outcomes) {
            if let Some(DeleteOutcome::Failed(f)) = outcome {
                entry.error = Some(EntryError {
                    kind: f.into(),
                    message: failure_message(f),
                });
            }
        }
        if post.nothing_left() {
            post.status = PostStatus::Deleted;
        }
        self.store.update_post(&post).await?;
        if !calls.is_empty() {
            self.store.flush().await?;
        }
        Ok(DeleteResult::Done(DeleteReport {
            post_id: post.id.clone(),
            entries: post
                .entries
                .iter()
                .zip(outcomes)
                .map(|(e, o)| EntryReport {
                    platform: e.platform.clone(),
                    id: e.id.clone(),
                    outcome: o.expect("every entry has an outcome"),
                })
                .collect(),
        }))
    }

    /// Decides whether an entry can be sent to its network now, and with which account.
    async fn plan_call(
        &self,
        profile_id: &str,
        entry: &crate::domain::PlatformEntry,
        ctx: &CallContext,
    ) -> Result<Result<LinkedAccount, DeleteFailure>, StoreError> {
        if let Some(msg) = entry.delete_unsupported() {
            return Ok(Err(DeleteFailure::Unsupported(msg.to_owned())));
        }
        if self.networks.get(&entry.platform).is_none() {
            return Ok(Err(DeleteFailure::NoAdapter));
        }
        if entry.id.is_none() {
            return Ok(Err(DeleteFailure::Rejected(
                "no network post id is recorded for this platform".into(),
            )));
        }
        let Some(account) = self
            .store
            .linked_account(profile_id, &entry.platform)
            .await?
        else {
            return Ok(Err(DeleteFailure::NotLinked));
        };
        if entry.platform == Platform::Twitter && ctx.x_consumer.is_none() {
            return Ok(Err(DeleteFailure::NoXCredentials));
        }
        let quota = match entry.platform {
            Platform::Twitter => self.config.x_quota,
            _ => self.config.threads_quota,
        };
        if quota.limit == 0 {
            // Local counting switched off (e.g. benchmarks); the network's own limits still
            // apply, including a block it answered earlier (429 with Retry-After).
            let bucket = quota_bucket(&entry.platform, &account);
            return Ok(match self.store.quota_blocked(&bucket, Utc::now()).await? {
                None => Ok(account),
                Some(retry_after) => Err(DeleteFailure::RateLimited {
                    retry_after,
                    message: format!(
                        "{} answered that this account's rate limit is reached",
                        entry.platform.display_name()
                    ),
                }),
            });
        }
        match self
            .store
            .take_quota(
                &quota_bucket(&entry.platform, &account),
                quota.limit,
                quota.window_secs,
                Utc::now(),
            )
            .await?
        {
            QuotaDecision::Granted => Ok(Ok(account)),
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

    /// Deletes at one network, retrying transient failures within the deadline. The flag
    /// says whether an attempt may have reached the network without its answer coming back
    /// (a timeout or a connection lost after the request was written).
    async fn call_delete(
        &self,
        platform: Platform,
        id: Option<NetworkPostId>,
        account: &LinkedAccount,
        ctx: &CallContext,
    ) -> (Result<Gone, NetworkError>, bool) {
        let network = self
            .networks
            .get(&platform)
            .expect("planned calls have an adapter");
        let id = id.expect("planned calls have a network id");
        let sent = std::sync::atomic::AtomicBool::new(false);
        let (sent_ref, id_ref) = (&sent, &id);
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
                    platform.display_name(),
                    self.config.deadline.as_millis()
                )))
            }
        };
        (result, sent.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// An authorization failure did nothing at the network: the local quota slot
    /// `plan_call` took for it is given back, so failed calls cannot exhaust the window.
    async fn give_back_quota(
        &self,
        platform: &Platform,
        account: &LinkedAccount,
    ) -> Result<(), StoreError> {
        if self.quota_of(platform).limit == 0 {
            return Ok(()); // No slot was taken.
        }
        self.store
            .give_back_quota(&quota_bucket(platform, account))
            .await
    }

    /// The local delete quota of a platform.
    fn quota_of(&self, platform: &Platform) -> Quota {
        match platform {
            Platform::Twitter => self.config.x_quota,
            _ => self.config.threads_quota,
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
                .filter(|p| p.status == PostStatus::Pending)
                .map(|p| p.id)
                .collect();
            if !candidates.is_empty() {
                let _guards = self.locks.lock_many(&candidates).await;
                let mut cancelled = Vec::new();
                for id in &candidates {
                    if let Some(mut post) = self.store.get_post(id).await? {
                        if post.status == PostStatus::Pending && post.profile_id == profile_id {
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
        let _guard = self.locks.lock(&post.id).await;
        let Some(mut post) = self.store.get_post(&post.id).await? else {
            return Ok(ManualResult::NotFound(raw_id.to_owned()));
        };
        if post.status == PostStatus::Deleted {
            return Ok(ManualResult::AlreadyDeleted(post.id));
        }
        let mut checks = Vec::new();
        for (i, e) in post.entries.iter().enumerate() {
            if !e.state.may_be_live() || e.delete_unsupported().is_some() {
                continue;
            }
            let (Some(network), Some(id)) = (self.networks.get(&e.platform), e.id.clone()) else {
                continue;
            };
            let Some(account) = self.store.linked_account(profile_id, &e.platform).await? else {
                continue;
            };
            if e.platform == Platform::Twitter && ctx.x_consumer.is_none() {
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
    /// the two). The networks are asked again; "already gone" completes them.
    pub async fn recover(&self, ctx: &CallContext) -> Result<usize, StoreError> {
        let ids = self.store.in_flight_posts().await?;
        let mut finished = 0;
        for id in ids {
            let Some(post) = self.store.get_post(&id).await? else {
                continue;
            };
            if post.entries.iter().any(|e| e.state == EntryState::Deleting) {
                let profile = post.profile_id.clone();
                let r = self.delete_inner(&profile, id.as_str(), ctx).await?;
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
    use crate::networks::{Threads, X};
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
        let quota = Quota {
            limit: 1,
            window_secs: 1,
        };
        let service = DeleteService::new(
            store,
            Networks {
                threads: Arc::new(Threads::new(&settings.threads)),
                x: Arc::new(X::new(&settings.x)),
            },
            PostLocks::default(),
            DeleteConfig {
                deadline: Duration::from_secs(1),
                retry: RetryPolicy {
                    attempts: 1,
                    base: Duration::from_millis(1),
                    max: Duration::from_millis(1),
                },
                bulk_concurrency: 2,
                threads_quota: quota,
                x_quota: quota,
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
