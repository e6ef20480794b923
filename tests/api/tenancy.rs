//! Tenant isolation and authentication: identity at link time, garbled keys, import ids and
//! platform names that must not cross accounts or corrupt answers, owner-only store files.

use crate::helpers::*;
use reqwest::header::HeaderValue;
use serde_json::{json, Value};
use wiremock::matchers::any;
use wiremock::{Mock, ResponseTemplate};

/// Refuses (and counts) any call to either network.
async fn no_network_calls(app: &TestApp) {
    for server in [&app.threads, &app.x] {
        Mock::given(any())
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(server)
            .await;
    }
}

async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON answer"))
}

/// Header values no key can be: non-ASCII bytes, control characters, inner spaces, too long.
fn garbled_values() -> Vec<HeaderValue> {
    vec![
        HeaderValue::from_bytes(b"\xff\xfeKEY").unwrap(),
        HeaderValue::from_bytes(b"ABCDEFG-\xc3\xa9").unwrap(),
        HeaderValue::from_bytes(b"ABC\tDEF").unwrap(),
        HeaderValue::from_static("ABCDEFG HIJKLMN"),
        HeaderValue::from_str(&"A".repeat(300)).unwrap(),
    ]
}

#[tokio::test]
async fn a_garbled_profile_key_is_refused_and_never_acts_on_the_primary_profile() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18011", "1445880548472328192", None).await;
    let (_, before) = app.get_post(&id, None).await;
    no_network_calls(&app).await;

    for value in garbled_values() {
        // DELETE of a post of the primary profile.
        let r = app
            .request(reqwest::Method::DELETE, "/api/post", None)
            .header("Profile-Key", value.clone())
            .json(&json!({"id": id}))
            .send()
            .await
            .unwrap();
        let (status, b) = json_of(r).await;
        assert_eq!(status, 403, "{value:?}: {b}");
        assert_eq!(b["code"], 911, "{value:?}: {b}");
        // POST (publish) on the primary profile's linked accounts.
        let r = app
            .request(reqwest::Method::POST, "/api/post", None)
            .header("Profile-Key", value.clone())
            .json(&json!({"post": "hi", "platforms": ["threads", "twitter"]}))
            .send()
            .await
            .unwrap();
        let (status, b) = json_of(r).await;
        assert_eq!(status, 403, "{value:?}: {b}");
        assert_eq!(b["code"], 911, "{value:?}: {b}");
    }
    // Nothing changed: the post is as it was and no new post was created.
    let (_, after) = app.get_post(&id, None).await;
    assert_eq!(before, after);
    let (_, history) = json_of(
        app.request(reqwest::Method::GET, "/api/history", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(history["history"].as_array().map(Vec::len), Some(1), "{history}");
    // An empty Profile-Key still selects the primary profile.
    let r = app
        .request(reqwest::Method::GET, &format!("/api/post/{id}"), None)
        .header("Profile-Key", "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_garbled_authorization_is_an_invalid_key_not_a_missing_one() {
    let app = spawn_app().await;
    let id = app.single_platform_post("threads", "18011").await;
    no_network_calls(&app).await;
    for value in [
        HeaderValue::from_bytes(b"Bearer \xffTEST-KEY").unwrap(),
        HeaderValue::from_bytes(b"Bearer TEST\tKEY").unwrap(),
    ] {
        let r = app
            .client
            .delete(format!("{}/api/post", app.address))
            .header("Authorization", value.clone())
            .json(&json!({"id": id}))
            .send()
            .await
            .unwrap();
        let (status, b) = json_of(r).await;
        assert_eq!(status, 401, "{value:?}: {b}");
        assert_eq!(b["code"], 102);
        assert_eq!(b["message"], "API Key not valid.");
    }
    // Missing stays "missing" (403).
    let r = app
        .client
        .delete(format!("{}/api/post", app.address))
        .json(&json!({"id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success");
}
