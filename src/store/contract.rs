//! The contract every [`Store`] implementation keeps, as one suite that runs against any of
//! them (`tests/store_contract.rs` on sled, `tests/postgres_store.rs` on PostgreSQL). The
//! service layer relies on exactly these behaviours, so a new backend that passes the suite
//! can replace another without the services noticing.
//!
//! Each check takes a fresh, empty store. Timestamps are whole milliseconds: that is the
//! precision every backend keeps.

use super::{
    IdempotencyRecord, Job, JobPut, LinkedAccount, Profile, QuotaDecision, QuotaState, Store,
    StoreError, TokenLife,
};
use crate::domain::{
    primary_profile_id, EntryState, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

/// Runs every check, each on a store made fresh by `make`. Panics on the first broken
/// promise, naming the check.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    profiles(make().await).await;
    linked_accounts(make().await).await;
    posts(make().await).await;
    concurrent_updates(make().await).await;
    insert_new_posts(make().await).await;
    schedule_index(make().await).await;
    in_flight_index(make().await).await;
    paging(make().await).await;
    idempotency(make().await).await;
    quotas(make().await).await;
    quota_blocks(make().await).await;
    concurrent_quota(make().await).await;
    meta_and_flush(make().await).await;
    single_use_meta(make().await).await;
    swapped_meta(make().await).await;
    token_life(make().await).await;
    post_locks(make().await).await;
    claimed_schedule(make().await).await;
    jobs(make().await).await;
    whole_store_reads(make().await).await;
    profile_updates(make().await).await;
    counters(make().await).await;
    held_posts(make().await).await;
}

/// A fixed instant, whole milliseconds.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn user_profile(account: &str, id: &str, title: &str, created: DateTime<Utc>) -> Profile {
    Profile {
        id: id.into(),
        account_id: account.into(),
        title: title.into(),
        primary: false,
        key_hash: Some(format!("{:0>64}", id)),
        created,
        disabled_social: Vec::new(),
        hide_title: false,
        display_title: None,
    }
}

fn account(platform: Platform, user: &str) -> LinkedAccount {
    LinkedAccount {
        platform,
        user_id: user.into(),
        access_token: format!("token-{user}"),
        access_token_secret: Some(format!("secret-{user}")),
        username: Some(format!("@{user}")),
        linked_at: t0(),
        life: Default::default(),
    }
}

fn id(n: usize) -> PostId {
    PostId::parse(&format!("contract{n:012}")).unwrap()
}

fn post(n: usize, profile: &str, created: DateTime<Utc>, entries: Vec<PlatformEntry>) -> Post {
    Post {
        id: id(n),
        profile_id: profile.into(),
        text: format!("post {n} ✓"),
        status: PostStatus::Success,
        kind: PostKind::Now,
        created,
        schedule_date: None,
        entries,
        idempotency_key: None,
        media_urls: Vec::new(),
    }
}

fn published(platform: Platform, network_id: &str) -> PlatformEntry {
    let mut e = PlatformEntry::new(platform, EntryState::Published);
    e.id = Some(crate::domain::NetworkPostId(network_id.into()));
    e.post_url = Some(format!("https://example.test/{network_id}"));
    e
}

fn scheduled(n: usize, profile: &str, due: DateTime<Utc>) -> Post {
    let mut p = post(
        n,
        profile,
        t0(),
        vec![PlatformEntry::new(Platform::Threads, EntryState::Pending)],
    );
    p.status = PostStatus::Pending;
    p.kind = PostKind::Scheduled;
    p.schedule_date = Some(due);
    p
}

/// Primary profiles (derived id, created once), user profiles with case-insensitive unique
/// titles per account, key-hash lookup, listing order, and deletion with its key and links.
pub async fn profiles(store: Arc<dyn Store>) {
    let p1 = store.ensure_primary_profile("acct-a").await.unwrap();
    assert_eq!(p1.id, primary_profile_id("acct-a"), "profiles: derived id");
    assert!(
        p1.primary && p1.key_hash.is_none(),
        "profiles: primary shape"
    );
    let racing = futures::future::join_all((0..8).map(|_| {
        let s = store.clone();
        async move { s.ensure_primary_profile("acct-a").await.unwrap() }
    }))
    .await;
    assert!(
        racing.iter().all(|p| *p == p1),
        "profiles: ensure_primary_profile returns the one stored profile"
    );

    let team = user_profile("acct-a", "prof-team", "Team", t0());
    assert_eq!(store.create_profile(team.clone()).await.unwrap(), team);
    match store
        .create_profile(user_profile("acct-a", "prof-other", "tEAM", t0()))
        .await
    {
        Err(StoreError::TitleTaken(t)) => assert_eq!(t, "tEAM"),
        other => panic!("profiles: a title differing only in case is taken: {other:?}"),
    }
    assert_eq!(
        store.get_profile("prof-other").await.unwrap(),
        None,
        "profiles: a refused profile is not stored"
    );
    let other_account = user_profile("acct-b", "prof-b-team", "Team", t0());
    store
        .create_profile(other_account.clone())
        .await
        .expect("profiles: titles are unique per account only");
    let later = user_profile("acct-a", "prof-later", "Later", t0() + Duration::seconds(5));
    store.create_profile(later.clone()).await.unwrap();

    let listed = store.list_profiles("acct-a").await.unwrap();
    assert_eq!(
        listed,
        vec![p1.clone(), team.clone(), later.clone()],
        "profiles: primary first, then by creation, one account only"
    );
    assert_eq!(
        store.get_profile(&team.id).await.unwrap(),
        Some(team.clone())
    );
    assert_eq!(store.get_profile("nope").await.unwrap(), None);
    assert_eq!(
        store
            .profile_by_key_hash(team.key_hash.as_deref().unwrap())
            .await
            .unwrap(),
        Some(team.clone()),
        "profiles: lookup by key hash"
    );
    assert_eq!(store.profile_by_key_hash("ab12").await.unwrap(), None);

    store
        .link_account(&team.id, account(Platform::Threads, "111"))
        .await
        .unwrap();
    assert!(store.delete_profile(&team.id).await.unwrap());
    assert!(
        !store.delete_profile(&team.id).await.unwrap(),
        "profiles: gone"
    );
    assert_eq!(store.get_profile(&team.id).await.unwrap(), None);
    assert_eq!(
        store
            .profile_by_key_hash(team.key_hash.as_deref().unwrap())
            .await
            .unwrap(),
        None,
        "profiles: the key goes with its profile"
    );
    assert!(
        store.linked_accounts(&team.id).await.unwrap().is_empty(),
        "profiles: the linked accounts go with their profile"
    );
    store
        .create_profile(user_profile("acct-a", "prof-team-2", "TEAM", t0()))
        .await
        .expect("profiles: a deleted profile's title is free again");
    assert_eq!(
        store.get_profile(&other_account.id).await.unwrap(),
        Some(other_account),
        "profiles: other accounts untouched"
    );
}

/// Link, re-link (replaces), read one or all, unlink; per profile.
pub async fn linked_accounts(store: Arc<dyn Store>) {
    let (p, q) = ("prof-1", "prof-2");
    assert!(store.linked_accounts(p).await.unwrap().is_empty());
    store
        .link_account(p, account(Platform::Threads, "1"))
        .await
        .unwrap();
    store
        .link_account(p, account(Platform::Twitter, "2"))
        .await
        .unwrap();
    store
        .link_account(q, account(Platform::Threads, "9"))
        .await
        .unwrap();
    let relinked = account(Platform::Threads, "3");
    store.link_account(p, relinked.clone()).await.unwrap();
    assert_eq!(
        store.linked_account(p, &Platform::Threads).await.unwrap(),
        Some(relinked.clone()),
        "linked accounts: re-linking replaces"
    );
    let mut all = store.linked_accounts(p).await.unwrap();
    all.sort_by(|a, b| a.platform.cmp(&b.platform));
    let mut want = vec![account(Platform::Twitter, "2"), relinked];
    want.sort_by(|a, b| a.platform.cmp(&b.platform));
    assert_eq!(
        all, want,
        "linked accounts: one per platform, this profile only"
    );
    assert!(store.unlink_account(p, &Platform::Threads).await.unwrap());
    assert!(!store.unlink_account(p, &Platform::Threads).await.unwrap());
    assert_eq!(
        store.linked_account(p, &Platform::Threads).await.unwrap(),
        None
    );
    assert_eq!(
        store.linked_account(q, &Platform::Threads).await.unwrap(),
        Some(account(Platform::Threads, "9")),
        "linked accounts: other profiles untouched"
    );
}

/// Insert refuses an existing id; get returns what was written, field for field; update and
/// update_posts replace.
pub async fn posts(store: Arc<dyn Store>) {
    let mut a = post(
        1,
        "prof",
        t0(),
        vec![
            published(Platform::Threads, "18011"),
            published(Platform::Twitter, "1445"),
        ],
    );
    a.idempotency_key = Some("key-1".into());
    // Images survive the round trip in order (a scheduled post fetches them when due).
    a.media_urls = vec![
        "https://img.example/b.png".into(),
        "https://img.example/a.jpg".into(),
    ];
    a.entries[1].post_type = Some("story".into());
    a.entries[1].media_type = Some("image".into());
    store.insert_post(&a).await.unwrap();
    assert_eq!(store.get_post(&a.id).await.unwrap(), Some(a.clone()));
    match store.insert_post(&a).await {
        Err(StoreError::DuplicatePost(id)) => assert_eq!(id, a.id),
        other => panic!("posts: a second insert of one id is refused: {other:?}"),
    }
    assert_eq!(store.get_post(&id(99)).await.unwrap(), None);

    a.status = PostStatus::Deleted;
    a.entries[0].state = EntryState::Deleted;
    a.entries[0].deleted_at = Some(t0() + Duration::seconds(1));
    a.entries[1].state = EntryState::Failed;
    a.entries[1].error = Some(crate::domain::EntryError {
        kind: crate::domain::ErrorKind::Transient,
        message: "HTTP 503".into(),
    });
    a.entries[1].publish_ref = Some("container-7".into());
    store.update_post(&a).await.unwrap();
    assert_eq!(store.get_post(&a.id).await.unwrap(), Some(a.clone()));

    let mut b = post(2, "prof", t0(), vec![published(Platform::Threads, "5")]);
    store.insert_post(&b).await.unwrap();
    a.text = "edited".into();
    b.entries
        .push(published(Platform::Other("linkedin".into()), "urn:li:1"));
    store.update_posts(&[a.clone(), b.clone()]).await.unwrap();
    assert_eq!(store.get_post(&a.id).await.unwrap(), Some(a));
    assert_eq!(store.get_post(&b.id).await.unwrap(), Some(b));
}

/// Updates of many posts at once (the PostgreSQL store shares statements and commits between
/// them): each post reads back as its own last update, entries grown or shrunk, and a
/// set of posts given twice in one `update_posts` is written as given last.
pub async fn concurrent_updates(store: Arc<dyn Store>) {
    let mut posts = Vec::new();
    for n in 0..40 {
        let p = post(
            200 + n,
            "prof",
            t0(),
            vec![
                published(Platform::Threads, &format!("t{n}")),
                published(Platform::Twitter, &format!("x{n}")),
            ],
        );
        store.insert_post(&p).await.unwrap();
        posts.push(p);
    }
    let tasks = posts.into_iter().enumerate().map(|(n, mut p)| {
        let s = store.clone();
        tokio::spawn(async move {
            p.entries[0].state = EntryState::Deleting;
            s.update_post(&p).await.unwrap();
            p.entries[0].state = EntryState::Deleted;
            p.entries[0].deleted_at = Some(t0() + Duration::seconds(n as i64));
            if n % 2 == 0 {
                p.entries.pop();
                p.status = PostStatus::Deleted;
            } else {
                p.entries
                    .push(published(Platform::Other("linkedin".into()), "urn:li:9"));
            }
            p.text = format!("last {n}");
            s.update_post(&p).await.unwrap();
            p
        })
    });
    let written: Vec<Post> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    for p in &written {
        assert_eq!(
            store.get_post(&p.id).await.unwrap().as_ref(),
            Some(p),
            "concurrent updates: each post as last written"
        );
    }
    let (mut a, mut b) = (written[0].clone(), written[1].clone());
    b.entries.clear();
    store.update_posts(&[a.clone(), b.clone()]).await.unwrap();
    a.text = "given last".into();
    store
        .update_posts(&[a.clone(), b.clone(), a.clone()])
        .await
        .unwrap();
    assert_eq!(store.get_post(&a.id).await.unwrap(), Some(a));
    assert_eq!(store.get_post(&b.id).await.unwrap(), Some(b));
}

/// A batch of new posts: each stored with its indexes, an id stored already (or earlier in
/// the batch) left as it was and reported.
pub async fn insert_new_posts(store: Arc<dyn Store>) {
    let old = post(1, "prof", t0(), vec![published(Platform::Threads, "1")]);
    store.insert_post(&old).await.unwrap();
    let mut again = old.clone();
    again.text = "not this".into();
    let a = post(2, "prof", t0() + Duration::seconds(1), vec![]);
    let mut twin = a.clone();
    twin.text = "nor this".into();
    let mut b = scheduled(3, "prof", t0() + Duration::hours(1));
    b.created = t0() + Duration::seconds(2);
    let stored = store
        .insert_new_posts(&[again, a.clone(), twin, b.clone()])
        .await
        .unwrap();
    assert_eq!(stored, vec![false, true, false, true], "insert_new_posts");
    assert_eq!(store.get_post(&old.id).await.unwrap(), Some(old.clone()));
    assert_eq!(store.get_post(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(
        store.posts_by_profile("prof", 10).await.unwrap(),
        vec![b.clone(), a, old],
        "insert_new_posts: the profile index"
    );
    assert_eq!(
        store.due_posts(t0() + Duration::hours(2)).await.unwrap(),
        vec![b.id],
        "insert_new_posts: the schedule index"
    );
    assert_eq!(
        store.insert_new_posts(&[]).await.unwrap(),
        Vec::<bool>::new()
    );
}

/// Exactly the pending posts with a due date are in the schedule, oldest due first; a post
/// leaves it when it stops being pending.
pub async fn schedule_index(store: Arc<dyn Store>) {
    let now = t0() + Duration::hours(1);
    let late = scheduled(1, "prof", now - Duration::minutes(1));
    let early = scheduled(2, "prof", now - Duration::minutes(30));
    let at_now = scheduled(3, "prof", now);
    let future = scheduled(4, "prof", now + Duration::milliseconds(1));
    let mut not_pending = scheduled(5, "prof", now - Duration::hours(2));
    not_pending.status = PostStatus::Deleted;
    not_pending.entries[0].state = EntryState::Cancelled;
    for p in [&late, &early, &at_now, &future, &not_pending] {
        store.insert_post(p).await.unwrap();
    }
    assert_eq!(
        store.due_posts(now).await.unwrap(),
        vec![early.id.clone(), late.id.clone(), at_now.id.clone()],
        "schedule: pending and due at or before now, oldest first"
    );
    assert_eq!(
        store.due_posts_limited(now, 2).await.unwrap(),
        vec![early.id.clone(), late.id.clone()],
        "schedule: limited"
    );

    let mut moved = late.clone();
    moved.schedule_date = Some(now + Duration::hours(1));
    store.update_post(&moved).await.unwrap();
    let mut sent = early.clone();
    sent.status = PostStatus::Processing;
    sent.entries[0].state = EntryState::Publishing;
    store.update_post(&sent).await.unwrap();
    assert_eq!(
        store.due_posts(now).await.unwrap(),
        vec![at_now.id.clone()],
        "schedule: a re-dated or no longer pending post leaves the due list"
    );
    assert_eq!(
        store.due_posts(now + Duration::hours(2)).await.unwrap(),
        vec![at_now.id, future.id, moved.id],
        "schedule: re-dated post due at its new date"
    );
}

/// Exactly the posts with an entry in `deleting` or `publishing` are in flight.
pub async fn in_flight_index(store: Arc<dyn Store>) {
    let mut deleting = post(1, "prof", t0(), vec![published(Platform::Threads, "1")]);
    deleting.entries[0].state = EntryState::Deleting;
    let mut publishing = post(2, "prof", t0(), vec![published(Platform::Twitter, "2")]);
    publishing.entries[0].state = EntryState::Publishing;
    let settled = post(3, "prof", t0(), vec![published(Platform::Threads, "3")]);
    for p in [&deleting, &publishing, &settled] {
        store.insert_post(p).await.unwrap();
    }
    let found: HashSet<PostId> = store.in_flight_posts().await.unwrap().into_iter().collect();
    assert_eq!(
        found,
        HashSet::from([deleting.id.clone(), publishing.id.clone()]),
        "in flight: intents without an answer"
    );
    deleting.entries[0].state = EntryState::Deleted;
    deleting.status = PostStatus::Deleted;
    store.update_post(&deleting).await.unwrap();
    let mut now_deleting = settled.clone();
    now_deleting.entries[0].state = EntryState::Deleting;
    store.update_posts(&[now_deleting.clone()]).await.unwrap();
    let found: HashSet<PostId> = store.in_flight_posts().await.unwrap().into_iter().collect();
    assert_eq!(
        found,
        HashSet::from([publishing.id, now_deleting.id]),
        "in flight: follows every update"
    );
}

/// A profile's posts page by page, newest first, each post once, other profiles never.
pub async fn paging(store: Arc<dyn Store>) {
    let mut want = Vec::new();
    for n in 0..7 {
        let p = post(
            n,
            "prof-a",
            t0() + Duration::milliseconds(n as i64 * 1500),
            vec![published(Platform::Threads, &n.to_string())],
        );
        store.insert_post(&p).await.unwrap();
        want.push(p);
    }
    store
        .insert_post(&post(50, "prof-b", t0() + Duration::hours(1), vec![]))
        .await
        .unwrap();
    want.reverse();
    assert_eq!(
        store.posts_by_profile("prof-a", 3).await.unwrap(),
        want[..3].to_vec(),
        "paging: newest first, at most limit"
    );
    let mut read = Vec::new();
    let mut cursor = None;
    for _ in 0..10 {
        let page = store
            .posts_by_profile_page("prof-a", cursor.as_ref(), 3)
            .await
            .unwrap();
        assert!(page.posts.len() <= 3, "paging: page within limit");
        read.extend(page.posts);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert!(cursor.is_none(), "paging: ends");
    assert_eq!(read, want, "paging: every post once, newest first");
    assert!(store
        .posts_by_profile_page("prof-none", None, 3)
        .await
        .unwrap()
        .posts
        .is_empty());
}

/// Of concurrent claims of one key exactly one wins; answers replace claims, never answers;
/// keys are per profile.
pub async fn idempotency(store: Arc<dyn Store>) {
    assert_eq!(store.idempotency_record("p", "k").await.unwrap(), None);
    let claims = futures::future::join_all((0..8).map(|n| {
        let s = store.clone();
        async move {
            (
                n,
                s.claim_idempotency_key("p", "k", &id(n), t0())
                    .await
                    .unwrap(),
            )
        }
    }))
    .await;
    let winners: Vec<usize> = claims
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(winners.len(), 1, "idempotency: exactly one claim wins");
    let held = IdempotencyRecord::Claimed {
        post_id: id(winners[0]),
        claimed_at: t0(),
    };
    for r in claims.iter().filter_map(|(_, r)| r.as_ref()) {
        assert_eq!(r, &held, "idempotency: losers see the winner's claim");
    }
    assert_eq!(
        store.idempotency_record("p", "k").await.unwrap(),
        Some(held)
    );
    assert_eq!(store.idempotent_answer("p", "k").await.unwrap(), None);

    let answer = serde_json::json!({"httpStatus": 200, "body": {"status": "success", "id": "x"}});
    store.remember_answer("p", "k", &answer).await.unwrap();
    store
        .remember_answer("p", "k", &serde_json::json!({"httpStatus": 500}))
        .await
        .unwrap();
    assert_eq!(
        store.idempotent_answer("p", "k").await.unwrap(),
        Some(answer.clone()),
        "idempotency: the first answer wins"
    );
    assert_eq!(
        store
            .claim_idempotency_key("p", "k", &id(42), t0())
            .await
            .unwrap(),
        Some(IdempotencyRecord::Answered(answer)),
        "idempotency: an answered key cannot be claimed"
    );
    assert_eq!(
        store
            .claim_idempotency_key("other", "k", &id(42), t0())
            .await
            .unwrap(),
        None,
        "idempotency: keys are per profile"
    );
    let direct = serde_json::json!({"httpStatus": 400});
    store.remember_answer("p", "k2", &direct).await.unwrap();
    assert_eq!(
        store.idempotency_record("p", "k2").await.unwrap(),
        Some(IdempotencyRecord::Answered(direct)),
        "idempotency: an answer without a claim"
    );
}

/// Sliding windows: counted calls up to the limit, the oldest leaving the window frees a
/// slot, give-back returns the latest, buckets independent.
pub async fn quotas(store: Arc<dyn Store>) {
    let t = t0();
    let take = |at: DateTime<Utc>| {
        let s = store.clone();
        async move { s.take_quota("threads:1", 2, 10, at).await.unwrap() }
    };
    assert_eq!(
        take(t).await,
        QuotaDecision::Granted { remaining: 1 },
        "quotas: a grant says how many calls the window still has room for"
    );
    assert_eq!(
        take(t + Duration::seconds(4)).await,
        QuotaDecision::Granted { remaining: 0 }
    );
    assert_eq!(
        take(t + Duration::seconds(5)).await,
        QuotaDecision::Exhausted { retry_after: 5 },
        "quotas: full until the oldest call leaves the window"
    );
    assert_eq!(
        store
            .take_quota("threads:2", 2, 10, t + Duration::seconds(5))
            .await
            .unwrap(),
        QuotaDecision::Granted { remaining: 1 },
        "quotas: buckets are independent"
    );
    assert_eq!(
        take(t + Duration::seconds(10)).await,
        QuotaDecision::Granted { remaining: 0 },
        "quotas: the window slides"
    );
    assert_eq!(
        take(t + Duration::seconds(11)).await,
        QuotaDecision::Exhausted { retry_after: 3 }
    );
    store.give_back_quota("threads:1").await.unwrap();
    assert_eq!(
        take(t + Duration::seconds(11)).await,
        QuotaDecision::Granted { remaining: 0 },
        "quotas: a given-back slot is free again"
    );
    assert_eq!(
        take(t + Duration::seconds(11)).await,
        QuotaDecision::Exhausted { retry_after: 3 },
        "quotas: give-back returned the latest call, not the oldest"
    );
    store.give_back_quota("never-used").await.unwrap();
    assert_eq!(
        store.take_quota("never-used", 1, 10, t).await.unwrap(),
        QuotaDecision::Granted { remaining: 0 },
        "quotas: give-back on an empty bucket is a no-op"
    );
}

/// A network's block is honoured by take and reported by quota_blocked; it never shrinks.
pub async fn quota_blocks(store: Arc<dyn Store>) {
    let t = t0();
    assert_eq!(store.quota_blocked("x:1", t).await.unwrap(), None);
    store
        .block_until("x:1", t + Duration::seconds(30))
        .await
        .unwrap();
    store
        .block_until("x:1", t + Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(
        store.quota_blocked("x:1", t).await.unwrap(),
        Some(30),
        "blocks: the later block stands"
    );
    assert_eq!(
        store.take_quota("x:1", 50, 900, t).await.unwrap(),
        QuotaDecision::Exhausted { retry_after: 30 },
        "blocks: take honours the block"
    );
    assert_eq!(
        store
            .quota_blocked("x:1", t + Duration::milliseconds(29_500))
            .await
            .unwrap(),
        Some(1),
        "blocks: seconds round up"
    );
    let after = t + Duration::seconds(30);
    assert_eq!(store.quota_blocked("x:1", after).await.unwrap(), None);
    assert_eq!(
        store.take_quota("x:1", 50, 900, after).await.unwrap(),
        QuotaDecision::Granted { remaining: 49 }
    );
    assert_eq!(store.quota_blocked("x:2", t).await.unwrap(), None);
}

/// Concurrent takes never grant more than the limit, and each grant counts the ones before
/// it (the remaining slots they report are all different).
pub async fn concurrent_quota(store: Arc<dyn Store>) {
    let decisions = futures::future::join_all((0..20).map(|_| {
        let s = store.clone();
        tokio::spawn(async move { s.take_quota("race", 5, 60, t0()).await.unwrap() })
    }))
    .await;
    let mut remaining: Vec<u32> = decisions
        .into_iter()
        .filter_map(|d| match d.unwrap() {
            QuotaDecision::Granted { remaining } => Some(remaining),
            QuotaDecision::Exhausted { .. } => None,
        })
        .collect();
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        [0, 1, 2, 3, 4],
        "quotas: one count under concurrency"
    );
}

/// Small values by name; flush succeeds.
pub async fn meta_and_flush(store: Arc<dyn Store>) {
    assert_eq!(store.get_meta("k").await.unwrap(), None);
    store.set_meta("k", "v1").await.unwrap();
    store.set_meta("k", "v2").await.unwrap();
    assert_eq!(store.get_meta("k").await.unwrap(), Some("v2".into()));
    store.flush().await.unwrap();
}

/// A taken value is gone: of concurrent takes exactly one gets it (single-use OAuth state).
pub async fn single_use_meta(store: Arc<dyn Store>) {
    assert_eq!(store.take_meta("once").await.unwrap(), None);
    store.set_meta("once", "v").await.unwrap();
    let takes = futures::future::join_all((0..8).map(|_| store.take_meta("once"))).await;
    let got: Vec<_> = takes.into_iter().filter_map(|t| t.unwrap()).collect();
    assert_eq!(got, vec!["v".to_owned()], "take_meta: exactly one winner");
    assert_eq!(store.get_meta("once").await.unwrap(), None);
}

/// A compare-and-swap sets, replaces or removes a value only from the expected one; of
/// concurrent read-modify-write loops none loses another's change.
pub async fn swapped_meta(store: Arc<dyn Store>) {
    // From absent.
    assert!(store.swap_meta("cas", None, None).await.unwrap());
    assert!(!store.swap_meta("cas", Some("x"), Some("y")).await.unwrap());
    assert!(store.swap_meta("cas", None, Some("a")).await.unwrap());
    assert!(
        !store.swap_meta("cas", None, Some("b")).await.unwrap(),
        "not absent any more"
    );
    assert!(!store.swap_meta("cas", None, None).await.unwrap());
    // Replace, only from the value it holds.
    assert!(!store.swap_meta("cas", Some("b"), Some("c")).await.unwrap());
    assert_eq!(store.get_meta("cas").await.unwrap(), Some("a".into()));
    assert!(store.swap_meta("cas", Some("a"), Some("c")).await.unwrap());
    assert_eq!(store.get_meta("cas").await.unwrap(), Some("c".into()));
    // Remove, only from the value it holds.
    assert!(!store.swap_meta("cas", Some("a"), None).await.unwrap());
    assert!(store.swap_meta("cas", Some("c"), None).await.unwrap());
    assert_eq!(store.get_meta("cas").await.unwrap(), None);

    // Concurrent writers each add their own name to one list: every name is there at the end.
    let writers = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                let old = store.get_meta("list").await.unwrap();
                let mut names: Vec<String> = old
                    .as_deref()
                    .map(|v| v.split(',').map(str::to_owned).collect())
                    .unwrap_or_default();
                names.push(format!("w{i}"));
                let new = names.join(",");
                if store
                    .swap_meta("list", old.as_deref(), Some(&new))
                    .await
                    .unwrap()
                {
                    return;
                }
                tokio::task::yield_now().await;
            }
        })
    });
    for w in futures::future::join_all(writers).await {
        w.unwrap();
    }
    let mut names: Vec<String> = store
        .get_meta("list")
        .await
        .unwrap()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    names.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("w{i}")).collect();
    assert_eq!(names, expected, "swap_meta: no change lost");
}

/// A token's life (expiry, refresh time, scopes, re-link flag) round-trips, and an account
/// linked without one reads back with an empty life.
pub async fn token_life(store: Arc<dyn Store>) {
    let p = store.ensure_primary_profile("acct-life").await.unwrap();
    store
        .link_account(&p.id, account(Platform::Twitter, "7"))
        .await
        .unwrap();
    let plain = store
        .linked_account(&p.id, &Platform::Twitter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.life, TokenLife::default());
    let mut a = account(Platform::Threads, "8");
    a.life = TokenLife {
        expires_at: Some(t0() + Duration::days(60)),
        refreshed_at: Some(t0()),
        scopes: vec!["threads_basic".into(), "threads_delete".into()],
        needs_relink: false,
    };
    store.link_account(&p.id, a.clone()).await.unwrap();
    let back = store
        .linked_account(&p.id, &Platform::Threads)
        .await
        .unwrap();
    assert_eq!(back.as_ref(), Some(&a), "token life round-trips");
    a.life.needs_relink = true;
    a.access_token = "rotated".into();
    store.link_account(&p.id, a.clone()).await.unwrap();
    let back = store
        .linked_account(&p.id, &Platform::Threads)
        .await
        .unwrap();
    assert_eq!(back, Some(a), "re-linking replaces the token and its life");
}

/// A post lock can be taken, released by dropping it, and taken again.
pub async fn post_locks(store: Arc<dyn Store>) {
    let within = std::time::Duration::from_secs(5);
    let first = tokio::time::timeout(within, store.lock_post(&id(1)))
        .await
        .expect("post locks: a free lock is granted")
        .unwrap();
    let other = tokio::time::timeout(within, store.lock_post(&id(2)))
        .await
        .expect("post locks: another post's lock is independent")
        .unwrap();
    drop(first);
    drop(other);
    let again = tokio::time::timeout(within, store.lock_post(&id(1)))
        .await
        .expect("post locks: a dropped lock is released")
        .unwrap();
    drop(again);
    let both = tokio::time::timeout(within, store.lock_posts(&[id(2), id(1), id(2)]))
        .await
        .expect("post locks: several free posts are granted at once")
        .unwrap();
    drop(both);
    let tried = tokio::time::timeout(within, store.try_lock_post(&id(3)))
        .await
        .expect("post locks: trying never waits")
        .unwrap();
    assert!(
        tried.is_some(),
        "post locks: a free post is granted on trial"
    );
    drop(tried);
    // Released on a spawned task by some backends: granted again once that ran.
    tokio::time::timeout(within, store.lock_posts(&[id(1), id(3)]))
        .await
        .expect("post locks: released locks are granted together")
        .unwrap();
}

/// One scheduler's claim gets the due posts, oldest first, within the limit, and gets them
/// again on its next tick (it holds their lease).
pub async fn claimed_schedule(store: Arc<dyn Store>) {
    let now = t0() + Duration::hours(1);
    let lease = std::time::Duration::from_secs(30);
    for (n, minutes) in [(1, 5), (2, 50), (3, 20), (4, -5)] {
        store
            .insert_post(&scheduled(n, "prof", now - Duration::minutes(minutes)))
            .await
            .unwrap();
    }
    assert_eq!(
        store.claim_due_posts(now, 10, "gw-1", lease).await.unwrap(),
        vec![id(2), id(3), id(1)],
        "claimed schedule: due posts, oldest first"
    );
    assert_eq!(
        store.claim_due_posts(now, 2, "gw-1", lease).await.unwrap(),
        vec![id(2), id(3)],
        "claimed schedule: limited; the holder keeps its own claims"
    );
}

fn a_job(kind: &str, key: &str, group: &str, due: DateTime<Utc>) -> Job {
    Job {
        kind: kind.into(),
        key: key.into(),
        group: group.into(),
        due,
        attempts: 0,
        payload: serde_json::json!({ "key": key, "nested": [1, "two"] }),
    }
}

/// Background jobs: bounded groups, replacement, due-order claims with leases, removal.
pub async fn jobs(store: Arc<dyn Store>) {
    let t = t0();
    let lease = std::time::Duration::from_secs(60);
    // Added in an order unlike their due order.
    for (key, secs) in [("p2:x", 20), ("p1:threads", 10), ("p3:threads", 30)] {
        let put = store
            .put_job(
                &a_job("delete", key, "bucket-a", t + Duration::seconds(secs)),
                3,
            )
            .await
            .unwrap();
        assert_eq!(put, JobPut::Added, "jobs: {key} is new");
    }
    assert_eq!(store.count_jobs("delete", "bucket-a").await.unwrap(), 3);
    assert_eq!(store.count_jobs("delete", "bucket-b").await.unwrap(), 0);
    assert_eq!(store.count_jobs("webhook", "bucket-a").await.unwrap(), 0);
    // The group is full: a new key is refused, a known key is replaced.
    assert_eq!(
        store
            .put_job(&a_job("delete", "p4:threads", "bucket-a", t), 3)
            .await
            .unwrap(),
        JobPut::GroupFull
    );
    assert!(store
        .jobs_with_prefix("delete", "p4:")
        .await
        .unwrap()
        .is_empty());
    // Another kind with the same key and group is a different job.
    assert_eq!(
        store
            .put_job(&a_job("webhook", "p1:threads", "bucket-a", t), 1)
            .await
            .unwrap(),
        JobPut::Added
    );
    let got = store.jobs_with_prefix("delete", "p1:").await.unwrap();
    assert_eq!(
        got,
        vec![a_job(
            "delete",
            "p1:threads",
            "bucket-a",
            t + Duration::seconds(10)
        )],
        "jobs: read back as written"
    );

    // Claims: due ones only, in due order, each once while its lease runs.
    let claimed = store
        .claim_jobs("delete", t + Duration::seconds(25), 10, lease)
        .await
        .unwrap();
    let keys: Vec<&str> = claimed.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(
        keys,
        ["p1:threads", "p2:x"],
        "jobs: due order, due ones only"
    );
    assert!(store
        .claim_jobs("delete", t + Duration::seconds(26), 10, lease)
        .await
        .unwrap()
        .is_empty());
    // The limit holds.
    let limited = store
        .claim_jobs("delete", t + Duration::seconds(35), 1, lease)
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].key, "p3:threads");
    // A lease that ran out hands the job out again.
    let again = store
        .claim_jobs("delete", t + Duration::seconds(90), 10, lease)
        .await
        .unwrap();
    let keys: Vec<&str> = again.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(
        keys,
        ["p1:threads", "p2:x"],
        "jobs: expired leases are taken over"
    );

    // Replacing a claimed job releases its claim and moves it in due order.
    let mut moved = a_job(
        "delete",
        "p1:threads",
        "bucket-a",
        t + Duration::seconds(40),
    );
    moved.attempts = 2;
    assert_eq!(store.put_job(&moved, 3).await.unwrap(), JobPut::Replaced);
    assert_eq!(store.count_jobs("delete", "bucket-a").await.unwrap(), 3);
    let claimed = store
        .claim_jobs("delete", t + Duration::seconds(92), 10, lease)
        .await
        .unwrap();
    assert_eq!(
        claimed,
        vec![moved.clone()],
        "jobs: replaced job claimable at once"
    );

    // Moving a job to another group counts it there.
    let regrouped = a_job("delete", "p2:x", "bucket-b", t);
    assert_eq!(
        store.put_job(&regrouped, 3).await.unwrap(),
        JobPut::Replaced
    );
    assert_eq!(store.count_jobs("delete", "bucket-a").await.unwrap(), 2);
    assert_eq!(store.count_jobs("delete", "bucket-b").await.unwrap(), 1);

    // Removal.
    assert!(store.remove_job("delete", "p1:threads").await.unwrap());
    assert!(!store.remove_job("delete", "p1:threads").await.unwrap());
    assert_eq!(store.count_jobs("delete", "bucket-a").await.unwrap(), 1);
    assert!(store
        .jobs_with_prefix("delete", "p1:")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .jobs_with_prefix("webhook", "p1:")
            .await
            .unwrap()
            .len(),
        1,
        "jobs: kinds are separate"
    );
    store.flush().await.unwrap();
}

/// Everything can be read back whole (what `postgate migrate-store` copies): profiles of
/// every account, every post a page at a time, idempotency keys, quota states (and a quota
/// state written back replaces, never adds), metadata.
pub async fn whole_store_reads(store: Arc<dyn Store>) {
    let primary = store.ensure_primary_profile("acct-a").await.unwrap();
    let user = store
        .create_profile(user_profile("acct-b", "user-1", "One", t0()))
        .await
        .unwrap();
    let mut profiles = store.all_profiles().await.unwrap();
    profiles.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![primary, user];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        profiles, expected,
        "whole store: every profile of every account"
    );

    for n in [3, 1, 5, 2, 4] {
        let p = post(
            n,
            if n % 2 == 0 { "prof-a" } else { "prof-b" },
            t0(),
            vec![published(Platform::Threads, &format!("1801{n}"))],
        );
        store.insert_post(&p).await.unwrap();
    }
    let first = store.posts_after(None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![id(1), id(2)],
        "whole store: posts by id, a page at a time"
    );
    assert_eq!(first[0], store.get_post(&id(1)).await.unwrap().unwrap());
    let rest = store.posts_after(Some(&id(2)), 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        vec![id(3), id(4), id(5)]
    );
    assert!(store
        .posts_after(Some(&id(5)), 10)
        .await
        .unwrap()
        .is_empty());

    store
        .claim_idempotency_key("prof-a", "k1", &id(1), t0())
        .await
        .unwrap();
    store
        .remember_answer("prof-b", "k2", &serde_json::json!({"httpStatus": 200}))
        .await
        .unwrap();
    let keys = store.all_idempotency_keys().await.unwrap();
    assert_eq!(keys.len(), 2, "whole store: idempotency keys");
    assert_eq!(
        (keys[0].profile_id.as_str(), keys[0].key.as_str()),
        ("prof-a", "k1")
    );
    assert_eq!(
        keys[0].record,
        IdempotencyRecord::Claimed {
            post_id: id(1),
            claimed_at: t0()
        }
    );
    assert_eq!(
        keys[1].record,
        IdempotencyRecord::Answered(serde_json::json!({"httpStatus": 200}))
    );

    store.take_quota("q:1", 10, 3600, t0()).await.unwrap();
    store
        .take_quota("q:1", 10, 3600, t0() + Duration::seconds(1))
        .await
        .unwrap();
    store
        .block_until("q:2", t0() + Duration::minutes(5))
        .await
        .unwrap();
    let quotas = store.all_quotas().await.unwrap();
    assert_eq!(
        quotas,
        vec![
            QuotaState {
                bucket: "q:1".into(),
                calls: vec![t0(), t0() + Duration::seconds(1)],
                blocked_until: None,
            },
            QuotaState {
                bucket: "q:2".into(),
                calls: vec![],
                blocked_until: Some(t0() + Duration::minutes(5)),
            },
        ],
        "whole store: quota states"
    );
    let copied = QuotaState {
        bucket: "q:3".into(),
        calls: vec![t0(), t0() + Duration::seconds(2)],
        blocked_until: Some(t0() + Duration::minutes(1)),
    };
    store.restore_quota(&copied).await.unwrap();
    store.restore_quota(&copied).await.unwrap();
    assert_eq!(
        store.all_quotas().await.unwrap()[2],
        copied,
        "whole store: a quota state written twice is there once"
    );

    store.set_meta("b", "2").await.unwrap();
    store.set_meta("a", "1").await.unwrap();
    assert_eq!(
        store.all_meta().await.unwrap(),
        vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        "whole store: metadata"
    );
}

/// `update_profile` changes the title (unique per account among user profiles, the old title
/// freed) and the settings, keeps id, account, key and creation, and reports an unknown id;
/// settings survive a profile copied with `create_profile`.
pub async fn profile_updates(store: Arc<dyn Store>) {
    let a = user_profile("acct", "pa", "Alpha", t0());
    let b = user_profile("acct", "pb", "Beta", t0() + Duration::seconds(1));
    store.create_profile(a.clone()).await.unwrap();
    store.create_profile(b.clone()).await.unwrap();
    let mut changed = a.clone();
    changed.title = "Gamma".into();
    changed.disabled_social = vec![Platform::Twitter, Platform::Other("linkedin".into())];
    changed.hide_title = true;
    changed.display_title = Some("Shown ✓".into());
    // Fields the owner may not change are ignored.
    let mut sent = changed.clone();
    sent.key_hash = Some("f".repeat(64));
    sent.account_id = "other".into();
    assert!(
        store.update_profile(&sent).await.unwrap(),
        "profile_updates: existed"
    );
    assert_eq!(
        store.get_profile("pa").await.unwrap(),
        Some(changed.clone()),
        "profile_updates: settings stored, identity kept"
    );
    assert_eq!(
        store
            .profile_by_key_hash(a.key_hash.as_deref().unwrap())
            .await
            .unwrap()
            .map(|p| p.id),
        Some("pa".into()),
        "profile_updates: the key still finds it"
    );
    let mut clash = changed.clone();
    clash.title = "BETA".into();
    assert!(
        matches!(
            store.update_profile(&clash).await,
            Err(StoreError::TitleTaken(_))
        ),
        "profile_updates: another profile's title is refused"
    );
    // The old title is free again; the profile's own title (any case) stays its own.
    store
        .create_profile(user_profile("acct", "pc", "alpha", t0()))
        .await
        .unwrap();
    let mut same = changed.clone();
    same.title = "GAMMA".into();
    assert!(store.update_profile(&same).await.unwrap());
    let mut unknown = changed.clone();
    unknown.id = "nope".into();
    assert!(
        !store.update_profile(&unknown).await.unwrap(),
        "profile_updates: unknown id"
    );
    // The primary profile can be updated too (it takes no part in title uniqueness).
    let mut primary = store.ensure_primary_profile("acct").await.unwrap();
    primary.disabled_social = vec![Platform::Threads];
    assert!(store.update_profile(&primary).await.unwrap());
    assert_eq!(
        store.ensure_primary_profile("acct").await.unwrap(),
        primary,
        "profile_updates: the primary profile keeps its settings"
    );
    // Settings travel with a copied profile.
    let mut copied = user_profile("acct2", "pd", "Delta", t0());
    copied.disabled_social = vec![Platform::Bluesky];
    copied.display_title = Some("D".into());
    store.create_profile(copied.clone()).await.unwrap();
    assert_eq!(store.get_profile("pd").await.unwrap(), Some(copied));
}

/// Counters start at 0, add atomically under concurrency, and read with `by = 0`.
pub async fn counters(store: Arc<dyn Store>) {
    assert_eq!(store.add_to_counter("calls:a", 0).await.unwrap(), 0);
    assert_eq!(store.add_to_counter("calls:a", 2).await.unwrap(), 2);
    let adds = futures::future::join_all((0..16).map(|_| {
        let s = store.clone();
        async move { s.add_to_counter("calls:a", 1).await.unwrap() }
    }))
    .await;
    let distinct: HashSet<u64> = adds.into_iter().collect();
    assert_eq!(
        distinct.len(),
        16,
        "counters: every addition saw its own value"
    );
    assert_eq!(store.add_to_counter("calls:a", 0).await.unwrap(), 18);
    assert_eq!(
        store.add_to_counter("calls:b", 0).await.unwrap(),
        0,
        "counters: by name"
    );
}

/// Posts awaiting approval or paused are stored with their status and are never due.
pub async fn held_posts(store: Arc<dyn Store>) {
    let now = t0() + Duration::hours(1);
    let mut waiting = scheduled(1, "prof", t0());
    waiting.status = PostStatus::AwaitingApproval;
    let mut paused = scheduled(2, "prof", t0());
    paused.status = PostStatus::Paused;
    store.insert_post(&waiting).await.unwrap();
    store.insert_post(&paused).await.unwrap();
    assert_eq!(
        store.get_post(&waiting.id).await.unwrap(),
        Some(waiting.clone())
    );
    assert_eq!(
        store.get_post(&paused.id).await.unwrap(),
        Some(paused.clone())
    );
    assert!(
        store.due_posts(now).await.unwrap().is_empty(),
        "held_posts: not due while held"
    );
    paused.status = PostStatus::Pending;
    store.update_post(&paused).await.unwrap();
    assert_eq!(store.due_posts(now).await.unwrap(), vec![paused.id.clone()]);
}
