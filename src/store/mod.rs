//! Persistence. [`Store`] is what the service layer needs; [`SledStore`] is the embedded
//! default, [`PostgresStore`] the database several gateway processes share. Backends store
//! only: which posts are due or in flight, primary profile ids and title uniqueness are
//! domain rules (`Post::schedule_slot`, `Post::in_flight`, `domain::primary_profile_id`,
//! `domain::profile_title_key`). [`contract`] is the suite every backend must pass.

#[doc(hidden)]
pub mod contract;
mod group_commit;
mod pg_locks;
mod pg_writes;
mod postgres;
mod record;
mod sled_store;

pub use postgres::PostgresStore;
pub use sled_store::SledStore;

pub use crate::domain::{LinkedAccount, TokenLife};

use crate::domain::{AccountId, Platform, Post, PostId, ProfileId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A profile: the primary profile of an account (one per API key) or a user profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Ayrshare's `refId`; also the profile's key in the store.
    pub id: ProfileId,
    /// The account (API key) it belongs to.
    pub account_id: AccountId,
    /// Title, unique per account.
    pub title: String,
    /// Whether this is the account's primary profile.
    pub primary: bool,
    /// SHA-256 (hex) of the profile key; `None` for primary profiles.
    pub key_hash: Option<String>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Platforms this profile may not link or post to (Ayrshare's `disableSocial`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled_social: Vec<Platform>,
    /// Ayrshare's `hideTitle`: the linking page does not show the title.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hide_title: bool,
    /// Ayrshare's `displayTitle`: the title the linking page shows instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_title: Option<String>,
}

impl Profile {
    /// The primary profile of `account_id` as first created: its id is
    /// [`crate::domain::primary_profile_id`], so every backend and every process agree on it.
    pub fn primary(account_id: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: crate::domain::primary_profile_id(account_id).into(),
            account_id: account_id.into(),
            title: "Primary Profile".into(),
            primary: true,
            key_hash: None,
            created: now,
            disabled_social: Vec::new(),
            hide_title: false,
            display_title: None,
        }
    }

    /// Whether the profile disabled `platform` (`disableSocial`).
    pub fn disables(&self, platform: &Platform) -> bool {
        self.disabled_social.contains(platform)
    }
}

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A post with this id exists already.
    #[error("a post with id {0} already exists")]
    DuplicatePost(PostId),
    /// The account has a profile with this title already.
    #[error("a profile titled {0:?} already exists")]
    TitleTaken(String),
    /// The store could not be opened.
    #[error("{0}")]
    Open(String),
    /// A stored value could not be read back.
    #[error("corrupt record in the store: {0}")]
    Corrupt(String),
    /// The storage engine failed (I/O, connection, timeout); its own words, with no
    /// engine type in the signature so callers stay backend-neutral.
    #[error("store error: {0}")]
    Backend(String),
}

/// What an idempotency key of a profile holds.
#[derive(Clone, Debug, PartialEq)]
pub enum IdempotencyRecord {
    /// Claimed for a post before anything was sent for it; no answer recorded yet (the
    /// request is still running, or the gateway stopped before it answered).
    Claimed {
        /// The post the key stands for.
        post_id: PostId,
        /// When it was claimed.
        claimed_at: DateTime<Utc>,
    },
    /// The answer given for the key, replayed as is.
    Answered(serde_json::Value),
}

/// What a caller of a sliding-window quota learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaDecision {
    /// The call may go ahead; it has been counted.
    Granted {
        /// Calls the window still has room for after this one (what
        /// `postgate_quota_remaining` shows an operator).
        remaining: u32,
    },
    /// The window is full; retry after this many seconds.
    Exhausted {
        /// Seconds until a slot frees up.
        retry_after: u64,
    },
}

/// A quota bucket's whole state, to copy it from one store to another
/// (`postgate migrate-store`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaState {
    /// The bucket.
    pub bucket: String,
    /// The calls counted in its window (whole milliseconds), oldest first.
    pub calls: Vec<DateTime<Utc>>,
    /// The network's own block on it, if one was recorded.
    pub blocked_until: Option<DateTime<Utc>>,
}

/// One idempotency key and what it holds (for copying a whole store).
#[derive(Clone, Debug, PartialEq)]
pub struct IdempotencyEntry {
    /// The profile the key belongs to.
    pub profile_id: String,
    /// The key.
    pub key: String,
    /// Its claim or its answer.
    pub record: IdempotencyRecord,
}

/// Where a page of a profile's posts stopped: pass it back to read the next (older) page.
/// Opaque to callers; each store encodes its own position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostCursor(pub Vec<u8>);

/// One page of a profile's posts, newest first.
#[derive(Clone, Debug, Default)]
pub struct PostPage {
    /// The posts of this page.
    pub posts: Vec<Post>,
    /// Where the next page starts; `None` once the profile's oldest post was read.
    pub next: Option<PostCursor>,
}

/// Held while this process works on a post, to the exclusion of every other process sharing
/// the store; released when dropped (and by the database if the process dies).
pub struct PostLock(Option<Box<dyn Send + Sync>>);

impl PostLock {
    /// No cross-process lock: the store belongs to one process, whose in-process locks suffice.
    pub fn local() -> Self {
        Self(None)
    }

    /// A lock held by a backend-specific guard, released when the guard is dropped.
    pub fn held(guard: Box<dyn Send + Sync>) -> Self {
        Self(Some(guard))
    }

    /// Whether a backend guard is held (false for [`PostLock::local`]).
    pub fn is_shared(&self) -> bool {
        self.0.is_some()
    }
}

/// Background work kept durably so a restart neither loses nor repeats it beyond
/// at-least-once: a queued delete (kind `delete`), a webhook delivery (kind `webhook`).
/// The store only keeps, orders and claims jobs; what a payload means is the service's.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// Which worker runs it (`delete`, `webhook`).
    pub kind: String,
    /// Unique within its kind: putting a job with a known key replaces that job.
    pub key: String,
    /// What [`Store::put_job`]'s bound counts (a queued delete's quota bucket).
    pub group: String,
    /// Not run before this time; claims take jobs in `due` order.
    pub due: DateTime<Utc>,
    /// Runs that ended without finishing it.
    pub attempts: u32,
    /// The worker's own description of the work.
    pub payload: serde_json::Value,
}

/// What [`Store::put_job`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobPut {
    /// A new job.
    Added,
    /// A job with this key existed; it was replaced (and its claim released).
    Replaced,
    /// Nothing written: the group holds its most jobs already.
    GroupFull,
}

/// Everything postgate persists.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The account's primary profile, created on first use.
    async fn ensure_primary_profile(&self, account_id: &str) -> Result<Profile, StoreError>;
    /// Creates a user profile; titles are unique per account.
    async fn create_profile(&self, profile: Profile) -> Result<Profile, StoreError>;
    /// The account's profiles, primary first, then by creation.
    async fn list_profiles(&self, account_id: &str) -> Result<Vec<Profile>, StoreError>;
    /// A profile by id.
    async fn get_profile(&self, id: &str) -> Result<Option<Profile>, StoreError>;
    /// A user profile by the hash of its profile key.
    async fn profile_by_key_hash(&self, key_hash: &str) -> Result<Option<Profile>, StoreError>;
    /// Deletes a user profile, its key and its linked accounts. Returns whether it existed.
    async fn delete_profile(&self, id: &str) -> Result<bool, StoreError>;
    /// Replaces what a profile's owner may change: `title` (still unique per account among
    /// user profiles, else [`StoreError::TitleTaken`]), `disabled_social`, `hide_title`,
    /// `display_title`. Its id, account, key and creation stay. Returns whether it existed.
    async fn update_profile(&self, profile: &Profile) -> Result<bool, StoreError>;

    /// Links (or re-links) an account of one platform to a profile.
    async fn link_account(
        &self,
        profile_id: &str,
        account: LinkedAccount,
    ) -> Result<(), StoreError>;
    /// Unlinks a platform. Returns whether one was linked.
    async fn unlink_account(
        &self,
        profile_id: &str,
        platform: &Platform,
    ) -> Result<bool, StoreError>;
    /// The profile's linked accounts.
    async fn linked_accounts(&self, profile_id: &str) -> Result<Vec<LinkedAccount>, StoreError>;
    /// The profile's linked account for one platform.
    async fn linked_account(
        &self,
        profile_id: &str,
        platform: &Platform,
    ) -> Result<Option<LinkedAccount>, StoreError>;

    /// Stores a new post; refuses an existing id.
    async fn insert_post(&self, post: &Post) -> Result<(), StoreError>;
    /// Stores new posts, leaving any whose id exists already (in the store or earlier in
    /// `posts`) as it is: per post, in order, whether it was stored. All or nothing on a
    /// store failure where the backend can; the sled store writes the lot in one transaction,
    /// which costs it a third less disk per post than one insert each (an import batch).
    async fn insert_new_posts(&self, posts: &[Post]) -> Result<Vec<bool>, StoreError> {
        let mut stored = Vec::with_capacity(posts.len());
        for post in posts {
            stored.push(match self.insert_post(post).await {
                Ok(()) => true,
                Err(StoreError::DuplicatePost(_)) => false,
                Err(e) => return Err(e),
            });
        }
        Ok(stored)
    }
    /// A post by id.
    async fn get_post(&self, id: &PostId) -> Result<Option<Post>, StoreError>;
    /// Replaces a stored post and its indexes in one transaction.
    async fn update_post(&self, post: &Post) -> Result<(), StoreError>;
    /// Replaces several posts in one transaction (all or none).
    async fn update_posts(&self, posts: &[Post]) -> Result<(), StoreError>;
    /// The profile's posts, newest first, at most `limit`.
    async fn posts_by_profile(
        &self,
        profile_id: &str,
        limit: usize,
    ) -> Result<Vec<Post>, StoreError>;
    /// One page of the profile's posts, newest first: at most `limit` posts older than
    /// `after` (from the start when `None`). Bounded work whatever the profile's size.
    async fn posts_by_profile_page(
        &self,
        profile_id: &str,
        after: Option<&PostCursor>,
        limit: usize,
    ) -> Result<PostPage, StoreError>;
    /// Ids of pending posts due at or before `now`, oldest first.
    async fn due_posts(&self, now: DateTime<Utc>) -> Result<Vec<PostId>, StoreError> {
        self.due_posts_limited(now, usize::MAX).await
    }
    /// At most `limit` ids of pending posts due at or before `now`, oldest first.
    async fn due_posts_limited(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostId>, StoreError>;
    /// Ids of posts with an entry whose network answer was never recorded (crash recovery).
    async fn in_flight_posts(&self) -> Result<Vec<PostId>, StoreError>;
    /// What an idempotency key of a profile holds: its claim, or its answer.
    async fn idempotency_record(
        &self,
        profile_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Claims an idempotency key of a profile for `post_id`, atomically and only if the key
    /// holds nothing yet (of two concurrent claims exactly one wins). Returns `None` when
    /// this call claimed it, else what the key already holds. Call [`Store::flush`] after.
    async fn claim_idempotency_key(
        &self,
        profile_id: &str,
        key: &str,
        post_id: &PostId,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// The answer first given for an idempotency key of a profile (`None` while only claimed).
    async fn idempotent_answer(
        &self,
        profile_id: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError>;
    /// Remembers the answer for an idempotency key: replaces its claim, never an earlier
    /// answer (the first answer wins).
    async fn remember_answer(
        &self,
        profile_id: &str,
        key: &str,
        answer: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Counts one call against a sliding window for `bucket` if the window has room.
    async fn take_quota(
        &self,
        bucket: &str,
        limit: u32,
        window_secs: u64,
        now: DateTime<Utc>,
    ) -> Result<QuotaDecision, StoreError>;
    /// Returns one slot counted by [`Store::take_quota`] in `bucket` (the latest), for a call
    /// the network refused without acting on it (an authorization failure). Nothing happens
    /// when the window holds no call.
    async fn give_back_quota(&self, bucket: &str) -> Result<(), StoreError>;
    /// Seconds left of a network's own block on `bucket` ([`Store::block_until`]), if any.
    /// Counts nothing: for quotas whose local counting is switched off.
    async fn quota_blocked(
        &self,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError>;
    /// Records that `bucket` may not be called before `until` (a network's own rate limit).
    async fn block_until(&self, bucket: &str, until: DateTime<Utc>) -> Result<(), StoreError>;

    /// Excludes every other process sharing the store from working on post `id` until the
    /// returned lock is dropped. Take it inside the in-process post lock (which orders the
    /// tasks of one process), so a process waits on it with at most one task per post. The
    /// default is for stores one process owns: nothing to exclude.
    async fn lock_post(&self, id: &PostId) -> Result<PostLock, StoreError> {
        let _ = id;
        Ok(PostLock::local())
    }

    /// [`Store::lock_post`] for several posts at once, all or none (for a change that must
    /// be atomic over a set of posts, like cancelling a profile's schedule). Take it inside
    /// the in-process locks of the same posts.
    async fn lock_posts(&self, ids: &[PostId]) -> Result<PostLock, StoreError> {
        let _ = ids;
        Ok(PostLock::local())
    }

    /// [`Store::lock_post`] without waiting: `None` while another process holds the post
    /// (it is working on it, so e.g. start-up recovery leaves it alone).
    async fn try_lock_post(&self, id: &PostId) -> Result<Option<PostLock>, StoreError> {
        let _ = id;
        Ok(Some(PostLock::local()))
    }

    /// At most `limit` ids of due posts (as [`Store::due_posts_limited`]) claimed for
    /// `holder` until `now + lease`: a post another holder claimed is skipped until its lease
    /// expires (so a holder that died is taken over). Every scheduler instance calls this;
    /// each due post goes to one. The default is for stores one process owns.
    async fn claim_due_posts(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        lease: std::time::Duration,
    ) -> Result<Vec<PostId>, StoreError> {
        let _ = (holder, lease);
        self.due_posts_limited(now, limit).await
    }

    /// Writes `job`: replaces the job of its kind and key if there is one (releasing its
    /// claim), else adds it if its group holds fewer than `max_in_group` jobs of its kind.
    /// Call [`Store::flush`] after.
    async fn put_job(&self, job: &Job, max_in_group: usize) -> Result<JobPut, StoreError>;
    /// The jobs of `kind` whose key starts with `key_prefix`, in key order.
    async fn jobs_with_prefix(&self, kind: &str, key_prefix: &str) -> Result<Vec<Job>, StoreError>;
    /// How many jobs of `kind` are in `group`.
    async fn count_jobs(&self, kind: &str, group: &str) -> Result<usize, StoreError>;
    /// At most `limit` jobs of `kind` due at or before `now`, in `due` order, claimed until
    /// `now + lease`: a claimed job is not handed out again before its lease ends (then it
    /// is, so the work of a holder that died is taken over).
    async fn claim_jobs(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<Job>, StoreError>;
    /// Removes a job (finished or dropped). Returns whether it existed.
    async fn remove_job(&self, kind: &str, key: &str) -> Result<bool, StoreError>;
    /// Every profile (primary and user profiles of every account), by id: for copying a
    /// whole store.
    async fn all_profiles(&self) -> Result<Vec<Profile>, StoreError>;
    /// At most `limit` posts with an id greater than `after` (from the first when `None`),
    /// by id: every post of every profile, a page at a time, for copying a whole store.
    async fn posts_after(
        &self,
        after: Option<&PostId>,
        limit: usize,
    ) -> Result<Vec<Post>, StoreError>;
    /// Every idempotency key with its claim or answer, by profile and key.
    async fn all_idempotency_keys(&self) -> Result<Vec<IdempotencyEntry>, StoreError>;
    /// Every quota bucket's state, by bucket.
    async fn all_quotas(&self) -> Result<Vec<QuotaState>, StoreError>;
    /// Replaces a bucket's state with `state` (copying is repeatable: no call counted twice).
    async fn restore_quota(&self, state: &QuotaState) -> Result<(), StoreError>;
    /// Every metadata value, by name.
    async fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError>;

    /// A small metadata value.
    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a small metadata value.
    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Removes a metadata value and returns what it held, atomically: of two concurrent
    /// takes exactly one gets the value (single-use OAuth `state`).
    async fn take_meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets `key` to `new` (removes it when `None`) only if it holds `expected` now (`None`:
    /// absent); whether it did. A value that several gateways on one database read, change
    /// and write back (webhook registrations) goes through this: of two concurrent changes
    /// one wins and the other re-reads and tries again, so neither is lost.
    async fn swap_meta(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Adds `by` to the counter `name` (created at 0) atomically, across processes, and
    /// returns its new value; `by = 0` reads it. Kept in the metadata (`counter:{name}`, a
    /// decimal), so copying a store copies counters (`monthlyApiCalls`).
    async fn add_to_counter(&self, name: &str, by: u64) -> Result<u64, StoreError>;

    /// Makes every write so far durable.
    async fn flush(&self) -> Result<(), StoreError>;
}
