//! Truthful delete outcomes (issue #10 items 1 (quota give-back), 5, 6, 7, 8, 21 and issue #17):
//! never "gone" without evidence, never forget that a delete was sent.

use crate::helpers::*;
use postgate::domain::{EntryState, PostId};
use postgate::startup::Application;
use postgate::store::{SledStore, Store};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Threads' "does not exist, cannot be loaded due to missing permissions" (code 100/33).
fn graph_33(id: &str) -> Value {
    json!({"error": {"message": format!("Unsupported request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."), "type": "THApiException", "code": 100, "error_subcode": 33, "fbtrace_id": "abc"}})
}

/// A gateway whose Threads calls time out after 300 ms, within a 5 s delete budget.
async fn app_with_short_threads_timeout() -> TestApp {
    spawn_app_with(|s| {
        s.threads.timeout_ms = 300;
        s.delete.deadline_ms = 5000;
    })
    .await
}

/// A Threads delete that happens at the network but whose answer never arrives in time: the
/// mock records the call and answers only after the client gave up. `times` such calls.
async fn threads_delete_lost(server: &MockServer, media_id: &str, times: u64) {
    Mock::given(method("DELETE"))
        .and(path(format!("/v1.0/{media_id}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "deleted_id": media_id}))
                .set_delay(Duration::from_millis(1500)),
        )
        .up_to_n_times(times)
        .expect(times)
        .with_priority(1)
        .mount(server)
        .await;
}

/// After the delete happened: Threads answers 100/33 to a delete and to a read.
async fn threads_now_gone(server: &MockServer, media_id: &str, deletes: u64, reads: u64) {
    Mock::given(method("DELETE"))
        .and(path(format!("/v1.0/{media_id}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_33(media_id)))
        .expect(deletes)
        .with_priority(2)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{media_id}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_33(media_id)))
        .expect(reads)
        .mount(server)
        .await;
}

/// Calls of `verb` a network received, the identity checks of linking left out.
async fn calls(server: &MockServer, verb: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == verb && !is_identity_check(r))
        .count()
}

async fn delete_answer(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app.delete_post(body).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

fn assert_deleted_already(b: &Value, platform: &str, network_id: &str) {
    assert_eq!(b["status"], "success", "{b}");
    assert_eq!(b["code"], 200, "{b}");
    assert_eq!(
        b[platform],
        json!({"action": "delete", "status": "success", "alreadyDeleted": true, "id": network_id}),
        "{b}"
    );
}

async fn assert_stored_deleted(app: &TestApp, id: &str) {
    let (s, p) = app.get_post(id, None).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["status"], "deleted", "{p}");
    for e in p["postIds"].as_array().unwrap() {
        assert_eq!(e["state"], "deleted", "{p}");
        assert!(e.get("lastError").is_none(), "{p}");
    }
}

// ---- #10.8 / #17: a lost answer, then 100/33 ----

#[tokio::test]
async fn a_lost_answer_then_100_33_in_the_same_retry_loop_completes_the_delete() {
    let app = app_with_short_threads_timeout().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18100").await;
    threads_delete_lost(&app.threads, "18100", 1).await;
    threads_now_gone(&app.threads, "18100", 1, 1).await;

    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 200, "{b}");
    assert_deleted_already(&b, "threads", "18100");
    assert_eq!(calls(&app.threads, "DELETE").await, 2);
    assert_eq!(calls(&app.threads, "GET").await, 1);
    assert_stored_deleted(&app, &id).await;
}

#[tokio::test]
async fn two_lost_answers_in_a_row_then_100_33_complete_the_delete() {
    let app = app_with_short_threads_timeout().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18101").await;
    threads_delete_lost(&app.threads, "18101", 2).await;
    threads_now_gone(&app.threads, "18101", 1, 1).await;

    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 200, "{b}");
    assert_deleted_already(&b, "threads", "18101");
    assert_eq!(calls(&app.threads, "DELETE").await, 3);
    assert_eq!(calls(&app.threads, "GET").await, 1);
    assert_stored_deleted(&app, &id).await;
}

/// Every attempt of a first request loses its answer (905). The entry remembers that a delete
/// was sent (`deleting`, shown as not deleted, with the error); the next request's 100/33
/// completes it.
#[tokio::test]
async fn a_delete_whose_answers_were_all_lost_is_completed_by_the_next_request() {
    let app = app_with_short_threads_timeout().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18102").await;
    threads_delete_lost(&app.threads, "18102", 3).await;

    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["threads"]["code"], 905, "{b}");
    assert_eq!(b["threads"]["retryAvailable"], true, "{b}");
    assert_eq!(calls(&app.threads, "DELETE").await, 3);

    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success", "not deleted: it may be live: {p}");
    assert_eq!(p["postIds"][0]["state"], "deleting", "{p}");
    assert!(p["postIds"][0]["lastError"]
        .as_str()
        .unwrap()
        .contains("did not answer"));

    threads_now_gone(&app.threads, "18102", 1, 1).await;
    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 200, "{b}");
    assert_deleted_already(&b, "threads", "18102");
    assert_eq!(calls(&app.threads, "DELETE").await, 4);
    assert_stored_deleted(&app, &id).await;
}

/// The same, finished by crash recovery at the next start instead of a request.
#[tokio::test]
async fn recovery_at_start_up_completes_a_delete_whose_answer_was_lost() {
    let app = app_with_short_threads_timeout().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18103").await;
    threads_delete_lost(&app.threads, "18103", 3).await;
    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["threads"]["code"], 905, "{b}");

    threads_now_gone(&app.threads, "18103", 1, 1).await;
    let app = app.restart().await;
    let started = Instant::now();
    loop {
        let (_, p) = app.get_post(&id, None).await;
        if p["status"] == "deleted" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_stored_deleted(&app, &id).await;
    assert_eq!(calls(&app.threads, "DELETE").await, 4);
    // Already deleted: a new delete calls nothing more.
    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 383);
    assert_eq!(calls(&app.threads, "DELETE").await, 4);
}

/// Without an earlier attempt, 100/33 stays ambiguous (908) and the entry stays `published`.
#[tokio::test]
async fn a_100_33_with_no_earlier_attempt_stays_ambiguous() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18104").await;
    threads_now_gone(&app.threads, "18104", 1, 1).await;
    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["threads"]["code"], 908, "{b}");
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success", "{p}");
    assert_eq!(p["postIds"][0]["state"], "published", "{p}");
}

// ---- #10.6: an unknown follow-up read never completes a delete ----

/// An entry left `deleting` (a delete was sent before), then 100/33 and a follow-up read that
/// fails (5xx): the outcome is unknown, never success.
#[tokio::test]
async fn a_failed_follow_up_read_after_100_33_is_unknown_not_gone() {
    let app = app_with_short_threads_timeout().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18105").await;
    threads_delete_lost(&app.threads, "18105", 3).await;
    let (_, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(b["threads"]["code"], 905, "{b}");

    Mock::given(method("DELETE"))
        .and(path("/v1.0/18105"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_33("18105")))
        .expect(1)
        .with_priority(2)
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/18105"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .expect(1)
        .mount(&app.threads)
        .await;
    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["threads"]["code"], 908, "{b}");
    assert!(
        b["threads"]["message"]
            .as_str()
            .unwrap()
            .contains("outcome is unknown"),
        "{b}"
    );
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success", "{p}");
    assert_eq!(p["postIds"][0]["state"], "deleting", "{p}");
}

async fn run(settings: &postgate::configuration::Settings) -> (String, Application) {
    let mut last = None;
    for _ in 0..50 {
        match Application::build(settings.clone()).await {
            Ok(app) => return (format!("http://127.0.0.1:{}", app.port()), app),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gateway did not start: {last:?}");
}

/// An entry left `deleting` by a crash: at the next start, recovery gets 100/33 and a follow-up
/// read that times out. Not success: the entry stays `deleting`, the post not deleted.
#[tokio::test]
async fn a_crash_left_deleting_entry_is_not_completed_by_an_unknown_read() {
    let dir = tempfile::tempdir().unwrap();
    let threads = MockServer::start().await;
    let x = MockServer::start().await;
    mount_identities(&threads, &x).await;
    let mut settings = test_settings(&dir, &threads, &x);
    settings.threads.timeout_ms = 300;
    let client = reqwest::Client::new();

    let (address, app) = run(&settings).await;
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let r = client
        .post(format!("{address}/api/profiles/social"))
        .bearer_auth(API_KEY)
        .json(&json!({"platform": "threads", "userId": THREADS_USER, "accessToken": THREADS_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = client
        .post(format!("{address}/api/post/import"))
        .bearer_auth(API_KEY)
        .json(
            &json!({"posts": [{"post": "t", "postIds": [{"platform": "threads", "id": "18106"}]}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = b["posts"][0]["id"].as_str().unwrap().to_owned();
    handle.stop(true).await;
    join.await.unwrap().unwrap();

    // The crash: the intent was recorded, the outcome never was.
    let mut last = None;
    for _ in 0..50 {
        match SledStore::open(&settings.store.path) {
            Ok(store) => {
                let pid = PostId::parse(&id).unwrap();
                let mut post = store.get_post(&pid).await.unwrap().unwrap();
                post.entries[0].state = EntryState::Deleting;
                store.update_post(&post).await.unwrap();
                store.flush().await.unwrap();
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(last.is_none(), "{last:?}");

    Mock::given(method("DELETE"))
        .and(path("/v1.0/18106"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_33("18106")))
        .mount(&threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/18106"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&threads)
        .await;
    let (address, app) = run(&settings).await;
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    // Recovery runs in the background: wait for its read, then for its record.
    let started = Instant::now();
    let post = loop {
        let p: Value = client
            .get(format!("{address}/api/post/{id}"))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if p["postIds"][0].get("lastError").is_some() || p["status"] == "deleted" {
            break p;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(post["status"], "success", "{post}");
    assert_eq!(post["postIds"][0]["state"], "deleting", "{post}");
    assert!(calls(&threads, "GET").await >= 1);
    handle.stop(true).await;
    let _ = join.await;
}

// ---- #10.6 / #10.7: a bare 404 is not proof ----

/// A misrouted base URL (wiremock answers an unknown route with a bare 404): markManualDeleted
/// must record nothing and say why.
#[tokio::test]
async fn mark_manual_deleted_on_a_bare_404_records_nothing() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18107", "1107", None).await;

    let (status, b) = delete_answer(&app, json!({"id": id, "markManualDeleted": true})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["status"], "error", "{b}");
    assert_eq!(b["code"], 908, "{b}");
    assert_eq!(b["markManualDeleted"], true, "{b}");
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.contains("Nothing was recorded") && msg.contains("base_url"),
        "{msg}"
    );
    // Both networks were asked (and answered the bare 404).
    assert_eq!(calls(&app.threads, "GET").await, 1);
    assert_eq!(calls(&app.x, "GET").await, 1);
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success", "{p}");
    for e in p["postIds"].as_array().unwrap() {
        assert_eq!(e["state"], "published", "{p}");
    }
}

/// X's read answering 404 with v1.1 code 34 ("page does not exist", also its unknown-route
/// answer) is not proof either.
#[tokio::test]
async fn mark_manual_deleted_on_x_code_34_records_nothing() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("twitter", "1108").await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1108"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}),
        ))
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, b) = delete_answer(&app, json!({"id": id, "markManualDeleted": true})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 908, "{b}");
    assert_eq!(b["platform"], "twitter", "{b}");
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success", "{p}");
}

/// With a real Graph not-found body, markManualDeleted still records.
#[tokio::test]
async fn mark_manual_deleted_with_not_found_bodies_records() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18109", "1109", None).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/18109"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_33("18109")))
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/1109"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"errors": [{"detail": "Could not find tweet with id: [1109].", "title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}]})))
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, b) = delete_answer(&app, json!({"id": id, "markManualDeleted": true})).await;
    assert_eq!(status, 200, "{b}");
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "deleted", "{p}");
}

// ---- #10.5: X code 34 is not "already deleted"; 144 is ----

#[tokio::test]
async fn x_code_34_on_delete_is_ambiguous_and_144_is_gone() {
    let app = spawn_app_with(|s| s.x.api = postgate::configuration::XApi::V1_1).await;
    app.link_both(None).await;
    let a = app.single_platform_post("twitter", "1110").await;
    let b_id = app.single_platform_post("twitter", "1111").await;
    Mock::given(method("POST"))
        .and(path("/1.1/statuses/destroy/1110.json"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}),
        ))
        .expect(1)
        .mount(&app.x)
        .await;
    Mock::given(method("POST"))
        .and(path("/1.1/statuses/destroy/1111.json"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errors": [{"message": "No status found with that ID.", "code": 144}]}),
        ))
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, b) = delete_answer(&app, json!({"id": a})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["twitter"]["code"], 908, "{b}");
    let (_, p) = app.get_post(&a, None).await;
    assert_eq!(p["postIds"][0]["state"], "published", "{p}");

    let (status, b) = delete_answer(&app, json!({"id": b_id})).await;
    assert_eq!(status, 200, "{b}");
    assert_deleted_already(&b, "twitter", "1111");
}

#[tokio::test]
async fn x_v2_delete_answering_404_code_34_is_ambiguous() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("twitter", "1112").await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1112"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}),
        ))
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["twitter"]["code"], 908, "{b}");
    assert!(b["twitter"].get("alreadyDeleted").is_none(), "{b}");
}

// ---- #10.21: X 403 app/permission problems answer 272; duplicates 110 ----

#[tokio::test]
async fn x_403_app_and_permission_problems_answer_272() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let bodies = [
        json!({"title": "Forbidden", "type": "https://api.twitter.com/2/problems/oauth1-permissions", "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.", "status": 403}),
        json!({"title": "Client Forbidden", "reason": "client-not-enrolled", "type": "https://api.twitter.com/2/problems/client-forbidden", "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project."}),
        json!({"title": "Unsupported Authentication", "type": "https://api.twitter.com/2/problems/unsupported-authentication", "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.", "status": 403}),
        json!({"errors": [{"code": 220, "message": "Your credentials do not allow access to this resource."}]}),
        json!({"errors": [{"code": 261, "message": "Your App cannot perform write actions."}]}),
        json!({"errors": [{"code": 326, "message": "To protect our users from spam and other malicious activity, this account is temporarily locked."}]}),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let tweet = format!("{}", 1200 + i);
        let id = app.single_platform_post("twitter", &tweet).await;
        Mock::given(method("DELETE"))
            .and(path(format!("/2/tweets/{tweet}")))
            .respond_with(ResponseTemplate::new(403).set_body_json(body.clone()))
            .expect(1)
            .mount(&app.x)
            .await;
        let (status, b) = delete_answer(&app, json!({"id": id})).await;
        assert_eq!(status, 400, "{b}");
        assert_eq!(b["twitter"]["code"], 272, "{body} -> {b}");
        assert!(
            b["twitter"]["message"]
                .as_str()
                .unwrap()
                .contains("Re-link"),
            "{b}"
        );
    }
    // A plain 403 (not the author) stays a refusal.
    let id = app.single_platform_post("twitter", "1299").await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1299"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"title": "Forbidden", "detail": "You are not allowed to delete a Tweet you did not create.", "type": "about:blank", "status": 403})))
        .expect(1)
        .mount(&app.x)
        .await;
    let (_, b) = delete_answer(&app, json!({"id": id})).await;
    assert_eq!(b["twitter"]["code"], 906, "{b}");
}

#[tokio::test]
async fn x_duplicate_content_answers_110_on_publish() {
    let app = spawn_app().await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errors": [{"code": 187, "message": "Status is a duplicate."}]
        })))
        .expect(1)
        .mount(&app.x)
        .await;
    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .json(&json!({"post": "same again", "platforms": ["twitter"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b["errors"][0],
        json!({"action": "post", "status": "error", "code": 110, "message": "Status is a duplicate.", "platform": "twitter"}),
        "{b}"
    );
    assert_eq!(calls(&app.x, "POST").await, 1);
}

// ---- #10.1 (second half): an auth failure gives its quota slot back ----

#[tokio::test]
async fn threads_auth_failures_do_not_use_up_the_delete_quota() {
    const QUOTA: u64 = 3;
    let app = spawn_app_with(|s| s.threads.delete_limit = QUOTA as u32).await;
    app.link_both(None).await;
    let mut ids = Vec::new();
    for i in 0..=QUOTA {
        ids.push(
            app.single_platform_post("threads", &format!("{}", 18200 + i))
                .await,
        );
    }
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Error validating access token: Session has expired.", "type": "OAuthException", "code": 190, "error_subcode": 463}})))
        .up_to_n_times(QUOTA)
        .expect(QUOTA)
        .with_priority(1)
        .mount(&app.threads)
        .await;
    for id in &ids[..QUOTA as usize] {
        let (status, b) = delete_answer(&app, json!({"id": id})).await;
        assert_eq!(status, 400, "{b}");
        assert_eq!(b["threads"]["code"], 907, "{b}");
    }
    // The token is fixed (re-linked); the quota is still whole.
    threads_delete_ok(&app.threads, &format!("{}", 18200 + QUOTA), 1).await;
    let (status, b) = delete_answer(&app, json!({"id": ids[QUOTA as usize]})).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(calls(&app.threads, "DELETE").await, QUOTA as usize + 1);
}

// ---- #11: each network's delete quota comes from its own settings section ----

#[tokio::test]
async fn each_network_counts_its_own_delete_quota() {
    let app = spawn_app_with(|s| {
        s.x.delete_limit = 1;
        s.threads.delete_limit = 2;
    })
    .await;
    app.link_both(None).await;
    let x1 = app.single_platform_post("twitter", "1501").await;
    let x2 = app.single_platform_post("twitter", "1502").await;
    let t1 = app.single_platform_post("threads", "18501").await;
    let t2 = app.single_platform_post("threads", "18502").await;
    x_delete_ok(&app.x, "1501", 1).await;
    threads_delete_ok(&app.threads, "18501", 1).await;
    threads_delete_ok(&app.threads, "18502", 1).await;

    let (status, b) = delete_answer(&app, json!({"id": x1})).await;
    assert_eq!(status, 200, "{b}");
    // X's own limit (1), not Threads' (2): refused before any call.
    let (status, b) = delete_answer(&app, json!({"id": x2})).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["twitter"]["code"], 903, "{b}");
    let message = b["twitter"]["message"].as_str().unwrap();
    assert!(
        message.contains("X/Twitter") && message.contains("(1 per"),
        "{b}"
    );
    assert_eq!(calls(&app.x, "DELETE").await, 1);
    // Threads' own window is untouched by X's.
    for id in [&t1, &t2] {
        let (status, b) = delete_answer(&app, json!({"id": id})).await;
        assert_eq!(status, 200, "{b}");
    }
    assert_eq!(calls(&app.threads, "DELETE").await, 2);
}
