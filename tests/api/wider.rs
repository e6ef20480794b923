//! Issue 16, Ayrshare's contract wider: profiles at today's paths with `disableSocial`,
//! `/api/user` and `/api/history` field for field, update/approve/pause/retry of posts, and
//! the webhook list in Ayrshare's shape.

use crate::helpers::*;
use chrono::{Duration as ChronoDuration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CONTAINER: &str = "17890000000000002";
const MEDIA: &str = "18020000000000002";
const TWEET: &str = "1445880548472328999";

async fn call(
    app: &TestApp,
    m: Method,
    p: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = app.request(m, p, key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn mount_threads_publish(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": CONTAINER})))
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": MEDIA})))
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{MEDIA}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": MEDIA, "permalink": format!("https://www.threads.net/@postgate_test/post/{MEDIA}")}),
        ))
        .expect(times)
        .mount(server)
        .await;
}

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

async fn requests_to(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

fn in_secs(secs: i64) -> String {
    (Utc::now() + ChronoDuration::seconds(secs)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn profiles_are_created_listed_filtered_updated_and_deleted_at_the_current_paths() {
    let app = spawn_app().await;
    let (s, a) = call(
        &app,
        Method::POST,
        "/api/profiles",
        None,
        Some(json!({"title": "Brand A"})),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "success");
    assert_eq!(a["title"], "Brand A");
    let key_a = a["profileKey"].as_str().unwrap().to_owned();
    let ref_a = a["refId"].as_str().unwrap().to_owned();
    let (_, b) = call(
        &app,
        Method::POST,
        "/api/profiles",
        None,
        Some(json!({"title": "Brand B"})),
    )
    .await;
    let key_b = b["profileKey"].as_str().unwrap().to_owned();

    // profileKeys[0]=… picks profiles; an unknown key picks none.
    let (s, l) = call(
        &app,
        Method::GET,
        &format!("/api/profiles?profileKeys[0]={key_a}"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "{l}");
    let profiles = l["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 1, "{l}");
    let p = &profiles[0];
    assert_eq!(p["title"], "Brand A");
    assert_eq!(p["refId"], ref_a.as_str());
    assert!(
        p["created"].is_string() && p["createdUTC"].is_string(),
        "{p}"
    );
    assert_eq!(p["activeSocialAccounts"], json!([]));
    let (_, l) = call(
        &app,
        Method::GET,
        &format!("/api/profiles?profileKeys%5B0%5D={key_a}&profileKeys%5B1%5D={key_b}"),
        None,
        None,
    )
    .await;
    assert_eq!(l["profiles"].as_array().unwrap().len(), 2, "{l}");
    let (_, l) = call(
        &app,
        Method::GET,
        "/api/profiles?profileKeys[0]=NOPE-NOPE",
        None,
        None,
    )
    .await;
    assert_eq!(l["profiles"], json!([]), "{l}");
    let (_, all) = call(&app, Method::GET, "/api/profiles", None, None).await;
    assert_eq!(all["count"], 3, "{all}");

    // PATCH changes what is sent, answers status and refId.
    let (s, u) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        None,
        Some(json!({"profileKey": key_a, "title": "Brand A2", "disableSocial": ["twitter", "X"], "hideTitle": true, "displayTitle": "Shown"})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u, json!({"status": "success", "refId": ref_a}));
    let (_, l) = call(
        &app,
        Method::GET,
        &format!("/api/profiles?profileKeys[0]={key_a}"),
        None,
        None,
    )
    .await;
    let p = &l["profiles"][0];
    assert_eq!(p["title"], "Brand A2");
    assert_eq!(p["disableSocial"], json!(["twitter"]));
    assert_eq!(p["hideTitle"], true);
    assert_eq!(p["displayTitle"], "Shown");
    // Another profile's title is refused, as at creation; unknown platforms are refused.
    let (s, e) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        None,
        Some(json!({"profileKey": key_a, "title": "brand b"})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(146)), "{e}");
    let (s, e) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        None,
        Some(json!({"profileKey": key_a, "disableSocial": ["myspace"]})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(909)), "{e}");
    // The Profile-Key header names the profile too; another account cannot touch it.
    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        Some(&key_b),
        Some(json!({"hideTitle": true})),
    )
    .await;
    assert_eq!(s, 200);
    let other = app
        .client
        .patch(format!("{}/api/profiles", app.address))
        .bearer_auth(OTHER_API_KEY)
        .json(&json!({"profileKey": key_a, "title": "stolen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);

    // DELETE answers status and refId; the profile is gone.
    let (s, d) = call(
        &app,
        Method::DELETE,
        "/api/profiles",
        None,
        Some(json!({"profileKey": key_a})),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "success");
    assert_eq!(d["refId"], ref_a.as_str());
    let (_, all) = call(&app, Method::GET, "/api/profiles", None, None).await;
    assert_eq!(all["count"], 2, "{all}");
    // The older paths stay.
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/profiles/profile",
        None,
        Some(json!({"title": "Old path"})),
    )
    .await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn a_disabled_platform_is_neither_linked_nor_posted_to() {
    let app = spawn_app().await;
    let (_, key) = app.create_profile("Brand").await;
    app.link_both(Some(&key)).await;
    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        Some(&key),
        Some(json!({"disableSocial": ["twitter"]})),
    )
    .await;
    assert_eq!(s, 200);

    // Linking it again is refused before any network call.
    let identity_calls = app.x.identity_requests().await.len();
    let (s, e) = call(
        &app,
        Method::POST,
        "/api/profiles/social",
        Some(&key),
        Some(json!({"platform": "twitter", "accessToken": X_TOKEN, "accessTokenSecret": X_TOKEN_SECRET})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(940)), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("disableSocial"),
        "{e}"
    );
    assert_eq!(app.x.identity_requests().await.len(), identity_calls);

    // Posting: Threads goes out, X answers a per-platform error without a call.
    mount_threads_publish(&app.threads, 1).await;
    let (s, r) = call(
        &app,
        Method::POST,
        "/api/post",
        Some(&key),
        Some(json!({"post": "after", "platforms": ["threads", "twitter"]})),
    )
    .await;
    assert_eq!(s, 400, "{r}");
    let post = &r["posts"][0];
    assert_eq!(post["postIds"][0]["platform"], "threads", "{r}");
    assert_eq!(post["errors"][0]["platform"], "twitter", "{r}");
    assert_eq!(post["errors"][0]["code"], 940, "{r}");
    assert!(
        post["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{r}"
    );
    assert_eq!(requests_to(&app.x, "/2/tweets").await, 0);

    // Enabled again ([] clears the list), the failed platform can be retried.
    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        Some(&key),
        Some(json!({"disableSocial": []})),
    )
    .await;
    assert_eq!(s, 200);
    mount_x_publish(&app.x, 1).await;
    let id = post["id"].as_str().unwrap();
    let (s, r) = call(
        &app,
        Method::PUT,
        "/api/post/retry",
        Some(&key),
        Some(json!({"id": id})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["posts"][0]["status"], "success", "{r}");
}

#[tokio::test]
async fn deletes_of_a_disabled_platforms_posts_still_reach_the_network() {
    let app = spawn_app().await;
    let (_, key) = app.create_profile("Brand").await;
    app.link_both(Some(&key)).await;
    mount_x_publish(&app.x, 1).await;
    let (s, r) = call(
        &app,
        Method::POST,
        "/api/post",
        Some(&key),
        Some(json!({"post": "live", "platforms": ["twitter"]})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let id = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        None,
        Some(json!({"profileKey": key, "disableSocial": ["twitter"]})),
    )
    .await;
    assert_eq!(s, 200);
    x_delete_ok(&app.x, TWEET, 1).await;
    let r = app.delete_post_as(json!({"id": id}), Some(&key)).await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["twitter"]["status"], "success", "{d}");
}

#[tokio::test]
async fn user_and_history_answer_ayrshares_fields() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, u0) = call(
        &app,
        Method::GET,
        "/api/user?instagramQuota=true",
        None,
        None,
    )
    .await;
    let calls0 = u0["monthlyApiCalls"].as_u64().unwrap();
    assert_eq!(
        u0["activeSocialAccounts"],
        json!(["threads", "twitter"]),
        "{u0}"
    );
    assert_eq!(u0["title"], "Primary Profile");
    assert!(u0["refId"].is_string() && u0["created"].is_string(), "{u0}");
    let x = &u0["displayNames"][1];
    for field in [
        "created",
        "displayName",
        "id",
        "platform",
        "profileUrl",
        "userImage",
        "username",
    ] {
        assert!(x.get(field).is_some(), "displayNames[] lacks {field}: {u0}");
    }
    assert_eq!(x["id"], X_USER);
    assert_eq!(x["username"], "postgate_test");
    assert_eq!(x["displayName"], "postgate_test");
    assert_eq!(x["profileUrl"], "https://twitter.com/postgate_test");
    // Every authenticated call counts, this one and the refused ones too; a refused key
    // does not.
    let _ = call(&app, Method::GET, "/api/history", None, None).await;
    let _ = call(&app, Method::POST, "/api/post", None, Some(json!({}))).await;
    let bad = app
        .client
        .get(format!("{}/api/user", app.address))
        .bearer_auth("not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let (_, u1) = call(&app, Method::GET, "/api/user", None, None).await;
    assert_eq!(u1["monthlyApiCalls"].as_u64().unwrap(), calls0 + 3, "{u1}");
    // Counted per API key: another key's calls are its own.
    let other: Value = app
        .client
        .get(format!("{}/api/user", app.address))
        .bearer_auth(OTHER_API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other["monthlyApiCalls"], 1, "{other}");

    // History entries: now and scheduled.
    mount_threads_publish(&app.threads, 1).await;
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(json!({"post": "now", "platforms": ["threads"]})),
    )
    .await;
    assert_eq!(s, 200);
    let due = in_secs(3600);
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(json!({"post": "later", "platforms": ["threads"], "scheduleDate": due})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, h) = call(&app, Method::GET, "/api/history", None, None).await;
    let items = h["history"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{h}");
    for item in items {
        for field in [
            "created",
            "id",
            "post",
            "platforms",
            "status",
            "type",
            "postIds",
        ] {
            assert!(
                item.get(field).is_some(),
                "history item lacks {field}: {item}"
            );
        }
        assert_eq!(item["platforms"], json!(["threads"]));
    }
    assert_eq!(items[0]["type"], "scheduled");
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["scheduleDate"], due.as_str());
    assert_eq!(items[1]["type"], "now");
    assert_eq!(items[1]["status"], "success");
    assert_eq!(items[1]["postIds"][0]["id"], MEDIA);
}

#[tokio::test]
async fn a_post_requiring_approval_waits_until_approved_then_publishes_once() {
    let app = spawn_app_with(|s| s.scheduler.tick_ms = 50).await;
    app.link_both(None).await;
    let (s, r) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(json!({"post": "check me", "platforms": ["threads"], "requiresApproval": true})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "awaiting approval", "{r}");
    assert!(r.get("postIds").is_none(), "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    // The scheduler leaves it alone.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        requests_to(&app.threads, &format!("/v1.0/{THREADS_USER}/threads")).await,
        0
    );
    let (_, h) = call(
        &app,
        Method::GET,
        "/api/history?status=awaiting%20approval",
        None,
        None,
    )
    .await;
    assert_eq!(h["history"][0]["id"], id.as_str(), "{h}");
    assert_eq!(h["history"][0]["status"], "awaiting approval");
    // Its text may still change; approval publishes it now.
    let (s, u) = call(
        &app,
        Method::PUT,
        "/api/post",
        None,
        Some(json!({"id": id, "post": "checked"})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["postStatus"], "awaiting approval");
    mount_threads_publish(&app.threads, 1).await;
    let (s, u) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": id, "approved": true})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["status"], "success");
    assert_eq!(u["postStatus"], "success", "{u}");
    assert_eq!(u["post"], "checked");
    let sent = app.threads.received_requests().await.unwrap();
    let create = sent
        .iter()
        .find(|r| r.url.path() == format!("/v1.0/{THREADS_USER}/threads"))
        .unwrap();
    assert!(
        create.url.query().unwrap_or("").contains("checked")
            || String::from_utf8_lossy(&create.body).contains("checked")
    );
    // A second approval is refused and sends nothing.
    let (s, e) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": id, "approved": true})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(941)), "{e}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        requests_to(&app.threads, &format!("/v1.0/{THREADS_USER}/threads")).await,
        1
    );
}

#[tokio::test]
async fn a_scheduled_post_changes_text_and_date_pauses_and_resumes_but_a_sent_one_does_not() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (s, r) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(json!({"post": "draft", "platforms": ["threads"], "scheduleDate": in_secs(3600)})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let later = in_secs(7200);
    let (s, u) = call(
        &app,
        Method::PUT,
        "/api/post",
        None,
        Some(json!({"id": id, "post": "final", "scheduleDate": later})),
    )
    .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["postStatus"], "pending");
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["post"], "final");
    assert_eq!(p["scheduleDate"], later.as_str());
    let (s, u) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": id, "scheduledPause": true})),
    )
    .await;
    assert_eq!((s, u["postStatus"].clone()), (200, json!("paused")), "{u}");
    let (_, h) = call(&app, Method::GET, "/api/history?status=paused", None, None).await;
    assert_eq!(h["history"][0]["id"], id.as_str(), "{h}");
    let (s, u) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": id, "scheduledPause": false})),
    )
    .await;
    assert_eq!((s, u["postStatus"].clone()), (200, json!("pending")), "{u}");
    // Text too long for a platform of the post.
    let (s, e) = call(
        &app,
        Method::PUT,
        "/api/post",
        None,
        Some(json!({"id": id, "post": "x".repeat(501)})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(921)), "{e}");
    // Unknown and other profiles' posts are not found; nothing to change is refused.
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/post",
        None,
        Some(json!({"id": "AAAAAAAAAAAAAAAAAAAA", "post": "x"})),
    )
    .await;
    assert_eq!(s, 404);
    let (_, key) = app.create_profile("Other").await;
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/post",
        Some(&key),
        Some(json!({"id": id, "post": "x"})),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/post",
        None,
        Some(json!({"id": id})),
    )
    .await;
    assert_eq!(s, 400);

    // A published post keeps its text.
    mount_threads_publish(&app.threads, 1).await;
    let (_, r) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(json!({"post": "sent", "platforms": ["threads"]})),
    )
    .await;
    let sent = r["id"].as_str().unwrap().to_owned();
    let (s, e) = call(
        &app,
        Method::PUT,
        "/api/post",
        None,
        Some(json!({"id": sent, "post": "changed"})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(941)), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("cannot change"),
        "{e}"
    );
    let (_, p) = app.get_post(&sent, None).await;
    assert_eq!(p["post"], "sent");
}

#[tokio::test]
async fn retry_publishes_only_the_failed_platforms() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, 1).await;
    // X refuses the first time, then accepts.
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"title": "Forbidden", "detail": "You are not permitted to perform this action.", "status": 403}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.x)
        .await;
    let (s, r) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(json!({"post": "both", "platforms": ["threads", "twitter"]})),
    )
    .await;
    assert_eq!(s, 400, "{r}");
    assert_eq!(r["errors"][0]["platform"], "twitter", "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    mount_x_publish(&app.x, 1).await;
    let (s, r) = call(
        &app,
        Method::PUT,
        "/api/post/retry",
        None,
        Some(json!({"id": id})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["id"], id.as_str());
    let platforms: Vec<&str> = r["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["threads", "twitter"], "{r}");
    // Threads was sent once (the mocks' expectations hold that); X twice in all.
    assert_eq!(
        requests_to(
            &app.threads,
            &format!("/v1.0/{THREADS_USER}/threads_publish")
        )
        .await,
        1
    );
    assert_eq!(requests_to(&app.x, "/2/tweets").await, 2);
    // Nothing left to retry.
    let (s, e) = call(
        &app,
        Method::PUT,
        "/api/post/retry",
        None,
        Some(json!({"id": id})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(942)), "{e}");
    let (s, _) = call(
        &app,
        Method::PUT,
        "/api/post/retry",
        None,
        Some(json!({"id": "AAAAAAAAAAAAAAAAAAAA"})),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(requests_to(&app.x, "/2/tweets").await, 2);
}

#[tokio::test]
async fn the_webhook_list_has_one_key_per_action_and_updated() {
    let app = spawn_app_with(|s| s.webhooks.allow_http = true).await;
    for action in ["feed", "scheduled", "accountActivity"] {
        let (s, r) = call(
            &app,
            Method::POST,
            "/api/hook/webhook",
            None,
            Some(json!({"action": action, "url": format!("https://hooks.example/{action}")})),
        )
        .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["action"], action);
    }
    let (s, l) = call(&app, Method::GET, "/api/hook/webhook", None, None).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["status"], "success");
    assert_eq!(l["feed"], "https://hooks.example/feed");
    assert_eq!(l["scheduled"], "https://hooks.example/scheduled");
    assert_eq!(
        l["accountActivity"],
        "https://hooks.example/accountActivity"
    );
    assert!(l["updated"].is_string(), "{l}");
    assert_eq!(l["webhooks"].as_array().unwrap().len(), 3);
    let (s, _) = call(
        &app,
        Method::DELETE,
        "/api/hook/webhook",
        None,
        Some(json!({"action": "feed"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, l) = call(&app, Method::GET, "/api/hook/webhook", None, None).await;
    assert!(l.get("feed").is_none(), "{l}");
    let (_, empty) = call(
        &app,
        Method::GET,
        "/api/hook/webhook",
        Some(&app.create_profile("P").await.1),
        None,
    )
    .await;
    assert!(empty.get("updated").is_none(), "{empty}");
}

#[tokio::test]
async fn the_scheduler_skips_a_paused_post_until_it_is_resumed_and_a_held_post_deletes_without_a_call(
) {
    let app = spawn_app_with(|s| s.scheduler.tick_ms = 50).await;
    app.link_both(None).await;
    let (s, r) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(json!({"post": "soon", "platforms": ["threads"], "scheduleDate": in_secs(3600)})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": id, "scheduledPause": true})),
    )
    .await;
    assert_eq!(s, 200);
    // Then due (moved into the past once paused: no race with a 2 s margin that a loaded
    // machine can miss).
    let (s, b) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": id, "scheduleDate": in_secs(-60)})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    // Past its due date, paused: nothing is sent.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        requests_to(&app.threads, &format!("/v1.0/{THREADS_USER}/threads")).await,
        0
    );
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "paused", "{p}");
    // Resumed: due at once, published once by the scheduler.
    mount_threads_publish(&app.threads, 1).await;
    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": id, "scheduledPause": false})),
    )
    .await;
    assert_eq!(s, 200);
    let start = std::time::Instant::now();
    loop {
        let (_, p) = app.get_post(&id, None).await;
        if p["status"] == "success" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never published: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A post awaiting approval is cancelled by a delete: no network call, then deleted.
    let (_, r) = call(
        &app,
        Method::POST,
        "/api/post",
        None,
        Some(
            json!({"post": "held", "platforms": ["threads", "twitter"], "requiresApproval": true}),
        ),
    )
    .await;
    let held = r["id"].as_str().unwrap().to_owned();
    let before = app.threads.received_requests().await.unwrap().len()
        + app.x.received_requests().await.unwrap().len();
    let d = app.delete_post(json!({"id": held})).await;
    assert_eq!(d.status(), 200);
    let (_, p) = app.get_post(&held, None).await;
    assert_eq!(p["status"], "deleted", "{p}");
    let after = app.threads.received_requests().await.unwrap().len()
        + app.x.received_requests().await.unwrap().len();
    assert_eq!(before, after, "a held post's delete calls no network");
    let (s, e) = call(
        &app,
        Method::PATCH,
        "/api/post",
        None,
        Some(json!({"id": held, "approved": true})),
    )
    .await;
    assert_eq!((s, e["code"].clone()), (400, json!(941)), "{e}");
}

#[tokio::test]
async fn the_linking_page_honours_disable_social_hide_title_and_display_title() {
    let app = spawn_app().await;
    let (_, key) = app.create_profile("Brand Title").await;
    let page = |url: String| async move { reqwest::get(url).await.unwrap().text().await.unwrap() };
    let (_, jwt) = call(
        &app,
        Method::POST,
        "/api/profiles/generateJWT",
        None,
        Some(json!({"profileKey": key})),
    )
    .await;
    let url = jwt["url"].as_str().unwrap().to_owned();
    let html = page(url.clone()).await;
    assert!(
        html.contains("Link social accounts to Brand Title"),
        "{html}"
    );
    assert!(html.contains("X/Twitter"), "{html}");

    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        Some(&key),
        Some(json!({"disableSocial": ["twitter"], "displayTitle": "Shown Name"})),
    )
    .await;
    assert_eq!(s, 200);
    let html = page(url.clone()).await;
    assert!(
        html.contains("Link social accounts to Shown Name"),
        "{html}"
    );
    assert!(
        !html.contains("X/Twitter"),
        "a disabled platform is not offered: {html}"
    );
    assert!(html.contains("Bluesky"), "{html}");

    let (s, _) = call(
        &app,
        Method::PATCH,
        "/api/profiles",
        Some(&key),
        Some(json!({"hideTitle": true})),
    )
    .await;
    assert_eq!(s, 200);
    let html = page(url).await;
    assert!(html.contains("Link your social accounts"), "{html}");
    assert!(
        !html.contains("Shown Name") && !html.contains("Brand Title"),
        "{html}"
    );
}

/// Imported items keep their `mediaUrls` and their held state: an item awaiting approval
/// stays held (the scheduler never publishes it unapproved), a paused one stays paused.
#[tokio::test]
async fn import_keeps_media_urls_and_held_posts_stay_held() {
    let app = spawn_app_with(|s| s.scheduler.tick_ms = 50).await;
    let past = (Utc::now() - ChronoDuration::minutes(5)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let (status, b) = call(
        &app,
        Method::POST,
        "/api/post/import",
        None,
        Some(json!({"posts": [
            {"post": "with images", "postIds": [{"platform": "threads", "id": "18106"}],
             "mediaUrls": ["https://images.example.com/a.png", "https://images.example.com/b.png"]},
            {"post": "awaits approval", "status": "awaiting approval", "scheduleDate": past,
             "platforms": ["threads"]},
            {"post": "paused", "status": "paused", "scheduleDate": past, "platforms": ["threads"]},
        ]})),
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let ids: Vec<String> = (0..3)
        .map(|i| b["posts"][i]["id"].as_str().unwrap().to_owned())
        .collect();
    let (_, with_media) = call(
        &app,
        Method::GET,
        &format!("/api/post/{}", ids[0]),
        None,
        None,
    )
    .await;
    assert_eq!(
        with_media["mediaUrls"],
        json!([
            "https://images.example.com/a.png",
            "https://images.example.com/b.png"
        ]),
        "{with_media}"
    );
    // Several scheduler ticks pass; the held posts are due but never sent.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for (id, expected) in [(&ids[1], "awaiting approval"), (&ids[2], "paused")] {
        let (_, p) = call(&app, Method::GET, &format!("/api/post/{id}"), None, None).await;
        assert_eq!(p["status"], expected, "{p}");
    }
    assert_eq!(app.threads.received_requests().await.unwrap().len(), 0);

    // A media URL that is not http(s) refuses the item, naming the field.
    let (status, b) = call(
        &app,
        Method::POST,
        "/api/post/import",
        None,
        Some(
            json!({"posts": [{"post": "bad", "postIds": [{"platform": "threads", "id": "18107"}],
                               "mediaUrls": ["file:///etc/passwd"]}]}),
        ),
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert!(
        b["posts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("mediaUrls[0]"),
        "{b}"
    );
}
