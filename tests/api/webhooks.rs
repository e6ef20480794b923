//! Ayrshare webhooks: registration (https only, per profile with fallback to the primary),
//! signed deliveries, the 5 s / 30 s retry schedule (shrunk), `social` and `scheduled`.

use crate::helpers::*;
use crate::queue::{assert_signed, receiver, register};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn hook_request(
    app: &TestApp,
    m: reqwest::Method,
    body: Option<Value>,
    profile_key: Option<&str>,
) -> (u16, Value) {
    let mut r = app.request(m, "/api/hook/webhook", profile_key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn registration_is_https_only_and_answers_ayrshares_shapes() {
    let app = spawn_app().await;
    let (status, r) = hook_request(
        &app,
        reqwest::Method::POST,
        Some(json!({"action": "scheduled", "url": "http://example.com/hook", "source": "npm"})),
        None,
    )
    .await;
    assert_eq!(status, 400, "{r}");
    let (status, r) = hook_request(
        &app,
        reqwest::Method::POST,
        Some(json!({"action": "nope", "url": "https://example.com/hook"})),
        None,
    )
    .await;
    assert_eq!(status, 400, "{r}");
    for action in [
        "feed",
        "social",
        "scheduled",
        "batch",
        "messages",
        "accountActivity",
        "delete",
    ] {
        let (status, r) = hook_request(
            &app,
            reqwest::Method::POST,
            Some(json!({"action": action, "url": "https://example.com/hook", "secret": "s"})),
            None,
        )
        .await;
        assert_eq!(status, 200, "{r}");
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["status", "action", "url", "refId"], "{r}");
        assert_eq!(r["action"], action);
    }
    let (status, r) = hook_request(&app, reqwest::Method::GET, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(r["webhooks"].as_array().unwrap().len(), 7, "{r}");
    assert!(
        !r.to_string().contains("\"secret\""),
        "a secret is never answered: {r}"
    );
    let (status, r) = hook_request(
        &app,
        reqwest::Method::DELETE,
        Some(json!({"action": "feed"})),
        None,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["status"], "success");
    let (_, r) = hook_request(&app, reqwest::Method::GET, None, None).await;
    assert_eq!(r["webhooks"].as_array().unwrap().len(), 6, "{r}");
    // Another profile sees none of them.
    let (_, key) = app.create_profile("second").await;
    let (_, r) = hook_request(&app, reqwest::Method::GET, None, Some(&key)).await;
    assert_eq!(r["webhooks"].as_array().unwrap().len(), 0, "{r}");
}

#[tokio::test]
async fn a_failing_receiver_is_retried_after_the_two_delays_with_one_hook_id() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 20;
        s.webhooks.retry_delays_ms = vec![300, 900];
    })
    .await;
    let (hooks, deliveries) = receiver(2).await;
    register(&app, &hooks, "social", Some("the-secret")).await;
    // One `social` event.
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&json!({"platform": "threads", "accessToken": THREADS_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_until("three attempts", 30, || deliveries.len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let all = deliveries.all();
    assert_eq!(all.len(), 3, "fails twice, then lands, then nothing more");
    let by_hook = |id: &str| -> Vec<Instant> {
        all.iter()
            .filter(|(_, r)| serde_json::from_slice::<Value>(&r.body).unwrap()["hookId"] == id)
            .map(|(t, _)| *t)
            .collect()
    };
    let first: Value = serde_json::from_slice(&all[0].1.body).unwrap();
    let attempts = by_hook(first["hookId"].as_str().unwrap());
    assert_eq!(attempts.len(), 3, "{first}");
    assert!(attempts[1] - attempts[0] >= Duration::from_millis(300));
    assert!(attempts[2] - attempts[1] >= Duration::from_millis(900));
    for (_, r) in &all {
        assert_signed(r, "the-secret");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["action"], "social");
        assert_eq!(v["type"], "link");
        assert_eq!(v["source"], "user");
    }
    // Same bytes every attempt.
    assert!(all
        .iter()
        .filter(
            |(_, r)| serde_json::from_slice::<Value>(&r.body).unwrap()["hookId"] == first["hookId"]
        )
        .all(|(_, r)| r.body == all[0].1.body));
}

#[tokio::test]
async fn a_receiver_failing_for_good_gets_three_attempts_then_nothing() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 20;
        s.webhooks.retry_delays_ms = vec![100, 200];
    })
    .await;
    let (hooks, deliveries) = receiver(usize::MAX).await;
    register(&app, &hooks, "social", None).await;
    let r = app
        .request(reqwest::Method::DELETE, "/api/profiles/social", None)
        .json(&json!({"platform": "threads"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200); // Nothing linked: success (Ayrshare's rule), but no event.
    app.link_both(None).await;
    // Waited for, not assumed done within a fixed time; then a few more ticks add nothing.
    wait_until("six attempts", 30, || deliveries.len() >= 6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deliveries.len(), 6, "two events, three attempts each");
    // Unsigned without a secret.
    assert!(deliveries.all()[0]
        .1
        .headers
        .get("x-authorization-content-sha256")
        .is_none());
}

#[tokio::test]
async fn a_user_profiles_events_fall_back_to_the_primary_profiles_webhook() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 20;
    })
    .await;
    let (hooks, deliveries) = receiver(0).await;
    register(&app, &hooks, "social", None).await; // On the primary profile.
    let (ref_id, key) = app.create_profile("user profile").await;
    app.link_both(Some(&key)).await;
    let r = app
        .request(reqwest::Method::DELETE, "/api/profiles/social", Some(&key))
        .json(&json!({"platform": "twitter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_until("three social events", 5, || deliveries.len() >= 3).await;
    let kinds: Vec<(String, String, String)> = deliveries
        .all()
        .iter()
        .map(|(_, r)| {
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            (
                v["type"].as_str().unwrap().to_owned(),
                v["platform"].as_str().unwrap().to_owned(),
                v["refId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("unlink".into(), "twitter".into(), ref_id.clone())),
        "{kinds:?}"
    );
    assert!(kinds.iter().all(|k| k.2 == ref_id));
}

#[tokio::test]
async fn a_processed_scheduled_post_fires_the_scheduled_webhook() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 20;
        s.scheduler.tick_ms = 100;
    })
    .await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": "1445880548472328192", "text": "later"}})),
        )
        .mount(&app.x)
        .await;
    let (hooks, deliveries) = receiver(0).await;
    register(&app, &hooks, "scheduled", Some("k")).await;
    let when = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r: Value = app
        .request(reqwest::Method::POST, "/api/post", None)
        .json(&json!({"post": "later", "platforms": ["twitter"], "scheduleDate": when}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().expect("scheduled").to_owned();
    wait_until("the scheduled webhook", 6, || deliveries.len() >= 1).await;
    let (_, r) = &deliveries.all()[0];
    assert_signed(r, "k");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["action"], "scheduled");
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["code"], 200);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["postIds"][0]["platform"], "twitter", "{v}");
    assert_eq!(v["postIds"][0]["id"], "1445880548472328192");
}
