//! The embedded sled implementation of [`Store`].
//!
//! Trees and keys:
//! - `posts`: post id → [`Post`], versioned binary (`record.rs`; older JSON records still read)
//! - `by_profile`: profile id, 0x00, created millis (BE), post id → ()
//! - `schedule`: due millis (BE), post id → () — only pending posts
//! - `in_flight`: post id → () — posts with an entry in `deleting` or `publishing`
//! - `profiles`: profile id → JSON [`Profile`]; `profile_keys`: key hash → profile id, and
//!   `t\0`, account id, 0x00, lowercased title → profile id (unique titles)
//! - `accounts`: profile id, 0x00, platform → JSON [`LinkedAccount`]
//! - `idempotency`: profile id, 0x00, key → JSON answer `{"httpStatus","body"}`, or while
//!   no answer is recorded its claim `{"claim":{"postId","claimedAt"}}`
//! - `quotas`: bucket → JSON window; `meta`: name → value
//! - `jobs`: kind, 0x00, key → JSON [`StoredJob`]; `job_due`: kind, 0x00, due millis (BE),
//!   key → (); `job_groups`: kind, 0x00, group, 0x00, key → ()

use super::group_commit::GroupFlusher;
use super::record::{decode_post, encode_post};
use super::{
    IdempotencyEntry, IdempotencyRecord, Job, JobPut, LinkedAccount, PostCursor, PostPage, Profile,
    QuotaDecision, QuotaState, Store, StoreError,
};
use crate::domain::{profile_title_key, Platform, Post, PostId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use sled::{Db, Tree};
use std::path::Path;
use std::time::{Duration, Instant};

/// sled-backed [`Store`].
#[derive(Clone)]
pub struct SledStore {
    db: Db,
    posts: Tree,
    by_profile: Tree,
    schedule: Tree,
    in_flight: Tree,
    profiles: Tree,
    profile_keys: Tree,
    accounts: Tree,
    idempotency: Tree,
    quotas: Tree,
    meta: Tree,
    jobs: Tree,
    job_due: Tree,
    job_groups: Tree,
    /// Serializes job writes: a group's count and a claim's scan are outside sled's
    /// transactions, and one process owns the store.
    job_lock: std::sync::Arc<std::sync::Mutex<()>>,
    /// Shares one durable flush among the callers of [`Store::flush`] at the same moment.
    flusher: GroupFlusher,
}

/// What [`SledStore::write_post_tx`] does with a post whose id is stored already.
#[derive(Clone, Copy)]
enum New {
    /// Abort the transaction with [`StoreError::DuplicatePost`].
    Refuse,
    /// Leave the stored post, go on with the others.
    Skip,
    /// Replace it (an update).
    Replace,
}

/// A job as stored in the `jobs` tree (kind and key are its tree key).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredJob {
    group: String,
    due_ms: u64,
    attempts: u32,
    payload: serde_json::Value,
    claimed_until_ms: Option<u64>,
}

fn job_key(kind: &str, key: &str) -> Vec<u8> {
    format!("{kind}\0{key}").into_bytes()
}

fn job_due_key(kind: &str, due_ms: u64, key: &str) -> Vec<u8> {
    let mut k = format!("{kind}\0").into_bytes();
    k.extend_from_slice(&due_ms.to_be_bytes());
    k.extend_from_slice(key.as_bytes());
    k
}

fn job_group_key(kind: &str, group: &str, key: &str) -> Vec<u8> {
    format!("{kind}\0{group}\0{key}").into_bytes()
}

fn from_millis(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX)).unwrap_or_default()
}

fn job_of(kind: &str, key: &str, j: StoredJob) -> Job {
    Job {
        kind: kind.to_owned(),
        key: key.to_owned(),
        group: j.group,
        due: from_millis(j.due_ms),
        attempts: j.attempts,
        payload: j.payload,
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort<T>(e: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

fn tx_err(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => db(e),
    }
}

/// sled's own failures, in the backend-neutral error.
fn db(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store records always serialize")
}

fn from_json<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Runs a sled scan on tokio's blocking pool: a long iteration must not stall the async
/// worker threads that serve requests.
async fn blocking<T, F>(f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Open(format!("store task failed: {e}")))?
}

fn millis(t: DateTime<Utc>) -> u64 {
    t.timestamp_millis().max(0) as u64
}

fn schedule_key(due: DateTime<Utc>, id: &PostId) -> Vec<u8> {
    let mut k = millis(due).to_be_bytes().to_vec();
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

fn by_profile_key(post: &Post) -> Vec<u8> {
    let mut k = profile_prefix(&post.profile_id);
    k.extend_from_slice(&millis(post.created).to_be_bytes());
    k.extend_from_slice(post.id.as_str().as_bytes());
    k
}

fn profile_prefix(profile_id: &str) -> Vec<u8> {
    let mut k = profile_id.as_bytes().to_vec();
    k.push(0);
    k
}

fn account_key(profile_id: &str, platform: &Platform) -> Vec<u8> {
    let mut k = profile_prefix(profile_id);
    k.extend_from_slice(platform.as_str().as_bytes());
    k
}

/// Index entry that keeps titles unique per account ([`profile_title_key`]). It shares the
/// `profile_keys` tree: key hashes are hex, so the `t\0` prefix cannot collide.
fn title_key(account_id: &str, title: &str) -> Vec<u8> {
    format!("t\0{account_id}\0{}", profile_title_key(title)).into_bytes()
}

fn idempotency_key(profile_id: &str, key: &str) -> Vec<u8> {
    let mut k = profile_prefix(profile_id);
    k.extend_from_slice(key.as_bytes());
    k
}

/// A claim as stored in the `idempotency` tree.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredClaim {
    post_id: PostId,
    claimed_at: DateTime<Utc>,
}

fn claim_json(post_id: &PostId, now: DateTime<Utc>) -> Vec<u8> {
    to_json(
        &serde_json::json!({ "claim": StoredClaim { post_id: post_id.clone(), claimed_at: now } }),
    )
}

fn decode_idempotency(bytes: &[u8]) -> Result<IdempotencyRecord, StoreError> {
    let mut v: serde_json::Value = from_json(bytes)?;
    match v.get_mut("claim").map(serde_json::Value::take) {
        Some(claim) => {
            let c: StoredClaim =
                serde_json::from_value(claim).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(IdempotencyRecord::Claimed {
                post_id: c.post_id,
                claimed_at: c.claimed_at,
            })
        }
        None => Ok(IdempotencyRecord::Answered(v)),
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Window {
    calls: Vec<u64>,
    blocked_until: u64,
}

/// Creates `dir` readable by its owner only (0700), or narrows an existing one to that,
/// before sled writes anything in it: the store holds network tokens.
fn owner_only_dir(dir: &Path) -> Result<(), StoreError> {
    let err = |e: std::io::Error| {
        StoreError::Open(format!("cannot create {} owner-only: {e}", dir.display()))
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(err)?;
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).map_err(err)?;
    Ok(())
}

/// Narrows every file under `dir` to 0600 and every directory to 0700, whatever the umask
/// was when sled created them.
fn owner_only_contents(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let err = |p: &Path, e: std::io::Error| {
            StoreError::Open(format!("cannot make {} owner-only: {e}", p.display()))
        };
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).map_err(|e| err(&d, e))? {
                let entry = entry.map_err(|e| err(&d, e))?;
                let p = entry.path();
                let kind = entry.file_type().map_err(|e| err(&p, e))?;
                let mode = if kind.is_dir() {
                    pending.push(p.clone());
                    0o700
                } else if kind.is_file() {
                    0o600
                } else {
                    continue;
                };
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
                    .map_err(|e| err(&p, e))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// How an open refused because another handle holds the store says so.
const IN_USE: &str = "is in use by another process";

/// zstd level of compressed stores: level 1 already shrinks a page of similar records
/// by more than half; higher levels cost import speed for a few percent more.
const COMPRESSION_LEVEL: i32 = 1;

/// Whether the store at `path` is (or, when new, will be) zstd-compressed. sled fixes the
/// setting when it creates a store and refuses to open it with the other one, so an
/// existing store keeps what its `conf` file says; a store without a readable `conf` but
/// with data (a `db` file) is taken as uncompressed, as every store before this was; a new
/// store is compressed.
fn compressed(path: &Path, compress_new: bool) -> bool {
    let conf = std::fs::read(path.join("conf")).unwrap_or_default();
    let said = String::from_utf8_lossy(&conf)
        .lines()
        .find_map(|l| l.trim().strip_prefix("use_compression: ")?.parse().ok());
    said.unwrap_or_else(|| compress_new && !path.join("db").exists())
}

impl SledStore {
    /// Opens (or creates) the store at `path` with sled's default cache.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(path, 1024)
    }

    /// Opens (or creates, uncompressed) the store at `path` with a page cache of `cache_mb` MiB.
    pub fn open_with_cache(path: &Path, cache_mb: u64) -> Result<Self, StoreError> {
        Self::open_with(path, cache_mb, false)
    }

    /// Opens the store at `path`; a store created by this call is zstd-compressed when
    /// `compress_new` (`store.compress_new_stores`). An existing store keeps the setting it
    /// was created with (sled fixes it at creation and refuses to open it otherwise).
    pub fn open_with(path: &Path, cache_mb: u64, compress_new: bool) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Open(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
        owner_only_dir(path)?;
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_mb.max(1) * 1024 * 1024)
            .use_compression(compressed(path, compress_new))
            .compression_factor(COMPRESSION_LEVEL)
            .open()
            .map_err(|e| {
            let text = e.to_string();
            if text.contains("lock") || text.contains("WouldBlock") || text.contains("temporarily unavailable") {
                StoreError::Open(format!(
                    "the store at {} {IN_USE} (sled allows one gateway per store directory)",
                    path.display()
                ))
            } else {
                StoreError::Open(format!(
                    "cannot open the store at {}: {text} (if it is corrupt, restore a backup or point store.path elsewhere)",
                    path.display()
                ))
            }
        })?;
        // sled creates its files with the process umask; they hold network tokens.
        owner_only_contents(path)?;
        let tree = |name: &str| db.open_tree(name).map_err(self::db);
        Ok(Self {
            posts: tree("posts")?,
            by_profile: tree("by_profile")?,
            schedule: tree("schedule")?,
            in_flight: tree("in_flight")?,
            profiles: tree("profiles")?,
            profile_keys: tree("profile_keys")?,
            accounts: tree("accounts")?,
            idempotency: tree("idempotency")?,
            quotas: tree("quotas")?,
            meta: tree("meta")?,
            jobs: tree("jobs")?,
            job_due: tree("job_due")?,
            job_groups: tree("job_groups")?,
            job_lock: Default::default(),
            flusher: GroupFlusher::new(db.clone()),
            db,
        })
    }

    /// Opens and closes the store at `path` once, after the gateway let go of it, so that the
    /// next start is quick. sled 0.34 writes the snapshot of its page table only when it
    /// opens a store: without this, the first start after a big import replays every log
    /// segment written since the previous start (2.3 s after importing 1 M posts), and
    /// the clean shutdown pays that instead. Retries for up to `wait` while a background
    /// task still holds the directory lock; answers how long the reopen took.
    pub fn checkpoint(path: &Path, wait: Duration) -> Result<Duration, StoreError> {
        let deadline = Instant::now() + wait;
        loop {
            let started = Instant::now();
            match Self::open_with_cache(path, 8) {
                Ok(store) => {
                    drop(store);
                    return Ok(started.elapsed());
                }
                Err(StoreError::Open(m)) if m.contains(IN_USE) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// How many durable flushes ran since the store was opened: with group commit, fewer than
    /// [`Store::flush`] calls when callers overlap (for tests and measurements).
    pub fn durable_flushes(&self) -> u64 {
        self.flusher.flushes()
    }

    /// Size of the store on disk, in bytes.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(db)
    }

    /// Writes `posts` in one transaction. `New::Refuse`: an existing id aborts it;
    /// `New::Skip`: an existing id is left as it is (and reported `false`).
    fn write_post_tx(&self, posts: &[Post], new: New) -> Result<Vec<bool>, StoreError> {
        (
            &self.posts,
            &self.by_profile,
            &self.schedule,
            &self.in_flight,
        )
            .transaction(|(tp, tb, ts, ti)| {
                let mut stored = Vec::with_capacity(posts.len());
                for post in posts {
                    let key = post.id.as_str().as_bytes();
                    let old = match tp.get(key)? {
                        Some(bytes) => match new {
                            New::Refuse => {
                                return abort(StoreError::DuplicatePost(post.id.clone()))
                            }
                            New::Skip => {
                                stored.push(false);
                                continue;
                            }
                            New::Replace => Some(decode_post(key, &bytes).or_else(abort)?),
                        },
                        None => None,
                    };
                    stored.push(true);
                    if let Some(old) = &old {
                        if let Some(due) = old.schedule_slot() {
                            ts.remove(schedule_key(due, &old.id))?;
                        }
                    } else {
                        tb.insert(by_profile_key(post), &[])?;
                    }
                    if let Some(due) = post.schedule_slot() {
                        ts.insert(schedule_key(due, &post.id), &[])?;
                    }
                    if post.in_flight() {
                        ti.insert(key, &[])?;
                    } else if old.is_some() {
                        // A new post has no entry to remove (posts are never removed, so no
                        // stale one either): an import batch skips a thousand removals.
                        ti.remove(key)?;
                    }
                    tp.insert(key, encode_post(post))?;
                }
                Ok(stored)
            })
            .map_err(tx_err)
    }
}

#[async_trait]
impl Store for SledStore {
    async fn ensure_primary_profile(&self, account_id: &str) -> Result<Profile, StoreError> {
        let profile = Profile::primary(account_id, Utc::now());
        let id = profile.id.clone();
        if let Some(p) = self.get_profile(&id).await? {
            return Ok(p);
        }
        // compare_and_swap: two first requests racing create it once.
        let _ = self
            .profiles
            .compare_and_swap(
                id.as_bytes(),
                None as Option<&[u8]>,
                Some(to_json(&profile)),
            )
            .map_err(db)?;
        self.get_profile(&id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("primary profile vanished".into()))
    }

    async fn create_profile(&self, profile: Profile) -> Result<Profile, StoreError> {
        let title_key = title_key(&profile.account_id, &profile.title);
        (&self.profiles, &self.profile_keys)
            .transaction(|(tp, tk)| {
                if tk.get(&title_key)?.is_some() {
                    return abort(StoreError::TitleTaken(profile.title.clone()));
                }
                tk.insert(title_key.as_slice(), profile.id.as_bytes())?;
                tp.insert(profile.id.as_bytes(), to_json(&profile))?;
                if let Some(h) = &profile.key_hash {
                    tk.insert(h.as_bytes(), profile.id.as_bytes())?;
                }
                Ok(())
            })
            .map_err(tx_err)?;
        Ok(profile)
    }

    async fn list_profiles(&self, account_id: &str) -> Result<Vec<Profile>, StoreError> {
        let profiles = self.profiles.clone();
        let account_id = account_id.to_owned();
        blocking(move || {
            let mut out = Vec::new();
            for item in profiles.iter() {
                let (_, v) = item.map_err(db)?;
                let p: Profile = from_json(&v)?;
                if p.account_id == account_id {
                    out.push(p);
                }
            }
            out.sort_by(|a, b| b.primary.cmp(&a.primary).then(a.created.cmp(&b.created)));
            Ok(out)
        })
        .await
    }

    async fn get_profile(&self, id: &str) -> Result<Option<Profile>, StoreError> {
        self.profiles
            .get(id.as_bytes())
            .map_err(db)?
            .map(|v| from_json(&v))
            .transpose()
    }

    async fn profile_by_key_hash(&self, key_hash: &str) -> Result<Option<Profile>, StoreError> {
        match self.profile_keys.get(key_hash.as_bytes()).map_err(db)? {
            Some(id) => self.get_profile(&String::from_utf8_lossy(&id)).await,
            None => Ok(None),
        }
    }

    async fn delete_profile(&self, id: &str) -> Result<bool, StoreError> {
        let Some(profile) = self.get_profile(id).await? else {
            return Ok(false);
        };
        let (accounts, prefix) = (self.accounts.clone(), profile_prefix(id));
        let account_keys: Vec<sled::IVec> = blocking(move || {
            accounts
                .scan_prefix(prefix)
                .keys()
                .collect::<Result<_, _>>()
                .map_err(db)
        })
        .await?;
        (&self.profiles, &self.profile_keys, &self.accounts)
            .transaction(|(tp, tk, ta)| {
                tp.remove(id.as_bytes())?;
                tk.remove(title_key(&profile.account_id, &profile.title))?;
                if let Some(h) = &profile.key_hash {
                    tk.remove(h.as_bytes())?;
                }
                for k in &account_keys {
                    ta.remove(k.clone())?;
                }
                Ok(())
            })
            .map_err(tx_err)?;
        Ok(true)
    }

    async fn update_profile(&self, profile: &Profile) -> Result<bool, StoreError> {
        let Some(old) = self.get_profile(&profile.id).await? else {
            return Ok(false);
        };
        let new = Profile {
            title: profile.title.clone(),
            disabled_social: profile.disabled_social.clone(),
            hide_title: profile.hide_title,
            display_title: profile.display_title.clone(),
            ..old.clone()
        };
        let (old_key, new_key) = (
            title_key(&old.account_id, &old.title),
            title_key(&old.account_id, &new.title),
        );
        (&self.profiles, &self.profile_keys)
            .transaction(|(tp, tk)| {
                // Primary profiles take no part in title uniqueness (see create_profile).
                if !old.primary && old_key != new_key {
                    if tk.get(&new_key)?.is_some() {
                        return abort(StoreError::TitleTaken(new.title.clone()));
                    }
                    tk.remove(old_key.as_slice())?;
                    tk.insert(new_key.as_slice(), new.id.as_bytes())?;
                }
                tp.insert(new.id.as_bytes(), to_json(&new))?;
                Ok(())
            })
            .map_err(tx_err)?;
        Ok(true)
    }

    async fn link_account(
        &self,
        profile_id: &str,
        account: LinkedAccount,
    ) -> Result<(), StoreError> {
        self.accounts
            .insert(
                account_key(profile_id, &account.platform),
                to_json(&account),
            )
            .map_err(db)?;
        Ok(())
    }

    async fn unlink_account(
        &self,
        profile_id: &str,
        platform: &Platform,
    ) -> Result<bool, StoreError> {
        Ok(self
            .accounts
            .remove(account_key(profile_id, platform))
            .map_err(db)?
            .is_some())
    }

    async fn linked_accounts(&self, profile_id: &str) -> Result<Vec<LinkedAccount>, StoreError> {
        let (accounts, prefix) = (self.accounts.clone(), profile_prefix(profile_id));
        blocking(move || {
            accounts
                .scan_prefix(prefix)
                .values()
                .map(|v| from_json(&v.map_err(db)?))
                .collect()
        })
        .await
    }

    async fn linked_account(
        &self,
        profile_id: &str,
        platform: &Platform,
    ) -> Result<Option<LinkedAccount>, StoreError> {
        self.accounts
            .get(account_key(profile_id, platform))
            .map_err(db)?
            .map(|v| from_json(&v))
            .transpose()
    }

    async fn insert_post(&self, post: &Post) -> Result<(), StoreError> {
        self.write_post_tx(std::slice::from_ref(post), New::Refuse)
            .map(drop)
    }

    async fn insert_new_posts(&self, posts: &[Post]) -> Result<Vec<bool>, StoreError> {
        self.write_post_tx(posts, New::Skip)
    }

    async fn get_post(&self, id: &PostId) -> Result<Option<Post>, StoreError> {
        self.posts
            .get(id.as_str().as_bytes())
            .map_err(db)?
            .map(|v| decode_post(id.as_str().as_bytes(), &v))
            .transpose()
    }

    async fn update_post(&self, post: &Post) -> Result<(), StoreError> {
        self.write_post_tx(std::slice::from_ref(post), New::Replace)
            .map(drop)
    }

    async fn update_posts(&self, posts: &[Post]) -> Result<(), StoreError> {
        self.write_post_tx(posts, New::Replace).map(drop)
    }

    async fn posts_by_profile(
        &self,
        profile_id: &str,
        limit: usize,
    ) -> Result<Vec<Post>, StoreError> {
        Ok(self
            .posts_by_profile_page(profile_id, None, limit)
            .await?
            .posts)
    }

    async fn posts_by_profile_page(
        &self,
        profile_id: &str,
        after: Option<&PostCursor>,
        limit: usize,
    ) -> Result<PostPage, StoreError> {
        let (by_profile, posts) = (self.by_profile.clone(), self.posts.clone());
        let prefix = profile_prefix(profile_id);
        let after = after.map(|c| c.0.clone());
        blocking(move || {
            // Keys below the cursor and at or above the prefix all carry the prefix.
            let keys = match after {
                Some(c) if c.starts_with(&prefix) => by_profile.range(prefix.clone()..c),
                Some(_) => return Ok(PostPage::default()),
                None => by_profile.scan_prefix(&prefix),
            };
            let mut page = PostPage::default();
            let mut read = 0usize;
            for key in keys.keys().rev() {
                if read >= limit {
                    break;
                }
                let key = key.map_err(db)?;
                read += 1;
                let Some(id) = key.len().checked_sub(crate::domain::POST_ID_LEN) else {
                    return Err(StoreError::Corrupt("short profile index key".into()));
                };
                if let Some(v) = posts.get(&key[id..]).map_err(db)? {
                    page.posts.push(decode_post(&key[id..], &v)?);
                }
                if read >= limit {
                    page.next = Some(PostCursor(key.to_vec()));
                }
            }
            Ok(page)
        })
        .await
    }

    async fn due_posts_limited(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostId>, StoreError> {
        let schedule = self.schedule.clone();
        let end = millis(now).saturating_add(1).to_be_bytes();
        blocking(move || {
            schedule
                .range(..end.as_slice())
                .keys()
                .take(limit)
                .map(|k| {
                    let k = k.map_err(db)?;
                    PostId::parse(&String::from_utf8_lossy(k.get(8..).unwrap_or_default()))
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                })
                .collect()
        })
        .await
    }

    async fn in_flight_posts(&self) -> Result<Vec<PostId>, StoreError> {
        let in_flight = self.in_flight.clone();
        blocking(move || {
            in_flight
                .iter()
                .keys()
                .map(|k| {
                    PostId::parse(&String::from_utf8_lossy(&k.map_err(db)?))
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                })
                .collect()
        })
        .await
    }

    async fn idempotency_record(
        &self,
        profile_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.idempotency
            .get(idempotency_key(profile_id, key))
            .map_err(db)?
            .map(|v| decode_idempotency(&v))
            .transpose()
    }

    async fn claim_idempotency_key(
        &self,
        profile_id: &str,
        key: &str,
        post_id: &PostId,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        match self
            .idempotency
            .compare_and_swap(
                idempotency_key(profile_id, key),
                None as Option<&[u8]>,
                Some(claim_json(post_id, now)),
            )
            .map_err(db)?
        {
            Ok(()) => Ok(None),
            Err(held) => match held.current {
                Some(v) => decode_idempotency(&v).map(Some),
                // Only reachable if the expected value was not `None`: never.
                None => Err(StoreError::Corrupt("idempotency claim lost".into())),
            },
        }
    }

    async fn idempotent_answer(
        &self,
        profile_id: &str,
        key: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(match self.idempotency_record(profile_id, key).await? {
            Some(IdempotencyRecord::Answered(v)) => Some(v),
            _ => None,
        })
    }

    async fn remember_answer(
        &self,
        profile_id: &str,
        key: &str,
        answer: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let k = idempotency_key(profile_id, key);
        // Compare-and-swap until the write lands on nothing or on a claim; an answer already
        // there wins.
        loop {
            let current = self.idempotency.get(&k).map_err(db)?;
            if let Some(v) = &current {
                if matches!(decode_idempotency(v)?, IdempotencyRecord::Answered(_)) {
                    return Ok(());
                }
            }
            if self
                .idempotency
                .compare_and_swap(&k, current, Some(to_json(answer)))
                .map_err(db)?
                .is_ok()
            {
                return Ok(());
            }
        }
    }

    async fn take_quota(
        &self,
        bucket: &str,
        limit: u32,
        window_secs: u64,
        now: DateTime<Utc>,
    ) -> Result<QuotaDecision, StoreError> {
        let now_ms = millis(now);
        let window_ms = window_secs.saturating_mul(1000);
        self.quotas
            .transaction(|tq| {
                let mut w: Window = match tq.get(bucket.as_bytes())? {
                    Some(v) => from_json(&v).or_else(abort)?,
                    None => Window::default(),
                };
                if w.blocked_until > now_ms {
                    return Ok(QuotaDecision::Exhausted {
                        retry_after: (w.blocked_until - now_ms).div_ceil(1000),
                    });
                }
                w.calls.retain(|&t| t.saturating_add(window_ms) > now_ms);
                if w.calls.len() >= limit as usize {
                    let oldest = w.calls.iter().min().copied().unwrap_or(now_ms);
                    return Ok(QuotaDecision::Exhausted {
                        retry_after: (oldest.saturating_add(window_ms).saturating_sub(now_ms))
                            .div_ceil(1000)
                            .max(1),
                    });
                }
                w.calls.push(now_ms);
                tq.insert(bucket.as_bytes(), to_json(&w))?;
                let used = u32::try_from(w.calls.len()).unwrap_or(u32::MAX);
                Ok(QuotaDecision::Granted {
                    remaining: limit.saturating_sub(used),
                })
            })
            .map_err(tx_err)
    }

    async fn give_back_quota(&self, bucket: &str) -> Result<(), StoreError> {
        self.quotas
            .transaction(|tq| {
                let Some(v) = tq.get(bucket.as_bytes())? else {
                    return Ok(());
                };
                let mut w: Window = from_json(&v).or_else(abort)?;
                if let Some(latest) = w
                    .calls
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, t)| **t)
                    .map(|(i, _)| i)
                {
                    w.calls.swap_remove(latest);
                    tq.insert(bucket.as_bytes(), to_json(&w))?;
                }
                Ok(())
            })
            .map_err(tx_err)
    }

    async fn quota_blocked(
        &self,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let now_ms = millis(now);
        let Some(v) = self.quotas.get(bucket.as_bytes()).map_err(db)? else {
            return Ok(None);
        };
        let w: Window = from_json(&v)?;
        Ok((w.blocked_until > now_ms).then(|| (w.blocked_until - now_ms).div_ceil(1000)))
    }

    async fn block_until(&self, bucket: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        let until_ms = millis(until);
        self.quotas
            .transaction(|tq| {
                let mut w: Window = match tq.get(bucket.as_bytes())? {
                    Some(v) => from_json(&v).or_else(abort)?,
                    None => Window::default(),
                };
                w.blocked_until = w.blocked_until.max(until_ms);
                tq.insert(bucket.as_bytes(), to_json(&w))?;
                Ok(())
            })
            .map_err(tx_err)
    }

    async fn all_profiles(&self) -> Result<Vec<Profile>, StoreError> {
        let profiles = self.profiles.clone();
        blocking(move || {
            profiles
                .iter()
                .map(|r| from_json(&r.map_err(db)?.1))
                .collect()
        })
        .await
    }

    async fn posts_after(
        &self,
        after: Option<&PostId>,
        limit: usize,
    ) -> Result<Vec<Post>, StoreError> {
        let posts = self.posts.clone();
        let after = after.map(|id| id.as_str().as_bytes().to_vec());
        blocking(move || {
            let range = match after {
                Some(a) => posts.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
                None => posts.iter(),
            };
            range
                .take(limit)
                .map(|r| {
                    let (k, v) = r.map_err(db)?;
                    decode_post(&k, &v)
                })
                .collect()
        })
        .await
    }

    async fn all_idempotency_keys(&self) -> Result<Vec<IdempotencyEntry>, StoreError> {
        let tree = self.idempotency.clone();
        blocking(move || {
            tree.iter()
                .map(|r| {
                    let (k, v) = r.map_err(db)?;
                    let k = String::from_utf8_lossy(&k).into_owned();
                    let Some((profile_id, key)) = k.split_once('\0') else {
                        return Err(StoreError::Corrupt(format!("idempotency key {k:?}")));
                    };
                    Ok(IdempotencyEntry {
                        profile_id: profile_id.to_owned(),
                        key: key.to_owned(),
                        record: decode_idempotency(&v)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn all_quotas(&self) -> Result<Vec<QuotaState>, StoreError> {
        let tree = self.quotas.clone();
        let at = |ms: u64| {
            DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
                .ok_or_else(|| StoreError::Corrupt(format!("quota time {ms}")))
        };
        blocking(move || {
            tree.iter()
                .map(|r| {
                    let (k, v) = r.map_err(db)?;
                    let mut w: Window = from_json(&v)?;
                    w.calls.sort_unstable();
                    Ok(QuotaState {
                        bucket: String::from_utf8_lossy(&k).into_owned(),
                        calls: w.calls.into_iter().map(at).collect::<Result<_, _>>()?,
                        blocked_until: match w.blocked_until {
                            0 => None,
                            b => Some(at(b)?),
                        },
                    })
                })
                .collect()
        })
        .await
    }

    async fn restore_quota(&self, state: &QuotaState) -> Result<(), StoreError> {
        let w = Window {
            calls: state.calls.iter().map(|t| millis(*t)).collect(),
            blocked_until: state.blocked_until.map_or(0, millis),
        };
        self.quotas
            .insert(state.bucket.as_bytes(), to_json(&w))
            .map_err(db)?;
        Ok(())
    }

    async fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.meta
            .iter()
            .map(|r| {
                let (k, v) = r.map_err(db)?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    }

    async fn put_job(&self, job: &Job, max_in_group: usize) -> Result<JobPut, StoreError> {
        let this = self.clone();
        let job = job.clone();
        blocking(move || {
            let _held = this.job_lock.lock().unwrap_or_else(|e| e.into_inner());
            let key = job_key(&job.kind, &job.key);
            let old: Option<StoredJob> = match this.jobs.get(&key).map_err(db)? {
                Some(v) => Some(from_json(&v)?),
                None => None,
            };
            if old.is_none() {
                let prefix = job_group_key(&job.kind, &job.group, "");
                if this.job_groups.scan_prefix(prefix).count() >= max_in_group {
                    return Ok(JobPut::GroupFull);
                }
            }
            let new = StoredJob {
                group: job.group.clone(),
                due_ms: millis(job.due),
                attempts: job.attempts,
                payload: job.payload.clone(),
                claimed_until_ms: None,
            };
            (&this.jobs, &this.job_due, &this.job_groups)
                .transaction(|(tj, td, tg)| {
                    if let Some(old) = &old {
                        td.remove(job_due_key(&job.kind, old.due_ms, &job.key))?;
                        tg.remove(job_group_key(&job.kind, &old.group, &job.key))?;
                    }
                    tj.insert(key.clone(), to_json(&new))?;
                    td.insert(job_due_key(&job.kind, new.due_ms, &job.key), &[])?;
                    tg.insert(job_group_key(&job.kind, &job.group, &job.key), &[])?;
                    Ok(())
                })
                .map_err(tx_err)?;
            Ok(if old.is_some() {
                JobPut::Replaced
            } else {
                JobPut::Added
            })
        })
        .await
    }

    async fn jobs_with_prefix(&self, kind: &str, key_prefix: &str) -> Result<Vec<Job>, StoreError> {
        let (this, kind, key_prefix) = (self.clone(), kind.to_owned(), key_prefix.to_owned());
        blocking(move || {
            let skip = kind.len() + 1;
            this.jobs
                .scan_prefix(job_key(&kind, &key_prefix))
                .map(|kv| {
                    let (k, v) = kv.map_err(db)?;
                    let key = String::from_utf8_lossy(&k[skip..]).into_owned();
                    Ok(job_of(&kind, &key, from_json(&v)?))
                })
                .collect()
        })
        .await
    }

    async fn count_jobs(&self, kind: &str, group: &str) -> Result<usize, StoreError> {
        let (this, prefix) = (self.clone(), job_group_key(kind, group, ""));
        blocking(move || Ok(this.job_groups.scan_prefix(prefix).count())).await
    }

    async fn claim_jobs(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: usize,
        lease: std::time::Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let (this, kind) = (self.clone(), kind.to_owned());
        let now_ms = millis(now);
        let until_ms = now_ms.saturating_add(u64::try_from(lease.as_millis()).unwrap_or(u64::MAX));
        blocking(move || {
            let _held = this.job_lock.lock().unwrap_or_else(|e| e.into_inner());
            let prefix = format!("{kind}\0").into_bytes();
            let mut claimed = Vec::new();
            for kv in this.job_due.scan_prefix(&prefix) {
                if claimed.len() >= limit {
                    break;
                }
                let (k, _) = kv.map_err(db)?;
                let rest = &k[prefix.len()..];
                let Some((due, key)) = rest.split_at_checked(8) else {
                    continue;
                };
                let due_ms = u64::from_be_bytes(due.try_into().unwrap_or_default());
                if due_ms > now_ms {
                    break;
                }
                let key = String::from_utf8_lossy(key).into_owned();
                let Some(v) = this.jobs.get(job_key(&kind, &key)).map_err(db)? else {
                    continue;
                };
                let mut j: StoredJob = from_json(&v)?;
                if j.claimed_until_ms.is_some_and(|c| c > now_ms) {
                    continue;
                }
                j.claimed_until_ms = Some(until_ms);
                this.jobs
                    .insert(job_key(&kind, &key), to_json(&j))
                    .map_err(db)?;
                claimed.push(job_of(&kind, &key, j));
            }
            Ok(claimed)
        })
        .await
    }

    async fn remove_job(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
        let (this, kind, key) = (self.clone(), kind.to_owned(), key.to_owned());
        blocking(move || {
            let _held = this.job_lock.lock().unwrap_or_else(|e| e.into_inner());
            let Some(v) = this.jobs.get(job_key(&kind, &key)).map_err(db)? else {
                return Ok(false);
            };
            let old: StoredJob = from_json(&v)?;
            (&this.jobs, &this.job_due, &this.job_groups)
                .transaction(|(tj, td, tg)| {
                    tj.remove(job_key(&kind, &key))?;
                    td.remove(job_due_key(&kind, old.due_ms, &key))?;
                    tg.remove(job_group_key(&kind, &old.group, &key))?;
                    Ok(())
                })
                .map_err(tx_err)?;
            Ok(true)
        })
        .await
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(key.as_bytes())
            .map_err(db)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta
            .insert(key.as_bytes(), value.as_bytes())
            .map_err(db)?;
        Ok(())
    }

    async fn take_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .remove(key.as_bytes())
            .map_err(db)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    async fn add_to_counter(&self, name: &str, by: u64) -> Result<u64, StoreError> {
        let key = format!("counter:{name}");
        let read = |v: Option<&[u8]>| {
            v.and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let new = self
            .meta
            .update_and_fetch(key.as_bytes(), |v| {
                Some(read(v).saturating_add(by).to_string().into_bytes())
            })
            .map_err(db)?;
        Ok(read(new.as_deref()))
    }

    async fn swap_meta(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .meta
            .compare_and_swap(
                key.as_bytes(),
                expected.map(str::as_bytes),
                new.map(str::as_bytes),
            )
            .map_err(db)?
            .is_ok())
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Group commit (`group_commit.rs`): concurrent callers share one flush. The flush is
        // sled's blocking one on tokio's blocking pool, not `flush_async`: in sled 0.34
        // concurrent `flush_async` calls can deadlock (spacejam/sled#1308, #1241, fixed only
        // on an unreleased branch).
        let started = std::time::Instant::now();
        let flushed = self.flusher.flush().await;
        crate::metrics::store_flush(started.elapsed());
        flushed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EntryState, NetworkPostId, PlatformEntry, PostKind, PostStatus};

    fn post() -> Post {
        let mut e = PlatformEntry::new(Platform::Threads, EntryState::Published);
        e.id = Some(NetworkPostId("18060000000000001".into()));
        Post {
            id: PostId::parse("AbCdEfGhIjKlMnOpQrSt").unwrap(),
            profile_id: "p1".to_owned().into(),
            text: "old".into(),
            status: PostStatus::Success,
            kind: PostKind::Now,
            created: Utc::now(),
            schedule_date: None,
            entries: vec![e],
            idempotency_key: None,
            media_urls: Vec::new(),
        }
    }

    /// A store created before compression (sled's default, uncompressed) keeps opening
    /// uncompressed, with its data; a new store is created compressed.
    #[tokio::test]
    async fn stores_keep_their_compression_and_new_ones_compress_when_asked() {
        let conf = |d: &Path| {
            String::from_utf8_lossy(&std::fs::read(d.join("conf")).unwrap()).into_owned()
        };
        let old_dir = tempfile::tempdir().unwrap();
        let p = post();
        {
            let db = sled::open(old_dir.path()).unwrap();
            db.open_tree("posts")
                .unwrap()
                .insert(p.id.as_str(), encode_post(&p))
                .unwrap();
            db.flush().unwrap();
        }
        assert!(conf(old_dir.path()).contains("use_compression: false"));
        // No `flush`: its group flusher may hold the directory lock a moment after it
        // answers; dropping the store flushes and lets go at once.
        for _ in 0..2 {
            let s = SledStore::open(old_dir.path()).unwrap();
            assert_eq!(s.get_post(&p.id).await.unwrap().as_ref(), Some(&p));
            s.insert_post(&Post {
                id: PostId::generate(),
                ..p.clone()
            })
            .await
            .unwrap();
        }
        assert!(conf(old_dir.path()).contains("use_compression: false"));

        let new_dir = tempfile::tempdir().unwrap();
        let store = new_dir.path().join("store");
        {
            let s = SledStore::open_with(&store, 8, true).unwrap();
            s.insert_post(&p).await.unwrap();
        }
        assert!(conf(&store).contains("use_compression: true"));
        // Reopened without asking for compression: the store's own setting wins.
        let s = SledStore::open(&store).unwrap();
        assert_eq!(s.get_post(&p.id).await.unwrap(), Some(p.clone()));
        drop(s);

        // The default (`store.compress_new_stores = false`) creates uncompressed stores.
        let plain = new_dir.path().join("plain");
        {
            let s = SledStore::open_with(&plain, 8, false).unwrap();
            s.insert_post(&p).await.unwrap();
        }
        assert!(conf(&plain).contains("use_compression: false"));
    }

    /// `checkpoint` leaves a snapshot covering everything written, so the next open reads
    /// no log written before it; while the store is open elsewhere it gives up with "in use".
    #[tokio::test]
    async fn checkpoint_writes_a_snapshot_of_everything_written_and_waits_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let snapshots = || {
            let mut v: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .filter_map(|e| {
                    let name = e.unwrap().file_name().to_string_lossy().into_owned();
                    name.starts_with("snap.").then_some(name)
                })
                .collect();
            v.sort();
            v
        };
        let p = post();
        {
            let s = SledStore::open(dir.path()).unwrap();
            s.insert_post(&p).await.unwrap();
            let held = SledStore::checkpoint(dir.path(), Duration::from_millis(50));
            assert!(
                matches!(&held, Err(StoreError::Open(m)) if m.contains(IN_USE)),
                "{:?}",
                held.err()
            );
        }
        let before = snapshots();
        SledStore::checkpoint(dir.path(), Duration::from_secs(5)).unwrap();
        let after = snapshots();
        assert!(
            after.last() > before.last(),
            "a newer snapshot: {before:?} -> {after:?}"
        );
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get_post(&p.id).await.unwrap(), Some(p));
    }

    /// A store written by an earlier postgate (JSON posts) opens, reads, and rewrites a post
    /// in the current encoding when it changes.
    #[tokio::test]
    async fn json_posts_of_an_older_store_still_read_and_are_rewritten_binary() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = post();
        {
            let db = sled::open(dir.path()).unwrap();
            let t = db.open_tree("posts").unwrap();
            t.insert(old.id.as_str(), serde_json::to_vec(&old).unwrap())
                .unwrap();
            db.open_tree("by_profile")
                .unwrap()
                .insert(by_profile_key(&old), &[])
                .unwrap();
            db.flush().unwrap();
        }
        let s = SledStore::open(dir.path()).unwrap();
        assert_eq!(s.get_post(&old.id).await.unwrap().as_ref(), Some(&old));
        assert_eq!(
            s.posts_by_profile("p1", 10).await.unwrap(),
            vec![old.clone()]
        );
        assert_eq!(s.posts_after(None, 10).await.unwrap(), vec![old.clone()]);
        old.entries[0].state = EntryState::Deleting;
        s.update_post(&old).await.unwrap();
        let raw = s.posts.get(old.id.as_str()).unwrap().unwrap();
        assert_eq!(raw[0], 2, "rewritten in the current layout (2)");
        assert_eq!(s.get_post(&old.id).await.unwrap(), Some(old));
    }
}
