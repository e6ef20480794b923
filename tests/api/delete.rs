//! DELETE /api/post (and /api/delete) for one id.

use crate::helpers::*;
use serde_json::{json, Value};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

async fn body(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, r.json().await.unwrap())
}

#[tokio::test]
async fn deletes_on_both_networks_with_the_right_credentials() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app
        .published_post("18011", "1445880548472328192", None)
        .await;
    threads_delete_ok(&app.threads, "18011", 1).await;
    x_delete_ok(&app.x, "1445880548472328192", 1).await;

    let (status, ct, b) = body(app.delete_post(json!({"id": id, "source": "npm"})).await).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(ct, "application/json; charset=utf-8");
    assert_eq!(
        b,
        json!({
            "status": "success", "code": 200, "id": id,
            "threads": {"action": "delete", "status": "success", "id": "18011"},
            "twitter": {"action": "delete", "status": "success", "id": "1445880548472328192"}
        })
    );

    // What the networks received.
    let threads_calls = app.threads.received_requests().await.unwrap();
    assert_eq!(threads_calls.len(), 1);
    let q: Vec<(String, String)> = threads_calls[0]
        .url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    assert_eq!(
        q,
        vec![("access_token".to_string(), THREADS_TOKEN.to_string())]
    );
    let x_calls = app.x.received_requests().await.unwrap();
    assert_eq!(x_calls.len(), 1);
    assert_eq!(x_calls[0].method.as_str(), "DELETE");
    verify_oauth1(
        &x_calls[0],
        X_CONSUMER_KEY,
        X_CONSUMER_SECRET,
        X_TOKEN,
        X_TOKEN_SECRET,
    )
    .unwrap();
    // A wrong secret must not verify: the check is real.
    assert!(verify_oauth1(
        &x_calls[0],
        X_CONSUMER_KEY,
        "other",
        X_TOKEN,
        X_TOKEN_SECRET
    )
    .is_err());

    // The post reads as deleted, per platform too.
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "deleted");
    assert!(p["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["state"] == "deleted"));
    // Deleting it again: 383, no network call (the mocks' expect(1) is checked on drop).
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400);
    assert_eq!(
        b,
        json!({"action": "delete", "status": "error", "code": 383, "message": "The post is already deleted.", "id": id})
    );
}

#[tokio::test]
async fn byo_headers_win_over_settings() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18012", "1002", None).await;
    threads_delete_ok(&app.threads, "18012", 1).await;
    x_delete_ok(&app.x, "1002", 1).await;
    let r = app
        .request(reqwest::Method::DELETE, "/api/post", None)
        .header("X-Twitter-OAuth1-Api-Key", "byo-key")
        .header("X-Twitter-OAuth1-Api-Secret", "byo-secret")
        .json(&json!({"id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let x_calls = app.x.received_requests().await.unwrap();
    verify_oauth1(
        &x_calls[0],
        "byo-key",
        "byo-secret",
        X_TOKEN,
        X_TOKEN_SECRET,
    )
    .unwrap();
}

/// Answers each of `parties` requests only once all of them have arrived, so calls made one
/// after the other never meet: the first waits in vain and is answered 503. Blocking is
/// fine here: each wiremock server runs on a thread of its own.
struct Rendezvous {
    arrived: Arc<(Mutex<usize>, Condvar)>,
    parties: usize,
    ok: ResponseTemplate,
}

impl Respond for Rendezvous {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let (lock, all_here) = &*self.arrived;
        let mut arrived = lock.lock().unwrap();
        *arrived += 1;
        all_here.notify_all();
        let (_arrived, waited) = all_here
            .wait_timeout_while(arrived, Duration::from_secs(20), |n| *n < self.parties)
            .unwrap();
        if waited.timed_out() {
            ResponseTemplate::new(503)
        } else {
            self.ok.clone()
        }
    }
}

#[tokio::test]
async fn both_networks_are_called_concurrently() {
    // Timeouts far above any scheduling delay: the proof is the meeting, not a stopwatch.
    let app = spawn_app_with(|s| {
        s.threads.timeout_ms = 30_000;
        s.x.timeout_ms = 30_000;
        s.delete.deadline_ms = 30_000;
        s.delete.retry_attempts = 1;
    })
    .await;
    app.link_both(None).await;
    let id = app.published_post("18013", "1003", None).await;
    let arrived = Arc::new((Mutex::new(0), Condvar::new()));
    let meet = |ok: ResponseTemplate| Rendezvous {
        arrived: arrived.clone(),
        parties: 2,
        ok,
    };
    Mock::given(method("DELETE"))
        .and(path("/v1.0/18013"))
        .respond_with(meet(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "deleted_id": "18013"})),
        ))
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1003"))
        .respond_with(meet(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"deleted": true}})),
        ))
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    // Sequential calls would never meet: the first would be answered 503.
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["threads"]["status"], "success", "{b}");
    assert_eq!(b["twitter"]["status"], "success", "{b}");
}

#[tokio::test]
async fn x_fails_threads_succeeds_then_retry_calls_only_x() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18014", "1004", None).await;
    threads_delete_ok(&app.threads, "18014", 1).await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1004"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(3)
        .expect(3)
        .mount(&app.x)
        .await;
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["status"], "error");
    assert_eq!(b["id"], id.as_str());
    assert_eq!(
        b["threads"],
        json!({"action": "delete", "status": "success", "id": "18014"})
    );
    assert_eq!(b["twitter"]["status"], "error");
    assert_eq!(b["twitter"]["code"], 904);
    assert_eq!(b["twitter"]["id"], "1004");
    assert_eq!(b["errors"].as_array().unwrap().len(), 1);
    assert_eq!(b["errors"][0]["platform"], "twitter");
    assert_eq!(b["errors"][0]["code"], 904);
    let (_, p) = app.get_post(&id, None).await;
    assert_ne!(p["status"], "deleted");

    // The 500 was retried (3 attempts in all) before it was reported.
    // Second delete: X only (Threads' mock expects exactly one call in total).
    x_delete_ok(&app.x, "1004", 1).await;
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["threads"]["alreadyDeleted"], true);
    assert_eq!(b["twitter"]["status"], "success");
    let threads_calls = app.threads.received_requests().await.unwrap();
    assert_eq!(threads_calls.len(), 1);
}

#[tokio::test]
async fn a_hanging_network_times_out_within_the_deadline() {
    let app = spawn_app_with(|s| {
        s.delete.deadline_ms = 800;
        s.x.timeout_ms = 30_000;
    })
    .await;
    app.link_both(None).await;
    let id = app.published_post("18015", "1005", None).await;
    threads_delete_ok(&app.threads, "18015", 1).await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1005"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&app.x)
        .await;
    let started = Instant::now();
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    // Without the deadline, X's timeout (30 s) would end it; the bound leaves a loaded
    // machine seconds of slack over the 0.8 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, 400);
    assert_eq!(b["threads"]["status"], "success");
    assert_eq!(b["twitter"]["code"], 905);
}

#[tokio::test]
async fn already_gone_is_reported_truthfully() {
    let app = spawn_app().await;
    app.link_both(None).await;
    // X 404: unambiguous, success flagged alreadyDeleted.
    // Threads 100/33 twice (delete, then the confirming read): ambiguous, an error that says why.
    let id = app.published_post("18016", "1006", None).await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1006"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"})))
        .expect(1)
        .mount(&app.x)
        .await;
    let graph_33 = json!({"error": {"message": "Unsupported delete request. Object with ID '18016' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", "type": "THApiException", "code": 100, "error_subcode": 33, "fbtrace_id": "abc"}});
    Mock::given(method("DELETE"))
        .and(path("/v1.0/18016"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_33.clone()))
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/18016"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_33.clone()))
        .expect(1)
        .mount(&app.threads)
        .await;
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["twitter"]["status"], "success");
    assert_eq!(b["twitter"]["alreadyDeleted"], true);
    assert_eq!(b["threads"]["status"], "error");
    assert_eq!(b["threads"]["code"], 908);
    let msg = b["threads"]["message"].as_str().unwrap();
    assert!(
        msg.contains("threads_delete") && msg.contains("markManualDeleted"),
        "{msg}"
    );
}

#[tokio::test]
async fn threads_100_33_on_a_post_that_still_exists_is_a_permission_error() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18017").await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/18017"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "Unsupported delete request.", "type": "THApiException", "code": 100, "error_subcode": 33}})))
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/18017"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "18017"})))
        .expect(1)
        .mount(&app.threads)
        .await;
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400);
    assert_eq!(b["threads"]["code"], 907);
    assert!(b["threads"]["message"]
        .as_str()
        .unwrap()
        .contains("threads_delete"));
}

#[tokio::test]
async fn threads_permission_error_as_http_500_is_not_transient() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18018").await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/18018"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"message": "Application does not have permission for this action", "code": 10, "type": "THApiException"}})))
        .expect(1)
        .mount(&app.threads)
        .await;
    let (_, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(b["threads"]["code"], 907, "{b}");
    assert!(b["threads"].get("retryAvailable").is_none());
}

#[tokio::test]
async fn x_deleted_false_is_a_failure() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("twitter", "1008").await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1008"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"deleted": false}})))
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400);
    assert_eq!(b["twitter"]["code"], 906);
}

#[tokio::test]
async fn twenty_concurrent_deletes_call_each_network_once() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18019", "1009", None).await;
    threads_delete_ok_after(&app.threads, "18019", 1, Duration::from_millis(100)).await;
    x_delete_ok_after(&app.x, "1009", 1, Duration::from_millis(100)).await;
    let answers =
        futures::future::join_all((0..20).map(|_| app.delete_post(json!({"id": id})))).await;
    let mut successes = 0;
    for r in answers {
        let b: Value = r.json().await.unwrap();
        if b["status"] == "success" {
            successes += 1;
            assert_eq!(b["twitter"]["status"], "success");
        } else {
            assert_eq!(b["code"], 383, "{b}");
        }
    }
    assert_eq!(successes, 1);
}

#[tokio::test]
async fn foreign_unknown_and_malformed_ids_answer_114_without_network_calls() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, pk) = app.create_profile("Other").await;
    let id = app.published_post("18020", "1010", Some(&pk)).await;
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
    let mut bodies = Vec::new();
    for raw in [
        id.as_str(),
        "QQQQQQQQQQQQQQQQQQQQ",
        "short",
        "with-dash-and-20-chr",
    ] {
        let (status, _, b) = body(app.delete_post(json!({"id": raw})).await).await;
        assert_eq!(status, 400);
        assert_eq!(b["code"], 114);
        assert_eq!(b["message"], "Delete id not found.");
        assert_eq!(b["id"], raw);
        bodies.push(b);
    }
    // Another account's key: the same answer.
    let r = app
        .client
        .delete(format!("{}/api/post", app.address))
        .bearer_auth(OTHER_API_KEY)
        .json(&json!({"id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 114);
    // The owner still sees it untouched.
    let (status, p) = app.get_post(&id, Some(&pk)).await;
    assert_eq!(status, 200);
    assert_eq!(p["status"], "success");
}

#[tokio::test]
async fn undeletable_platforms_get_explicit_errors() {
    let app = spawn_app().await;
    app.link_both(None).await;
    threads_delete_ok(&app.threads, "18021", 1).await;
    let (_, r) = app
        .import(
            json!([{"post": "everywhere", "postIds": [
                {"platform": "instagram", "id": "ig1"},
                {"platform": "tiktok", "id": "tt1"},
                {"platform": "facebook", "id": "fb1", "type": "story", "mediaType": "image"},
                {"platform": "threads", "id": "18021"}
            ]},
            {"post": "other", "postIds": [
                {"platform": "facebook", "id": "fb2", "type": "story", "mediaType": "video"},
                {"platform": "linkedin", "id": "li1"}
            ]}]),
            None,
        )
        .await;
    let id = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400);
    assert_eq!(b["threads"]["status"], "success");
    for (platform, app_name) in [
        ("instagram", "Instagram app"),
        ("tiktok", "TikTok app"),
        ("facebook", "Facebook app"),
    ] {
        assert_eq!(b[platform]["status"], "error", "{platform}");
        assert_eq!(b[platform]["code"], 901);
        let m = b[platform]["message"].as_str().unwrap();
        assert!(
            m.contains(app_name) && m.contains("markManualDeleted"),
            "{m}"
        );
    }
    assert_eq!(b["errors"].as_array().unwrap().len(), 3);
    // The post is not deleted while those copies are live; a repeat reports them again.
    let (_, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(b["instagram"]["code"], 901);
    assert_eq!(b["threads"]["alreadyDeleted"], true);

    let other = r["posts"][1]["id"].as_str().unwrap().to_owned();
    let (_, _, b) = body(app.delete_post(json!({"id": other})).await).await;
    assert_eq!(b["facebook"]["code"], 902);
    assert_eq!(b["linkedin"]["code"], 902);
    assert!(b["linkedin"]["message"]
        .as_str()
        .unwrap()
        .contains("not supported by this gateway"));
}

#[tokio::test]
async fn unlinked_platform_and_missing_x_credentials() {
    let app = spawn_app_with(|s| {
        s.x.consumer_key.clear();
        s.x.consumer_secret.clear();
    })
    .await;
    // Only X is linked (linking verifies the token, so it needs consumer credentials: BYO).
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .header("X-Twitter-OAuth1-Api-Key", "byo-key")
        .header("X-Twitter-OAuth1-Api-Secret", "byo-secret")
        .json(&json!({"platform": "twitter", "userId": X_USER, "accessToken": X_TOKEN, "accessTokenSecret": X_TOKEN_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
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
    let id = app.published_post("18022", "1012", None).await;
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400);
    assert_eq!(b["threads"]["code"], 156);
    assert!(b["threads"]["message"]
        .as_str()
        .unwrap()
        .contains("POST /api/profiles/social"));
    assert_eq!(b["twitter"]["code"], 419);
    assert_eq!(b["twitter"]["error"], "x_credentials_required");
    // Half of the BYO pair is a request error.
    let r = app
        .request(reqwest::Method::DELETE, "/api/post", None)
        .header("X-Twitter-OAuth1-Api-Key", "only-key")
        .json(&json!({"id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn legacy_path_behaves_identically() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18023", "1013", None).await;
    threads_delete_ok(&app.threads, "18023", 1).await;
    x_delete_ok(&app.x, "1013", 1).await;
    let r = app
        .request(reqwest::Method::DELETE, "/api/delete", None)
        .json(&json!({"id": id, "source": "pypi"}))
        .send()
        .await
        .unwrap();
    let (status, ct, b) = body(r).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "application/json; charset=utf-8");
    assert_eq!(b["status"], "success");
    assert_eq!(b["code"], 200);
    let r = app
        .request(reqwest::Method::DELETE, "/api/delete", None)
        .json(&json!({"id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 383);
    let r = app
        .request(reqwest::Method::DELETE, "/api/delete", None)
        .json(&json!({"id": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 114);
}

#[tokio::test]
async fn scheduled_post_is_cancelled_without_network_calls() {
    let app = spawn_app().await;
    app.link_both(None).await;
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
    let (_, r) = app
        .import(json!([{"post": "later", "status": "pending", "scheduleDate": "2099-01-01T00:00:00Z", "platforms": ["threads", "twitter"]}]), None)
        .await;
    let id = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let (status, _, b) = body(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["status"], "success");
    assert_eq!(b["twitter"]["status"], "success");
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "deleted");
}

#[tokio::test]
async fn x_v1_1_mode_uses_statuses_destroy() {
    let app = spawn_app_with(|s| s.x.api = postgate::configuration::XApi::V1_1).await;
    app.link_both(None).await;
    let id = app
        .single_platform_post("twitter", "240854986559455234")
        .await;
    Mock::given(method("POST"))
        .and(path("/1.1/statuses/destroy/240854986559455234.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id_str": "240854986559455234"})),
        )
        .expect(1)
        .mount(&app.x)
        .await;
    let r = app.delete_post(json!({"id": id})).await;
    assert_eq!(r.status(), 200);
    let calls = app.x.received_requests().await.unwrap();
    verify_oauth1(
        &calls[0],
        X_CONSUMER_KEY,
        X_CONSUMER_SECRET,
        X_TOKEN,
        X_TOKEN_SECRET,
    )
    .unwrap();
}

#[tokio::test]
async fn threads_query_token_is_the_linked_one() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "18024").await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/18024"))
        .and(query_param("access_token", THREADS_TOKEN))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{ "success": true, "deleted_id": "18024", }"#),
        )
        .expect(1)
        .mount(&app.threads)
        .await;
    // The documented sample body has a trailing comma; it still counts as deleted.
    let r = app.delete_post(json!({"id": id})).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn one_http_worker_serves_concurrent_deletes() {
    // `server.workers = 1`: the deletes run on the gateway's runtime, so one HTTP worker
    // still answers several deletes at once, each network called once per post.
    let app = spawn_app_with(|s| s.server.workers = 1).await;
    app.link_both(None).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        let (t, x) = (format!("1801{n}"), format!("144588054847232819{n}"));
        ids.push(app.published_post(&t, &x, None).await);
        threads_delete_ok(&app.threads, &t, 1).await;
        x_delete_ok(&app.x, &x, 1).await;
    }
    let answers =
        futures::future::join_all(ids.iter().map(|id| app.delete_post(json!({ "id": id })))).await;
    for (id, r) in ids.iter().zip(answers) {
        let (status, _, b) = body(r).await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(b["id"], json!(id));
        assert_eq!(b["threads"]["status"], "success", "{b}");
        assert_eq!(b["twitter"]["status"], "success", "{b}");
    }
    for server in [&app.threads, &app.x] {
        let deletes = server.received_requests().await.unwrap();
        let deletes = deletes.iter().filter(|r| r.method.as_str() == "DELETE");
        assert_eq!(deletes.count(), 4);
    }
}
