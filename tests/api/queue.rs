//! Queued deletes: a bulk over the Threads quota is answered at once for the first window
//! and `queued` for the rest, which the worker deletes window by window (never over the
//! quota), each post reported to the `delete` webhook; a restart mid-drain loses nothing and
//! deletes nothing twice.

use crate::helpers::{spawn_app_with, TestApp};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Shrunk quota: 10 deletes per 2 s (the shape of 100 per 24 h).
const LIMIT: u32 = 10;
const WINDOW_SECS: u64 = 2;
const POSTS: usize = 25;
const SECRET: &str = "hook-secret-for-tests";

/// Network calls and webhook deliveries as they arrive.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(Instant, Request)>>>);

impl Log {
    pub fn all(&self) -> Vec<(Instant, Request)> {
        self.0.lock().unwrap().clone()
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn push(&self, r: &Request) {
        self.0.lock().unwrap().push((Instant::now(), r.clone()));
    }
}

/// A webhook receiver on loopback recording every delivery; answers `fail_first` deliveries
/// with 500, the rest with 200.
pub async fn receiver(fail_first: usize) -> (MockServer, Log) {
    let server = MockServer::start().await;
    let log = Log::default();
    let seen = log.clone();
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(move |r: &Request| {
            seen.push(r);
            if seen.len() <= fail_first {
                ResponseTemplate::new(500)
            } else {
                ResponseTemplate::new(200)
            }
        })
        .mount(&server)
        .await;
    (server, log)
}

/// Checks a delivery's signature with an implementation of our own (the hmac crate
/// directly): lowercase hex of HMAC-SHA256(secret, body).
pub fn assert_signed(r: &Request, secret: &str) {
    let ts = r
        .headers
        .get("x-authorization-timestamp")
        .expect("timestamp header")
        .to_str()
        .unwrap();
    let ts: i64 = ts.parse().expect("unix seconds");
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 120);
    let sig = r
        .headers
        .get("x-authorization-content-sha256")
        .expect("signature header")
        .to_str()
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&r.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        sig,
        expected,
        "signature of {}",
        String::from_utf8_lossy(&r.body)
    );
}

/// Registers `action` at the receiver for the primary profile.
pub async fn register(app: &TestApp, receiver: &MockServer, action: &str, secret: Option<&str>) {
    let mut body = json!({"action": action, "url": format!("{}/hook", receiver.uri())});
    if let Some(s) = secret {
        body["secret"] = json!(s);
    }
    let r = app
        .request(reqwest::Method::POST, "/api/hook/webhook", None)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn queue_app(tweak: impl FnOnce(&mut postgate::configuration::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.threads.delete_limit = LIMIT;
        s.threads.delete_window_secs = WINDOW_SECS;
        s.delete.queue_tick_ms = 100;
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 50;
        s.webhooks.retry_delays_ms = vec![200, 400];
        tweak(s);
    })
    .await
}

/// Mounts Threads deletes of any media id, recorded with their arrival time.
async fn threads_deletes(app: &TestApp) -> Log {
    threads_deletes_answering_after(app, Duration::ZERO).await
}

/// [`threads_deletes`] whose answers take `delay` (recorded on arrival).
async fn threads_deletes_answering_after(app: &TestApp, delay: Duration) -> Log {
    let log = Log::default();
    let seen = log.clone();
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/v1\.0/9\d+$"))
        .respond_with(move |r: &Request| {
            seen.push(r);
            let id = r.url.path().trim_start_matches("/v1.0/").to_owned();
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "deleted_id": id}))
                .set_delay(delay)
        })
        .mount(&app.threads)
        .await;
    log
}

/// Imports `n` posts live on Threads (media ids 900000..), returns their ids in order.
async fn threads_posts(app: &TestApp, n: usize) -> Vec<String> {
    let posts: Vec<Value> = (0..n)
        .map(|i| json!({"post": format!("p{i}"), "postIds": [{"platform": "threads", "id": format!("{}", 900000 + i)}]}))
        .collect();
    let (status, r) = app.import(json!(posts), None).await;
    assert_eq!(status, 200, "{r}");
    r["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every window of the quota's length holds at most `LIMIT` calls (a little slack for the
/// time between the local count and the call's arrival).
fn assert_within_quota(calls: &[(Instant, Request)]) {
    let mut times: Vec<Instant> = calls.iter().map(|(t, _)| *t).collect();
    times.sort();
    for w in times.windows(LIMIT as usize + 1) {
        let span = w[LIMIT as usize] - w[0];
        assert!(
            span >= Duration::from_millis(WINDOW_SECS * 1000 - 250),
            "{} calls within {span:?}",
            LIMIT + 1
        );
    }
}

/// Each media id deleted exactly once.
fn assert_each_once(calls: &[(Instant, Request)], n: usize) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (_, r) in calls {
        *counts.entry(r.url.path().to_owned()).or_default() += 1;
    }
    assert_eq!(counts.len(), n, "{counts:?}");
    assert!(
        counts.values().all(|c| *c == 1),
        "deleted twice: {counts:?}"
    );
}

#[tokio::test]
async fn a_bulk_over_the_quota_is_queued_and_drained_window_by_window() {
    let app = queue_app(|_| {}).await;
    app.link_both(None).await;
    let calls = threads_deletes(&app).await;
    let (hooks, deliveries) = receiver(0).await;
    register(&app, &hooks, "delete", Some(SECRET)).await;
    let ids = threads_posts(&app, POSTS).await;

    let started = Instant::now();
    let r = app.delete_post(json!({"bulk": ids, "queue": true})).await;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "queued", "{body}");
    assert_eq!(body["queuedCount"], 15, "{body}");
    let eta = chrono::DateTime::parse_from_rfc3339(body["estimatedCompletion"].as_str().unwrap())
        .unwrap();
    // 15 queued at 10 per 2 s: the second window after this one.
    let ahead = eta.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::milliseconds(2000) && ahead <= chrono::Duration::seconds(5),
        "{ahead}"
    );
    // Which ids win the first window is a race (the bulk runs them concurrently): count them.
    let posts = body["posts"].as_array().unwrap();
    let succeeded = posts.iter().filter(|p| p["status"] == "success").count();
    assert_eq!(succeeded, LIMIT as usize, "{body}");
    let mut queued = HashSet::new();
    for (p, id) in posts.iter().zip(&ids) {
        if p["status"] == "success" {
            assert_eq!(p["threads"]["status"], "success");
        } else {
            assert_eq!(p["status"], "queued", "{p}");
            queued.insert(id.clone());
            let t = &p["threads"];
            // Field order: action, status, retryAt, code, then the message.
            let keys: Vec<&String> = t.as_object().unwrap().keys().collect();
            assert_eq!(keys[..4], ["action", "status", "retryAt", "code"], "{t}");
            assert_eq!(t["status"], "queued");
            assert_eq!(t["code"], 903);
            assert!(p.get("errors").is_none(), "{p}");
        }
    }
    assert_eq!(calls.len(), LIMIT as usize, "the first window at once");

    // A queued post shows it.
    let (_, post) = app.get_post(queued.iter().next().unwrap(), None).await;
    assert_eq!(post["postIds"][0]["state"], "queued", "{post}");
    assert!(post["postIds"][0]["retryAt"].is_string(), "{post}");

    wait_for("every delete", 20, || calls.len() >= POSTS).await;
    let all = calls.all();
    assert_each_once(&all, POSTS);
    assert_within_quota(&all);
    // In at least two further windows.
    assert!(started.elapsed() >= Duration::from_millis(2 * WINDOW_SECS * 1000 - 150));

    wait_for("one delete webhook per queued post", 10, || {
        deliveries.len() >= POSTS - LIMIT as usize
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered = deliveries.all();
    assert_eq!(delivered.len(), POSTS - LIMIT as usize);
    let mut seen = HashSet::new();
    for (_, r) in &delivered {
        assert_signed(r, SECRET);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["action"], "delete");
        assert_eq!(v["status"], "success", "{v}");
        assert_eq!(v["threads"]["status"], "success", "{v}");
        assert!(v["hookId"].is_string());
        seen.insert(v["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, queued);

    // The store agrees with the network.
    for id in &ids {
        let (_, post) = app.get_post(id, None).await;
        assert_eq!(post["postIds"][0]["state"], "deleted", "{post}");
    }
}

#[tokio::test]
async fn a_restart_mid_drain_loses_nothing_and_deletes_nothing_twice() {
    let app = queue_app(|s| s.delete.queue_lease_secs = 2).await;
    app.link_both(None).await;
    let calls = threads_deletes(&app).await;
    let (hooks, deliveries) = receiver(0).await;
    register(&app, &hooks, "delete", Some(SECRET)).await;
    let ids = threads_posts(&app, POSTS).await;
    let r = app.delete_post(json!({"bulk": ids, "queue": true})).await;
    assert_eq!(r.status(), 202);

    // Mid-drain: the second window under way.
    wait_for("the second window", 10, || calls.len() > LIMIT as usize).await;
    let app = app.restart().await;

    wait_for("every delete after the restart", 20, || {
        calls.len() >= POSTS
    })
    .await;
    wait_for("the webhooks", 10, || {
        let ids: HashSet<String> = deliveries
            .all()
            .iter()
            .map(|(_, r)| serde_json::from_slice::<Value>(&r.body).unwrap()["id"].to_string())
            .collect();
        ids.len() >= POSTS - LIMIT as usize
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = calls.all();
    assert_each_once(&all, POSTS);
    assert_within_quota(&all);
    // At least once per post, and a repeat keeps its hookId.
    let mut hook_ids: HashMap<String, HashSet<String>> = HashMap::new();
    for (_, r) in deliveries.all() {
        assert_signed(&r, SECRET);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        hook_ids
            .entry(v["id"].as_str().unwrap().to_owned())
            .or_default()
            .insert(v["hookId"].as_str().unwrap().to_owned());
    }
    assert_eq!(hook_ids.len(), POSTS - LIMIT as usize);
    assert!(hook_ids.values().all(|h| h.len() == 1), "{hook_ids:?}");
    for id in &ids {
        let (_, post) = app.get_post(id, None).await;
        assert_eq!(post["postIds"][0]["state"], "deleted", "{post}");
    }
}

/// The restart lands while the worker's deletes wait on Threads (answers take 300 ms). The
/// connections they use were opened by the bulk request, on an HTTP worker's runtime that the
/// server drops when it stops: before the fix, those calls failed after being sent ("dispatch
/// task is gone"), were taken for "maybe sent" and retried, so Threads got a second delete
/// (every run). Now every exchange runs on the gateway's runtime and finishes.
#[tokio::test]
async fn a_restart_while_queued_deletes_wait_on_the_network_sends_none_twice() {
    let app = queue_app(|s| s.delete.queue_lease_secs = 2).await;
    app.link_both(None).await;
    let calls = threads_deletes_answering_after(&app, Duration::from_millis(300)).await;
    let ids = threads_posts(&app, POSTS).await;
    let r = app.delete_post(json!({"bulk": ids, "queue": true})).await;
    assert_eq!(r.status(), 202);

    // The worker's first calls of the second window have arrived and wait for their answers.
    wait_for("the second window", 15, || calls.len() > LIMIT as usize).await;
    let app = app.restart().await;

    wait_for("every delete after the restart", 25, || {
        calls.len() >= POSTS
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let all = calls.all();
    assert_each_once(&all, POSTS);
    for id in &ids {
        let (_, post) = app.get_post(id, None).await;
        assert_eq!(post["postIds"][0]["state"], "deleted", "{post}");
    }
}

#[tokio::test]
async fn a_full_queue_answers_an_error_and_unsupported_platforms_are_never_queued() {
    let app = queue_app(|s| {
        s.threads.delete_limit = 1;
        s.threads.delete_window_secs = 3600;
        s.delete.queue_max_per_account = 2;
    })
    .await;
    app.link_both(None).await;
    let calls = threads_deletes(&app).await;
    let ids = threads_posts(&app, 4).await;
    let (status, r) = app
        .import(
            json!([{"post": "ig", "postIds": [{"platform": "instagram", "id": "ig1"}]}]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let ig = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let mut bulk = ids.clone();
    bulk.push(ig);
    let r = app.delete_post(json!({"bulk": bulk, "queue": true})).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["queuedCount"], 2, "{body}");
    let posts = body["posts"].as_array().unwrap();
    assert_eq!(posts[0]["status"], "success");
    assert_eq!(posts[1]["threads"]["status"], "queued");
    assert_eq!(posts[2]["threads"]["status"], "queued");
    assert_eq!(posts[3]["threads"]["status"], "error", "{}", posts[3]);
    assert_eq!(posts[3]["threads"]["code"], 903);
    assert!(posts[3]["threads"]["message"]
        .as_str()
        .unwrap()
        .contains("queue is full"));
    assert_eq!(posts[4]["instagram"]["status"], "error", "{}", posts[4]);
    assert_eq!(posts[4]["instagram"]["code"], 901);
    assert_eq!(calls.len(), 1);
}

#[tokio::test]
async fn without_queue_a_delete_answers_as_before_and_queues_nothing() {
    let app = queue_app(|s| {
        s.threads.delete_limit = 1;
        s.threads.delete_window_secs = 3600;
    })
    .await;
    app.link_both(None).await;
    let _calls = threads_deletes(&app).await;
    let ids = threads_posts(&app, 2).await;
    let r = app.delete_post(json!({"bulk": ids})).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body.get("queuedCount").is_none(), "{body}");
    assert_eq!(body["posts"][1]["threads"]["status"], "error");
    let (_, post) = app.get_post(&ids[1], None).await;
    assert_eq!(post["postIds"][0]["state"], "published", "{post}");
    assert!(post["postIds"][0].get("retryAt").is_none());
    // A non-boolean flag is refused.
    let r = app.delete_post(json!({"id": ids[1], "queue": "yes"})).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_later_delete_or_mark_manual_deleted_completes_a_queued_item_without_a_second_call() {
    let app = queue_app(|s| {
        s.threads.delete_limit = 1;
        s.threads.delete_window_secs = 2;
    })
    .await;
    app.link_both(None).await;
    let calls = threads_deletes(&app).await;
    let ids = threads_posts(&app, 3).await;
    let r = app.delete_post(json!({"bulk": ids, "queue": true})).await;
    assert_eq!(r.status(), 202);
    // markManualDeleted of a queued post (Threads says it is gone): the item is dropped.
    Mock::given(method("GET"))
        .and(path("/v1.0/900002"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Object does not exist", "type": "OAuthException", "code": 100, "error_subcode": 33}})))
        .mount(&app.threads)
        .await;
    let r = app
        .delete_post(json!({"id": ids[2], "markManualDeleted": true}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // A synchronous delete of the other once the window frees: the worker or it, never both.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let _ = app.delete_post(json!({"id": ids[1]})).await;
    // Done by it or, if its window was not free yet on a loaded machine, by the worker in the
    // next one: waited for, not assumed done after a fixed time.
    let waiting = std::time::Instant::now();
    while app.get_post(&ids[1], None).await.1["status"] != "deleted" {
        assert!(waiting.elapsed() < Duration::from_secs(30), "never deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = calls.all();
    let paths: Vec<&str> = all.iter().map(|(_, r)| r.url.path()).collect();
    assert_eq!(
        paths.iter().filter(|p| **p == "/v1.0/900001").count(),
        1,
        "{paths:?}"
    );
    assert_eq!(
        paths.iter().filter(|p| **p == "/v1.0/900002").count(),
        0,
        "{paths:?}"
    );
    for id in &ids[1..] {
        let (_, post) = app.get_post(id, None).await;
        assert!(post["postIds"][0].get("retryAt").is_none(), "{post}");
        assert_eq!(post["status"], "deleted", "{post}");
    }
}
