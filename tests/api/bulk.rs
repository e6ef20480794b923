//! bulk, deleteAllScheduled, markManualDeleted and request validation.

use crate::helpers::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

/// Imports `n` posts live on Threads (media ids base+i) and X (tweet ids base+i).
async fn import_many(app: &TestApp, n: usize, base: u64, profile_key: Option<&str>) -> Vec<String> {
    let posts: Vec<Value> = (0..n as u64)
        .map(|i| {
            json!({"post": format!("p{i}"), "postIds": [
                {"platform": "threads", "id": (base + i).to_string()},
                {"platform": "twitter", "id": (base + i).to_string()}
            ]})
        })
        .collect();
    let (status, r) = app.import(Value::Array(posts), profile_key).await;
    assert_eq!(status, 200, "{r}");
    r["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn mount_deletes(app: &TestApp, delay: Duration, expect: u64) {
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/v1\.0/\d+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true}))
                .set_delay(delay),
        )
        .expect(expect)
        .mount(&app.threads)
        .await;
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/2/tweets/\d+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"deleted": true}}))
                .set_delay(delay),
        )
        .expect(expect)
        .mount(&app.x)
        .await;
}

#[tokio::test]
async fn bulk_of_50_calls_each_network_once_per_post_in_order() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let ids = import_many(&app, 50, 5000, None).await;
    mount_deletes(&app, Duration::ZERO, 50).await;
    let r = app.delete_post(json!({"bulk": ids, "source": "npm"})).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "success");
    let posts = b["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 50);
    for (i, p) in posts.iter().enumerate() {
        assert_eq!(p["id"], ids[i].as_str(), "request order");
        assert_eq!(p["status"], "success");
        assert_eq!(p["code"], 200);
        assert_eq!(p["twitter"]["id"], (5000 + i).to_string());
    }
    // One call per post per network, each to a distinct id.
    let mut seen: Vec<String> = app
        .x
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 50);
}

#[tokio::test]
async fn mixed_bulk_answers_each_item_like_a_single_delete() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, pk) = app.create_profile("Foreign").await;
    let ids = import_many(&app, 2, 6000, None).await;
    let foreign = import_many(&app, 1, 6100, Some(&pk)).await;
    // ids[1] is deleted first.
    mount_deletes(&app, Duration::ZERO, 2).await;
    assert_eq!(app.delete_post(json!({"id": ids[1]})).await.status(), 200);

    let bulk = json!({"bulk": [ids[0], "UNKNOWNUNKNOWNUNKNOW", ids[1], foreign[0], ids[0], "bad"]});
    let r = app.delete_post(bulk).await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "error");
    let p = b["posts"].as_array().unwrap();
    assert_eq!(p.len(), 6);
    assert_eq!(p[0]["status"], "success");
    assert_eq!(p[0]["id"], ids[0].as_str());
    assert_eq!(p[1]["code"], 114);
    assert_eq!(p[1]["id"], "UNKNOWNUNKNOWNUNKNOW");
    assert_eq!(p[2]["code"], 383);
    assert_eq!(p[3]["code"], 114, "another profile's post reads as unknown");
    assert_eq!(
        p[4], p[0],
        "a duplicate id is deleted once and answered the same"
    );
    assert_eq!(p[5]["code"], 114);
    // The foreign post is untouched.
    let (_, post) = app.get_post(&foreign[0], Some(&pk)).await;
    assert_eq!(post["status"], "success");
}

#[tokio::test]
async fn bulk_runs_posts_concurrently() {
    let app = spawn_app_with(|s| {
        s.delete.bulk_concurrency = 25;
        s.x.delete_limit = 1000;
    })
    .await;
    app.link_both(None).await;
    let ids = import_many(&app, 100, 7000, None).await;
    mount_deletes(&app, Duration::from_millis(200), 100).await;
    let started = Instant::now();
    let r = app.delete_post(json!({"bulk": ids})).await;
    let elapsed = started.elapsed();
    assert_eq!(r.status(), 200);
    // Lower bound 4 × 200 ms; sequential would be 20 s. A generous bound for shared machines.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

/// A tiny HTTP server that answers every request after `delay` and records the largest number
/// of requests it held at once (wiremock's responders cannot observe concurrency).
/// The test account's identity when `head` is a `GET /v1.0/me` or `GET /2/users/me`.
fn identity_answer(head: &[u8]) -> Option<String> {
    let line = String::from_utf8_lossy(head);
    let target = line.lines().next()?.split(' ').nth(1)?;
    if line.starts_with("GET ") && target.starts_with(&format!("{THREADS_ME}?")) {
        Some(json!({ "id": THREADS_USER }).to_string())
    } else if line.starts_with("GET ") && target == X_ME {
        Some(json!({"data": { "id": X_USER, "username": "postgate_test" }}).to_string())
    } else {
        None
    }
}

async fn concurrency_probe(
    delay: Duration,
    body: &'static str,
) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let current = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let (c, m, t) = (current.clone(), max.clone(), total.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (c, m, t) = (c.clone(), m.clone(), t.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request at a time per connection (keep-alive).
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head: Vec<u8> = buf.drain(..end).collect();
                    // Linking's identity check is answered at once and not counted.
                    if let Some(me) = identity_answer(&head) {
                        let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}", me.len(), me);
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    let now = c.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                    t.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    c.fetch_sub(1, Ordering::SeqCst);
                    let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}", body.len(), body);
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, max, total)
}

#[tokio::test]
async fn per_network_in_flight_bound_holds() {
    let (x_url, x_max, x_total) =
        concurrency_probe(Duration::from_millis(50), r#"{"data":{"deleted":true}}"#).await;
    let (th_url, th_max, th_total) =
        concurrency_probe(Duration::from_millis(50), r#"{"success":true}"#).await;
    let app = spawn_app_with(|s| {
        s.delete.bulk_concurrency = 40;
        s.x.delete_limit = 1000;
        s.x.max_in_flight = 4;
        s.threads.max_in_flight = 6;
        s.x.base_url = x_url.clone();
        s.threads.base_url = format!("{th_url}/v1.0");
    })
    .await;
    app.link_both(None).await;
    let ids = import_many(&app, 60, 8000, None).await;
    let r = app.delete_post(json!({"bulk": ids})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(x_total.load(Ordering::SeqCst), 60);
    assert_eq!(th_total.load(Ordering::SeqCst), 60);
    let (xm, tm) = (x_max.load(Ordering::SeqCst), th_max.load(Ordering::SeqCst));
    assert!((2..=4).contains(&xm), "X in flight peaked at {xm}");
    assert!((2..=6).contains(&tm), "Threads in flight peaked at {tm}");
}

#[tokio::test]
async fn a_client_that_disconnects_does_not_stop_the_bulk() {
    let app = spawn_app_with(|s| s.delete.bulk_concurrency = 5).await;
    app.link_both(None).await;
    let ids = import_many(&app, 10, 9000, None).await;
    mount_deletes(&app, Duration::from_millis(300), 10).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let r = client
        .delete(format!("{}/api/post", app.address))
        .bearer_auth(API_KEY)
        .json(&json!({"bulk": ids}))
        .send()
        .await;
    assert!(r.is_err(), "the client gave up");
    // Every claimed post is finished and recorded anyway.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut done = 0;
        for id in &ids {
            if app.get_post(id, None).await.1["status"] == "deleted" {
                done += 1;
            }
        }
        if done == ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {done} of {} deleted",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn delete_all_scheduled_cancels_only_the_callers_pending_posts() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, pk) = app.create_profile("Neighbour").await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&app.threads)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&app.x)
        .await;
    let pending = json!([
        {"post": "s1", "status": "pending", "scheduleDate": "2099-01-01T00:00:00Z", "platforms": ["twitter"]},
        {"post": "s2", "status": "pending", "scheduleDate": "2099-01-02T00:00:00Z", "platforms": ["threads", "instagram"]}
    ]);
    let (_, mine) = app.import(pending.clone(), None).await;
    let (_, theirs) = app.import(pending, Some(&pk)).await;
    let published = app.published_post("9901", "9902", None).await;

    let r = app
        .delete_post(json!({"deleteAllScheduled": true, "id": published, "bulk": [published]}))
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "success");
    assert_eq!(b["count"], 2);
    let mut cancelled: Vec<String> = b["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    cancelled.sort();
    let mut expected: Vec<String> = mine["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(cancelled, expected);
    for id in &cancelled {
        assert_eq!(app.get_post(id, None).await.1["status"], "deleted");
    }
    // id/bulk were ignored: the published post is untouched; the neighbour's posts too.
    assert_eq!(app.get_post(&published, None).await.1["status"], "success");
    for p in theirs["posts"].as_array().unwrap() {
        assert_eq!(
            app.get_post(p["id"].as_str().unwrap(), Some(&pk)).await.1["status"],
            "pending"
        );
    }
    // Nothing left: a second call cancels none.
    let b: Value = app
        .delete_post(json!({"deleteAllScheduled": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["count"], 0);
}

#[tokio::test]
async fn mark_manual_deleted_checks_the_networks_first() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, r) = app
        .import(
            json!([{"post": "m", "postIds": [
                {"platform": "twitter", "id": "3301"},
                {"platform": "instagram", "id": "ig-1"}
            ]}]),
            None,
        )
        .await;
    let id = r["posts"][0]["id"].as_str().unwrap().to_owned();
    // Still live at X.
    let live = Mock::given(method("GET"))
        .and(path("/2/tweets/3301"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"id": "3301", "text": "m"}})),
        )
        .expect(1)
        .mount_as_scoped(&app.x)
        .await;
    let r = app
        .delete_post(json!({"id": id, "markManualDeleted": true}))
        .await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], 382);
    assert_eq!(b["markManualDeleted"], true);
    assert_eq!(b["id"], id.as_str());
    assert!(b["message"]
        .as_str()
        .unwrap()
        .starts_with("The post was not manually deleted at the social network."));
    assert_eq!(
        app.get_post(&id, None).await.1["status"],
        "success",
        "nothing recorded"
    );
    drop(live);
    // Gone at X now; Instagram cannot be checked and is trusted. No DELETE is ever sent.
    Mock::given(method("GET"))
        .and(path("/2/tweets/3301"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"errors": [{"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}]})))
        .expect(1)
        .mount(&app.x)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&app.x)
        .await;
    let r = app
        .delete_post(json!({"id": id, "markManualDeleted": true}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "success", "id": id})
    );
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "deleted");
    assert!(p["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["state"] == "manualDeleted"));
    // A normal delete now says it is already deleted.
    assert_eq!(
        app.delete_post(json!({"id": id}))
            .await
            .json::<Value>()
            .await
            .unwrap()["code"],
        383
    );
}

#[tokio::test]
async fn mark_manual_deleted_closes_out_instagram_after_a_delete() {
    let app = spawn_app().await;
    app.link_both(None).await;
    threads_delete_ok(&app.threads, "3401", 1).await;
    let (_, r) = app
        .import(json!([{"post": "ig", "postIds": [{"platform": "threads", "id": "3401"}, {"platform": "instagram", "id": "ig-2"}]}]), None)
        .await;
    let id = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let b: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["instagram"]["code"], 901);
    // Threads is already deleted (no check needed); Instagram is trusted.
    let r = app
        .delete_post(json!({"bulk": [id], "markManualDeleted": true}))
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["posts"][0], json!({"status": "success", "id": id}));
    assert_eq!(app.get_post(&id, None).await.1["status"], "deleted");
}

#[tokio::test]
async fn malformed_delete_requests_name_the_field() {
    let app = spawn_app_with(|s| s.delete.bulk_max_ids = 3).await;
    let cases: Vec<(&str, &str)> = vec![
        ("", "empty"),
        ("{}", "'id'"),
        ("[1,2]", "JSON object"),
        ("{\"bulk\": []}", "'bulk'"),
        ("{\"bulk\": [\"a\", 7]}", "'bulk[1]'"),
        ("{\"bulk\": \"a\"}", "'bulk'"),
        ("{\"id\": 123}", "'id'"),
        ("{\"id\": \"a\", \"bulk\": [\"b\"]}", "either"),
        ("{\"deleteAllScheduled\": \"yes\"}", "'deleteAllScheduled'"),
        (
            "{\"id\": \"a\", \"markManualDeleted\": 1}",
            "'markManualDeleted'",
        ),
        ("{\"id\": ", "valid JSON"),
        ("{\"bulk\": [\"a\",\"b\",\"c\",\"d\"]}", "at most 3"),
    ];
    for (body, needle) in cases {
        let r = app
            .request(reqwest::Method::DELETE, "/api/post", None)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["status"], "error");
        assert!(
            b["message"].as_str().unwrap().contains(needle),
            "{body}: {b}"
        );
    }
}

#[tokio::test]
async fn delete_all_scheduled_racing_the_scheduler_never_half_cancels_or_publishes_a_cancelled_post(
) {
    let app = spawn_app_with(|s| s.scheduler.tick_ms = 20).await;
    app.link_both(None).await;
    // Publishing answers, any number of times (texts tell the posts apart).
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "c1"})))
        .mount(&app.threads)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m1"})))
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/m1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"permalink": "https://www.threads.net/@t/post/x"})),
        )
        .mount(&app.threads)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"id": "77", "text": "x"}})),
        )
        .mount(&app.x)
        .await;
    // 30 posts falling due one every 10 ms; deleteAllScheduled lands in the middle.
    let start = chrono::Utc::now() + chrono::Duration::milliseconds(300);
    let posts: Vec<Value> = (0..30)
        .map(|i| {
            let due = start + chrono::Duration::milliseconds(10 * i);
            json!({"post": format!("race-{i}"), "status": "pending", "platforms": ["threads", "twitter"],
                   "scheduleDate": due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
        })
        .collect();
    let (status, r) = app.import(Value::Array(posts), None).await;
    assert_eq!(status, 200, "{r}");
    let ids: Vec<String> = r["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let wait = (start + chrono::Duration::milliseconds(150) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    let b: Value = app
        .delete_post(json!({"deleteAllScheduled": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "success");
    let cancelled: Vec<String> = b["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(b["count"], cancelled.len());
    eprintln!("race: {} of {} cancelled", cancelled.len(), ids.len());

    // Give the scheduler time to (wrongly) publish anything it still could.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let x_texts: Vec<String> = app
        .x
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let threads_texts: Vec<String> = app
        .threads
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/threads"))
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let text = format!("race-{i}");
        let (_, p) = app.get_post(id, None).await;
        let on_x = x_texts.iter().filter(|t| **t == text).count();
        let on_threads = threads_texts
            .iter()
            .filter(|t| {
                t.contains(&format!("text={text}&")) || t.ends_with(&format!("text={text}"))
            })
            .count();
        if cancelled.contains(id) {
            assert_eq!(p["status"], "deleted", "{p}");
            assert_eq!(
                (on_x, on_threads),
                (0, 0),
                "cancelled post {text} was published"
            );
            assert!(p["postIds"].as_array().unwrap().is_empty(), "{p}");
        } else {
            // Not cancelled: it was published, whole, exactly once.
            assert_eq!(p["status"], "success", "{p}");
            assert_eq!((on_x, on_threads), (1, 1), "{text}");
        }
    }
}
