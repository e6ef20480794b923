//! The PostgreSQL implementation of [`Store`]: one database several gateway processes share.
//!
//! The schema is in `migrations/` (embedded, run at start-up). Every rule about *what* is
//! stored comes from the domain (`Post::schedule_slot`, `Post::in_flight`,
//! `profile_title_key`, `Profile::primary`); this file only stores. Atomicity across
//! processes comes from the database: unique keys for idempotency claims, profile titles and
//! post ids; a locked `quotas` row while a call is counted.
//!
//! Times are kept to the microsecond (PostgreSQL's `timestamptz`).

use super::pg_locks::LockSession;
use super::pg_writes::PostWrites;
use super::{
    IdempotencyEntry, IdempotencyRecord, Job, JobPut, LinkedAccount, PostCursor, PostLock,
    PostPage, Profile, QuotaDecision, QuotaState, Store, StoreError, TokenLife,
};
use crate::configuration::{redact_password, StoreSettings};
use crate::domain::{
    profile_title_key, EntryError, NetworkPostId, Platform, PlatformEntry, Post, PostId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The schema migrations, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// PostgreSQL-backed [`Store`].
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Where this store's post locks are held.
    locks: Arc<LockSession>,
    /// The group commit of post updates.
    writes: Arc<PostWrites>,
}

fn db(e: sqlx::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Whether `e` is a unique-key violation of `constraint`.
fn violates(e: &sqlx::Error, constraint: &str) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if d.code().as_deref() == Some("23505") && d.constraint() == Some(constraint))
}

/// A unit enum's serde name (`"pending"`, `"manualDeleted"`, ...): the stored text.
fn to_text<T: Serialize>(v: &T) -> Result<String, StoreError> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Corrupt("an enum without a text form".into())),
    }
}

fn from_text<T: DeserializeOwned>(s: String) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(s))
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn post_id(s: String) -> Result<PostId, StoreError> {
    PostId::parse(&s).map_err(|e| StoreError::Corrupt(format!("post id {s:?}: {e}")))
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The columns of a `jobs` row, in [`JOB_COLUMNS`] order.
type JobRow = (String, String, String, DateTime<Utc>, i32, String);

const JOB_COLUMNS: &str = "kind, key, grp, due, attempts, payload";

fn job(row: JobRow) -> Result<Job, StoreError> {
    let (kind, key, group, due, attempts, payload) = row;
    Ok(Job {
        kind,
        key,
        group,
        due,
        attempts: u32::try_from(attempts).unwrap_or(0),
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?,
    })
}

impl PostgresStore {
    /// The profile whose `column` (a unique column: `id` or `key_hash`) equals `value`.
    async fn profile_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Profile>, StoreError> {
        sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .as_ref()
        .map(profile_from_row)
        .transpose()
    }

    /// Connects with `store.url`, `store.pool_size` and `store.statement_timeout_ms`, then
    /// brings the schema up to date (or refuses a schema newer than this binary).
    pub async fn connect(settings: &StoreSettings) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(&settings.url).map_err(|e| {
            StoreError::Open(format!(
                "store.url {} is not a PostgreSQL URL: {e}",
                redact_password(&settings.url)
            ))
        })?;
        Self::connect_with(
            options,
            settings.pool_size,
            Duration::from_millis(settings.statement_timeout_ms),
        )
        .await
    }

    /// [`PostgresStore::connect`] with explicit options (tests point it at a fresh database).
    pub async fn connect_with(
        options: PgConnectOptions,
        pool_size: u32,
        statement_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let where_ = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        let options = options.options([(
            "statement_timeout",
            statement_timeout.as_millis().to_string(),
        )]);
        let locks = Arc::new(LockSession::new(options.clone()));
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Open(format!("cannot connect to PostgreSQL at {where_}: {e}"))
            })?;
        let writes = Arc::new(PostWrites::new(pool.clone()));
        let store = Self {
            pool,
            locks,
            writes,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations. A database migrated by a newer postgate is refused
    /// before anything is written: this binary does not know that schema.
    async fn migrate(&self) -> Result<(), StoreError> {
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let migrated: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        let applied: Option<i64> = if migrated {
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?
        } else {
            None
        };
        if let Some(v) = applied.filter(|v| *v > known) {
            return Err(StoreError::Open(format!(
                "the PostgreSQL schema is at version {v}, newer than this postgate knows ({known}): \
                 run a postgate at least as new as the one that migrated it"
            )));
        }
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Open(format!("PostgreSQL schema migration failed: {e}")))
    }

    /// The connection pool (for tests and tools that inspect the database).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn posts_with_entries(&self, rows: Vec<PgRow>) -> Result<Vec<Post>, StoreError> {
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()
            .map_err(db)?;
        let entry_rows = sqlx::query(
            "SELECT * FROM post_entries WHERE post_id = ANY($1) ORDER BY post_id, position",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut entries: std::collections::HashMap<String, Vec<PlatformEntry>> =
            std::collections::HashMap::new();
        for r in entry_rows {
            let id: String = r.try_get("post_id").map_err(db)?;
            entries.entry(id).or_default().push(entry_from_row(&r)?);
        }
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id").map_err(db)?;
                let e = entries.remove(&id).unwrap_or_default();
                post_from_row(r, e)
            })
            .collect()
    }
}

/// Inserts a new post and its entries in one statement (one round trip, one commit);
/// [`StoreError::DuplicatePost`] if its id exists.
async fn insert_post<'e>(ex: impl sqlx::PgExecutor<'e>, post: &Post) -> Result<(), StoreError> {
    let mut e = EntryColumns::default();
    e.push(post)?;
    let written: i64 = sqlx::query_scalar(
        "WITH p AS (
             INSERT INTO posts (id, profile_id, text, status, kind, created, schedule_date,
                                idempotency_key, due_at, in_flight, media_urls)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING
             RETURNING id),
         e AS (
             INSERT INTO post_entries (post_id, position, platform, network_id, post_type,
                 media_type, post_url, state, error_kind, error_message, deleted_at, publish_ref)
             SELECT * FROM unnest($12::text[], $13::integer[], $14::text[], $15::text[],
                 $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[],
                 $22::timestamptz[], $23::text[])
             WHERE EXISTS (SELECT 1 FROM p))
         SELECT count(*) FROM p",
    )
    .bind(post.id.as_str())
    .bind(post.profile_id.as_str())
    .bind(&post.text)
    .bind(to_text(&post.status)?)
    .bind(to_text(&post.kind)?)
    .bind(post.created)
    .bind(post.schedule_date)
    .bind(&post.idempotency_key)
    .bind(post.schedule_slot())
    .bind(post.in_flight())
    .bind(&post.media_urls)
    .bind(&e.post_id)
    .bind(&e.position)
    .bind(&e.platform)
    .bind(&e.network_id)
    .bind(&e.post_type)
    .bind(&e.media_type)
    .bind(&e.post_url)
    .bind(&e.state)
    .bind(&e.error_kind)
    .bind(&e.error_message)
    .bind(&e.deleted_at)
    .bind(&e.publish_ref)
    .fetch_one(ex)
    .await
    .map_err(db)?;
    if written == 0 {
        return Err(StoreError::DuplicatePost(post.id.clone()));
    }
    Ok(())
}

/// Upserts `posts` (distinct ids) and their entries in one statement: one round trip and
/// one commit for all (`Store::update_post`, `update_posts`, and the group commit of
/// [`super::pg_writes`]). Entries are updated in place by position (those past a post's last
/// entry deleted), so an update neither rewrites the entries' keys nor re-checks their
/// foreign key. Rows are written in id order, so two statements locking some of the same
/// posts wait for each other instead of deadlocking.
pub(super) async fn upsert_posts<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    posts: &[&Post],
) -> Result<(), StoreError> {
    let mut posts = posts.to_vec();
    posts.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let n = posts.len();
    let mut id = Vec::with_capacity(n);
    let mut profile_id = Vec::with_capacity(n);
    let mut text = Vec::with_capacity(n);
    let mut status = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut schedule_date = Vec::with_capacity(n);
    let mut idempotency_key = Vec::with_capacity(n);
    let mut due_at = Vec::with_capacity(n);
    let mut in_flight = Vec::with_capacity(n);
    // One JSON list per post: a text[][] cannot hold lists of different lengths.
    let mut media_urls = Vec::with_capacity(n);
    let mut entry_count = Vec::with_capacity(n);
    let mut e = EntryColumns::default();
    for post in &posts {
        id.push(post.id.as_str());
        profile_id.push(post.profile_id.as_str());
        text.push(post.text.as_str());
        status.push(to_text(&post.status)?);
        kind.push(to_text(&post.kind)?);
        created.push(post.created);
        schedule_date.push(post.schedule_date);
        idempotency_key.push(post.idempotency_key.as_deref());
        due_at.push(post.schedule_slot());
        in_flight.push(post.in_flight());
        media_urls.push(
            serde_json::to_string(&post.media_urls)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
        entry_count.push(i32::try_from(post.entries.len()).unwrap_or(i32::MAX));
        e.push(post)?;
    }
    sqlx::query(
        "WITH p AS (
             INSERT INTO posts (id, profile_id, text, status, kind, created, schedule_date,
                                idempotency_key, due_at, in_flight, media_urls)
             SELECT u.id, u.profile_id, u.text, u.status, u.kind, u.created, u.schedule_date,
                    u.idempotency_key, u.due_at, u.in_flight,
                    ARRAY(SELECT jsonb_array_elements_text(u.media_urls::jsonb))
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::timestamptz[], $7::timestamptz[], $8::text[], $9::timestamptz[],
                         $10::boolean[], $11::text[])
                  AS u(id, profile_id, text, status, kind, created, schedule_date,
                       idempotency_key, due_at, in_flight, media_urls)
             ON CONFLICT (id) DO UPDATE SET profile_id = EXCLUDED.profile_id,
                 text = EXCLUDED.text, status = EXCLUDED.status, kind = EXCLUDED.kind,
                 created = EXCLUDED.created, schedule_date = EXCLUDED.schedule_date,
                 idempotency_key = EXCLUDED.idempotency_key, media_urls = EXCLUDED.media_urls,
                 due_at = EXCLUDED.due_at, in_flight = EXCLUDED.in_flight,
                 lease_holder = CASE WHEN EXCLUDED.due_at IS DISTINCT FROM posts.due_at
                                     THEN NULL ELSE posts.lease_holder END,
                 lease_until = CASE WHEN EXCLUDED.due_at IS DISTINCT FROM posts.due_at
                                    THEN NULL ELSE posts.lease_until END),
         d AS (
             DELETE FROM post_entries x USING unnest($1::text[], $12::integer[]) AS c(id, n)
             WHERE x.post_id = c.id AND x.position >= c.n),
         e AS (
             INSERT INTO post_entries (post_id, position, platform, network_id, post_type,
                 media_type, post_url, state, error_kind, error_message, deleted_at, publish_ref)
             SELECT * FROM unnest($13::text[], $14::integer[], $15::text[], $16::text[],
                 $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
                 $23::timestamptz[], $24::text[])
             ON CONFLICT (post_id, position) DO UPDATE SET platform = EXCLUDED.platform,
                 network_id = EXCLUDED.network_id, post_type = EXCLUDED.post_type,
                 media_type = EXCLUDED.media_type, post_url = EXCLUDED.post_url,
                 state = EXCLUDED.state, error_kind = EXCLUDED.error_kind,
                 error_message = EXCLUDED.error_message, deleted_at = EXCLUDED.deleted_at,
                 publish_ref = EXCLUDED.publish_ref)
         SELECT 1",
    )
    .bind(&id)
    .bind(&profile_id)
    .bind(&text)
    .bind(&status)
    .bind(&kind)
    .bind(&created)
    .bind(&schedule_date)
    .bind(&idempotency_key)
    .bind(&due_at)
    .bind(&in_flight)
    .bind(&media_urls)
    .bind(&entry_count)
    .bind(&e.post_id)
    .bind(&e.position)
    .bind(&e.platform)
    .bind(&e.network_id)
    .bind(&e.post_type)
    .bind(&e.media_type)
    .bind(&e.post_url)
    .bind(&e.state)
    .bind(&e.error_kind)
    .bind(&e.error_message)
    .bind(&e.deleted_at)
    .bind(&e.publish_ref)
    .execute(ex)
    .await
    .map_err(db)?;
    Ok(())
}

/// The `post_entries` columns of several posts' entries, one array each (for `unnest`).
#[derive(Default)]
struct EntryColumns<'a> {
    post_id: Vec<&'a str>,
    position: Vec<i32>,
    platform: Vec<&'a str>,
    network_id: Vec<Option<&'a str>>,
    post_type: Vec<Option<&'a str>>,
    media_type: Vec<Option<&'a str>>,
    post_url: Vec<Option<&'a str>>,
    state: Vec<String>,
    error_kind: Vec<Option<String>>,
    error_message: Vec<Option<&'a str>>,
    deleted_at: Vec<Option<DateTime<Utc>>>,
    publish_ref: Vec<Option<&'a str>>,
}

impl<'a> EntryColumns<'a> {
    fn push(&mut self, post: &'a Post) -> Result<(), StoreError> {
        for (i, e) in post.entries.iter().enumerate() {
            self.post_id.push(post.id.as_str());
            self.position.push(i32::try_from(i).unwrap_or(i32::MAX));
            self.platform.push(e.platform.as_str());
            self.network_id
                .push(e.id.as_ref().map(NetworkPostId::as_str));
            self.post_type.push(e.post_type.as_deref());
            self.media_type.push(e.media_type.as_deref());
            self.post_url.push(e.post_url.as_deref());
            self.state.push(to_text(&e.state)?);
            self.error_kind
                .push(e.error.as_ref().map(|err| to_text(&err.kind)).transpose()?);
            self.error_message
                .push(e.error.as_ref().map(|err| err.message.as_str()));
            self.deleted_at.push(e.deleted_at);
            self.publish_ref.push(e.publish_ref.as_deref());
        }
        Ok(())
    }
}

fn entry_from_row(r: &PgRow) -> Result<PlatformEntry, StoreError> {
    let platform: String = r.try_get("platform").map_err(db)?;
    let mut e = PlatformEntry::new(
        Platform::from(platform),
        from_text(r.try_get("state").map_err(db)?)?,
    );
    e.id = r
        .try_get::<Option<String>, _>("network_id")
        .map_err(db)?
        .map(NetworkPostId);
    e.post_type = r.try_get("post_type").map_err(db)?;
    e.media_type = r.try_get("media_type").map_err(db)?;
    e.post_url = r.try_get("post_url").map_err(db)?;
    let kind: Option<String> = r.try_get("error_kind").map_err(db)?;
    e.error = match kind {
        Some(kind) => Some(EntryError {
            kind: from_text(kind)?,
            message: r
                .try_get::<Option<String>, _>("error_message")
                .map_err(db)?
                .unwrap_or_default(),
        }),
        None => None,
    };
    e.deleted_at = r.try_get("deleted_at").map_err(db)?;
    e.publish_ref = r.try_get("publish_ref").map_err(db)?;
    Ok(e)
}

fn post_from_row(r: &PgRow, entries: Vec<PlatformEntry>) -> Result<Post, StoreError> {
    Ok(Post {
        id: post_id(r.try_get("id").map_err(db)?)?,
        profile_id: r.try_get::<String, _>("profile_id").map_err(db)?.into(),
        text: r.try_get("text").map_err(db)?,
        status: from_text(r.try_get("status").map_err(db)?)?,
        kind: from_text(r.try_get("kind").map_err(db)?)?,
        created: r.try_get("created").map_err(db)?,
        schedule_date: r.try_get("schedule_date").map_err(db)?,
        entries,
        idempotency_key: r.try_get("idempotency_key").map_err(db)?,
        media_urls: r.try_get("media_urls").map_err(db)?,
    })
}

fn profile_from_row(r: &PgRow) -> Result<Profile, StoreError> {
    Ok(Profile {
        id: r.try_get::<String, _>("id").map_err(db)?.into(),
        account_id: r.try_get::<String, _>("account_id").map_err(db)?.into(),
        title: r.try_get("title").map_err(db)?,
        primary: r.try_get("is_primary").map_err(db)?,
        key_hash: r.try_get("key_hash").map_err(db)?,
        created: r.try_get("created").map_err(db)?,
        disabled_social: r
            .try_get::<Option<String>, _>("disabled_social")
            .map_err(db)?
            .map(|s| s.split(',').map(Platform::from).collect())
            .unwrap_or_default(),
        hide_title: r.try_get("hide_title").map_err(db)?,
        display_title: r.try_get("display_title").map_err(db)?,
    })
}

fn account_from_row(r: &PgRow) -> Result<LinkedAccount, StoreError> {
    let platform: String = r.try_get("platform").map_err(db)?;
    Ok(LinkedAccount {
        platform: Platform::from(platform),
        user_id: r.try_get("user_id").map_err(db)?,
        access_token: r.try_get("access_token").map_err(db)?,
        access_token_secret: r.try_get("access_token_secret").map_err(db)?,
        username: r.try_get("username").map_err(db)?,
        linked_at: r.try_get("linked_at").map_err(db)?,
        life: TokenLife {
            expires_at: r.try_get("token_expires_at").map_err(db)?,
            refreshed_at: r.try_get("token_refreshed_at").map_err(db)?,
            scopes: r
                .try_get::<Option<String>, _>("token_scopes")
                .map_err(db)?
                .map(|s| {
                    s.split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            needs_relink: r.try_get("needs_relink").map_err(db)?,
        },
    })
}

fn idempotency_from_row(r: &PgRow) -> Result<IdempotencyRecord, StoreError> {
    if let Some(answer) = r.try_get::<Option<String>, _>("answer").map_err(db)? {
        return serde_json::from_str(&answer)
            .map(IdempotencyRecord::Answered)
            .map_err(|e| StoreError::Corrupt(e.to_string()));
    }
    let claimed: Option<String> = r.try_get("claim_post_id").map_err(db)?;
    let at: Option<DateTime<Utc>> = r.try_get("claimed_at").map_err(db)?;
    match (claimed, at) {
        (Some(id), Some(claimed_at)) => Ok(IdempotencyRecord::Claimed {
            post_id: post_id(id)?,
            claimed_at,
        }),
        _ => Err(StoreError::Corrupt(
            "idempotency key with neither claim nor answer".into(),
        )),
    }
}

/// The page cursor: the last post's creation time (µs, big-endian) and id.
fn encode_cursor(created: DateTime<Utc>, id: &str) -> PostCursor {
    let mut bytes = created.timestamp_micros().to_be_bytes().to_vec();
    bytes.extend_from_slice(id.as_bytes());
    PostCursor(bytes)
}

fn decode_cursor(c: &PostCursor) -> Option<(DateTime<Utc>, String)> {
    let micros = i64::from_be_bytes(c.0.get(..8)?.try_into().ok()?);
    let id = String::from_utf8(c.0.get(8..)?.to_vec()).ok()?;
    Some((DateTime::from_timestamp_micros(micros)?, id))
}

/// Post ids as lock keys: sorted and distinct, so that two callers taking several never
/// hold parts of each other's set in a different order.
fn lock_keys(ids: &[PostId]) -> Vec<String> {
    let mut keys: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
    keys.sort();
    keys.dedup();
    keys
}

const PROFILE_COLUMNS: &str = "id, account_id, title, is_primary, key_hash, created, disabled_social, hide_title, display_title";

/// `disabled_social` as stored: wire names, comma-separated; `None` for none.
fn platforms_text(platforms: &[Platform]) -> Option<String> {
    (!platforms.is_empty()).then(|| {
        platforms
            .iter()
            .map(Platform::as_str)
            .collect::<Vec<_>>()
            .join(",")
    })
}

#[async_trait]
impl Store for PostgresStore {
    async fn ensure_primary_profile(&self, account_id: &str) -> Result<Profile, StoreError> {
        let p = Profile::primary(account_id, Utc::now());
        // Every authenticated request asks: a read first, one round trip once it exists.
        if let Some(existing) = self.get_profile(&p.id).await? {
            return Ok(existing);
        }
        // ON CONFLICT: two first requests (or two gateways) racing create it once.
        sqlx::query(
            "INSERT INTO profiles (id, account_id, title, title_key, is_primary, key_hash, created)
             VALUES ($1, $2, $3, $4, true, NULL, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(p.id.as_str())
        .bind(p.account_id.as_str())
        .bind(&p.title)
        .bind(profile_title_key(&p.title))
        .bind(p.created)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        self.get_profile(&p.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("primary profile vanished".into()))
    }

    async fn create_profile(&self, profile: Profile) -> Result<Profile, StoreError> {
        let r = sqlx::query(
            "INSERT INTO profiles (id, account_id, title, title_key, is_primary, key_hash, created,
                                   disabled_social, hide_title, display_title)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(profile.id.as_str())
        .bind(profile.account_id.as_str())
        .bind(&profile.title)
        .bind(profile_title_key(&profile.title))
        .bind(profile.primary)
        .bind(&profile.key_hash)
        .bind(profile.created)
        .bind(platforms_text(&profile.disabled_social))
        .bind(profile.hide_title)
        .bind(&profile.display_title)
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => Ok(profile),
            Err(e) if violates(&e, "profiles_title") => Err(StoreError::TitleTaken(profile.title)),
            Err(e) => Err(db(e)),
        }
    }

    async fn list_profiles(&self, account_id: &str) -> Result<Vec<Profile>, StoreError> {
        sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles WHERE account_id = $1
             ORDER BY is_primary DESC, created, id"
        ))
        .bind(account_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(profile_from_row)
        .collect()
    }

    async fn get_profile(&self, id: &str) -> Result<Option<Profile>, StoreError> {
        self.profile_where("id", id).await
    }

    async fn profile_by_key_hash(&self, key_hash: &str) -> Result<Option<Profile>, StoreError> {
        self.profile_where("key_hash", key_hash).await
    }

    async fn delete_profile(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let gone = sqlx::query("DELETE FROM profiles WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM linked_accounts WHERE profile_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn update_profile(&self, profile: &Profile) -> Result<bool, StoreError> {
        let r = sqlx::query(
            "UPDATE profiles SET title = $2, title_key = $3, disabled_social = $4,
                                 hide_title = $5, display_title = $6
             WHERE id = $1",
        )
        .bind(profile.id.as_str())
        .bind(&profile.title)
        .bind(profile_title_key(&profile.title))
        .bind(platforms_text(&profile.disabled_social))
        .bind(profile.hide_title)
        .bind(&profile.display_title)
        .execute(&self.pool)
        .await;
        match r {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(e) if violates(&e, "profiles_title") => {
                Err(StoreError::TitleTaken(profile.title.clone()))
            }
            Err(e) => Err(db(e)),
        }
    }

    async fn link_account(
        &self,
        profile_id: &str,
        account: LinkedAccount,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO linked_accounts (profile_id, platform, user_id, access_token,
                 access_token_secret, username, linked_at, token_expires_at,
                 token_refreshed_at, token_scopes, needs_relink)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (profile_id, platform) DO UPDATE SET user_id = EXCLUDED.user_id,
                 access_token = EXCLUDED.access_token,
                 access_token_secret = EXCLUDED.access_token_secret,
                 username = EXCLUDED.username, linked_at = EXCLUDED.linked_at,
                 token_expires_at = EXCLUDED.token_expires_at,
                 token_refreshed_at = EXCLUDED.token_refreshed_at,
                 token_scopes = EXCLUDED.token_scopes,
                 needs_relink = EXCLUDED.needs_relink",
        )
        .bind(profile_id)
        .bind(account.platform.as_str())
        .bind(&account.user_id)
        .bind(&account.access_token)
        .bind(&account.access_token_secret)
        .bind(&account.username)
        .bind(account.linked_at)
        .bind(account.life.expires_at)
        .bind(account.life.refreshed_at)
        .bind((!account.life.scopes.is_empty()).then(|| account.life.scopes.join(",")))
        .bind(account.life.needs_relink)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn unlink_account(
        &self,
        profile_id: &str,
        platform: &Platform,
    ) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM linked_accounts WHERE profile_id = $1 AND platform = $2")
                .bind(profile_id)
                .bind(platform.as_str())
                .execute(&self.pool)
                .await
                .map_err(db)?
                .rows_affected()
                > 0,
        )
    }

    async fn linked_accounts(&self, profile_id: &str) -> Result<Vec<LinkedAccount>, StoreError> {
        sqlx::query("SELECT * FROM linked_accounts WHERE profile_id = $1 ORDER BY platform")
            .bind(profile_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(account_from_row)
            .collect()
    }

    async fn linked_account(
        &self,
        profile_id: &str,
        platform: &Platform,
    ) -> Result<Option<LinkedAccount>, StoreError> {
        sqlx::query("SELECT * FROM linked_accounts WHERE profile_id = $1 AND platform = $2")
            .bind(profile_id)
            .bind(platform.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .as_ref()
            .map(account_from_row)
            .transpose()
    }

    async fn insert_post(&self, post: &Post) -> Result<(), StoreError> {
        insert_post(&self.pool, post).await
    }

    async fn get_post(&self, id: &PostId) -> Result<Option<Post>, StoreError> {
        // One round trip (a delete reads its post twice: before and under its lock): the
        // post's columns on every row, one row per entry (one row of NULLs for none).
        let rows = sqlx::query(
            "SELECT p.*, e.position, e.platform, e.network_id, e.post_type, e.media_type,
                    e.post_url, e.state, e.error_kind, e.error_message, e.deleted_at,
                    e.publish_ref
             FROM posts p LEFT JOIN post_entries e ON e.post_id = p.id
             WHERE p.id = $1 ORDER BY e.position",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut entries = Vec::with_capacity(rows.len());
        for r in &rows {
            if r.try_get::<Option<i32>, _>("position")
                .map_err(db)?
                .is_some()
            {
                entries.push(entry_from_row(r)?);
            }
        }
        post_from_row(first, entries).map(Some)
    }

    async fn update_post(&self, post: &Post) -> Result<(), StoreError> {
        // Shares a statement and a commit with the updates of the deletes running with it.
        self.writes.write(post.clone()).await
    }

    async fn update_posts(&self, posts: &[Post]) -> Result<(), StoreError> {
        if posts.is_empty() {
            return Ok(());
        }
        // One statement, so all or none; a post given twice is written as given last.
        let mut last = std::collections::HashMap::new();
        for p in posts {
            last.insert(p.id.as_str(), p);
        }
        let posts: Vec<&Post> = last.into_values().collect();
        upsert_posts(&self.pool, &posts).await
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
        let rows = match after {
            None => {
                sqlx::query(
                    "SELECT * FROM posts WHERE profile_id = $1
                     ORDER BY created DESC, id DESC LIMIT $2",
                )
                .bind(profile_id)
                .bind(self::limit(limit))
                .fetch_all(&self.pool)
                .await
            }
            Some(c) => {
                let Some((created, id)) = decode_cursor(c) else {
                    return Ok(PostPage::default());
                };
                sqlx::query(
                    "SELECT * FROM posts WHERE profile_id = $1 AND (created, id) < ($2, $3)
                     ORDER BY created DESC, id DESC LIMIT $4",
                )
                .bind(profile_id)
                .bind(created)
                .bind(id)
                .bind(self::limit(limit))
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(db)?;
        let posts = self.posts_with_entries(rows).await?;
        let next = match posts.last() {
            Some(p) if posts.len() >= limit => Some(encode_cursor(p.created, p.id.as_str())),
            _ => None,
        };
        Ok(PostPage { posts, next })
    }

    async fn due_posts_limited(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PostId>, StoreError> {
        sqlx::query_scalar::<_, String>(
            "SELECT id FROM posts WHERE due_at <= $1 ORDER BY due_at, id LIMIT $2",
        )
        .bind(now)
        .bind(self::limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .into_iter()
        .map(post_id)
        .collect()
    }

    async fn in_flight_posts(&self) -> Result<Vec<PostId>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT id FROM posts WHERE in_flight ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(post_id)
            .collect()
    }

    async fn idempotency_record(
        &self,
        profile_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        sqlx::query("SELECT * FROM idempotency_keys WHERE profile_id = $1 AND key = $2")
            .bind(profile_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .as_ref()
            .map(idempotency_from_row)
            .transpose()
    }

    async fn claim_idempotency_key(
        &self,
        profile_id: &str,
        key: &str,
        post_id: &PostId,
        now: DateTime<Utc>,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        // The primary key decides: a concurrent insert waits for the first to commit.
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys (profile_id, key, claim_post_id, claimed_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (profile_id, key) DO NOTHING",
        )
        .bind(profile_id)
        .bind(key)
        .bind(post_id.as_str())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected();
        if claimed == 1 {
            return Ok(None);
        }
        match self.idempotency_record(profile_id, key).await? {
            Some(r) => Ok(Some(r)),
            None => Err(StoreError::Corrupt("idempotency claim lost".into())),
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
        sqlx::query(
            "INSERT INTO idempotency_keys (profile_id, key, answer) VALUES ($1, $2, $3)
             ON CONFLICT (profile_id, key) DO UPDATE
                 SET answer = EXCLUDED.answer, claim_post_id = NULL, claimed_at = NULL
                 WHERE idempotency_keys.answer IS NULL",
        )
        .bind(profile_id)
        .bind(key)
        .bind(answer.to_string())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn take_quota(
        &self,
        bucket: &str,
        limit: u32,
        window_secs: u64,
        now: DateTime<Utc>,
    ) -> Result<QuotaDecision, StoreError> {
        let now_ms = millis(now);
        let window_ms = i64::try_from(window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await.map_err(db)?;
        // The bucket's row is the lock: every gateway counts against one window. Taken (and
        // the row created on first use) by one statement; the count runs in the next, whose
        // snapshot sees every call committed by the lock's previous holder.
        let blocked: i64 = sqlx::query_scalar(
            "INSERT INTO quotas (bucket) VALUES ($1)
             ON CONFLICT (bucket) DO UPDATE SET bucket = EXCLUDED.bucket
             RETURNING blocked_until_ms",
        )
        .bind(bucket)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if blocked > now_ms {
            return Ok(QuotaDecision::Exhausted {
                retry_after: ((blocked - now_ms) as u64).div_ceil(1000),
            });
        }
        // Forgets the calls out of the window, counts the others and adds this one if there
        // is room, in one round trip.
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "WITH gone AS (DELETE FROM quota_calls WHERE bucket = $1 AND at_ms <= $2),
                  live AS (SELECT count(*) AS n, min(at_ms) AS oldest FROM quota_calls
                           WHERE bucket = $1 AND at_ms > $2),
                  added AS (INSERT INTO quota_calls (bucket, at_ms)
                            SELECT $1, $3 FROM live WHERE live.n < $4)
             SELECT n, oldest FROM live",
        )
        .bind(bucket)
        .bind(now_ms.saturating_sub(window_ms))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if count >= i64::from(limit) {
            // Nothing was added; the expired calls' removal may as well stay undone.
            let oldest = oldest.unwrap_or(now_ms);
            let wait = oldest
                .saturating_add(window_ms)
                .saturating_sub(now_ms)
                .max(0) as u64;
            return Ok(QuotaDecision::Exhausted {
                retry_after: wait.div_ceil(1000).max(1),
            });
        }
        tx.commit().await.map_err(db)?;
        // `count` is below `limit` here, and this call is counted too.
        let used = u32::try_from(count.saturating_add(1)).unwrap_or(u32::MAX);
        Ok(QuotaDecision::Granted {
            remaining: limit.saturating_sub(used),
        })
    }

    async fn give_back_quota(&self, bucket: &str) -> Result<(), StoreError> {
        // Under the bucket's row lock, like take_quota: a count in progress elsewhere sees
        // the window before or after the give-back, never half of it.
        let mut tx = self.pool.begin().await.map_err(db)?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT bucket FROM quotas WHERE bucket = $1 FOR UPDATE")
                .bind(bucket)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if exists.is_none() {
            return Ok(());
        }
        sqlx::query(
            "DELETE FROM quota_calls WHERE id = (SELECT id FROM quota_calls WHERE bucket = $1
                 ORDER BY at_ms DESC, id DESC LIMIT 1)",
        )
        .bind(bucket)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn quota_blocked(
        &self,
        bucket: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError> {
        let now_ms = millis(now);
        let blocked: Option<i64> =
            sqlx::query_scalar("SELECT blocked_until_ms FROM quotas WHERE bucket = $1")
                .bind(bucket)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(blocked
            .filter(|b| *b > now_ms)
            .map(|b| ((b - now_ms) as u64).div_ceil(1000)))
    }

    async fn block_until(&self, bucket: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO quotas (bucket, blocked_until_ms) VALUES ($1, $2)
             ON CONFLICT (bucket) DO UPDATE
                 SET blocked_until_ms = GREATEST(quotas.blocked_until_ms, EXCLUDED.blocked_until_ms)",
        )
        .bind(bucket)
        .bind(millis(until).max(0))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn lock_post(&self, id: &PostId) -> Result<PostLock, StoreError> {
        self.lock_posts(std::slice::from_ref(id)).await
    }

    async fn lock_posts(&self, ids: &[PostId]) -> Result<PostLock, StoreError> {
        match self.locks.acquire(lock_keys(ids), true).await? {
            Some(lock) => Ok(lock),
            None => Err(StoreError::Backend("post lock not granted".into())),
        }
    }

    async fn try_lock_post(&self, id: &PostId) -> Result<Option<PostLock>, StoreError> {
        self.locks
            .acquire(lock_keys(std::slice::from_ref(id)), false)
            .await
    }

    async fn claim_due_posts(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        holder: &str,
        lease: Duration,
    ) -> Result<Vec<PostId>, StoreError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        // SKIP LOCKED: schedulers of other gateways claiming at the same moment take other
        // rows instead of waiting for these.
        let mut claimed: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "UPDATE posts SET lease_holder = $3, lease_until = $4
             WHERE id IN (
                 SELECT id FROM posts
                 WHERE due_at <= $1
                   AND (lease_until IS NULL OR lease_until <= $1 OR lease_holder = $3)
                 ORDER BY due_at, id LIMIT $2
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, due_at",
        )
        .bind(now)
        .bind(self::limit(limit))
        .bind(holder)
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        claimed.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        claimed.into_iter().map(|(id, _)| post_id(id)).collect()
    }

    async fn all_profiles(&self) -> Result<Vec<Profile>, StoreError> {
        sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM profiles ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?
        .iter()
        .map(profile_from_row)
        .collect()
    }

    async fn posts_after(
        &self,
        after: Option<&PostId>,
        limit: usize,
    ) -> Result<Vec<Post>, StoreError> {
        let rows = sqlx::query("SELECT * FROM posts WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after.map_or("", PostId::as_str))
            .bind(self::limit(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        self.posts_with_entries(rows).await
    }

    async fn all_idempotency_keys(&self) -> Result<Vec<IdempotencyEntry>, StoreError> {
        sqlx::query("SELECT * FROM idempotency_keys ORDER BY profile_id, key")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .iter()
            .map(|r| {
                Ok(IdempotencyEntry {
                    profile_id: r.try_get("profile_id").map_err(db)?,
                    key: r.try_get("key").map_err(db)?,
                    record: idempotency_from_row(r)?,
                })
            })
            .collect()
    }

    async fn all_quotas(&self) -> Result<Vec<QuotaState>, StoreError> {
        let at = |ms: i64| {
            DateTime::from_timestamp_millis(ms)
                .ok_or_else(|| StoreError::Corrupt(format!("quota time {ms}")))
        };
        let buckets: Vec<(String, i64)> =
            sqlx::query_as("SELECT bucket, blocked_until_ms FROM quotas ORDER BY bucket")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let calls: Vec<(String, i64)> =
            sqlx::query_as("SELECT bucket, at_ms FROM quota_calls ORDER BY bucket, at_ms, id")
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let mut by_bucket: std::collections::HashMap<String, Vec<DateTime<Utc>>> =
            std::collections::HashMap::new();
        for (bucket, ms) in calls {
            by_bucket.entry(bucket).or_default().push(at(ms)?);
        }
        buckets
            .into_iter()
            .map(|(bucket, blocked)| {
                Ok(QuotaState {
                    calls: by_bucket.remove(&bucket).unwrap_or_default(),
                    blocked_until: if blocked > 0 {
                        Some(at(blocked)?)
                    } else {
                        None
                    },
                    bucket,
                })
            })
            .collect()
    }

    async fn restore_quota(&self, state: &QuotaState) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query(
            "INSERT INTO quotas (bucket, blocked_until_ms) VALUES ($1, $2)
             ON CONFLICT (bucket) DO UPDATE SET blocked_until_ms = EXCLUDED.blocked_until_ms",
        )
        .bind(&state.bucket)
        .bind(state.blocked_until.map_or(0, millis).max(0))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query("DELETE FROM quota_calls WHERE bucket = $1")
            .bind(&state.bucket)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let calls: Vec<i64> = state.calls.iter().map(|t| millis(*t)).collect();
        sqlx::query("INSERT INTO quota_calls (bucket, at_ms) SELECT $1, unnest($2::bigint[])")
            .bind(&state.bucket)
            .bind(&calls)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn all_meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as("SELECT key, value FROM meta ORDER BY key")
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }

    async fn put_job(&self, job: &Job, max_in_group: usize) -> Result<JobPut, StoreError> {
        let payload = job.payload.to_string();
        let attempts = i32::try_from(job.attempts).unwrap_or(i32::MAX);
        let mut tx = self.pool.begin().await.map_err(db)?;
        // One writer per group at a time, so two gateways cannot both take its last place.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 14))")
            .bind(format!("{}/{}", job.kind, job.group))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let replaced = sqlx::query(
            "UPDATE jobs SET grp = $3, due = $4, attempts = $5, payload = $6, claimed_until = NULL
             WHERE kind = $1 AND key = $2",
        )
        .bind(&job.kind)
        .bind(&job.key)
        .bind(&job.group)
        .bind(job.due)
        .bind(attempts)
        .bind(&payload)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected()
            > 0;
        if !replaced {
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1 AND grp = $2")
                    .bind(&job.kind)
                    .bind(&job.group)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
            if n >= limit(max_in_group) {
                return Ok(JobPut::GroupFull);
            }
            sqlx::query(
                "INSERT INTO jobs (kind, key, grp, due, attempts, payload) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&job.kind)
            .bind(&job.key)
            .bind(&job.group)
            .bind(job.due)
            .bind(attempts)
            .bind(&payload)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(if replaced {
            JobPut::Replaced
        } else {
            JobPut::Added
        })
    }

    async fn jobs_with_prefix(&self, kind: &str, key_prefix: &str) -> Result<Vec<Job>, StoreError> {
        let rows: Vec<JobRow> = sqlx::query_as(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 AND starts_with(key, $2) ORDER BY key"
        ))
        .bind(kind)
        .bind(key_prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(job).collect()
    }

    async fn count_jobs(&self, kind: &str, group: &str) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE kind = $1 AND grp = $2")
            .bind(kind)
            .bind(group)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    async fn claim_jobs(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let mut rows: Vec<JobRow> = sqlx::query_as(&format!(
            "UPDATE jobs SET claimed_until = $4
             WHERE (kind, key) IN (
                 SELECT kind, key FROM jobs
                 WHERE kind = $1 AND due <= $2 AND (claimed_until IS NULL OR claimed_until <= $2)
                 ORDER BY due, key LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(kind)
        .bind(now)
        .bind(self::limit(limit))
        .bind(until)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.sort_by(|a, b| (a.3, &a.1).cmp(&(b.3, &b.1)));
        rows.into_iter().map(job).collect()
    }

    async fn remove_job(&self, kind: &str, key: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM jobs WHERE kind = $1 AND key = $2")
            .bind(kind)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected()
            > 0)
    }

    async fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn take_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("DELETE FROM meta WHERE key = $1 RETURNING value")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    async fn add_to_counter(&self, name: &str, by: u64) -> Result<u64, StoreError> {
        // One statement: the row lock serializes concurrent additions of every process.
        let by = i64::try_from(by).unwrap_or(i64::MAX);
        let value: String = sqlx::query_scalar(
            "INSERT INTO meta (key, value) VALUES ($1, $2::bigint::text)
             ON CONFLICT (key) DO UPDATE
             SET value = (COALESCE(NULLIF(meta.value, '')::bigint, 0) + $2)::text
             RETURNING value",
        )
        .bind(format!("counter:{name}"))
        .bind(by)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(value.parse().unwrap_or(0))
    }

    async fn swap_meta(
        &self,
        key: &str,
        expected: Option<&str>,
        new: Option<&str>,
    ) -> Result<bool, StoreError> {
        // One statement each: the row's lock (or the primary key, for an insert) decides
        // between concurrent swaps, and a loser matches no row.
        let query = match (expected, new) {
            (None, Some(new)) => sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(new),
            (Some(old), Some(new)) => {
                sqlx::query("UPDATE meta SET value = $3 WHERE key = $1 AND value = $2")
                    .bind(key)
                    .bind(old)
                    .bind(new)
            }
            (Some(old), None) => sqlx::query("DELETE FROM meta WHERE key = $1 AND value = $2")
                .bind(key)
                .bind(old),
            (None, None) => return Ok(self.get_meta(key).await?.is_none()),
        };
        Ok(query.execute(&self.pool).await.map_err(db)?.rows_affected() == 1)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Every write above committed before it returned: nothing is buffered here.
        Ok(())
    }
}
