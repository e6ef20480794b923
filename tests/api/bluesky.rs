//! Bluesky, the third network: linking with a handle and an app password, publishing with
//! its grapheme rule, deleting by the rkey of the stored `at://` URI, session renewal, rate
//! limits, and deletes alongside Threads and X.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const DID: &str = "did:plc:z72i7hdynmk6r22z27h6tvur";
const HANDLE: &str = "alice.bsky.social";
const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const ACCESS: &str = "BSKY-ACCESS-jwt-secret-1";
const REFRESH: &str = "BSKY-REFRESH-jwt-secret-1";
const CREATE_SESSION: &str = "/xrpc/com.atproto.server.createSession";
const REFRESH_SESSION: &str = "/xrpc/com.atproto.server.refreshSession";
const CREATE_RECORD: &str = "/xrpc/com.atproto.repo.createRecord";
const DELETE_RECORD: &str = "/xrpc/com.atproto.repo.deleteRecord";

fn uri(rkey: &str) -> String {
    format!("at://{DID}/app.bsky.feed.post/{rkey}")
}

/// The app with its Bluesky PDS mocked; createSession accepts [`HANDLE`] / [`APP_PASSWORD`].
async fn app_with_bluesky(
    tweak: impl FnOnce(&mut postgate::configuration::Settings),
) -> (TestApp, MockServer) {
    let pds = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .and(body_partial_json(
            json!({"identifier": HANDLE, "password": APP_PASSWORD}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": ACCESS, "refreshJwt": REFRESH, "handle": HANDLE, "did": DID,
            "active": true
        })))
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path(CREATE_SESSION))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
        ))
        .mount(&pds)
        .await;
    let base = pds.uri();
    let app = spawn_app_with(|s| {
        s.bluesky.base_url = base;
        s.bluesky.timeout_ms = 2500;
        tweak(s);
    })
    .await;
    (app, pds)
}

async fn link(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn link_bluesky(app: &TestApp) {
    let (s, b) = link(
        app,
        json!({"platform": "bluesky", "handle": HANDLE, "appPassword": APP_PASSWORD}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

/// Calls the PDS received on `p`.
async fn calls(pds: &MockServer, p: &str) -> Vec<Request> {
    pds.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn bearer(r: &Request) -> String {
    r.headers["authorization"].to_str().unwrap().to_owned()
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn links_with_handle_and_app_password_and_keeps_no_secret_in_the_answer() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    let (s, b) = link(
        &app,
        json!({"platform": "bluesky", "handle": HANDLE, "appPassword": APP_PASSWORD}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"status": "success", "platform": "bluesky", "userId": DID, "username": HANDLE,
               "refId": b["refId"]})
    );
    let text = b.to_string();
    for secret in [APP_PASSWORD, ACCESS, REFRESH] {
        assert!(!text.contains(secret));
    }
    let sessions = calls(&pds, CREATE_SESSION).await;
    assert_eq!(sessions.len(), 1);
    let sent: Value = serde_json::from_slice(&sessions[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"identifier": HANDLE, "password": APP_PASSWORD})
    );

    let (_, user) = json_of(
        app.request(reqwest::Method::GET, "/api/user", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(user["activeSocialAccounts"], json!(["bluesky"]), "{user}");

    // The DID (or the handle) as userId is the same account.
    for user_id in [DID, HANDLE] {
        let (s, b) = link(
            &app,
            json!({"platform": "bluesky", "userId": user_id, "handle": HANDLE, "appPassword": APP_PASSWORD}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test]
async fn a_wrong_app_password_or_another_user_id_links_nothing() {
    let (app, _pds) = app_with_bluesky(|_| {}).await;
    let (s, b) = link(
        &app,
        json!({"platform": "bluesky", "handle": HANDLE, "appPassword": "wrong-pass-word-xxxx"}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["code"], 907, "{b}");
    assert!(!b.to_string().contains("wrong-pass-word-xxxx"));

    let (s, b) = link(
        &app,
        json!({"platform": "bluesky", "userId": "did:plc:someoneelse", "handle": HANDLE, "appPassword": APP_PASSWORD}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["code"], 925, "{b}");

    let (s, b) = link(&app, json!({"platform": "bluesky", "handle": HANDLE})).await;
    assert_eq!((s, &b["code"]), (400, &json!(909)), "{b}");

    let (_, user) = json_of(
        app.request(reqwest::Method::GET, "/api/user", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(user["activeSocialAccounts"], json!([]), "{user}");
}

#[tokio::test]
async fn publishes_300_graphemes_and_refuses_301_before_any_call() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    link_bluesky(&app).await;
    Mock::given(method("POST"))
        .and(path(CREATE_RECORD))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"uri": uri("3k4duaz5vfs2b"), "cid": "bafyrei"})),
        )
        .expect(1)
        .mount(&pds)
        .await;

    // An emoji with a skin-tone modifier is one grapheme (8 bytes): 300 fit both rules.
    let text = "👍🏽".repeat(300);
    let (s, b) = json_of(
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"post": text, "platforms": ["bluesky"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["postIds"][0]["id"], uri("3k4duaz5vfs2b"), "{b}");
    assert_eq!(
        b["postIds"][0]["postUrl"],
        format!("https://bsky.app/profile/{HANDLE}/post/3k4duaz5vfs2b")
    );
    let sent: Value = serde_json::from_slice(&calls(&pds, CREATE_RECORD).await[0].body).unwrap();
    assert_eq!(sent["repo"], DID);
    assert_eq!(sent["collection"], "app.bsky.feed.post");
    assert_eq!(sent["record"]["$type"], "app.bsky.feed.post");
    assert_eq!(sent["record"]["text"], text.as_str());
    assert!(sent["record"]["createdAt"].as_str().unwrap().ends_with('Z'));

    let (s, b) = json_of(
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"post": "👍🏽".repeat(301), "platforms": ["bluesky"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["code"], 921, "{b}");
    assert_eq!(calls(&pds, CREATE_RECORD).await.len(), 1);
}

/// Imports one post live on Bluesky under `rkey`; returns its id.
async fn bluesky_post(app: &TestApp, rkey: &str) -> String {
    app.single_platform_post("bluesky", &uri(rkey)).await
}

#[tokio::test]
async fn deletes_an_imported_post_by_the_rkey_of_its_uri() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    link_bluesky(&app).await;
    let id = bluesky_post(&app, "3k4duaz5vfs2b").await;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&pds)
        .await;

    let (s, b) = json_of(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"status": "success", "code": 200, "id": id,
               "bluesky": {"action": "delete", "status": "success", "id": uri("3k4duaz5vfs2b")}})
    );
    let sent = calls(&pds, DELETE_RECORD).await;
    assert_eq!(bearer(&sent[0]), format!("Bearer {ACCESS}"));
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({"repo": DID, "collection": "app.bsky.feed.post", "rkey": "3k4duaz5vfs2b"})
    );
    // Not called again.
    let (s, b) = json_of(app.delete_post(json!({"id": id})).await).await;
    assert_eq!((s, &b["code"]), (400, &json!(383)), "{b}");
}

#[tokio::test]
async fn record_not_found_is_already_gone_but_a_bare_404_is_ambiguous() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    link_bluesky(&app).await;
    let gone = bluesky_post(&app, "gone1").await;
    let unclear = bluesky_post(&app, "unclear1").await;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .and(body_partial_json(json!({"rkey": "gone1"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "RecordNotFound", "message": "Could not locate record"}),
        ))
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .and(body_partial_json(json!({"rkey": "unclear1"})))
        .respond_with(ResponseTemplate::new(404).set_body_string("Not Found"))
        .mount(&pds)
        .await;

    let (s, b) = json_of(app.delete_post(json!({"id": gone})).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["bluesky"]["status"], "success", "{b}");

    let (_, b) = json_of(app.delete_post(json!({"id": unclear})).await).await;
    assert_eq!(b["status"], "error", "{b}");
    assert_eq!(b["bluesky"]["code"], 908, "{b}");
    let (_, p) = app.get_post(&unclear, None).await;
    assert_eq!(p["postIds"][0]["state"], "published", "{p}");
}

#[tokio::test]
async fn a_post_of_another_repository_is_refused_without_a_call() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    link_bluesky(&app).await;
    let id = app
        .single_platform_post("bluesky", "at://did:plc:someoneelse/app.bsky.feed.post/3k4")
        .await;
    let (_, b) = json_of(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(b["bluesky"]["code"], 906, "{b}");
    assert!(calls(&pds, DELETE_RECORD).await.is_empty());

    // An id that is not a post URI is refused at import.
    let (s, b) = app
        .import(
            json!([{"post": "t", "postIds": [{"platform": "bluesky", "id": "3k4duaz5vfs2b"}]}]),
            None,
        )
        .await;
    assert_ne!(s, 200, "{b}");
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_the_new_tokens_survive_a_restart() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    link_bluesky(&app).await;
    let first = bluesky_post(&app, "first1").await;
    let second = bluesky_post(&app, "second1").await;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .and(header("authorization", format!("Bearer {ACCESS}").as_str()))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .and(header("authorization", "Bearer BSKY-ACCESS-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path(REFRESH_SESSION))
        .and(header(
            "authorization",
            format!("Bearer {REFRESH}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": "BSKY-ACCESS-2", "refreshJwt": "BSKY-REFRESH-2", "handle": HANDLE,
            "did": DID
        })))
        .expect(1)
        .mount(&pds)
        .await;

    let (s, b) = json_of(app.delete_post(json!({"id": first})).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["bluesky"]["status"], "success", "{b}");
    let deletes = calls(&pds, DELETE_RECORD).await;
    assert_eq!(deletes.len(), 2, "one refused, one retried");
    assert_eq!(bearer(&deletes[1]), "Bearer BSKY-ACCESS-2");

    // After a restart the renewed session is still the one used: no renewal, no refusal.
    let app = app.restart().await;
    let (s, b) = json_of(app.delete_post(json!({"id": second})).await).await;
    assert_eq!(s, 200, "{b}");
    let deletes = calls(&pds, DELETE_RECORD).await;
    assert_eq!(deletes.len(), 3);
    assert_eq!(bearer(&deletes[2]), "Bearer BSKY-ACCESS-2");
    assert_eq!(calls(&pds, REFRESH_SESSION).await.len(), 1);
}

#[tokio::test]
async fn bluesky_rate_limited_answers_903_with_its_reset_time() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    link_bluesky(&app).await;
    let reset = chrono::Utc::now().timestamp() + 600;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("ratelimit-reset", reset.to_string().as_str())
                .set_body_json(
                    json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                ),
        )
        .expect(1)
        .mount(&pds)
        .await;
    let limited = bluesky_post(&app, "limited1").await;
    let (_, b) = json_of(app.delete_post(json!({"id": limited})).await).await;
    assert_eq!(b["bluesky"]["code"], 903, "{b}");
    let wait = b["bluesky"]["retryAfter"].as_u64().unwrap();
    assert!((590..=600).contains(&wait), "{b}");
    // The account waits for the reset: the next delete makes no call.
    let (_, b) = json_of(app.delete_post(json!({"id": limited})).await).await;
    assert_eq!(b["bluesky"]["code"], 903, "{b}");
}

#[tokio::test]
async fn the_local_delete_quota_refuses_the_next_delete_before_any_call() {
    let (app, pds) = app_with_bluesky(|s| s.bluesky.delete_limit = 2).await;
    link_bluesky(&app).await;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(2)
        .mount(&pds)
        .await;
    for rkey in ["ok1", "ok2"] {
        let id = bluesky_post(&app, rkey).await;
        let (_, b) = json_of(app.delete_post(json!({"id": id})).await).await;
        assert_eq!(b["bluesky"]["status"], "success", "{b}");
    }
    let over = bluesky_post(&app, "over1").await;
    let (_, b) = json_of(app.delete_post(json!({"id": over})).await).await;
    assert_eq!(b["bluesky"]["code"], 903, "{b}");
    assert_eq!(calls(&pds, DELETE_RECORD).await.len(), 2);
}

#[tokio::test]
async fn one_delete_calls_threads_x_and_bluesky_once_each_concurrently() {
    let (app, pds) = app_with_bluesky(|_| {}).await;
    app.link_both(None).await;
    link_bluesky(&app).await;
    let delay = Duration::from_millis(400);
    threads_delete_ok_after(&app.threads, "18011", 1, delay).await;
    x_delete_ok_after(&app.x, "1445880548472328192", 1, delay).await;
    Mock::given(method("POST"))
        .and(path(DELETE_RECORD))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({}))
                .set_delay(delay),
        )
        .expect(1)
        .mount(&pds)
        .await;
    let (s, b) = app
        .import(
            json!([{"post": "three", "postIds": [
                {"platform": "threads", "id": "18011"},
                {"platform": "twitter", "id": "1445880548472328192"},
                {"platform": "bluesky", "id": uri("3k4duaz5vfs2b")}
            ]}]),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let id = b["posts"][0]["id"].as_str().unwrap().to_owned();

    let started = Instant::now();
    let (s, b) = json_of(app.delete_post(json!({"id": id})).await).await;
    let took = started.elapsed();
    assert_eq!(s, 200, "{b}");
    for p in ["threads", "twitter", "bluesky"] {
        assert_eq!(b[p]["status"], "success", "{p}: {b}");
    }
    assert!(
        took < delay * 2,
        "the three calls ran one after another: {took:?}"
    );
    assert_eq!(app.threads.received_requests().await.unwrap().len(), 1);
    assert_eq!(app.x.received_requests().await.unwrap().len(), 1);
    assert_eq!(calls(&pds, DELETE_RECORD).await.len(), 1);
}
