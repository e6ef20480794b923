//! The publisher: creates posts and sends them to their networks, now or when the scheduler
//! finds them due.
//!
//! Invariants held here (see DESIGN.md):
//! - **No lost state.** A post and its per-platform intent (`publishing`) are written and
//!   flushed before any network call; each network's id and URL are written (and flushed)
//!   right after the calls, with the post's status, in one transaction. An entry whose network
//!   answer never came or was unclear (timeout, 5xx, dropped connection, crash) stays
//!   `publishing` with an "outcome unknown" error: it may be live, the delete path says so
//!   instead of pretending nothing is there, and it is never sent again.
//!   [`PublishService::reconcile`] asks the network later (Threads: the container's status).
//! - **Schedule races.** Every change holds the post's lock from [`PostLocks`]; the scheduler
//!   re-reads a due post under the lock and publishes it only if it is still pending, so a
//!   post cancelled by a delete is never published.
//! - **Bounded time.** Every network call runs under the configured deadline.

use super::locks::PostLocks;
use super::media::{display_url, MediaFetcher};
use crate::domain::{
    EntryError, EntryState, ErrorKind, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus,
    ProfileId,
};
use crate::networks::{
    AuthCode, CallContext, ConsumerCredentials, Media, NetworkError, Networks, PublishCheck,
    PublishError, Published,
};
use crate::store::{LinkedAccount, Store, StoreError};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// What the publisher needs from settings.
#[derive(Clone, Debug)]
pub struct PublishConfig {
    /// Time budget of one platform's publish (all of its network calls).
    pub deadline: Duration,
}

/// A validated request to create a post.
#[derive(Clone, Debug)]
pub struct NewPost {
    /// The id the post gets, chosen before anything is written so that an idempotency key can
    /// be claimed for it first.
    pub id: PostId,
    /// The owning profile.
    pub profile_id: ProfileId,
    /// The text (validated: not empty, within every requested network's limit).
    pub text: String,
    /// The requested platforms, without duplicates.
    pub platforms: Vec<Platform>,
    /// When to publish; `None` or a date not in the future publishes now.
    pub schedule_date: Option<DateTime<Utc>>,
    /// The client's idempotency key, kept on the post.
    pub idempotency_key: Option<String>,
    /// The images (`mediaUrls`), checked; downloaded when published now to a network that
    /// wants bytes. A scheduled post keeps their URLs and fetches them when due.
    pub media: Vec<Media>,
    /// `requiresApproval`: hold the post (`awaiting approval`) until it is approved.
    pub requires_approval: bool,
}

/// What a client changes on a post (`PUT`/`PATCH /api/post`); `None` leaves it as it is.
#[derive(Clone, Debug, Default)]
pub struct PostChange {
    /// New text (only while nothing was sent; validated against the networks' rules).
    pub text: Option<String>,
    /// New due date (only while nothing was sent).
    pub schedule_date: Option<DateTime<Utc>>,
    /// `approved: true`: publish a post that awaits approval (now, or when due).
    pub approve: bool,
    /// `scheduledPause`: `true` pauses a scheduled post, `false` puts it back on schedule.
    pub pause: Option<bool>,
}

/// Why a post was not changed or re-published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostRefusal {
    /// No such post for this profile (another profile's post is not found either).
    NotFound,
    /// The post cannot change that way in its state; the reason, for people.
    NotEditable(String),
    /// A retry found no failed platform to publish again.
    NothingToRetry,
}

/// Why one platform of a post was not (or may not have been) published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublishFailure {
    /// postgate has no adapter to publish on this platform.
    Unsupported,
    /// No account of this platform is linked to the profile.
    NotLinked,
    /// The profile disabled this platform (`disableSocial`).
    Disabled,
    /// X needs consumer credentials and none were given. `scheduled`: the post was due from
    /// the scheduler, which has only the settings' credentials.
    NoXCredentials {
        /// Whether the missing credentials are those of the scheduler (settings only).
        scheduled: bool,
    },
    /// The network call failed; nothing was published.
    Network(NetworkError),
    /// The publishing request reached the network and its answer was lost or unclear: the
    /// post may be live.
    OutcomeUnknown(NetworkError),
}

impl PublishFailure {
    /// Whether the network may have published the post anyway (no answer, or an answer that
    /// does not say). Such entries stay `publishing` so that nothing live is ever forgotten.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, PublishFailure::OutcomeUnknown(_))
    }

    /// The failure of a [`PublishError`].
    pub fn from_publish_error(e: PublishError) -> Self {
        if e.outcome_unknown {
            PublishFailure::OutcomeUnknown(e.error)
        } else {
            PublishFailure::Network(e.error)
        }
    }

    /// The class and message remembered on the entry (shown in `errors` with its code).
    /// `networks` says which platforms postgate publishes to and how `platform` reports
    /// authorization failures.
    pub fn entry_error(&self, platform: &Platform, networks: &Networks) -> EntryError {
        let name = platform.display_name();
        let (kind, message) = match self {
            PublishFailure::Unsupported => (
                ErrorKind::NoAdapter,
                format!(
                    "{name} is not supported by this gateway: postgate publishes to {} only.",
                    networks.names("")
                ),
            ),
            // The api layer words the advice of these classes (routes, headers, settings).
            PublishFailure::NotLinked => (
                ErrorKind::NotLinked,
                format!("no {name} account is linked to the profile"),
            ),
            PublishFailure::Disabled => (
                ErrorKind::Disabled,
                format!("{name} is disabled for this profile (disableSocial)"),
            ),
            PublishFailure::NoXCredentials { scheduled: false } => (
                ErrorKind::NoXCredentials,
                "X consumer credentials are missing".into(),
            ),
            PublishFailure::NoXCredentials { scheduled: true } => (
                ErrorKind::NoXCredentials,
                "X consumer credentials are missing from the gateway's settings, the only ones scheduled posts are published with".into(),
            ),
            PublishFailure::OutcomeUnknown(e) => (
                ErrorKind::OutcomeUnknown,
                format!(
                    "The outcome of publishing on {name} is unknown: {}. The post may be live there; postgate will not post it again.",
                    match e {
                        NetworkError::Timeout(m) | NetworkError::Transient(m) | NetworkError::Ambiguous(m) => m.clone(),
                        other => other.to_string(),
                    }
                ),
            ),
            PublishFailure::Network(e) => match e {
                NetworkError::RateLimited { retry_after, message } => (
                    ErrorKind::RateLimited,
                    format!("{name} rate limit: {message}. Retry after {retry_after} seconds."),
                ),
                NetworkError::Auth(m) if networks.auth_code(platform) == AuthCode::XRelink => (
                    ErrorKind::Auth,
                    format!("X/Twitter authorization error: {m}. Re-link the X account."),
                ),
                NetworkError::Auth(m) => {
                    (ErrorKind::Auth, format!("{name} authorization error: {m}"))
                }
                NetworkError::Transient(m) => (
                    ErrorKind::Transient,
                    format!("{name} failed to publish (temporary error, post again): {m}"),
                ),
                NetworkError::Timeout(m) => (
                    ErrorKind::Timeout,
                    format!("{m}, before anything was published on {name} (post again)."),
                ),
                NetworkError::Ambiguous(m) | NetworkError::NotFoundOrNoAccess(m) => (
                    ErrorKind::Ambiguous,
                    format!("{name}'s answer does not say whether the post was published: {m}"),
                ),
                NetworkError::Rejected(m) => (
                    ErrorKind::Rejected,
                    format!("{name} refused the post: {m}"),
                ),
                // Ayrshare's wording for a duplicate (code 110).
                NetworkError::Duplicate(_) => {
                    (ErrorKind::Duplicate, "Status is a duplicate.".to_owned())
                }
                NetworkError::NoCredentials => {
                    return PublishFailure::NoXCredentials { scheduled: false }
                        .entry_error(platform, networks)
                }
            },
        };
        EntryError { kind, message }
    }
}

/// Creates, publishes and schedules posts.
#[derive(Clone)]
pub struct PublishService {
    store: Arc<dyn Store>,
    networks: Networks,
    locks: PostLocks,
    config: PublishConfig,
    /// X consumer credentials of the settings: all the scheduler has.
    settings_x_consumer: Option<ConsumerCredentials>,
    /// Fetches the images of scheduled posts when they come due.
    media: Option<MediaFetcher>,
    /// Where publishes detached from their requests run, so shutdown waits for them.
    tasks: tokio_util::task::TaskTracker,
    /// The runtime they run on: the one that built the service (the gateway's), not an HTTP
    /// worker's, which is dropped when the server stops and would cut a publish off between
    /// its network calls and their record.
    home: Option<tokio::runtime::Handle>,
}

impl PublishService {
    /// A publisher over `store` and `networks`, sharing `locks` with the delete orchestrator.
    pub fn new(
        store: Arc<dyn Store>,
        networks: Networks,
        locks: PostLocks,
        config: PublishConfig,
        settings_x_consumer: Option<ConsumerCredentials>,
    ) -> Self {
        Self {
            store,
            networks,
            locks,
            config,
            settings_x_consumer,
            media: None,
            tasks: tokio_util::task::TaskTracker::new(),
            home: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// Runs the detached publishes on `tasks` (the gateway's), which shutdown waits for.
    pub fn with_tasks(mut self, tasks: tokio_util::task::TaskTracker) -> Self {
        self.tasks = tasks;
        self
    }

    /// Runs `work` detached from the calling request, on the service's tasks and home
    /// runtime: a client that disconnects, or an HTTP server that stops, does not cut it off
    /// between the network calls and the record of their outcome.
    pub fn detach<F>(&self, work: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.home {
            Some(home) => self.tasks.spawn_on(work, home),
            None => self.tasks.spawn(work),
        }
    }

    /// The fetcher that downloads a scheduled post's images when it comes due. Without one,
    /// a due post with images fails on the networks that need the bytes.
    pub fn with_media(mut self, fetcher: MediaFetcher) -> Self {
        self.media = Some(fetcher);
        self
    }

    /// Creates a post: publishes it now on every requested platform concurrently, or, when
    /// `schedule_date` is in the future, stores it as pending for the scheduler. Returns the
    /// post as stored. Per-platform failures are recorded on the entries (`failed`, or
    /// `publishing` when the network may have published it anyway).
    ///
    /// Callers that may be cancelled (an HTTP handler whose client disconnects) should run
    /// this in a task of its own, so the outcome of network calls is always recorded.
    pub async fn create(&self, new: NewPost, ctx: &CallContext) -> Result<Post, StoreError> {
        let now = Utc::now();
        let scheduled = new.schedule_date.is_some_and(|d| d > now);
        let media = new.media;
        let mut platforms = new.platforms;
        platforms.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        platforms.dedup();
        let mut post = Post {
            id: new.id,
            profile_id: new.profile_id,
            text: new.text,
            status: PostStatus::Processing,
            kind: if scheduled {
                PostKind::Scheduled
            } else {
                PostKind::Now
            },
            created: now,
            schedule_date: new.schedule_date,
            entries: platforms
                .into_iter()
                .map(|p| PlatformEntry::new(p, EntryState::Pending))
                .collect(),
            idempotency_key: new.idempotency_key,
            media_urls: media.iter().map(|m| m.url.clone()).collect(),
        };
        let _held = self.locks.hold(self.store.as_ref(), &post.id).await?;
        if new.requires_approval {
            // Nothing is planned yet: links, credentials and disabled platforms are checked
            // when the post is approved (or comes due after that).
            post.status = PostStatus::AwaitingApproval;
            self.store.insert_post(&post).await?;
            self.store.flush().await?;
            tracing::info!(post_id = %post.id, "post held for approval");
            return Ok(post);
        }
        // At schedule time the scheduler's own credentials decide whether X can work later.
        let plan_ctx = if scheduled {
            self.scheduler_context()
        } else {
            ctx.clone()
        };
        let calls = self.plan_entries(&mut post, &plan_ctx, scheduled).await?;
        if scheduled {
            for (i, _) in &calls {
                post.entries[*i].state = EntryState::Pending;
            }
            post.status = if calls.is_empty() {
                PostStatus::Error
            } else {
                PostStatus::Pending
            };
            self.store.insert_post(&post).await?;
            self.store.flush().await?;
            tracing::info!(post_id = %post.id, platforms = calls.len(), due = ?post.schedule_date, "post scheduled");
            return Ok(post);
        }
        if calls.is_empty() {
            post.status = PostStatus::Error;
            self.store.insert_post(&post).await?;
            self.store.flush().await?;
            return Ok(post);
        }
        // Intent first, durably: from here on a crash leaves `publishing` entries that the
        // delete path treats as possibly live.
        self.store.insert_post(&post).await?;
        self.store.flush().await?;
        self.fan_out(&mut post, &calls, &Ok(media), ctx).await;
        self.store.update_post(&post).await?;
        self.store.flush().await?;
        Ok(post)
    }

    /// Publishes a scheduled post that came due, if it is still pending. Takes the post's
    /// lock and re-reads it first: a post cancelled by a delete is left alone. Returns the
    /// post as stored after publishing, or `None` when there was nothing to do.
    pub async fn publish_due(&self, id: &PostId) -> Result<Option<Post>, StoreError> {
        let _held = self.locks.hold(self.store.as_ref(), id).await?;
        let Some(mut post) = self.store.get_post(id).await? else {
            return Ok(None);
        };
        if post.status != PostStatus::Pending {
            return Ok(None);
        }
        let ctx = self.scheduler_context();
        self.send_pending(&mut post, &ctx, true).await?;
        Ok(Some(post))
    }

    /// Sends the `pending` entries of a post whose lock the caller holds: plans them, writes
    /// the intent (`processing`, which also takes the post out of the schedule index), calls
    /// the networks and records their answers. Entries in any other state are left alone.
    async fn send_pending(
        &self,
        post: &mut Post,
        ctx: &CallContext,
        scheduled: bool,
    ) -> Result<(), StoreError> {
        let calls = self.plan_entries(post, ctx, scheduled).await?;
        post.status = if calls.is_empty() {
            PostStatus::Error
        } else {
            PostStatus::Processing
        };
        self.store.update_post(post).await?;
        self.store.flush().await?;
        if calls.is_empty() {
            return Ok(());
        }
        let media = self.due_media(post, &calls).await;
        self.fan_out(post, &calls, &media, ctx).await;
        self.store.update_post(post).await?;
        self.store.flush().await?;
        Ok(())
    }

    /// Changes a post of `profile_id` under its lock (`PUT`/`PATCH /api/post`): text and
    /// due date while nothing was sent, approval, pause and resume. An approved post that is
    /// due (or was never scheduled) is published now with `ctx`; one due later goes back to
    /// the schedule. Returns the post as stored.
    pub async fn update(
        &self,
        profile_id: &str,
        id: &PostId,
        change: PostChange,
        ctx: &CallContext,
    ) -> Result<Result<Post, PostRefusal>, StoreError> {
        let _held = self.locks.hold(self.store.as_ref(), id).await?;
        let Some(mut post) = self
            .store
            .get_post(id)
            .await?
            .filter(|p| p.profile_id == profile_id)
        else {
            return Ok(Err(PostRefusal::NotFound));
        };
        let refuse = |why: String| Ok(Err(PostRefusal::NotEditable(why)));
        if post.status == PostStatus::Deleted {
            return refuse(format!("Post {id} is deleted: it cannot change."));
        }
        let held = post.status.is_held();
        if change.text.is_some() && !held {
            return refuse(format!(
                "Post {id} was already sent to its networks ({}): its text cannot change. Delete it and post again.",
                post.status.as_str()
            ));
        }
        if change.schedule_date.is_some() && !held {
            return refuse(format!(
                "Post {id} was already sent to its networks ({}): its schedule cannot change.",
                post.status.as_str()
            ));
        }
        if change.approve && post.status != PostStatus::AwaitingApproval {
            return refuse(format!(
                "Post {id} does not await approval (it is {}).",
                post.status.as_str()
            ));
        }
        match change.pause {
            Some(true) if !matches!(post.status, PostStatus::Pending | PostStatus::Paused) => {
                return refuse(format!(
                    "Only a scheduled post can be paused; post {id} is {}.",
                    post.status.as_str()
                ));
            }
            Some(false) if !matches!(post.status, PostStatus::Pending | PostStatus::Paused) => {
                return refuse(format!(
                    "Only a paused post can be resumed; post {id} is {}.",
                    post.status.as_str()
                ));
            }
            _ => {}
        }
        let now = Utc::now();
        if let Some(text) = change.text {
            post.text = text;
        }
        if let Some(date) = change.schedule_date {
            post.schedule_date = Some(date);
            if date > now {
                post.kind = PostKind::Scheduled;
            }
        }
        match change.pause {
            Some(true) => post.status = PostStatus::Paused,
            Some(false) => post.status = PostStatus::Pending,
            None => {}
        }
        if change.approve {
            if post.schedule_date.is_some_and(|d| d > now) {
                post.status = PostStatus::Pending;
            } else {
                post.status = PostStatus::Pending;
                tracing::info!(post_id = %post.id, "post approved; publishing now");
                self.send_pending(&mut post, ctx, false).await?;
                return Ok(Ok(post));
            }
        }
        // A pending post without a due date would never come due: publish it on the next tick.
        if post.status == PostStatus::Pending && post.schedule_date.is_none() {
            post.schedule_date = Some(now);
        }
        self.store.update_post(&post).await?;
        self.store.flush().await?;
        Ok(Ok(post))
    }

    /// Publishes again, under the post's lock, the platforms of a post of `profile_id` whose
    /// publish failed (`failed`: nothing is live there), with `ctx`. Platforms that were
    /// published, and those whose outcome is unknown (they may be live), are never sent
    /// again. Returns the post as stored.
    pub async fn retry(
        &self,
        profile_id: &str,
        id: &PostId,
        ctx: &CallContext,
    ) -> Result<Result<Post, PostRefusal>, StoreError> {
        let _held = self.locks.hold(self.store.as_ref(), id).await?;
        let Some(mut post) = self
            .store
            .get_post(id)
            .await?
            .filter(|p| p.profile_id == profile_id)
        else {
            return Ok(Err(PostRefusal::NotFound));
        };
        if post.status != PostStatus::Error {
            return Ok(Err(match post.status {
                PostStatus::Success => PostRefusal::NothingToRetry,
                other => PostRefusal::NotEditable(format!(
                    "Post {id} is {}: only a post whose publish failed can be retried.",
                    other.as_str()
                )),
            }));
        }
        let mut any = false;
        for e in &mut post.entries {
            if e.state == EntryState::Failed {
                e.state = EntryState::Pending;
                any = true;
            }
        }
        if !any {
            return Ok(Err(PostRefusal::NothingToRetry));
        }
        tracing::info!(post_id = %post.id, "retrying the failed platforms");
        self.send_pending(&mut post, ctx, false).await?;
        Ok(Ok(post))
    }

    /// At start-up: posts left `processing` by a crash between the publish intent and its
    /// outcome get status `error`, and their unanswered entries say that the outcome is
    /// unknown (they stay `publishing`: they may be live, and a delete will say so).
    pub async fn recover_interrupted(&self) -> Result<usize, StoreError> {
        let mut repaired = 0;
        for id in self.store.in_flight_posts().await? {
            // A post another gateway process holds is being published right now, not
            // interrupted: left alone.
            let Some(_held) = self.locks.try_hold(self.store.as_ref(), &id).await? else {
                continue;
            };
            let Some(mut post) = self.store.get_post(&id).await? else {
                continue;
            };
            if post.status != PostStatus::Processing {
                continue;
            }
            for e in &mut post.entries {
                if e.state == EntryState::Publishing && e.error.is_none() {
                    e.error = Some(EntryError {
                        kind: ErrorKind::OutcomeUnknown,
                        message: format!(
                            "Publishing on {} was interrupted (the gateway stopped) before the network's answer was recorded; the post may be live there.",
                            e.platform.display_name()
                        ),
                    });
                }
            }
            post.status = PostStatus::Error;
            self.store.update_post(&post).await?;
            repaired += 1;
            tracing::warn!(post_id = %id, "publish interrupted by a stop; outcome unknown");
        }
        if repaired > 0 {
            self.store.flush().await?;
        }
        Ok(repaired)
    }

    /// Asks the networks about the entries of post `id` whose publish outcome is unknown
    /// (`publishing` with an error, the post no longer `processing`) and records what they
    /// answer: live (with its id and URL: a later delete removes it), or not published
    /// (`failed`: nothing is live). Entries a network cannot tell about (X: always; Threads:
    /// no container id, or a container not `PUBLISHED` yet) stay unknown. Never publishes.
    /// Returns the post as stored, `None` if there is none.
    pub async fn reconcile(
        &self,
        id: &PostId,
        ctx: &CallContext,
    ) -> Result<Option<Post>, StoreError> {
        let _held = self.locks.hold(self.store.as_ref(), id).await?;
        let Some(mut post) = self.store.get_post(id).await? else {
            return Ok(None);
        };
        if post.status == PostStatus::Processing {
            return Ok(Some(post));
        }
        // Sent at creation, or when the scheduler found it due.
        let since = post
            .schedule_date
            .map_or(post.created, |d| d.max(post.created));
        let mut changed = false;
        for i in 0..post.entries.len() {
            let entry = &post.entries[i];
            if entry.state != EntryState::Publishing || entry.error.is_none() {
                continue;
            }
            let platform = entry.platform.clone();
            let Some(network) = self.networks.get(&platform) else {
                continue;
            };
            let Some(account) = self
                .store
                .linked_account(&post.profile_id, &platform)
                .await?
            else {
                continue;
            };
            let check = tokio::time::timeout(
                self.config.deadline,
                network.check_publish(
                    &account,
                    entry.publish_ref.as_deref(),
                    &post.text,
                    since,
                    ctx,
                ),
            )
            .await;
            let entry = &mut post.entries[i];
            match check {
                Ok(Ok(PublishCheck::Published(published))) => {
                    tracing::info!(post_id = %post.id, platform = %platform, network_id = %published.id, "publish of unknown outcome found live");
                    entry.state = EntryState::Published;
                    entry.id = Some(published.id);
                    entry.post_url = Some(published.url);
                    entry.error = None;
                    entry.publish_ref = None;
                    changed = true;
                }
                Ok(Ok(PublishCheck::NotPublished(why))) => {
                    tracing::info!(post_id = %post.id, platform = %platform, "publish of unknown outcome found not published");
                    entry.state = EntryState::Failed;
                    entry.error = Some(EntryError {
                        kind: ErrorKind::Rejected,
                        message: format!(
                            "{why}: nothing is live on {}; post again to publish it.",
                            platform.display_name()
                        ),
                    });
                    entry.publish_ref = None;
                    changed = true;
                }
                Ok(Ok(PublishCheck::Unknown(why))) => {
                    tracing::info!(post_id = %post.id, platform = %platform, reason = %why, "publish outcome still unknown");
                }
                Ok(Err(e)) => {
                    tracing::warn!(post_id = %post.id, platform = %platform, error = %e, "checking a publish of unknown outcome failed");
                }
                Err(_) => {
                    tracing::warn!(post_id = %post.id, platform = %platform, "checking a publish of unknown outcome timed out");
                }
            }
        }
        if changed {
            post.status = if post
                .entries
                .iter()
                .all(|e| e.state == EntryState::Published)
            {
                PostStatus::Success
            } else {
                PostStatus::Error
            };
            self.store.update_post(&post).await?;
            self.store.flush().await?;
        }
        Ok(Some(post))
    }

    /// The context of calls without a request: the settings' X credentials only.
    fn scheduler_context(&self) -> CallContext {
        CallContext {
            x_consumer: self.settings_x_consumer.clone(),
        }
    }

    /// Decides, for every `pending` entry, whether it can be sent and with which account.
    /// Entries that cannot are marked `failed` with their reason; the others are marked
    /// `publishing` and returned with their account.
    async fn plan_entries(
        &self,
        post: &mut Post,
        ctx: &CallContext,
        scheduled: bool,
    ) -> Result<Vec<(usize, LinkedAccount)>, StoreError> {
        let mut calls = Vec::new();
        // Read at send time: a platform disabled after the post was scheduled is not sent.
        let disabled = self
            .store
            .get_profile(&post.profile_id)
            .await?
            .map(|p| p.disabled_social)
            .unwrap_or_default();
        for i in 0..post.entries.len() {
            if post.entries[i].state != EntryState::Pending {
                continue;
            }
            let platform = post.entries[i].platform.clone();
            let planned = match self.networks.get(&platform) {
                _ if disabled.contains(&platform) => Err(PublishFailure::Disabled),
                None => Err(PublishFailure::Unsupported),
                Some(network) => match self
                    .store
                    .linked_account(&post.profile_id, &platform)
                    .await?
                {
                    None => Err(PublishFailure::NotLinked),
                    Some(account) => match network.check_context(ctx) {
                        Ok(()) => Ok(account),
                        Err(NetworkError::NoCredentials) => {
                            Err(PublishFailure::NoXCredentials { scheduled })
                        }
                        Err(e) => Err(PublishFailure::Network(e)),
                    },
                },
            };
            let entry = &mut post.entries[i];
            match planned {
                Ok(account) => {
                    entry.state = EntryState::Publishing;
                    entry.error = None;
                    calls.push((i, account));
                }
                Err(f) => {
                    entry.state = EntryState::Failed;
                    entry.error = Some(f.entry_error(&platform, &self.networks));
                }
            }
        }
        Ok(calls)
    }

    /// The images of a due post: downloaded now when a planned network wants bytes, else
    /// only checked. A URL that fails is kept as an error; every planned platform then fails
    /// with it (nothing is sent).
    async fn due_media(
        &self,
        post: &Post,
        calls: &[(usize, LinkedAccount)],
    ) -> Result<Vec<Media>, String> {
        if post.media_urls.is_empty() {
            return Ok(Vec::new());
        }
        let Some(fetcher) = &self.media else {
            return Err("this gateway has no media fetcher configured".into());
        };
        let download = calls.iter().any(|(i, _)| {
            let rules = self.networks.media_rules(&post.entries[*i].platform);
            rules.max_images > 0 && !rules.fetches_url
        });
        fetcher
            .prepare(&post.media_urls, download)
            .await
            .map_err(|(url, e)| format!("the image {} {e}", display_url(&url)))
    }

    /// The images one platform gets, or why it cannot take them.
    fn media_for(&self, platform: &Platform, media: &[Media]) -> Result<Vec<Media>, NetworkError> {
        if media.is_empty() {
            return Ok(Vec::new());
        }
        let rules = self.networks.media_rules(platform);
        if media.len() > rules.max_images {
            return Err(NetworkError::Rejected(format!(
                "{} takes at most {} images on one post; {} were sent",
                platform.display_name(),
                rules.max_images,
                media.len()
            )));
        }
        for m in media {
            match &m.bytes {
                None if !rules.fetches_url => {
                    return Err(NetworkError::Rejected(format!(
                        "the image {} was not downloaded",
                        display_url(&m.url)
                    )))
                }
                Some(b) if b.len() > rules.max_bytes => {
                    return Err(NetworkError::Rejected(format!(
                        "the image {} is {} bytes, more than {}'s limit of {} bytes",
                        display_url(&m.url),
                        b.len(),
                        platform.display_name(),
                        rules.max_bytes
                    )))
                }
                _ => {}
            }
        }
        Ok(media.to_vec())
    }

    /// Calls every planned network at once and records each answer on its entry, then the
    /// post's status. Writes nothing itself.
    async fn fan_out(
        &self,
        post: &mut Post,
        calls: &[(usize, LinkedAccount)],
        media: &Result<Vec<Media>, String>,
        ctx: &CallContext,
    ) {
        let text = post.text.clone();
        let text = &text;
        let results = futures::future::join_all(calls.iter().map(|(i, account)| {
            let platform = post.entries[*i].platform.clone();
            let media = match media {
                Ok(media) => self.media_for(&platform, media),
                Err(why) => Err(NetworkError::Rejected(why.clone())),
            };
            async move {
                match media {
                    Ok(media) => {
                        self.call_publish(platform, account, text, &media, ctx)
                            .await
                    }
                    Err(e) => Err(PublishError::from(e)),
                }
            }
        }))
        .await;
        for ((i, _), result) in calls.iter().zip(results) {
            let entry = &mut post.entries[*i];
            match result {
                Ok(published) => {
                    tracing::info!(post_id = %post.id, platform = %entry.platform, network_id = %published.id, "published");
                    entry.state = EntryState::Published;
                    entry.id = Some(published.id);
                    entry.post_url = Some(published.url);
                    entry.error = None;
                }
                Err(e) => {
                    let reference = e.reference.clone();
                    let failure = PublishFailure::from_publish_error(e);
                    let error = failure.entry_error(&entry.platform, &self.networks);
                    tracing::warn!(post_id = %post.id, platform = %entry.platform, kind = ?error.kind, error = %error.message, "publish failed");
                    if failure.outcome_unknown() {
                        entry.state = EntryState::Publishing;
                        entry.publish_ref = reference;
                    } else {
                        entry.state = EntryState::Failed;
                    }
                    entry.error = Some(error);
                }
            }
        }
        post.status = if post
            .entries
            .iter()
            .all(|e| e.state == EntryState::Published)
        {
            PostStatus::Success
        } else {
            PostStatus::Error
        };
    }

    async fn call_publish(
        &self,
        platform: Platform,
        account: &LinkedAccount,
        text: &str,
        media: &[Media],
        ctx: &CallContext,
    ) -> Result<Published, PublishError> {
        let Some(network) = self.networks.get(&platform) else {
            return Err(NetworkError::Rejected(format!(
                "{} has no adapter",
                platform.display_name()
            ))
            .into());
        };
        let publish = network.publish_with_media(account, text, media, ctx);
        match tokio::time::timeout(self.config.deadline, publish).await {
            Ok(r) => r,
            // The deadline may cut the publishing call after it was sent: unknown.
            Err(_) => Err(PublishError::unknown(
                NetworkError::Timeout(format!(
                    "{} did not answer within {} ms",
                    platform.display_name(),
                    self.config.deadline.as_millis()
                )),
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_that_reached_the_network_leave_the_outcome_unknown() {
        let unknown = PublishError::unknown(NetworkError::Timeout("t".into()), None);
        assert!(PublishFailure::from_publish_error(unknown).outcome_unknown());
        // A timeout before the request was sent (e.g. creating a Threads container).
        let sure = PublishError::from(NetworkError::Timeout("t".into()));
        assert!(!PublishFailure::from_publish_error(sure).outcome_unknown());
        assert!(!PublishFailure::Network(NetworkError::Rejected("r".into())).outcome_unknown());
        assert!(!PublishFailure::NotLinked.outcome_unknown());
        let e = PublishFailure::OutcomeUnknown(NetworkError::Ambiguous("HTTP 500".into()))
            .entry_error(&Platform::Threads, &Networks::default());
        assert_eq!(e.kind, ErrorKind::OutcomeUnknown);
        assert!(e.message.contains("HTTP 500"), "{}", e.message);
    }
}
