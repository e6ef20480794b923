//! Two (or three) real `postgate` processes on one PostgreSQL database and one in-process
//! `postgate-sandbox`: the cross-process invariants of the PostgreSQL store (DESIGN.md
//! invariant 10), observed at the networks (the sandbox counts every call). Needs
//! `POSTGATE_TEST_PG_URL` (set by `scripts/test.sh`); without it these fail when `CI` is set
//! and are skipped with a notice otherwise. `GATEWAY_LOG=<file>` (with `GATEWAY_RUST_LOG`)
//! keeps the gateways' logs when debugging.

use postgate::domain::{EntryState, PostId};
use postgate::store::{PostgresStore, Store};
use postgate_sandbox::{self as sandbox, Faults, SandboxHandle, SandboxOptions};
use serde_json::{json, Value};
use sqlx::postgres::PgConnectOptions;
use sqlx::Connection;
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

const KEY: &str = "processes-test-key-00000000000000";

/// A URL of a new, empty database on the test server; `None` (after a notice) outside CI.
async fn fresh_database_url() -> Option<String> {
    let url = match std::env::var("POSTGATE_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("CI").is_some() => panic!(
            "POSTGATE_TEST_PG_URL is not set but CI is: the PostgreSQL tests must run \
             (scripts/test.sh starts a throwaway PostgreSQL and sets it)"
        ),
        _ => {
            eprintln!("notice: POSTGATE_TEST_PG_URL is not set; PostgreSQL tests skipped");
            return None;
        }
    };
    let name = format!(
        "postgate_proc_{}",
        PostId::generate().as_str().to_lowercase()
    );
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a test database");
    let mut u = reqwest::Url::parse(&url).expect("POSTGATE_TEST_PG_URL parses");
    u.set_path(&name);
    Some(u.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One gateway process; killed (SIGKILL) when dropped, so a failing test leaves none behind.
struct Gateway {
    child: Child,
    base: String,
    /// One client for every request: building one per request (a TLS setup each) in a
    /// `join_all` of 100 would stall the other requests past the server's 5 s head timeout.
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    fn spawn(sb: &SandboxHandle, db: &str, extra: &[(&str, &str)]) -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_postgate"))
            .arg("serve")
            .env("POSTGATE__SERVER__PORT", port.to_string())
            .env("POSTGATE__STORE__BACKEND", "postgres")
            .env("POSTGATE__STORE__URL", db)
            .env("POSTGATE__STORE__PATH", dir.path().join("db"))
            .env("POSTGATE__AUTH__API_KEYS", KEY)
            .envs(sb.gateway_env())
            .env("POSTGATE__SCHEDULER__TICK_MS", "50")
            .env("POSTGATE__X__DELETE_LIMIT", "10000")
            .env("POSTGATE__THREADS__DELETE_LIMIT", "10000")
            .envs(extra.iter().copied())
            .env(
                "RUST_LOG",
                std::env::var("GATEWAY_RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(match std::env::var_os("GATEWAY_LOG") {
                Some(p) => Stdio::from(
                    std::fs::File::options()
                        .create(true)
                        .append(true)
                        .open(p)
                        .unwrap(),
                ),
                None => Stdio::null(),
            })
            .spawn()
            .expect("gateway starts");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn healthy(self) -> Self {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/health", self.base)).send().await {
                if r.status() == 200 {
                    return self;
                }
            }
            assert!(Instant::now() < deadline, "gateway never became healthy");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY)
    }

    async fn delete(&self, body: Value) -> (u16, Value) {
        let t0 = Instant::now();
        let r = self
            .request(reqwest::Method::DELETE, "/api/post")
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("after {:?}: {e:?}", t0.elapsed()));
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn publish(&self, body: Value) -> (u16, Value) {
        let r = self
            .request(reqwest::Method::POST, "/api/post")
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn post(&self, id: &str) -> Value {
        self.request(reqwest::Method::GET, &format!("/api/post/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Links the sandbox's first Threads and X accounts to the primary profile.
    async fn link(&self, sb: &SandboxHandle) {
        let t = &sb.accounts.threads[0];
        let x = &sb.accounts.x[0];
        for body in [
            json!({"platform": "threads", "userId": t.user_id, "accessToken": t.access_token}),
            json!({"platform": "twitter", "userId": x.user_id, "accessToken": x.access_token, "accessTokenSecret": x.access_token_secret}),
        ] {
            let r = self
                .request(reqwest::Method::POST, "/api/profiles/social")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    }

    /// Seeds `n` live posts per network and imports them as `n` posts on both; their ids.
    async fn import(&self, sb: &SandboxHandle, n: usize) -> Vec<String> {
        let media = seed(&sb.threads_root(), n).await;
        let tweets = seed(&sb.x_url, n).await;
        let posts: Vec<Value> = media
            .iter()
            .zip(&tweets)
            .map(|(m, t)| json!({"post": "p", "postIds": [{"platform": "threads", "id": m}, {"platform": "twitter", "id": t}]}))
            .collect();
        let r: Value = self
            .request(reqwest::Method::POST, "/api/post/import")
            .json(&json!({ "posts": posts }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn seed(root: &str, n: usize) -> Vec<String> {
    let v: Value = reqwest::Client::new()
        .post(format!("{root}/__sandbox/seed?count={n}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect()
}

fn slow(ms: u64) -> Faults {
    Faults {
        latency_ms: ms,
        jitter_ms: 0,
        error_rate: 0.0,
        hang: false,
        lose_response_rate: 0.0,
    }
}

fn in_ms(ms: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Waits until `done` holds, polling; panics with `what` after `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn open_store(db: &str) -> PostgresStore {
    PostgresStore::connect_with(
        PgConnectOptions::from_str(db).unwrap(),
        2,
        Duration::from_secs(5),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_deletes_over_two_gateways_call_each_network_once() {
    let Some(db) = fresh_database_url().await else {
        return;
    };
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let a = Gateway::spawn(&sb, &db, &[]).healthy().await;
    let b = Gateway::spawn(&sb, &db, &[]).healthy().await;
    a.link(&sb).await;
    let id = a.import(&sb, 1).await.remove(0);
    sb.set_threads_faults(slow(150));
    sb.set_x_faults(slow(150));

    let answers = futures::future::join_all((0..100).map(|n| {
        let gw = if n % 2 == 0 { &a } else { &b };
        gw.delete(json!({ "id": id }))
    }))
    .await;
    let mut succeeded = 0;
    for (status, body) in &answers {
        if body["status"] == "success" {
            assert_eq!(*status, 200, "{body}");
            succeeded += 1;
        } else {
            assert_eq!(body["code"], 383, "{body}");
        }
    }
    assert_eq!(
        succeeded, 1,
        "one delete did the work, the others saw it done"
    );
    assert_eq!(sb.threads_stats().calls.delete, 1);
    assert_eq!(sb.x_stats().calls.delete, 1);
    assert_eq!(b.post(&id).await["status"], "deleted");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedulers_on_both_gateways_publish_each_due_post_once() {
    let Some(db) = fresh_database_url().await else {
        return;
    };
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let a = Gateway::spawn(&sb, &db, &[]).healthy().await;
    let b = Gateway::spawn(&sb, &db, &[]).healthy().await;
    a.link(&sb).await;
    sb.set_threads_faults(slow(30));
    sb.set_x_faults(slow(30));
    const N: usize = 20;
    let due = in_ms(3000);
    let mut ids = Vec::new();
    for n in 0..N {
        let gw = if n % 2 == 0 { &a } else { &b };
        let (status, body) = gw
            .publish(json!({"post": format!("due {n}"), "platforms": ["threads", "twitter"], "scheduleDate": due}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "scheduled", "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    eventually(30, "every due post published", || async {
        for id in &ids {
            if a.post(id).await["status"] != "success" {
                return false;
            }
        }
        true
    })
    .await;
    // A few more ticks on both: nothing is published again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sb.threads_stats().calls.publish, N as u64);
    assert_eq!(sb.x_stats().calls.publish, N as u64);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_all_scheduled_racing_both_schedulers_never_publishes_a_cancelled_post() {
    let Some(db) = fresh_database_url().await else {
        return;
    };
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let a = Gateway::spawn(&sb, &db, &[]).healthy().await;
    let b = Gateway::spawn(&sb, &db, &[]).healthy().await;
    a.link(&sb).await;
    sb.set_threads_faults(slow(20));
    sb.set_x_faults(slow(20));
    const N: usize = 40;
    let lead = 3000;
    let started = Instant::now();
    let due = in_ms(lead);
    let mut ids = Vec::new();
    for n in 0..N {
        let (status, body) = a
            .publish(json!({"post": format!("race {n}"), "platforms": ["threads", "twitter"], "scheduleDate": due}))
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    // Cancel right when they come due, through both gateways at once.
    let at = Duration::from_millis(lead as u64 + 30);
    tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
    let (ra, rb) = tokio::join!(
        a.delete(json!({"deleteAllScheduled": true})),
        b.delete(json!({"deleteAllScheduled": true}))
    );
    let mut cancelled = std::collections::HashSet::new();
    for (status, body) in [ra, rb] {
        assert_eq!(status, 200, "{body}");
        for id in body["ids"].as_array().unwrap() {
            assert!(
                cancelled.insert(id.as_str().unwrap().to_owned()),
                "cancelled twice: {id}"
            );
        }
    }
    eventually(30, "every post settled", || async {
        for id in &ids {
            let s = a.post(id).await["status"].clone();
            if s != "success" && s != "deleted" {
                return false;
            }
        }
        true
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut published = 0;
    for id in &ids {
        let p = a.post(id).await;
        if cancelled.contains(id) {
            assert_eq!(p["status"], "deleted", "{p}");
        } else {
            assert_eq!(p["status"], "success", "{p}");
            published += 1;
        }
    }
    assert_eq!(published + cancelled.len(), N);
    // Cancelled posts never reached a network; each published one reached each once.
    assert_eq!(sb.threads_stats().calls.publish, published as u64);
    assert_eq!(sb.x_stats().calls.publish, published as u64);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_delete_quota_and_one_rate_limit_block_across_gateways() {
    let Some(db) = fresh_database_url().await else {
        return;
    };
    let sb = sandbox::start(SandboxOptions {
        x_delete_limit: 2,
        ..SandboxOptions::ephemeral()
    })
    .await
    .unwrap();
    // Threads: postgate's own count, 3 deletes per day. X: not counted locally (0), so only
    // the network's 429 and its reset time stop it.
    let limits = [
        ("POSTGATE__THREADS__DELETE_LIMIT", "3"),
        ("POSTGATE__X__DELETE_LIMIT", "0"),
    ];
    let a = Gateway::spawn(&sb, &db, &limits).healthy().await;
    let b = Gateway::spawn(&sb, &db, &limits).healthy().await;
    a.link(&sb).await;
    let ids = a.import(&sb, 8).await;

    // Eight deletes, one after the other, alternating between the gateways.
    let mut answers = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let gw = if n % 2 == 0 { &a } else { &b };
        answers.push(gw.delete(json!({ "id": id })).await);
    }
    // Threads: three deletes in all, counted once across both gateways.
    let t = sb.threads_stats();
    assert_eq!(t.calls.delete, 3, "{answers:?}");
    assert_eq!(t.deleted, 3);
    // X answered 429 on the third; the block, recorded by the gateway that saw it, kept
    // every later call of both gateways off the network.
    let x = sb.x_stats();
    assert_eq!(x.deleted, 2, "{x:?}");
    assert_eq!(
        x.errors.rate_limited, 1,
        "one 429, then both held back: {x:?}"
    );
    assert_eq!(x.calls.delete, 3, "{x:?}");
    for (status, body) in &answers[3..] {
        assert_ne!(*status, 200, "{body}");
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_bulk_then_two_restarts_finish_each_intent_once() {
    let Some(db) = fresh_database_url().await else {
        return;
    };
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let concurrency = [("POSTGATE__DELETE__BULK_CONCURRENCY", "5")];
    let mut a = Gateway::spawn(&sb, &db, &concurrency).healthy().await;
    let b = Gateway::spawn(&sb, &db, &concurrency).healthy().await;
    a.link(&sb).await;
    const N: usize = 30;
    let ids = a.import(&sb, N).await;
    // Every call hangs (never handled, never counted as a delete) until the gateway's
    // network timeout, far away: once an intent is on disk and its call at a network, the
    // kill lands mid-call whenever it comes, however loaded the machine.
    let hang = Faults {
        hang: true,
        ..slow(0)
    };
    sb.set_threads_faults(hang);
    sb.set_x_faults(hang);

    let bulk = tokio::spawn(
        a.request(reqwest::Method::DELETE, "/api/post")
            .json(&json!({ "bulk": ids }))
            .send(),
    );
    let store = open_store(&db).await;
    eventually(30, "an intent reached a network", || async {
        let hung = sb.threads_stats().hung + sb.x_stats().hung;
        hung > 0 && !store.in_flight_posts().await.unwrap().is_empty()
    })
    .await;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    assert!(bulk.await.unwrap().is_err(), "the bulk was cut short");

    // The database shows intents without outcomes.
    let in_flight = store.in_flight_posts().await.unwrap();
    assert!(!in_flight.is_empty(), "the kill landed mid-call");
    let mut interrupted = 0;
    for id in &in_flight {
        let p = store.get_post(id).await.unwrap().unwrap();
        interrupted += p
            .entries
            .iter()
            .filter(|e| e.state == EntryState::Deleting)
            .count();
    }
    assert!(interrupted > 0);
    // The killed gateway's calls hung: none of them was counted, or will be.
    let before = (sb.threads_stats().calls.delete, sb.x_stats().calls.delete);

    // Two gateways start at once (a restart and a new one): both recover, each intent once.
    sb.set_threads_faults(slow(100));
    sb.set_x_faults(slow(100));
    let (a2, c) = (
        Gateway::spawn(&sb, &db, &concurrency),
        Gateway::spawn(&sb, &db, &concurrency),
    );
    let (_a2, _c) = (a2.healthy().await, c.healthy().await);
    eventually(30, "recovery finished the interrupted deletes", || async {
        store.in_flight_posts().await.unwrap().is_empty()
    })
    .await;
    let after = (sb.threads_stats().calls.delete, sb.x_stats().calls.delete);
    assert_eq!(
        (after.0 - before.0) + (after.1 - before.1),
        interrupted as u64,
        "each interrupted intent was re-sent once, by one of the two"
    );

    // The client re-sends the bulk to the gateway that stayed up: everything settles.
    sb.set_threads_faults(slow(0));
    sb.set_x_faults(slow(0));
    // (HTTP 400 as a whole: the posts answered "already deleted" count as errors.)
    let (_, body) = b.delete(json!({ "bulk": ids })).await;
    for item in body["posts"].as_array().unwrap() {
        assert!(item["status"] == "success" || item["code"] == 383, "{item}");
    }
    // Each network post was deleted exactly once, none is left live.
    for stats in [sb.threads_stats(), sb.x_stats()] {
        assert_eq!(stats.deleted, N as u64, "{stats:?}");
        assert_eq!(stats.live_posts, 0, "{stats:?}");
    }
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_sent_to_both_gateways_publishes_once() {
    let Some(db) = fresh_database_url().await else {
        return;
    };
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let a = Gateway::spawn(&sb, &db, &[]).healthy().await;
    let b = Gateway::spawn(&sb, &db, &[]).healthy().await;
    a.link(&sb).await;
    sb.set_threads_faults(slow(300));
    sb.set_x_faults(slow(300));
    let body =
        json!({"post": "once", "platforms": ["threads", "twitter"], "idempotencyKey": "k-1"});
    let ((sa, ba), (sb_, bb)) = tokio::join!(a.publish(body.clone()), b.publish(body.clone()));
    let mut ids = std::collections::HashSet::new();
    for (status, answer) in [(sa, &ba), (sb_, &bb)] {
        match status {
            200 => assert_eq!(answer["status"], "success", "{answer}"),
            // The other gateway's publish of this key is still running.
            409 => assert_eq!(answer["code"], 931, "{answer}"),
            _ => panic!("{status} {answer}"),
        }
        ids.insert(answer["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "one post for one key: {ba} {bb}");
    // Later repeats through either gateway replay it.
    let (status, replay) = b.publish(body.clone()).await;
    assert_eq!(status, 200, "{replay}");
    assert!(ids.contains(replay["id"].as_str().unwrap()));
    assert_eq!(sb.threads_stats().calls.publish, 1);
    assert_eq!(sb.x_stats().calls.publish, 1);
    sb.stop().await;
}
