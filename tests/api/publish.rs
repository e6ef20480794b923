//! POST /api/post (publish now, schedule), the scheduler, GET /api/history.

use crate::helpers::*;
use chrono::{Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CONTAINER: &str = "17890000000000001";
const MEDIA: &str = "18020000000000001";
const TWEET: &str = "1445880548472328192";

fn permalink(media: &str) -> String {
    format!("https://www.threads.net/@postgate_test/post/{media}")
}

/// Mounts the Threads publish sequence (container → threads_publish → permalink read), each
/// step expected `times` times.
async fn mount_threads_publish(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": CONTAINER})))
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .and(query_param("creation_id", CONTAINER))
        .and(query_param("access_token", THREADS_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": MEDIA})))
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{MEDIA}")))
        .and(query_param("fields", "permalink"))
        .and(query_param("access_token", THREADS_TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": MEDIA, "permalink": permalink(MEDIA)})),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// Mounts a successful `POST /2/tweets`, expected `times` times.
async fn mount_x_publish(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"id": TWEET, "text": "…"}})),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// Fails the test if `server` receives anything at all.
async fn expect_no_call(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

async fn publish(app: &TestApp, body: Value, profile_key: Option<&str>) -> (u16, Value) {
    let r = app
        .request(reqwest::Method::POST, "/api/post", profile_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    (status, r.json().await.unwrap())
}

async fn get(app: &TestApp, p: &str, profile_key: Option<&str>) -> (u16, Value) {
    let r = app
        .request(reqwest::Method::GET, p, profile_key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn form(req: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8(req.body.clone()).unwrap();
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn in_secs(secs: i64) -> String {
    (Utc::now() + ChronoDuration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Restarts `app` with post `id`'s `scheduleDate` moved a minute into the past while the
/// gateway is down: the post comes due without a wall-clock margin a loaded machine could
/// miss.
async fn restart_with_post_due(app: TestApp, id: &str) -> TestApp {
    let id = postgate::domain::PostId::parse(id).unwrap();
    app.restart_after(|settings| async move {
        use postgate::store::Store;
        let store = open_sled(&settings.store.path).await;
        let mut post = store.get_post(&id).await.unwrap().unwrap();
        post.schedule_date = Some(Utc::now() - ChronoDuration::minutes(1));
        store.update_post(&post).await.unwrap();
        store.flush().await.unwrap();
    })
    .await
}

/// Polls `GET /api/post/{id}` until its status is `want` (up to `secs`).
async fn wait_for_status(app: &TestApp, id: &str, want: &str, secs: u64) -> Value {
    let start = Instant::now();
    loop {
        let (_, p) = app.get_post(id, None).await;
        if p["status"] == want {
            return p;
        }
        if start.elapsed() > Duration::from_secs(secs) {
            panic!("post {id} never reached status {want}: {p}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ids(history: &Value) -> Vec<String> {
    history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn publishes_to_both_networks_then_delete_calls_exactly_those_ids() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    mount_x_publish(&app.x, 1).await;

    let (status, b) = publish(
        &app,
        json!({"post": "Hello from postgate", "platforms": ["twitter", "threads"], "source": "npm"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 20);
    assert_eq!(b["status"], "success");
    assert_eq!(b["errors"], json!([]));
    assert_eq!(b["post"], "Hello from postgate");
    assert!(b["refId"].as_str().is_some_and(|r| !r.is_empty()));
    // Sorted by platform name, each with its network id and URL.
    assert_eq!(
        b["postIds"],
        json!([
            {"status": "success", "id": MEDIA, "platform": "threads", "postUrl": permalink(MEDIA)},
            {"status": "success", "id": TWEET, "platform": "twitter",
             "postUrl": format!("https://twitter.com/postgate_test/status/{TWEET}")}
        ])
    );

    // Threads: the TEXT container with the linked token, then its publication, then the permalink.
    let calls = app.threads.received_requests().await.unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].method.as_str(), "POST");
    let f = form(&calls[0]);
    for (k, v) in [
        ("media_type", "TEXT"),
        ("text", "Hello from postgate"),
        ("access_token", THREADS_TOKEN),
    ] {
        assert!(
            f.contains(&(k.to_owned(), v.to_owned())),
            "{k}={v} missing in {f:?}"
        );
    }
    assert_eq!(
        calls[1].url.path(),
        format!("/v1.0/{THREADS_USER}/threads_publish")
    );
    // X: JSON text, signed with the settings' consumer and the linked account's token.
    let calls = app.x.received_requests().await.unwrap();
    assert_eq!(calls.len(), 1);
    let sent: Value = serde_json::from_slice(&calls[0].body).unwrap();
    assert_eq!(sent, json!({"text": "Hello from postgate"}));
    verify_oauth1(
        &calls[0],
        X_CONSUMER_KEY,
        X_CONSUMER_SECRET,
        X_TOKEN,
        X_TOKEN_SECRET,
    )
    .unwrap();

    // Stored durably with the network ids.
    let (s, p) = app.get_post(&id, None).await;
    assert_eq!(s, 200);
    assert_eq!(p["status"], "success");
    assert_eq!(p["type"], "now");
    assert!(p["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["state"] == "published"));

    // Deleting it calls DELETE with exactly the published media id and tweet id.
    threads_delete_ok(&app.threads, MEDIA, 1).await;
    x_delete_ok(&app.x, TWEET, 1).await;
    let r = app.delete_post(json!({"id": id})).await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["threads"]["id"], MEDIA);
    assert_eq!(d["twitter"]["id"], TWEET);
}

#[tokio::test]
async fn one_network_failing_is_a_partial_answer_and_delete_calls_only_the_live_one() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "title": "Forbidden", "status": 403,
            "detail": "You are not allowed to create a Tweet with duplicate content."
        })))
        .expect(1)
        .mount(&app.x)
        .await;

    let (status, b) = publish(
        &app,
        json!({"post": "again", "platforms": ["threads", "twitter"]}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["status"], "error");
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(
        b["postIds"],
        json!([{"status": "success", "id": MEDIA, "platform": "threads", "postUrl": permalink(MEDIA)}])
    );
    let errors = b["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["action"], "post");
    assert_eq!(errors[0]["status"], "error");
    assert_eq!(errors[0]["platform"], "twitter");
    // X's duplicate-content refusal is Ayrshare's 110 (issue #10 item 21).
    assert_eq!(errors[0]["code"], 110);
    assert_eq!(errors[0]["message"], "Status is a duplicate.");

    // Stored exactly as it happened: one live platform.
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "error");
    assert_eq!(p["errors"][0]["platform"], "twitter");
    assert_eq!(p["postIds"].as_array().unwrap().len(), 1);

    // A later delete calls only Threads; X gets no DELETE.
    threads_delete_ok(&app.threads, MEDIA, 1).await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&app.x)
        .await;
    let r = app.delete_post(json!({"id": id})).await;
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["threads"]["id"], MEDIA);
}

#[tokio::test]
async fn a_network_that_does_not_answer_leaves_the_platform_possibly_live() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    // X answers after postgate's X timeout (2.5 s in tests): the tweet may exist.
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": TWEET}}))
                .set_delay(Duration::from_secs(6)),
        )
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, b) = publish(
        &app,
        json!({"post": "slow", "platforms": ["threads", "twitter"]}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["errors"][0]["platform"], "twitter");
    // 930: publish outcome unknown (the request reached X; its answer never came).
    assert_eq!(b["errors"][0]["code"], 930);
    assert_eq!(b["errors"][0]["outcomeUnknown"], true);
    assert!(b["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("may be live"));
    // The delete does not pretend X is clean.
    threads_delete_ok(&app.threads, MEDIA, 1).await;
    let d: Value = app
        .delete_post(json!({"id": b["id"]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "error", "{d}");
    assert_eq!(d["threads"]["status"], "success");
    assert_eq!(d["twitter"]["status"], "error");
}

#[tokio::test]
async fn unsupported_unlinked_and_credential_less_platforms_fail_alone() {
    let app = spawn_app_with(|s| {
        s.x.consumer_key = String::new();
        s.x.consumer_secret = String::new();
    })
    .await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    mount_x_publish(&app.x, 1).await;

    // No X credentials anywhere → 419 for X; Instagram has no adapter → 902; Threads publishes.
    let (status, b) = publish(
        &app,
        json!({"post": "mixed", "platforms": ["instagram", "twitter", "threads"]}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["postIds"][0]["platform"], "threads");
    let errors = b["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["platform"], "instagram");
    assert_eq!(errors[0]["code"], 902);
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("not supported by this gateway"));
    assert_eq!(errors[1]["platform"], "twitter");
    assert_eq!(errors[1]["code"], 419);
    assert_eq!(errors[1]["error"], "x_credentials_required");

    // With the BYO headers, X publishes, signed with those consumer credentials.
    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .header("X-Twitter-OAuth1-Api-Key", "byo-key")
        .header("X-Twitter-OAuth1-Api-Secret", "byo-secret")
        .json(&json!({"post": "byo", "platforms": ["twitter"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let calls = app.x.received_requests().await.unwrap();
    assert_eq!(calls.len(), 1);
    verify_oauth1(&calls[0], "byo-key", "byo-secret", X_TOKEN, X_TOKEN_SECRET).unwrap();

    // A profile with nothing linked: 156, answered inside the Profile-Key wrapper.
    let (_, pk) = app.create_profile("Empty").await;
    let (status, b) = publish(
        &app,
        json!({"post": "hi", "platforms": ["threads"]}),
        Some(&pk),
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["status"], "error");
    assert_eq!(b["posts"][0]["errors"][0]["code"], 156);
    assert_eq!(b["posts"][0]["errors"][0]["platform"], "threads");
    assert_eq!(b["posts"][0]["profileTitle"], "Empty");
}

#[tokio::test]
async fn profile_key_wraps_the_answer_in_posts() {
    let app = spawn_app().await;
    let (ref_id, pk) = app.create_profile("Brand").await;
    app.link_both(Some(&pk)).await;
    mount_threads_publish(&app.threads, 1).await;
    mount_x_publish(&app.x, 1).await;
    let (status, b) = publish(
        &app,
        json!({"post": "for the brand", "platforms": ["threads", "twitter"]}),
        Some(&pk),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "success");
    let posts = b["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(p["status"], "success");
    assert_eq!(p["profileTitle"], "Brand");
    assert_eq!(p["refId"], ref_id.as_str());
    assert_eq!(p["postIds"].as_array().unwrap().len(), 2);
    let id = p["id"].as_str().unwrap();
    // The post belongs to that profile only.
    assert_eq!(app.get_post(id, Some(&pk)).await.0, 200);
    assert_eq!(app.get_post(id, None).await.0, 404);
}

#[tokio::test]
async fn validation_errors_name_their_field_and_call_nothing() {
    let app = spawn_app().await;
    app.link_both(None).await;
    expect_no_call(&app.threads).await;
    expect_no_call(&app.x).await;
    let cases: Vec<(Value, u32, &str)> = vec![
        (json!({"platforms": ["threads"]}), 909, "'post'"),
        (json!({"post": "", "platforms": ["threads"]}), 921, "'post'"),
        (
            json!({"post": "   ", "platforms": ["threads"]}),
            921,
            "'post'",
        ),
        (
            json!({"post": "x".repeat(281), "platforms": ["twitter"]}),
            921,
            "X/Twitter",
        ),
        // 141 CJK characters weigh 282 on X.
        (
            json!({"post": "日".repeat(141), "platforms": ["threads", "twitter"]}),
            921,
            "limit is 280",
        ),
        (
            json!({"post": "y".repeat(501), "platforms": ["threads"]}),
            921,
            "limit is 500",
        ),
        (
            json!({"post": "hi", "platforms": ["threads", "myspace"]}),
            909,
            "\"myspace\"",
        ),
        (json!({"post": "hi", "platforms": []}), 909, "'platforms'"),
        (json!({"post": "hi"}), 909, "'platforms'"),
        (
            json!({"post": "hi", "platforms": "threads"}),
            909,
            "platforms",
        ),
        (
            json!({"post": "hi", "platforms": ["threads"], "scheduleDate": "next tuesday"}),
            909,
            "'scheduleDate'",
        ),
        (
            json!({"post": "hi", "platforms": ["threads"], "scheduleDate": 12}),
            909,
            "'scheduleDate'",
        ),
    ];
    for (body, code, needle) in cases {
        let (status, b) = publish(&app, body.clone(), None).await;
        assert_eq!(status, 400, "{body} → {b}");
        assert_eq!(b["status"], "error", "{b}");
        assert_eq!(b["code"], code, "{body} → {b}");
        assert!(
            b["message"].as_str().unwrap().contains(needle),
            "{body} → {b} should mention {needle}"
        );
    }
    // Not JSON at all.
    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 909);
    // 280 weighted characters, thanks to a long URL counting 23, pass validation (checked with
    // a scheduled post, so no network is called).
    let text = format!(
        "{} https://example.com/{}",
        "z".repeat(256),
        "p".repeat(100)
    );
    let (status, b) = publish(
        &app,
        json!({"post": text, "platforms": ["twitter"], "scheduleDate": in_secs(3600)}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "scheduled");
}

#[tokio::test]
async fn a_schedule_date_in_the_past_publishes_now() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    let (status, b) = publish(
        &app,
        json!({"post": "late", "platforms": ["threads"], "scheduleDate": "2020-01-01T00:00:00Z"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "success");
    assert_eq!(b["postIds"][0]["id"], MEDIA);
}

#[tokio::test]
async fn a_scheduled_post_is_published_by_the_scheduler_when_due() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    mount_x_publish(&app.x, 1).await;
    let due = in_secs(2);
    let (status, b) = publish(
        &app,
        json!({"post": "later", "platforms": ["threads", "twitter"], "scheduleDate": due}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "scheduled");
    assert_eq!(b["scheduleDate"], due.as_str());
    assert_eq!(b["errors"], json!([]));
    assert_eq!(b["post"], "later");
    assert!(b["refId"].is_string());
    let id = b["id"].as_str().unwrap().to_owned();
    // Nothing sent yet.
    assert!(app.threads.received_requests().await.unwrap().is_empty());
    assert!(app.x.received_requests().await.unwrap().is_empty());
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "pending");
    assert_eq!(p["type"], "scheduled");

    let p = wait_for_status(&app, &id, "success", 8).await;
    let post_ids = p["postIds"].as_array().unwrap();
    assert_eq!(post_ids.len(), 2);
    assert_eq!(post_ids[0]["id"], MEDIA);
    assert_eq!(post_ids[1]["id"], TWEET);
    // The scheduler signed X with the settings' consumer credentials.
    let calls = app.x.received_requests().await.unwrap();
    verify_oauth1(
        &calls[0],
        X_CONSUMER_KEY,
        X_CONSUMER_SECRET,
        X_TOKEN,
        X_TOKEN_SECRET,
    )
    .unwrap();
    // A few more ticks publish nothing again (expect(1) on the mocks).
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn a_scheduled_post_deleted_before_it_is_due_is_never_published() {
    let app = spawn_app().await;
    app.link_both(None).await;
    expect_no_call(&app.threads).await;
    expect_no_call(&app.x).await;
    let (status, b) = publish(
        &app,
        json!({"post": "never", "platforms": ["threads", "twitter"], "scheduleDate": in_secs(3600)}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "scheduled", "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let r = app.delete_post(json!({"id": id})).await;
    assert_eq!(r.status(), 200);
    // Then its date passes (moved into the past in the store while the gateway is down, so
    // no wall-clock margin decides whether the delete came first): ticks come and go.
    let app = restart_with_post_due(app, &id).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "deleted");
}

#[tokio::test]
async fn a_scheduled_post_survives_a_restart_and_is_published_once() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    mount_x_publish(&app.x, 1).await;
    let (status, b) = publish(
        &app,
        json!({"post": "after restart", "platforms": ["threads", "twitter"], "scheduleDate": in_secs(3)}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    let app = app.restart().await;
    let p = wait_for_status(&app, &id, "success", 10).await;
    assert_eq!(p["postIds"].as_array().unwrap().len(), 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn a_post_due_while_the_gateway_was_down_is_published_at_start_up() {
    // A scheduler that ticks only at start-up stands in for a gateway that is down.
    let app = spawn_app_with(|s| s.scheduler.tick_ms = 600_000).await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    let (status, b) = publish(
        &app,
        json!({"post": "catch up", "platforms": ["threads"], "scheduleDate": in_secs(3600)}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "scheduled", "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    assert!(app.threads.received_requests().await.unwrap().is_empty());
    // While the gateway is down, the post comes due (its date moved into the past in the
    // store: no wall-clock margin that a loaded machine could miss).
    let app = restart_with_post_due(app, &id).await;
    wait_for_status(&app, &id, "success", 30).await;
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_publishes_once() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, pk) = app.create_profile("Other").await;
    app.link_both(Some(&pk)).await;
    // k1 once for the primary profile, k2 once (two concurrent requests), k1 once for "Other".
    mount_threads_publish(&app.threads, 3).await;

    let body = json!({"post": "once", "platforms": ["threads"], "idempotencyKey": "k1"});
    let (s1, a1) = publish(&app, body.clone(), None).await;
    assert_eq!(s1, 200, "{a1}");
    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["idempotent-replayed"], "true");
    let a2: Value = r.json().await.unwrap();
    assert_eq!(a1, a2);
    // Same key, another body: still the first answer.
    let (_, a3) = publish(
        &app,
        json!({"post": "different", "platforms": ["threads"], "idempotencyKey": "k1"}),
        None,
    )
    .await;
    assert_eq!(a1, a3);

    // Two at once with one key: one publish, one answer.
    let body = json!({"post": "race", "platforms": ["threads"], "idempotencyKey": "k2"});
    let (x, y) = tokio::join!(
        publish(&app, body.clone(), None),
        publish(&app, body.clone(), None)
    );
    assert_eq!(x, y);
    assert_ne!(x.1["id"], a1["id"]);

    // Keys are per profile.
    let (s, other) = publish(
        &app,
        json!({"post": "once", "platforms": ["threads"], "idempotencyKey": "k1"}),
        Some(&pk),
    )
    .await;
    assert_eq!(s, 200, "{other}");
    assert_ne!(other["posts"][0]["id"], a1["id"]);

    // An error answer is replayed with its status too (Instagram: no network call).
    let body = json!({"post": "ig", "platforms": ["instagram"], "idempotencyKey": "k3"});
    let (s1, e1) = publish(&app, body.clone(), None).await;
    let (s2, e2) = publish(&app, body, None).await;
    assert_eq!((s1, s2), (400, 400));
    assert_eq!(e1, e2);

    // Three posts in this profile: k1, k2 and the failed Instagram one.
    let (_, h) = get(&app, "/api/history", None).await;
    assert_eq!(h["history"].as_array().unwrap().len(), 3, "{h}");
}

#[tokio::test]
async fn history_is_newest_first_and_honours_its_filters() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    let days_ago =
        |d: i64| (Utc::now() - ChronoDuration::days(d)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (status, imported) = app
        .import(
            json!([
                {"post": "A old", "created": days_ago(40), "postIds": [{"platform": "threads", "id": "1001", "status": "success"}]},
                {"post": "B", "created": days_ago(2), "postIds": [{"platform": "threads", "id": "1002", "status": "success"}]},
                {"post": "C", "created": days_ago(1), "postIds": [{"platform": "twitter", "id": "1003", "status": "success"}]},
            ]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{imported}");
    let a = imported["posts"][0]["id"].as_str().unwrap().to_owned();
    let b = imported["posts"][1]["id"].as_str().unwrap().to_owned();
    let c = imported["posts"][2]["id"].as_str().unwrap().to_owned();
    let (_, d) = publish(&app, json!({"post": "D", "platforms": ["threads"]}), None).await;
    let d = d["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, e) = publish(
        &app,
        json!({"post": "E", "platforms": ["threads"], "scheduleDate": in_secs(86_400)}),
        None,
    )
    .await;
    let e = e["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, f) = publish(
        &app,
        json!({"post": "F", "platforms": ["threads"], "scheduleDate": in_secs(86_400)}),
        None,
    )
    .await;
    let f = f["id"].as_str().unwrap().to_owned();
    assert_eq!(app.delete_post(json!({"id": f})).await.status(), 200);

    // Default: last 30 days, deleted left out, newest first.
    let (s, h) = get(&app, "/api/history?source=npm", None).await;
    assert_eq!(s, 200);
    assert_eq!(
        ids(&h),
        vec![e.as_str(), d.as_str(), c.as_str(), b.as_str()]
    );
    for item in h["history"].as_array().unwrap() {
        for field in ["created", "id", "post", "platforms", "status", "type"] {
            assert!(!item[field].is_null(), "{field} missing in {item}");
        }
    }
    assert_eq!(h["history"][0]["status"], "pending");
    assert_eq!(h["history"][1]["status"], "success");
    assert_eq!(h["history"][1]["postIds"][0]["id"], MEDIA);

    let (_, h) = get(&app, "/api/history?lastDays=0", None).await;
    assert_eq!(
        ids(&h),
        vec![e.as_str(), d.as_str(), c.as_str(), b.as_str(), a.as_str()]
    );
    let (_, h) = get(&app, "/api/history?lastRecords=2", None).await;
    assert_eq!(ids(&h), vec![e.as_str(), d.as_str()]);
    let (_, h) = get(&app, "/api/history?limit=3&lastDays=0", None).await;
    assert_eq!(ids(&h), vec![e.as_str(), d.as_str(), c.as_str()]);
    let (_, h) = get(&app, "/api/history?lastDays=3&lastRecords=10", None).await;
    assert_eq!(
        ids(&h),
        vec![e.as_str(), d.as_str(), c.as_str(), b.as_str()]
    );
    let (_, h) = get(&app, "/api/history?status=deleted", None).await;
    assert_eq!(ids(&h), vec![f.as_str()]);
    assert_eq!(h["history"][0]["status"], "deleted");
    let (_, h) = get(&app, "/api/history?type=scheduled", None).await;
    assert_eq!(ids(&h), vec![e.as_str()]);
    let (_, h) = get(
        &app,
        "/api/history?platform%5B0%5D=twitter&source=pypi",
        None,
    )
    .await;
    assert_eq!(ids(&h), vec![c.as_str()]);
    let (s, h) = get(&app, "/api/history?lastDays=soon", None).await;
    assert_eq!(s, 400);
    assert!(h["message"].as_str().unwrap().contains("lastDays"));

    // By id: the same as GET /api/post/{id}.
    let (s, one) = get(&app, &format!("/api/history/{d}?id={d}&source=pypi"), None).await;
    assert_eq!(s, 200);
    assert_eq!(one, app.get_post(&d, None).await.1);
    let (s, nf) = get(&app, "/api/history/AAAAAAAAAAAAAAAAAAAA", None).await;
    assert_eq!(s, 404);
    assert_eq!(nf["code"], 920);
    // Network-side history (the Node SDK's history({platform})) is refused clearly.
    for p in [
        "/api/history/twitter",
        "/api/history/threads,twitter?source=npm",
    ] {
        let (s, b) = get(&app, p, None).await;
        assert_eq!(s, 400, "{p}");
        assert_eq!(b["status"], "error");
        assert_eq!(b["code"], 924);
        assert!(b["message"].as_str().unwrap().contains("not supported"));
    }

    // Another profile sees none of it.
    let (_, pk) = app.create_profile("Else").await;
    let (_, h) = get(&app, "/api/history", Some(&pk)).await;
    assert_eq!(h, json!({"history": []}));
    let (s, _) = get(&app, &format!("/api/history/{d}"), Some(&pk)).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn scheduling_x_without_settings_credentials_is_refused_for_x_only() {
    // BYO headers are not kept for later: a scheduled X post would fail when due, so it is
    // refused now, while the other platforms stay scheduled.
    let app = spawn_app_with(|s| {
        s.x.consumer_key = String::new();
        s.x.consumer_secret = String::new();
    })
    .await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    expect_no_call(&app.x).await;
    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .header("X-Twitter-OAuth1-Api-Key", "byo-key")
        .header("X-Twitter-OAuth1-Api-Secret", "byo-secret")
        .json(&json!({"post": "later", "platforms": ["threads", "twitter"], "scheduleDate": in_secs(1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "error");
    assert_eq!(b["errors"][0]["platform"], "twitter");
    assert_eq!(b["errors"][0]["code"], 419);
    assert!(b["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("x.consumer_key"));
    let id = b["id"].as_str().unwrap().to_owned();
    assert!(b["scheduleDate"].is_string());
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "pending");
    // Threads alone is published when due; the post then reads as an error (X failed).
    let p = wait_for_status(&app, &id, "error", 8).await;
    assert_eq!(p["postIds"][0]["platform"], "threads");
    assert_eq!(p["postIds"][0]["state"], "published");
}

#[tokio::test]
async fn a_delete_during_a_scheduled_publish_waits_and_removes_what_was_published() {
    let app = spawn_app().await;
    app.link_both(None).await;
    // A slow Threads container: the scheduler holds the post while it waits.
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": CONTAINER}))
                .set_delay(Duration::from_millis(1500)),
        )
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": MEDIA})))
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{MEDIA}")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"permalink": permalink(MEDIA)})),
        )
        .expect(1)
        .mount(&app.threads)
        .await;
    threads_delete_ok(&app.threads, MEDIA, 1).await;
    let (status, b) = publish(
        &app,
        json!({"post": "race", "platforms": ["threads"], "scheduleDate": in_secs(1)}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let id = b["id"].as_str().unwrap().to_owned();
    wait_for_status(&app, &id, "processing", 6).await;
    // The delete waits for the publish to be recorded, then deletes the new media id.
    let d: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["threads"]["id"], MEDIA);
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "deleted");
}
