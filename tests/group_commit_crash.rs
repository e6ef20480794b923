//! Group commit under SIGKILL: many single-id deletes share flushes; the real binary is killed
//! mid-load and the store it leaves must hold (1) every acknowledged outcome and (2) an intent
//! for every network delete that happened (invariant 2). After a restart every post ends
//! deleted, each network post deleted exactly once.

use postgate::domain::{EntryState, Platform, PostId};
use postgate::store::{SledStore, Store};
use postgate_sandbox::{self as sandbox, Faults, SandboxHandle, SandboxOptions};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "group-commit-key-0000000000000000";
const POSTS: usize = 400;
const CLIENTS: usize = 40;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_gateway(sb: &SandboxHandle, store: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_postgate"))
        .arg("serve")
        .env("POSTGATE__SERVER__PORT", port.to_string())
        .env("POSTGATE__STORE__PATH", store)
        .env("POSTGATE__AUTH__API_KEYS", KEY)
        .envs(sb.gateway_env())
        .env("POSTGATE__X__DELETE_LIMIT", "0")
        .env("POSTGATE__THREADS__DELETE_LIMIT", "0")
        .env("RUST_LOG", "warn")
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

/// Links the sandbox accounts, seeds `n` posts live on Threads and X, imports them.
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

fn latency(ms: u64) -> Faults {
    Faults {
        latency_ms: ms,
        jitter_ms: 0,
        error_rate: 0.0,
        hang: false,
        lose_response_rate: 0.0,
    }
}

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
    let mut gw = spawn_gateway(&sb, &store, port);
    wait_healthy(&client, &base).await;
    let ids = prepare(&client, &base, &sb, POSTS).await;
    assert_eq!(ids.len(), POSTS);
    // A little network latency keeps deletes overlapping, so flushes are shared.
    sb.set_threads_faults(latency(5));
    sb.set_x_faults(latency(5));

    let queue = Arc::new(Mutex::new(ids.clone()));
    let acked = Arc::new(Mutex::new(HashSet::<String>::new()));
    let workers: Vec<_> = (0..CLIENTS)
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
    while acked.lock().unwrap().len() < POSTS / 4 {
        assert!(Instant::now() < deadline, "deletes never got going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gw.kill().unwrap(); // SIGKILL, with deletes in flight
    gw.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() < POSTS, "the kill landed mid-load");

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

    sb.set_threads_faults(latency(0));
    sb.set_x_faults(latency(0));
    let mut gw = spawn_gateway(&sb, &store, port);
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
        assert_eq!(stats.deleted, POSTS as u64, "{stats:?}");
        assert_eq!(stats.live_posts, 0, "{stats:?}");
    }
    gw.kill().unwrap();
    gw.wait().unwrap();
    sb.stop().await;
}
