//! Bounded work and time (issue #10 items 11–15, 18–20): clamped network hints, quota 0
//! honouring a network's block, concurrent manual bulks, scheduler batches and shutdown,
//! detached deletes at shutdown, history filters, paged profile scans, the SDK's paths.

use crate::helpers::*;
use chrono::{Duration as Days, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

fn iso(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn body(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.expect("a complete answer");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

/// The code of the one platform error of a single delete's answer.
fn first_error_code(b: &Value) -> u64 {
    b["errors"][0]["code"].as_u64().unwrap_or(0)
}

async fn threads_requests(app: &TestApp, method_name: &str, path_prefix: &str) -> usize {
    app.threads
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == method_name && r.url.path().starts_with(path_prefix))
        .count()
}

// ---- #10.11: network hints at the type limits are clamped, never a panic ----

#[tokio::test]
async fn a_retry_after_at_the_i64_limit_is_clamped_to_seven_days() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "9100").await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/9100"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "9223372036854775807")
                .set_body_json(json!({"error": {"message": "slow down", "code": 4}})),
        )
        .expect(1)
        .mount(&app.threads)
        .await;
    let (status, b) = body(app.delete_post(json!({ "id": id })).await).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(first_error_code(&b), 903, "{b}");
    assert_eq!(b["threads"]["retryAfter"], 7 * 24 * 3600, "{b}");
    // The post is untouched and still deletable later.
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success", "{p}");
}

#[tokio::test]
async fn x_rate_limit_resets_at_the_i64_limits_are_clamped() {
    for (reset, expect_max) in [
        (i64::MAX.to_string(), 7 * 24 * 3600),
        (i64::MIN.to_string(), 1),
        ("99999999999999999999999".to_string(), 900), // not an i64: X's default window
    ] {
        let app = spawn_app().await;
        app.link_both(None).await;
        let id = app.single_platform_post("twitter", "4242").await;
        Mock::given(method("DELETE"))
            .and(path("/2/tweets/4242"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("x-rate-limit-reset", reset.as_str())
                    .set_body_json(json!({"title": "Too Many Requests"})),
            )
            .expect(1)
            .mount(&app.x)
            .await;
        let (status, b) = body(app.delete_post(json!({ "id": id })).await).await;
        assert_eq!(status, 400, "{reset}: {b}");
        assert_eq!(first_error_code(&b), 903, "{reset}: {b}");
        let wait = b["twitter"]["retryAfter"].as_u64().unwrap();
        assert!(wait >= 1 && wait <= expect_max, "{reset}: {b}");
    }
}

// ---- #10.15: quota switched off still honours the network's own block ----

#[tokio::test]
async fn delete_limit_zero_still_honours_a_network_429_block() {
    let app = spawn_app_with(|s| s.threads.delete_limit = 0).await;
    app.link_both(None).await;
    let first = app.single_platform_post("threads", "7001").await;
    let second = app.single_platform_post("threads", "7002").await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/7001"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "60")
                .set_body_json(json!({"error": {"message": "rate limited", "code": 4}})),
        )
        .expect(1)
        .mount(&app.threads)
        .await;
    // The network must not be called for the second post while the block lasts.
    Mock::given(method("DELETE"))
        .and(path("/v1.0/7002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(0)
        .mount(&app.threads)
        .await;
    let (_, b) = body(app.delete_post(json!({ "id": first })).await).await;
    assert_eq!(first_error_code(&b), 903, "{b}");
    let (status, b) = body(app.delete_post(json!({ "id": second })).await).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(first_error_code(&b), 903, "{b}");
    let wait = b["threads"]["retryAfter"].as_u64().unwrap();
    assert!((1..=60).contains(&wait), "{b}");
    let (_, p) = app.get_post(&second, None).await;
    assert_eq!(p["status"], "success", "untouched: {p}");
}

// ---- #10.13: bulk markManualDeleted runs concurrently ----

#[tokio::test]
async fn bulk_mark_manual_deleted_checks_ids_concurrently() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            app.single_platform_post("threads", &(8100 + i).to_string())
                .await,
        );
    }
    // Every read answers "still there" after 200 ms.
    Mock::given(method("GET"))
        .and(path_regex(r"^/v1\.0/81\d\d$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "8100"}))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(10)
        .mount(&app.threads)
        .await;
    let started = Instant::now();
    let (status, b) = body(
        app.delete_post(json!({"bulk": ids, "markManualDeleted": true}))
            .await,
    )
    .await;
    let took = started.elapsed();
    assert_eq!(status, 400, "{b}");
    let posts = b["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 10);
    assert!(posts.iter().all(|p| p["code"] == 382), "{b}");
    assert!(
        took < Duration::from_secs(1),
        "10 reads of 200 ms took {took:?}: not concurrent"
    );
}

// ---- #10.14: bounded scheduler batches, shutdown within the grace period ----

#[tokio::test]
async fn scheduler_takes_a_bounded_batch_and_shutdown_cuts_a_hanging_backlog_off() {
    let app = spawn_app_with(|s| {
        s.scheduler.tick_ms = 20;
        s.scheduler.batch_size = 2;
        s.server.shutdown_grace_secs = 1;
        // Publishing may take a minute per post: only the grace period bounds the stop.
        s.delete.deadline_ms = 60_000;
        s.threads.timeout_ms = 60_000;
    })
    .await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "c1"}))
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&app.threads)
        .await;
    let past = iso(Utc::now() - Days::minutes(5));
    let posts: Vec<Value> = (0..6)
        .map(|i| json!({"post": format!("backlog-{i}"), "status": "pending", "platforms": ["threads"], "scheduleDate": past}))
        .collect();
    let (status, r) = app.import(Value::Array(posts), None).await;
    assert_eq!(status, 200, "{r}");
    let containers = format!("/v1.0/{THREADS_USER}/threads");
    let waiting = Instant::now();
    while threads_requests(&app, "POST", &containers).await < 2
        && waiting.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Many ticks' worth of time: the hanging tick must not have taken on more posts.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        threads_requests(&app, "POST", &containers).await,
        2,
        "one tick takes at most scheduler.batch_size posts"
    );
    let started = Instant::now();
    app.stop().await;
    let took = started.elapsed();
    // The grace period plus slack for a loaded machine; without the bound it is a minute.
    assert!(
        took < Duration::from_secs(4),
        "stop took {took:?} with a 1 s grace period"
    );
}

// ---- #10.18: shutdown waits for a detached delete ----

#[tokio::test]
async fn shutdown_lets_a_detached_delete_finish_and_record() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "6601").await;
    threads_delete_ok_after(&app.threads, "6601", 1, Duration::from_millis(800)).await;
    // The client gives up long before the network answers.
    let gave_up = app
        .request(reqwest::Method::DELETE, "/api/post", None)
        .json(&json!({ "id": id }))
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(gave_up.is_err());
    let threads = app.threads.clone();
    let app = app.restart().await;
    // The delete ran once and its outcome was recorded before the store closed.
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "deleted", "{p}");
    assert_eq!(threads_requests(&app, "DELETE", "/v1.0/6601").await, 1);
    threads.verify().await;
}

// ---- #10.19: history ----

#[tokio::test]
async fn history_last_days_counts_from_the_publish_date_and_a_range_overrides_it() {
    let app = spawn_app().await;
    let old = iso(Utc::now() - Days::days(40));
    let recent = iso(Utc::now() - Days::days(5));
    let (status, r) = app
        .import(
            json!([
                {"post": "old-now", "created": old, "postIds": [{"platform": "threads", "id": "5001"}]},
                {"post": "old-scheduled", "created": old, "type": "scheduled", "scheduleDate": recent,
                 "postIds": [{"platform": "threads", "id": "5002"}]}
            ]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let get = |q: &'static str| {
        let app = &app;
        async move {
            body(
                app.request(reqwest::Method::GET, &format!("/api/history{q}"), None)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let texts = |b: &Value| -> Vec<String> {
        b["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["post"].as_str().unwrap().to_owned())
            .collect()
    };
    // Default lastDays=30: the scheduled post published 5 days ago is in, the other is not.
    let (status, b) = get("").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(texts(&b), vec!["old-scheduled"], "{b}");
    // A range (zoneless, read as UTC) wins over lastDays.
    let start = (Utc::now() - Days::days(45))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let q: &'static str = Box::leak(format!("?lastDays=1&startDate={start}").into_boxed_str());
    let (status, b) = get(q).await;
    assert_eq!(status, 200, "{b}");
    let mut got = texts(&b);
    got.sort();
    assert_eq!(got, vec!["old-now", "old-scheduled"], "{b}");
    // A bare date as endDate covers that whole day.
    let end = (Utc::now() - Days::days(40)).format("%Y-%m-%d").to_string();
    let q: &'static str = Box::leak(format!("?startDate={start}&endDate={end}").into_boxed_str());
    let (status, b) = get(q).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(texts(&b), vec!["old-now"], "{b}");
    // Ayrshare's other statuses are accepted filters that match nothing here.
    for q in [
        "?status=awaiting%20approval",
        "?status=awaiting+approval",
        "?status=paused",
    ] {
        let (status, b) = get(q).await;
        assert_eq!(status, 200, "{q}: {b}");
        assert_eq!(b["history"], json!([]), "{q}: {b}");
    }
    // No network was asked anything.
    assert!(app.threads.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn history_last_days_past_the_calendar_is_909_not_a_dropped_connection() {
    let app = spawn_app().await;
    for q in [
        "lastDays=100000000",
        "lastDays=9223372036854775807",
        "lastDays=99999999999999999999",
        "lastRecords=18446744073709551616",
        "startDate=99999-01-01T00:00:00Z",
    ] {
        let (status, b) = body(
            app.request(reqwest::Method::GET, &format!("/api/history?{q}"), None)
                .send()
                .await
                .expect("the request completes"),
        )
        .await;
        assert_eq!(status, 400, "{q}: {b}");
        assert_eq!(b["status"], "error", "{q}: {b}");
        assert_eq!(b["code"], 909, "{q}: {b}");
        let name = q.split('=').next().unwrap();
        assert!(b["message"].as_str().unwrap().contains(name), "{q}: {b}");
    }
}

// ---- #10.12: paged scans over large profiles ----

#[tokio::test]
async fn history_and_delete_all_scheduled_walk_a_profile_larger_than_a_page() {
    let app = spawn_app().await;
    let future = iso(Utc::now() + Days::days(3));
    // 300 scheduled posts (more than one 256-post page), then 10 immediate ones on top.
    let scheduled: Vec<Value> = (0..300)
        .map(|i| json!({"post": format!("s{i}"), "status": "pending", "platforms": ["threads"], "scheduleDate": future}))
        .collect();
    let (status, r) = app.import(Value::Array(scheduled), None).await;
    assert_eq!(status, 200, "{r}");
    let now_posts: Vec<Value> = (0..10)
        .map(|i| json!({"post": format!("n{i}"), "postIds": [{"platform": "threads", "id": (3000 + i).to_string()}]}))
        .collect();
    let (status, r) = app.import(Value::Array(now_posts), None).await;
    assert_eq!(status, 200, "{r}");
    let (status, b) = body(
        app.request(
            reqwest::Method::GET,
            "/api/history?limit=1000&status=pending",
            None,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(b["history"].as_array().unwrap().len(), 300);
    let (status, b) = body(app.delete_post(json!({"deleteAllScheduled": true})).await).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["count"], 300, "{b}");
    let (_, b) = body(
        app.request(reqwest::Method::GET, "/api/history?limit=1000", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        b["history"].as_array().unwrap().len(),
        10,
        "only the live posts remain"
    );
    assert!(app.threads.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn text_longer_than_the_cap_is_refused_at_publish_and_import() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let long = "a".repeat(63_207);
    let (status, b) = body(
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"post": long, "platforms": ["facebook"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 921, "{b}");
    let (status, b) = app
        .import(
            json!([{"post": long, "postIds": [{"platform": "threads", "id": "1"}]}]),
            None,
        )
        .await;
    assert!(status == 400 || b["posts"][0]["code"] == 913, "{b}");
    assert!(b.to_string().contains("63206"), "{b}");
    assert!(app.threads.received_requests().await.unwrap().is_empty());
    assert!(app.x.received_requests().await.unwrap().is_empty());
}

// ---- #10.20: the Python SDK's deleteProfile path ----

#[tokio::test]
async fn delete_profile_answers_on_the_python_sdk_path() {
    let app = spawn_app().await;
    let (_, key) = app.create_profile("To delete").await;
    let (status, b) = body(
        app.request(
            reqwest::Method::DELETE,
            "/api/profiles/delete-profile",
            None,
        )
        .json(&json!({"profileKey": key, "source": "pypi"}))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    let (status, b) = body(
        app.request(reqwest::Method::GET, "/api/user", Some(&key))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_ne!(status, 200, "the deleted profile key no longer works: {b}");
}
