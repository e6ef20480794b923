//! Retries, rate limits (local quotas and the networks' own), their persistence.

use crate::helpers::*;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("twitter", "5001").await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/5001"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .expect(2)
        .with_priority(1)
        .mount(&app.x)
        .await;
    x_delete_ok(&app.x, "5001", 1).await;
    let r = app.delete_post(json!({"id": id})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.x.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_4xx_is_never_retried() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("twitter", "5002").await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/5002"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"title": "Invalid Request", "detail": "bad id"})),
        )
        .expect(1)
        .mount(&app.x)
        .await;
    let b: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["twitter"]["code"], 906);
}

#[tokio::test]
async fn the_101st_threads_delete_is_refused_locally_and_the_count_survives_a_restart() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let posts: Vec<Value> = (0..102).map(|i| json!({"post": "t", "postIds": [{"platform": "threads", "id": (60000 + i).to_string()}]})).collect();
    let (_, r) = app.import(Value::Array(posts), None).await;
    let ids: Vec<String> = r["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/v1\.0/\d+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(100)
        .mount(&app.threads)
        .await;
    let b: Value = app
        .delete_post(json!({"bulk": ids[..100]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "success", "{b}");

    let r = app.delete_post(json!({"id": ids[100]})).await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["threads"]["code"], 903);
    let retry_after = b["threads"]["retryAfter"].as_u64().unwrap();
    assert!(
        retry_after > 86_000 && retry_after <= 86_400,
        "{retry_after}"
    );

    // After a restart the window is still full; the mock still sees exactly 100 calls.
    let app = app.restart().await;
    let b: Value = app
        .delete_post(json!({"id": ids[101]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["threads"]["code"], 903, "{b}");
    assert_eq!(app.threads.received_requests().await.unwrap().len(), 100);
}

#[tokio::test]
async fn an_x_429_blocks_the_account_until_the_reset() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let first = app.single_platform_post("twitter", "5003").await;
    let second = app.single_platform_post("twitter", "5004").await;
    let reset = chrono::Utc::now().timestamp() + 120;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/5003"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-limit", "50")
                .insert_header("x-rate-limit-remaining", "0")
                .insert_header("x-rate-limit-reset", reset.to_string().as_str())
                .set_body_json(json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})),
        )
        .expect(1)
        .mount(&app.x)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/5004"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&app.x)
        .await;
    let b: Value = app
        .delete_post(json!({"id": first}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["twitter"]["code"], 903, "{b}");
    let ra = b["twitter"]["retryAfter"].as_u64().unwrap();
    assert!((100..=121).contains(&ra), "{ra}");
    // The next delete for this account is refused without a call, until the reset.
    let b: Value = app
        .delete_post(json!({"id": second}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["twitter"]["code"], 903);
    assert!(b["twitter"]["retryAfter"].as_u64().unwrap() <= 121);
}

#[tokio::test]
async fn graph_rate_limit_codes_are_rate_limits_not_auth_errors() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.single_platform_post("threads", "61001").await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/61001"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "User request limit reached", "type": "OAuthException", "code": 17}})))
        .expect(1)
        .mount(&app.threads)
        .await;
    let b: Value = app
        .delete_post(json!({"id": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["threads"]["code"], 903, "{b}");
    assert!(b["threads"]["retryAfter"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn a_zero_delete_limit_switches_the_local_count_off() {
    let app = spawn_app_with(|s| s.x.delete_limit = 0).await;
    app.link_both(None).await;
    for tweet in ["5101", "5102", "5103"] {
        let id = app.single_platform_post("twitter", tweet).await;
        x_delete_ok(&app.x, tweet, 1).await;
        assert_eq!(app.delete_post(json!({"id": id})).await.status(), 200);
    }
}
