//! The PostgreSQL store against a real PostgreSQL (`scripts/test.sh` starts one and sets
//! `POSTGATE_TEST_PG_URL`): the shared `Store` contract, migrations, and two stores on one
//! database seeing one truth. Without the variable these tests fail when `CI` is set and
//! are skipped with a notice otherwise.

use postgate::domain::PostId;
use postgate::store::{contract, PostgresStore, QuotaDecision, Store};
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The server to test against, or `None` (after a notice) outside CI.
fn server_url() -> Option<String> {
    match std::env::var("POSTGATE_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "POSTGATE_TEST_PG_URL is not set but CI is: the PostgreSQL tests must run \
             (scripts/test.sh starts a throwaway PostgreSQL and sets it)"
        ),
        _ => {
            eprintln!(
                "notice: POSTGATE_TEST_PG_URL is not set; PostgreSQL tests skipped \
                 (run scripts/test.sh to have them)"
            );
            None
        }
    }
}

/// A new, empty database on the server; its connect options.
async fn fresh_database(url: &str) -> PgConnectOptions {
    let name = format!(
        "postgate_test_{}",
        PostId::generate().as_str().to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("the test PostgreSQL accepts connections");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    PgConnectOptions::from_str(url)
        .expect("POSTGATE_TEST_PG_URL parses")
        .database(&name)
}

async fn open(options: PgConnectOptions) -> PostgresStore {
    PostgresStore::connect_with(options, 8, Duration::from_secs(5))
        .await
        .expect("the PostgreSQL store opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keeps_the_store_contract() {
    let Some(url) = server_url() else { return };
    contract::run_all(|| {
        let url = url.clone();
        async move { Arc::new(open(fresh_database(&url).await).await) as Arc<dyn Store> }
    })
    .await;
}

#[tokio::test]
async fn migrations_run_once_and_a_newer_schema_is_refused() {
    let Some(url) = server_url() else { return };
    let options = fresh_database(&url).await;
    let first = open(options.clone()).await;
    first.set_meta("kept", "yes").await.unwrap();
    // A second start (or a second gateway) finds the schema current and keeps the data.
    let second = open(options.clone()).await;
    assert_eq!(second.get_meta("kept").await.unwrap(), Some("yes".into()));

    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', true, '\\x00', 0)",
    )
    .execute(first.pool())
    .await
    .unwrap();
    let refused = match PostgresStore::connect_with(options, 2, Duration::from_secs(5)).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a schema newer than the binary must be refused"),
    };
    assert!(
        refused.contains("newer than this postgate knows"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_database_share_quotas_claims_and_blocks() {
    let Some(url) = server_url() else { return };
    let options = fresh_database(&url).await;
    let a: Arc<dyn Store> = Arc::new(open(options.clone()).await);
    let b: Arc<dyn Store> = Arc::new(open(options).await);
    let now = chrono::Utc::now();

    let takes = futures::future::join_all((0..30).map(|n| {
        let s = if n % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { s.take_quota("threads:42", 7, 60, now).await.unwrap() })
    }))
    .await;
    let granted = takes
        .into_iter()
        .filter(|d| matches!(d.as_ref().unwrap(), QuotaDecision::Granted { .. }))
        .count();
    assert_eq!(granted, 7, "one count across both");

    let id = PostId::generate();
    let claims = futures::future::join_all((0..10).map(|n| {
        let s = if n % 2 == 0 { a.clone() } else { b.clone() };
        let id = id.clone();
        tokio::spawn(async move { s.claim_idempotency_key("p", "k", &id, now).await.unwrap() })
    }))
    .await;
    let winners = claims
        .into_iter()
        .filter(|c| c.as_ref().unwrap().is_none())
        .count();
    assert_eq!(winners, 1, "one idempotency claim wins across both");

    a.block_until("x:7", now + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert!(
        matches!(
            b.take_quota("x:7", 50, 900, now).await.unwrap(),
            QuotaDecision::Exhausted { .. }
        ),
        "a network's block seen by one is honoured by the other"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_post_lock_excludes_the_other_store_until_dropped() {
    let Some(url) = server_url() else { return };
    let options = fresh_database(&url).await;
    let a = open(options.clone()).await;
    let b = open(options).await;
    let id = PostId::generate();
    let held = a.lock_post(&id).await.unwrap();
    assert!(held.is_shared());
    assert!(
        tokio::time::timeout(Duration::from_millis(300), b.lock_post(&id))
            .await
            .is_err(),
        "the other store waits while the lock is held"
    );
    assert!(
        b.try_lock_post(&id).await.unwrap().is_none(),
        "a trial by the other store fails at once while the lock is held"
    );
    let other = PostId::generate();
    assert!(
        tokio::time::timeout(
            Duration::from_millis(300),
            b.lock_posts(&[other.clone(), id.clone()])
        )
        .await
        .is_err(),
        "a set with one held post waits whole"
    );
    assert!(
        b.try_lock_post(&other).await.unwrap().is_some(),
        "and took none of the set while waiting"
    );
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), b.lock_post(&id))
        .await
        .expect("granted once released")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_process_releases_its_post_locks() {
    let Some(url) = server_url() else { return };
    let options = fresh_database(&url).await;
    let b = open(options.clone()).await;
    let id = PostId::generate();
    {
        // A store on a runtime of its own, dropped whole: like a process that died.
        let (opts, id) = (options.clone(), id.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let held = rt.block_on(async { open(opts).await.lock_post(&id).await.unwrap() });
            drop(rt);
            // No runtime left to unlock: only its connection closing releases the lock.
            drop(held);
        })
        .join()
        .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(10), b.lock_post(&id))
        .await
        .expect("the lock of a process that is gone is granted")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_claim_each_due_post_once_and_take_over_expired_leases() {
    use postgate::domain::{EntryState, Platform, PlatformEntry, Post, PostKind, PostStatus};
    let Some(url) = server_url() else { return };
    let options = fresh_database(&url).await;
    let a: Arc<dyn Store> = Arc::new(open(options.clone()).await);
    let b: Arc<dyn Store> = Arc::new(open(options).await);
    let now = chrono::Utc::now();
    let mut all = std::collections::HashSet::new();
    for n in 0..40 {
        let p = Post {
            id: PostId::generate(),
            profile_id: "prof".into(),
            text: "due".into(),
            status: PostStatus::Pending,
            kind: PostKind::Scheduled,
            created: now,
            schedule_date: Some(now - chrono::Duration::seconds(n)),
            entries: vec![PlatformEntry::new(Platform::Threads, EntryState::Pending)],
            idempotency_key: None,
            media_urls: Vec::new(),
        };
        a.insert_post(&p).await.unwrap();
        all.insert(p.id);
    }
    let lease = Duration::from_secs(30);
    let mut claims = Vec::new();
    for round in 0..4 {
        for (s, holder) in [(&a, "gw-a"), (&b, "gw-b")] {
            let s = s.clone();
            claims.push(tokio::spawn(async move {
                (
                    holder,
                    s.claim_due_posts(now, 7 + round, holder, lease)
                        .await
                        .unwrap(),
                )
            }));
        }
    }
    let mut by_a = std::collections::HashSet::new();
    let mut by_b = std::collections::HashSet::new();
    for c in claims {
        let (holder, ids) = c.await.unwrap();
        let set = if holder == "gw-a" {
            &mut by_a
        } else {
            &mut by_b
        };
        set.extend(ids);
    }
    assert!(
        by_a.is_disjoint(&by_b),
        "no due post goes to both schedulers"
    );
    assert!(by_a.union(&by_b).all(|id| all.contains(id)));

    // gw-a dies: once its leases expire, gw-b takes its posts over.
    let later = now + chrono::Duration::seconds(31);
    let taken: std::collections::HashSet<PostId> = b
        .claim_due_posts(later, 100, "gw-b", lease)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(taken, all, "expired leases are taken over");
    assert!(
        a.claim_due_posts(later, 100, "gw-a", lease)
            .await
            .unwrap()
            .is_empty(),
        "and are then gw-b's"
    );
}
