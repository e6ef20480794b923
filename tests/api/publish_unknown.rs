//! Issue #10 items 9 and 10: a publish whose answer was lost or unclear is recorded as "outcome
//! unknown" (never "failed, post again") and never sent twice; an `idempotencyKey` is claimed
//! durably before the first network call, so a retry after a crash publishes nothing again.

use crate::helpers::*;
use chrono::Utc;
use postgate::domain::{EntryState, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus};
use postgate::keys::{account_id, hash_key};
use postgate::store::{IdempotencyRecord, LinkedAccount, SledStore, Store};
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONTAINER: &str = "17890000000000077";
const MEDIA: &str = "18020000000000077";
const TWEET: &str = "1445880548472329999";

/// `POST /{user}/threads` (container creation), expected `times` times.
async fn mount_container(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": CONTAINER})))
        .expect(times)
        .mount(server)
        .await;
}

/// `POST /{user}/threads_publish?creation_id=CONTAINER` answering `answer`, expected `times`.
async fn mount_threads_publish(server: &MockServer, answer: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .and(query_param("creation_id", CONTAINER))
        .and(query_param("access_token", THREADS_TOKEN))
        .respond_with(answer)
        .expect(times)
        .mount(server)
        .await;
}

/// `GET /{container}?fields=status,id,error_message` answering `status`, expected `times`.
async fn mount_container_status(server: &MockServer, status: &str, times: u64) {
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{CONTAINER}")))
        .and(query_param("fields", "status,id,error_message"))
        .and(query_param("access_token", THREADS_TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"status": status, "id": CONTAINER})),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// Fails the test if `server` receives a request that no mock mounted before this one
/// answers.
async fn expect_nothing_else(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

async fn publish(app: &TestApp, body: Value) -> (u16, Value, bool) {
    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let replayed = r.headers().get("idempotent-replayed").is_some();
    (status, r.json().await.unwrap(), replayed)
}

/// The publish answer names exactly one unknown platform, with code 930.
fn assert_unknown_answer(b: &Value, platform: &str) {
    assert_eq!(b["status"], "error", "{b}");
    let errors = b["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{b}");
    assert_eq!(errors[0]["platform"], platform, "{b}");
    assert_eq!(errors[0]["code"], 930, "{b}");
    assert_eq!(errors[0]["outcomeUnknown"], true, "{b}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(message.contains("may be live"), "{message}");
    assert!(!message.contains("post again"), "{message}");
    assert_eq!(b["postIds"], json!([]), "{b}");
}

#[tokio::test]
async fn threads_publish_500_without_body_is_unknown_and_a_read_finds_it_published() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_container(&app.threads, 1).await;
    mount_threads_publish(&app.threads, ResponseTemplate::new(500), 1).await;

    let body = json!({"post": "maybe live", "platforms": ["threads"], "idempotencyKey": "u1"});
    let (status, b, _) = publish(&app, body.clone()).await;
    assert_eq!(status, 400, "{b}");
    assert_unknown_answer(&b, "threads");
    let id = b["id"].as_str().unwrap().to_owned();

    // A retry with the key replays; nothing is sent again.
    let (status2, b2, replayed) = publish(&app, body).await;
    assert_eq!((status2, &b2, replayed), (400, &b, true));

    // The read asks for the container's status, then finds the media among recent threads.
    mount_container_status(&app.threads, "PUBLISHED", 1).await;
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S+0000").to_string();
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .and(query_param("fields", "id,text,timestamp,permalink"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "18020000000000001", "text": "something else", "timestamp": now},
            {"id": MEDIA, "text": "maybe live", "timestamp": now,
             "permalink": format!("https://www.threads.net/@postgate_test/post/{MEDIA}")},
            {"id": "18020000000000002", "text": "maybe live", "timestamp": "2001-01-01T00:00:00+0000"}
        ]})))
        .expect(1)
        .mount(&app.threads)
        .await;
    let (s, p) = app.get_post(&id, None).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["status"], "success", "{p}");
    assert_eq!(p["errors"], json!([]), "{p}");
    assert_eq!(p["postIds"][0]["id"], MEDIA, "{p}");
    assert_eq!(p["postIds"][0]["state"], "published", "{p}");

    // What was found is what a delete removes.
    threads_delete_ok(&app.threads, MEDIA, 1).await;
    let d: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["threads"]["id"], MEDIA, "{d}");
    app.threads.verify().await;
}

#[tokio::test]
async fn threads_publish_500_code_10_is_unknown_until_the_container_says_unpublished() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_container(&app.threads, 1).await;
    mount_threads_publish(
        &app.threads,
        ResponseTemplate::new(500).set_body_json(json!({"error": {
            "message": "Application does not have permission for this action",
            "code": 10, "type": "THApiException"
        }})),
        1,
    )
    .await;

    let (status, b, _) = publish(&app, json!({"post": "code ten", "platforms": ["threads"]})).await;
    assert_eq!(status, 400, "{b}");
    assert_unknown_answer(&b, "threads");
    // The network's own words are kept.
    assert!(b["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("error 10: Application does not have permission"));
    let id = b["id"].as_str().unwrap().to_owned();

    // A delete before any check cannot claim success, and calls no DELETE.
    let d: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "error", "{d}");
    assert_eq!(d["threads"]["status"], "error", "{d}");

    // The container was never published: the read records that nothing is live.
    mount_container_status(&app.threads, "FINISHED", 1).await;
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "error", "{p}");
    assert_eq!(p["errors"][0]["code"], 922, "{p}");
    assert!(p["errors"][0].get("outcomeUnknown").is_none(), "{p}");
    assert!(p["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nothing is live"));
    // Now a delete has evidence: nothing to remove, no network call.
    let d: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "success", "{d}");
    app.threads.verify().await;
}

#[tokio::test]
async fn threads_publish_past_the_timeout_stays_unknown_while_the_container_is_in_progress() {
    let app = spawn_app_with(|s| {
        s.threads.timeout_ms = 1000;
        s.delete.deadline_ms = 5000;
    })
    .await;
    app.link_both(None).await;
    mount_container(&app.threads, 1).await;
    mount_threads_publish(
        &app.threads,
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": MEDIA}))
            .set_delay(Duration::from_secs(4)),
        1,
    )
    .await;

    let body = json!({"post": "slow", "platforms": ["threads"], "idempotencyKey": "slow-1"});
    let (status, b, _) = publish(&app, body.clone()).await;
    assert_eq!(status, 400, "{b}");
    assert_unknown_answer(&b, "threads");
    let id = b["id"].as_str().unwrap().to_owned();

    mount_container_status(&app.threads, "IN_PROGRESS", 1).await;
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "error", "{p}");
    assert_eq!(p["errors"][0]["code"], 930, "{p}");
    assert_eq!(p["errors"][0]["outcomeUnknown"], true, "{p}");
    assert_eq!(p["postIds"], json!([]), "{p}");

    // No blind re-post on retry.
    let (_, b2, replayed) = publish(&app, body).await;
    assert!(replayed);
    assert_eq!(b2["id"], id.as_str());
    app.threads.verify().await;
}

#[tokio::test]
async fn a_failed_container_step_is_a_plain_failure_nothing_is_live() {
    let app = spawn_app().await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&app.threads)
        .await;
    expect_nothing_else(&app.threads).await;
    let (status, b, _) = publish(&app, json!({"post": "nope", "platforms": ["threads"]})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["errors"][0]["code"], 904, "{b}");
    assert!(b["errors"][0].get("outcomeUnknown").is_none(), "{b}");
    let (_, p) = app.get_post(b["id"].as_str().unwrap(), None).await;
    assert_eq!(p["errors"][0]["code"], 904, "{p}");
    app.threads.verify().await;
}

#[tokio::test]
async fn x_publish_503_is_unknown_and_never_sent_again() {
    let app = spawn_app().await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(503).set_body_string("Service Unavailable"))
        .expect(1)
        .mount(&app.x)
        .await;
    expect_nothing_else(&app.x).await;

    let body = json!({"post": "x maybe", "platforms": ["twitter"], "idempotencyKey": "x-503"});
    let (status, b, _) = publish(&app, body.clone()).await;
    assert_eq!(status, 400, "{b}");
    assert_unknown_answer(&b, "twitter");
    assert!(b["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("HTTP 503"));
    let id = b["id"].as_str().unwrap().to_owned();

    // Stored as unknown; X offers no check, so the read calls nothing and says so again.
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "error", "{p}");
    assert_eq!(p["errors"][0]["code"], 930, "{p}");
    assert_eq!(p["errors"][0]["outcomeUnknown"], true, "{p}");

    // The delete does not claim success; the retry replays.
    let d: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["status"], "error", "{d}");
    assert_eq!(d["twitter"]["status"], "error", "{d}");
    let (_, b2, replayed) = publish(&app, body).await;
    assert!(replayed);
    assert_eq!(b2, b);
    app.x.verify().await;
}

#[tokio::test]
async fn x_publish_past_the_timeout_is_unknown_and_sent_once() {
    let app = spawn_app_with(|s| s.x.timeout_ms = 1000).await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": TWEET, "text": "late"}}))
                .set_delay(Duration::from_secs(3)),
        )
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, b, _) = publish(&app, json!({"post": "late", "platforms": ["twitter"]})).await;
    assert_eq!(status, 400, "{b}");
    assert_unknown_answer(&b, "twitter");
    let (_, p) = app.get_post(b["id"].as_str().unwrap(), None).await;
    assert_eq!(p["errors"][0]["code"], 930, "{p}");
    assert_eq!(p["errors"][0]["outcomeUnknown"], true, "{p}");
    app.x.verify().await;
}

#[tokio::test]
async fn two_concurrent_posts_with_one_key_publish_once() {
    let app = spawn_app().await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": TWEET, "text": "once"}}))
                .set_delay(Duration::from_millis(400)),
        )
        .expect(1)
        .mount(&app.x)
        .await;
    let body = json!({"post": "once", "platforms": ["twitter"], "idempotencyKey": "same"});
    let (a, b) = tokio::join!(publish(&app, body.clone()), publish(&app, body.clone()));
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(a.1, b.1);
    assert_eq!(a.1["postIds"][0]["id"], TWEET);
    // Exactly one of the two was the original.
    assert!(a.2 ^ b.2, "one answer is a replay: {} {}", a.2, b.2);
    app.x.verify().await;
}

/// What a crash leaves behind, written straight into a store: the key's claim, and (unless
/// `None`) the post as it was at the moment of the crash.
async fn crashed_store(
    key: &str,
    post: impl FnOnce(String, PostId) -> Option<Post>,
) -> (tempfile::TempDir, PostId) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let profile = store
        .ensure_primary_profile(&account_id(&hash_key(API_KEY)))
        .await
        .unwrap();
    for (platform, user, token, secret) in [
        (Platform::Threads, THREADS_USER, THREADS_TOKEN, None),
        (
            Platform::Twitter,
            X_USER,
            X_TOKEN,
            Some(X_TOKEN_SECRET.to_owned()),
        ),
    ] {
        store
            .link_account(
                &profile.id,
                LinkedAccount {
                    platform,
                    user_id: user.into(),
                    access_token: token.into(),
                    access_token_secret: secret,
                    username: Some("postgate_test".into()),
                    linked_at: Utc::now(),
                    life: Default::default(),
                },
            )
            .await
            .unwrap();
    }
    let id = PostId::generate();
    assert_eq!(
        store
            .claim_idempotency_key(&profile.id, key, &id, Utc::now())
            .await
            .unwrap(),
        None
    );
    // A second claim of the key loses and sees the first.
    assert!(matches!(
        store
            .claim_idempotency_key(&profile.id, key, &PostId::generate(), Utc::now())
            .await
            .unwrap(),
        Some(IdempotencyRecord::Claimed { post_id, .. }) if post_id == id
    ));
    if let Some(p) = post(profile.id.to_string(), id.clone()) {
        store.insert_post(&p).await.unwrap();
    }
    store.flush().await.unwrap();
    drop(store);
    (dir, id)
}

fn stored_post(profile_id: String, id: PostId, status: PostStatus, entry: PlatformEntry) -> Post {
    Post {
        id,
        profile_id: profile_id.into(),
        text: "crash".into(),
        status,
        kind: PostKind::Now,
        created: Utc::now(),
        schedule_date: None,
        entries: vec![entry],
        idempotency_key: Some("k-crash".into()),
        media_urls: Vec::new(),
    }
}

#[tokio::test]
async fn a_retry_after_a_crash_mid_publish_answers_unknown_with_the_post_id_and_sends_nothing() {
    // The gateway stopped while threads_publish was in flight: claim, post `processing`, entry
    // `publishing`, no answer.
    let (dir, id) = crashed_store("k-crash", |profile, id| {
        Some(stored_post(
            profile,
            id,
            PostStatus::Processing,
            PlatformEntry::new(Platform::Threads, EntryState::Publishing),
        ))
    })
    .await;
    let db = dir.path().join("db");
    let app = spawn_app_with(move |s| s.store.path = db).await;
    expect_nothing_else(&app.threads).await;
    expect_nothing_else(&app.x).await;

    // Start-up repair marks the interrupted publish unknown (the read checks nothing: there
    // is no container id to ask about).
    let mut p = Value::Null;
    for _ in 0..50 {
        p = app.get_post(id.as_str(), None).await.1;
        if p["status"] == "error" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(p["status"], "error", "{p}");
    assert_eq!(p["errors"][0]["code"], 930, "{p}");

    let body = json!({"post": "crash", "platforms": ["threads"], "idempotencyKey": "k-crash"});
    let (status, b, replayed) = publish(&app, body.clone()).await;
    assert_eq!(status, 400, "{b}");
    assert!(replayed);
    assert_eq!(b["id"], id.as_str(), "{b}");
    assert_eq!(b["errors"][0]["code"], 930, "{b}");
    assert_eq!(b["errors"][0]["outcomeUnknown"], true, "{b}");
    // And again: the same answer, still nothing sent.
    let (_, b2, _) = publish(&app, body).await;
    assert_eq!(b2, b);
    app.threads.verify().await;
    app.x.verify().await;
}

#[tokio::test]
async fn a_retry_after_a_crash_before_the_answer_was_stored_replays_the_stored_outcome() {
    let (dir, id) = crashed_store("k-done", |profile, id| {
        let mut e = PlatformEntry::new(Platform::Twitter, EntryState::Published);
        e.id = Some(postgate::domain::NetworkPostId(TWEET.into()));
        e.post_url = Some(format!("https://twitter.com/postgate_test/status/{TWEET}"));
        Some(stored_post(profile, id, PostStatus::Success, e))
    })
    .await;
    let db = dir.path().join("db");
    let app = spawn_app_with(move |s| s.store.path = db).await;
    expect_nothing_else(&app.x).await;
    let (status, b, replayed) = publish(
        &app,
        json!({"post": "crash", "platforms": ["twitter"], "idempotencyKey": "k-done"}),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert!(replayed);
    assert_eq!(b["id"], id.as_str());
    assert_eq!(b["postIds"][0]["id"], TWEET, "{b}");
    app.x.verify().await;
}

#[tokio::test]
async fn a_key_claimed_before_a_crash_whose_post_was_never_written_publishes_once_under_that_id() {
    // Crash between the claim and the post's first write: nothing was sent.
    let (dir, id) = crashed_store("k-early", |_, _| None).await;
    let db = dir.path().join("db");
    let app = spawn_app_with(move |s| s.store.path = db).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"id": TWEET, "text": "x"}})),
        )
        .expect(1)
        .mount(&app.x)
        .await;
    let body = json!({"post": "early", "platforms": ["twitter"], "idempotencyKey": "k-early"});
    let (status, b, replayed) = publish(&app, body.clone()).await;
    assert_eq!(status, 200, "{b}");
    assert!(!replayed);
    assert_eq!(b["id"], id.as_str(), "{b}");
    let (_, b2, replayed) = publish(&app, body).await;
    assert!(replayed);
    assert_eq!(b2, b);
    app.x.verify().await;
}

#[tokio::test]
async fn store_claims_are_won_once_and_answers_replace_only_claims() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
    // Eight concurrent claims of one key: exactly one wins, the others see its post id.
    let ids: Vec<PostId> = (0..8).map(|_| PostId::generate()).collect();
    let results = futures::future::join_all(ids.iter().map(|id| {
        let store = store.clone();
        let id = id.clone();
        async move {
            store
                .claim_idempotency_key("p", "k", &id, Utc::now())
                .await
                .unwrap()
        }
    }))
    .await;
    let winners: Vec<&PostId> = ids
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_none())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().flatten() {
        assert!(
            matches!(r, IdempotencyRecord::Claimed { post_id, .. } if post_id == winners[0]),
            "{r:?}"
        );
    }
    assert_eq!(store.idempotent_answer("p", "k").await.unwrap(), None);
    // The answer replaces the claim; a second answer does not replace the first.
    store
        .remember_answer("p", "k", &json!({"httpStatus": 200, "body": {"n": 1}}))
        .await
        .unwrap();
    store
        .remember_answer("p", "k", &json!({"httpStatus": 400, "body": {"n": 2}}))
        .await
        .unwrap();
    assert_eq!(
        store.idempotency_record("p", "k").await.unwrap(),
        Some(IdempotencyRecord::Answered(
            json!({"httpStatus": 200, "body": {"n": 1}})
        ))
    );
    // Keys are per profile.
    assert_eq!(store.idempotency_record("q", "k").await.unwrap(), None);
}

/// Reads one HTTP/1.1 request (head and `Content-Length` body) from `sock`.
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return Some(String::from_utf8_lossy(&buf).into_owned());
            }
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn x_connection_dropped_after_the_request_was_written_is_unknown_and_sent_once() {
    use tokio::io::AsyncWriteExt;
    // A stand-in for X that reads a publishing request whole, then hangs up without
    // answering; any other request (an identity check at link time) gets the test user.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let publishes = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = publishes.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                while let Some(request) = read_request(&mut sock).await {
                    if request.starts_with("POST /2/tweets ") {
                        seen.lock().unwrap().push(request);
                        return; // hang up: the request was written, no answer comes
                    }
                    let body =
                        json!({"data": {"id": X_USER, "username": "postgate_test"}}).to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if sock.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let app = spawn_app_with(move |s| s.x.base_url = format!("http://{addr}")).await;
    app.link_both(None).await;

    let body = json!({"post": "hung up", "platforms": ["twitter"], "idempotencyKey": "drop-1"});
    let (status, b, _) = publish(&app, body.clone()).await;
    assert_eq!(status, 400, "{b}");
    assert_unknown_answer(&b, "twitter");
    let (_, b2, replayed) = publish(&app, body).await;
    assert!(replayed);
    assert_eq!(b2, b);
    let requests = publishes.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].contains("hung up"), "{requests:?}");
}

/// A publish whose client went away runs on (detached on the gateway's runtime, tracked by
/// the shutdown): a graceful stop while its network call is still out waits for it, so the
/// post is recorded as published, not left for recovery to call "outcome unknown". (actix
/// keeps a handler whose client left until it answers, so this also held before publishes
/// were detached on the gateway's runtime; it pins the behaviour either way.)
#[tokio::test]
async fn a_publish_whose_client_left_finishes_across_a_graceful_restart() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_container(&app.threads, 1).await;
    mount_threads_publish(
        &app.threads,
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": MEDIA}))
            .set_delay(Duration::from_millis(800)),
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{MEDIA}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": MEDIA, "permalink": format!("https://www.threads.net/@t/post/{MEDIA}")}),
        ))
        .mount(&app.threads)
        .await;

    // The client gives up while Threads is still answering.
    let gave_up = app
        .request(reqwest::Method::POST, "/api/post", None)
        .timeout(Duration::from_millis(300))
        .json(&json!({"post": "left early", "platforms": ["threads"]}))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client should have timed out");
    for _ in 0..50 {
        let calls = app.threads.received_requests().await.unwrap();
        if calls
            .iter()
            .any(|r| r.url.path().ends_with("/threads_publish"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let app = app.restart().await;

    let r = app
        .request(reqwest::Method::GET, "/api/history?lastDays=0", None)
        .send()
        .await
        .unwrap();
    let history: Value = r.json().await.unwrap();
    let post = &history["history"][0];
    assert_eq!(post["post"], "left early", "{history}");
    assert_eq!(post["status"], "success", "{post}");
    assert_eq!(post["postIds"][0]["id"], MEDIA, "{post}");
}
