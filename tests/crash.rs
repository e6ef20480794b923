//! The real binary under signals: SIGKILL mid-bulk then restart (crash recovery), SIGTERM
//! mid-bulk (graceful shutdown), SIGKILL under concurrent single deletes (group commit). The
//! networks are `postgate sandbox`, which really deletes, so "deleted at most once" is
//! observable.

use postgate::domain::{EntryState, Platform, PostId};
use postgate::store::{SledStore, Store};
use postgate_sandbox::{self as sandbox, Faults, SandboxHandle, SandboxOptions};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "crash-test-key-000000000000000000";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_gateway(sb: &SandboxHandle, store: &Path, port: u16) -> Child {
    spawn_gateway_with(sb, store, port, &[])
}

fn spawn_gateway_with(
    sb: &SandboxHandle,
    store: &Path,
    port: u16,
    extra: &[(&str, &str)],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_postgate"))
        .arg("serve")
        .env("POSTGATE__SERVER__PORT", port.to_string())
        .env("POSTGATE__STORE__PATH", store)
        .env("POSTGATE__AUTH__API_KEYS", KEY)
        .envs(sb.gateway_env())
        .env("POSTGATE__DELETE__BULK_CONCURRENCY", "5")
        .env("POSTGATE__X__DELETE_LIMIT", "10000")
        .env("RUST_LOG", "warn")
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("gateway starts")
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{base}/health")).send().await {
            if r.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "gateway never became healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn seed(client: &reqwest::Client, root: &str, n: usize) -> Vec<String> {
    let v: Value = client
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

/// Links the sandbox accounts, seeds `n` live posts per network, imports them; returns ids.
async fn prepare(
    client: &reqwest::Client,
    base: &str,
    sb: &SandboxHandle,
    n: usize,
) -> Vec<String> {
    let t = &sb.accounts.threads[0];
    let x = &sb.accounts.x[0];
    for body in [
        json!({"platform": "threads", "userId": t.user_id, "accessToken": t.access_token}),
        json!({"platform": "twitter", "userId": x.user_id, "accessToken": x.access_token, "accessTokenSecret": x.access_token_secret}),
    ] {
        let r = client
            .post(format!("{base}/api/profiles/social"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let media = seed(client, &sb.threads_root(), n).await;
    let tweets = seed(client, &sb.x_url, n).await;
    let posts: Vec<Value> = media
        .iter()
        .zip(&tweets)
        .map(|(m, t)| json!({"post": "p", "postIds": [{"platform": "threads", "id": m}, {"platform": "twitter", "id": t}]}))
        .collect();
    let r: Value = client
        .post(format!("{base}/api/post/import"))
        .bearer_auth(KEY)
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

/// Sends `{"bulk": ids}` in the background; the handle yields the client's result.
fn spawn_bulk(
    client: &reqwest::Client,
    base: &str,
    ids: &[String],
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let request = client
        .delete(format!("{base}/api/post"))
        .bearer_auth(KEY)
        .json(&json!({ "bulk": ids }));
    tokio::spawn(request.send())
}

/// Waits until a call is held at a network by the hang fault (a bulk is mid-call).
async fn wait_for_a_hung_call(sb: &SandboxHandle) {
    let waiting = Instant::now();
    while sb.threads_stats().hung + sb.x_stats().hung == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "no call reached a network"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_bulk_then_restart_loses_nothing_and_deletes_once() {
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut gw = spawn_gateway(&sb, &store, port);
    wait_healthy(&client, &base).await;
    let ids = prepare(&client, &base, &sb, 30).await;
    // Calls hang (never handled, never deleting) until the network timeout, far away: once
    // one is at a network, its intent is on disk and the kill lands mid-call whenever it
    // comes, however loaded the machine.
    let hang = Faults {
        hang: true,
        ..slow(0)
    };
    sb.set_threads_faults(hang);
    sb.set_x_faults(hang);

    let bulk = spawn_bulk(&client, &base, &ids);
    wait_for_a_hung_call(&sb).await;
    gw.kill().unwrap(); // SIGKILL
    gw.wait().unwrap();
    assert!(bulk.await.unwrap().is_err(), "the bulk was cut short");

    // The store shows deletes whose intent was recorded but whose outcome was not.
    {
        let s = SledStore::open(&store).unwrap();
        let in_flight = s.in_flight_posts().await.unwrap();
        assert!(!in_flight.is_empty(), "the kill landed mid-call");
        for id in &in_flight {
            let p = s.get_post(id).await.unwrap().unwrap();
            assert!(p.entries.iter().any(|e| e.state == EntryState::Deleting));
        }
    }

    sb.set_threads_faults(slow(0));
    sb.set_x_faults(slow(0));
    let mut gw = spawn_gateway(&sb, &store, port);
    wait_healthy(&client, &base).await;
    // Recovery finishes the interrupted ones in the background; a client re-sends the bulk.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = client
            .delete(format!("{base}/api/post"))
            .bearer_auth(KEY)
            .json(&json!({"bulk": ids}))
            .send()
            .await
            .unwrap();
        let b: Value = r.json().await.unwrap();
        let items = b["posts"].as_array().unwrap();
        assert_eq!(items.len(), 30);
        let settled = items
            .iter()
            .all(|i| i["status"] == "success" || i["code"] == 383);
        if settled {
            break;
        }
        assert!(Instant::now() < deadline, "never settled: {b}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &ids {
        let p: Value = client
            .get(format!("{base}/api/post/{id}"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p["status"], "deleted", "{p}");
    }
    // Each network post was deleted exactly once, none is left live.
    for stats in [sb.threads_stats(), sb.x_stats()] {
        assert_eq!(stats.deleted, 30, "{stats:?}");
        assert_eq!(stats.live_posts, 0, "{stats:?}");
    }
    gw.kill().unwrap();
    gw.wait().unwrap();
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_bulk_finishes_the_bulk_and_exits_0() {
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut gw = spawn_gateway(&sb, &store, port);
    wait_healthy(&client, &base).await;
    let ids = prepare(&client, &base, &sb, 20).await;
    sb.set_threads_faults(slow(300));
    sb.set_x_faults(slow(300));

    // Signalled once the bulk's first call is at a network (counted on arrival), not after
    // a guess at how long the request takes to get there.
    let calls = |sb: &SandboxHandle| sb.threads_stats().requests + sb.x_stats().requests;
    let before = calls(&sb);
    let bulk = spawn_bulk(&client, &base, &ids);
    let waiting = Instant::now();
    while calls(&sb) == before {
        assert!(
            waiting.elapsed() < Duration::from_secs(60),
            "no call reached a network"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &gw.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let r = bulk.await.unwrap().expect("the in-flight bulk is answered");
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "success");
    let code = tokio::task::spawn_blocking(move || gw.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(code.code(), Some(0), "graceful exit");

    // Everything was recorded before the exit.
    let s = SledStore::open(&store).unwrap();
    assert!(s.in_flight_posts().await.unwrap().is_empty());
    for id in &ids {
        let p = s
            .get_post(&postgate::domain::PostId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.status, postgate::domain::PostStatus::Deleted);
    }
    assert_eq!(sb.threads_stats().deleted, 20);
    assert_eq!(sb.x_stats().deleted, 20);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut gw = spawn_gateway(&sb, &dir.path().join("db"), port);
    wait_healthy(&client, &base).await;
    let ids = prepare(&client, &base, &sb, 5).await;
    // Calls hang until the gateway's network timeout (10 s): a graceful stop would wait that
    // long, the second signal must not. Signalled only once a call is at a network, so the
    // first signal always finds work in flight, however late the bulk starts.
    let hang = Faults {
        hang: true,
        ..slow(0)
    };
    sb.set_threads_faults(hang);
    sb.set_x_faults(hang);
    let bulk = spawn_bulk(&client, &base, &ids);
    wait_for_a_hung_call(&sb).await;
    let pid = gw.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let code = tokio::task::spawn_blocking(move || gw.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(code.code(), Some(130));
    // Well under the 10 s a graceful stop would wait for the hanging calls.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let _ = bulk.await;
    sb.stop().await;
}

/// Queued deletes under SIGKILL: 25 Threads posts at 10 deletes per 2 s, the gateway killed
/// in the second window and restarted: every post deleted exactly once at the network, the
/// quota kept, one `delete` webhook per queued post at least once, with a stable `hookId`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_drain_of_the_delete_queue_loses_nothing_and_deletes_once() {
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let env = [
        ("POSTGATE__THREADS__DELETE_LIMIT", "10"),
        ("POSTGATE__THREADS__DELETE_WINDOW_SECS", "2"),
        ("POSTGATE__DELETE__QUEUE_TICK_MS", "100"),
        ("POSTGATE__DELETE__QUEUE_LEASE_SECS", "2"),
        ("POSTGATE__WEBHOOKS__ALLOW_HTTP", "true"),
        ("POSTGATE__WEBHOOKS__TICK_MS", "50"),
        ("POSTGATE__WEBHOOKS__RETRY_DELAYS_MS", "200,400"),
    ];
    let mut gw = spawn_gateway_with(&sb, &store, port, &env);
    wait_healthy(&client, &base).await;
    let t = &sb.accounts.threads[0];
    let r = client
        .post(format!("{base}/api/profiles/social"))
        .bearer_auth(KEY)
        .json(&json!({"platform": "threads", "userId": t.user_id, "accessToken": t.access_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{base}/api/hook/webhook"))
        .bearer_auth(KEY)
        .json(&json!({"action": "delete", "url": sb.webhook_url(), "secret": "k"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let media = seed(&client, &sb.threads_root(), 25).await;
    let posts: Vec<Value> = media
        .iter()
        .map(|m| json!({"post": "q", "postIds": [{"platform": "threads", "id": m}]}))
        .collect();
    let r: Value = client
        .post(format!("{base}/api/post/import"))
        .bearer_auth(KEY)
        .json(&json!({ "posts": posts }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<String> = r["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let r = client
        .delete(format!("{base}/api/post"))
        .bearer_auth(KEY)
        .json(&json!({"bulk": ids, "queue": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["queuedCount"], 15, "{b}");
    // The bulk runs its ids concurrently, so which ten win the first window is a race.
    let queued: Vec<String> = b["posts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&ids)
        .filter(|(p, _)| p["status"] == "queued")
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(queued.len(), 15, "{b}");

    // Mid-drain: the second window under way.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sb.threads_stats().deleted <= 12 {
        assert!(Instant::now() < deadline, "the queue never drained");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.kill().unwrap(); // SIGKILL
    gw.wait().unwrap();
    assert!(sb.threads_stats().deleted < 25, "killed mid-drain");

    let mut gw = spawn_gateway_with(&sb, &store, port, &env);
    wait_healthy(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let distinct = |sb: &SandboxHandle| -> std::collections::HashMap<String, Vec<String>> {
        let mut m: std::collections::HashMap<String, Vec<String>> = Default::default();
        for d in sb.webhook_deliveries() {
            m.entry(d.body["id"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(d.body["hookId"].as_str().unwrap_or_default().to_owned());
        }
        m
    };
    while sb.threads_stats().deleted < 25 || distinct(&sb).len() < 15 {
        assert!(
            Instant::now() < deadline,
            "not finished: {:?} {:?}",
            sb.threads_stats(),
            distinct(&sb)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = sb.threads_stats();
    assert_eq!((stats.deleted, stats.live_posts), (25, 0), "{stats:?}");
    for (post, hooks) in distinct(&sb) {
        assert!(queued.contains(&post), "{post}");
        assert!(hooks.iter().all(|h| *h == hooks[0]), "{post}: {hooks:?}");
    }
    for id in &ids {
        let p: Value = client
            .get(format!("{base}/api/post/{id}"))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(p["status"], "deleted", "{p}");
    }
    gw.kill().unwrap();
    gw.wait().unwrap();
    sb.stop().await;
}

// Group commit under SIGKILL (issue 15).

/// Posts and concurrent clients of the group-commit crash test.
const GROUP_POSTS: usize = 400;
const GROUP_CLIENTS: usize = 40;
/// Local delete quotas off: the group-commit test counts every delete.
const NO_LOCAL_QUOTAS: &[(&str, &str)] = &[
    ("POSTGATE__X__DELETE_LIMIT", "0"),
    ("POSTGATE__THREADS__DELETE_LIMIT", "0"),
];

/// Group commit under SIGKILL: many single-id deletes share flushes; the real binary is killed
/// mid-load and the store it leaves must hold (1) every acknowledged outcome and (2) an intent
/// for every network delete that happened (invariant 2). After a restart every post ends
/// deleted, each network post deleted exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_concurrent_deletes_loses_no_acknowledged_outcome_and_no_intent() {
    let sb = sandbox::start(SandboxOptions {
        threads_delete_limit: 0,
        x_delete_limit: 0,
        ..SandboxOptions::ephemeral()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("db");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut gw = spawn_gateway_with(&sb, &store, port, NO_LOCAL_QUOTAS);
    wait_healthy(&client, &base).await;
    let ids = prepare(&client, &base, &sb, GROUP_POSTS).await;
    assert_eq!(ids.len(), GROUP_POSTS);
    // A little network latency keeps deletes overlapping, so flushes are shared.
    sb.set_threads_faults(slow(5));
    sb.set_x_faults(slow(5));

    let queue = Arc::new(Mutex::new(ids.clone()));
    let acked = Arc::new(Mutex::new(HashSet::<String>::new()));
    let workers: Vec<_> = (0..GROUP_CLIENTS)
        .map(|_| {
            let (queue, acked, client, base) =
                (queue.clone(), acked.clone(), client.clone(), base.clone());
            tokio::spawn(async move {
                loop {
                    let Some(id) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let Ok(r) = client
                        .delete(format!("{base}/api/post"))
                        .bearer_auth(KEY)
                        .json(&json!({ "id": id }))
                        .send()
                        .await
                    else {
                        return;
                    };
                    let ok = r.status() == 200;
                    let Ok(b) = r.json::<Value>().await else {
                        return;
                    };
                    if ok && b["status"] == "success" {
                        acked.lock().unwrap().insert(id);
                    }
                }
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < GROUP_POSTS / 4 {
        assert!(Instant::now() < deadline, "deletes never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gw.kill().unwrap(); // SIGKILL, with deletes in flight
    gw.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() < GROUP_POSTS, "the kill landed mid-load");

    {
        let s = SledStore::open(&store).unwrap();
        let mut touched = [0u64; 2];
        for id in &ids {
            let id = PostId::parse(id).unwrap();
            let p = s.get_post(&id).await.unwrap().unwrap();
            if acked.contains(id.as_str()) {
                assert!(
                    p.entries.iter().all(|e| e.state == EntryState::Deleted),
                    "acknowledged delete of {id} not on disk: {p:?}"
                );
            }
            for e in &p.entries {
                if matches!(e.state, EntryState::Deleting | EntryState::Deleted) {
                    touched[usize::from(e.platform == Platform::Twitter)] += 1;
                }
            }
        }
        // Every network delete that happened had its intent on disk first.
        let (threads, x) = (sb.threads_stats(), sb.x_stats());
        assert!(threads.deleted <= touched[0], "{threads:?} vs {touched:?}");
        assert!(x.deleted <= touched[1], "{x:?} vs {touched:?}");
        assert!(threads.deleted >= acked.len() as u64);
    }

    sb.set_threads_faults(slow(0));
    sb.set_x_faults(slow(0));
    let mut gw = spawn_gateway_with(&sb, &store, port, NO_LOCAL_QUOTAS);
    wait_healthy(&client, &base).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    for chunk in ids.chunks(100) {
        loop {
            let b: Value = client
                .delete(format!("{base}/api/post"))
                .bearer_auth(KEY)
                .json(&json!({ "bulk": chunk }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let items = b["posts"].as_array().unwrap();
            assert_eq!(items.len(), chunk.len());
            if items
                .iter()
                .all(|i| i["status"] == "success" || i["code"] == 383)
            {
                break;
            }
            assert!(Instant::now() < deadline, "never settled: {b}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for stats in [sb.threads_stats(), sb.x_stats()] {
        assert_eq!(stats.deleted, GROUP_POSTS as u64, "{stats:?}");
        assert_eq!(stats.live_posts, 0, "{stats:?}");
    }
    gw.kill().unwrap();
    gw.wait().unwrap();
    sb.stop().await;
}
