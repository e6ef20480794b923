//! No log line, at any level and from any crate, carries a key, token, secret or signature.
//! Its own binary: it installs a global TRACE subscriber that captures everything.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_any_log_line() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .init();

    // Bluesky: a link with an app password, and a delete whose token expired (renewal).
    let pds = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": "bsky-access-jwt-value", "refreshJwt": "bsky-refresh-jwt-value",
            "handle": "logged.bsky.social", "did": "did:plc:logged"
        })))
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.refreshSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": "bsky-renewed-access-value", "refreshJwt": "bsky-renewed-refresh-value",
            "handle": "logged.bsky.social", "did": "did:plc:logged"
        })))
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.deleteRecord"))
        .and(header("authorization", "Bearer bsky-access-jwt-value"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.deleteRecord"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&pds)
        .await;
    let pds_url = pds.uri();
    let app = spawn_app_with(|s| s.bluesky.base_url = pds_url).await;
    app.link_both(None).await;
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&json!({"platform": "bluesky", "handle": "logged.bsky.social", "appPassword": "bsky-app-password-value"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let bsky = app
        .single_platform_post("bluesky", "at://did:plc:logged/app.bsky.feed.post/3k4")
        .await;
    assert_eq!(app.delete_post(json!({"id": bsky})).await.status(), 200);
    let (_, profile_key) = app.create_profile("Logged").await;
    app.link_both(Some(&profile_key)).await;
    // A success, a failure on each network, the ambiguous Threads path, BYO headers, bad auth.
    let ok = app.published_post("1", "11", None).await;
    let failing = app.published_post("2", "22", Some(&profile_key)).await;
    threads_delete_ok(&app.threads, "1", 1).await;
    x_delete_ok(&app.x, "11", 1).await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/2"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"message": "gone or not yours", "code": 100, "error_subcode": 33}}),
        ))
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/2"))
        .respond_with(ResponseTemplate::new(500).set_delay(Duration::from_millis(10)))
        .mount(&app.threads)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/22"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"title": "Unauthorized", "status": 401})),
        )
        .mount(&app.x)
        .await;
    assert_eq!(app.delete_post(json!({"id": ok})).await.status(), 200);
    let r = app
        .request(reqwest::Method::DELETE, "/api/post", Some(&profile_key))
        .header("X-Twitter-OAuth1-Api-Key", "byo-consumer-key-value")
        .header("X-Twitter-OAuth1-Api-Secret", "byo-consumer-secret-value")
        .json(&json!({"id": failing}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let _ = app
        .client
        .get(format!("{}/api/user", app.address))
        .bearer_auth("wrong-key-should-not-log")
        .send()
        .await;
    let _ = app
        .request(
            reqwest::Method::GET,
            "/api/user",
            Some("WRONGPK-1234567-1234567-1234567"),
        )
        .send()
        .await;

    // The linking page: its token rides in the query string, as do OAuth codes and verifiers.
    let jwt: serde_json::Value = app
        .request(reqwest::Method::POST, "/api/profiles/generateJWT", None)
        .json(&json!({"domain": "logs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link_token = jwt["token"].as_str().unwrap().to_owned();
    let page = app
        .client
        .get(jwt["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let session = page.split("name=\"jwt\" value=\"").nth(1).unwrap();
    let session = session[..session.find('"').unwrap()].to_owned();
    let _ = app
        .client
        .get(format!(
            "{}/link/callback/x?oauth_token=REQTOKEN-SECRET&oauth_verifier=VERIFIER-SECRET",
            app.address
        ))
        .send()
        .await;
    let _ = app
        .client
        .get(format!(
            "{}/link/callback/threads?code=CODE-SECRET&state=STATE-SECRET",
            app.address
        ))
        .send()
        .await;

    // Let the last lines land.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.len() > 1000, "the capture works: {} bytes", logs.len());
    assert!(logs.contains("DELETE"), "request lines are logged");
    for secret in [
        API_KEY,
        OTHER_API_KEY,
        THREADS_TOKEN,
        X_TOKEN,
        X_TOKEN_SECRET,
        X_CONSUMER_SECRET,
        "byo-consumer-secret-value",
        "byo-consumer-key-value",
        profile_key.as_str(),
        "wrong-key-should-not-log",
        "WRONGPK-1234567",
        "oauth_signature",
        "bsky-app-password-value",
        "bsky-access-jwt-value",
        "bsky-refresh-jwt-value",
        "bsky-renewed-access-value",
        "bsky-renewed-refresh-value",
        "access_token=",
        link_token.as_str(),
        session.as_str(),
        "VERIFIER-SECRET",
        "CODE-SECRET",
        "STATE-SECRET",
        "REQTOKEN-SECRET",
    ] {
        if let Some(at) = logs.find(secret) {
            let start = at.saturating_sub(300);
            panic!(
                "secret {secret:?} in the logs: …{}…",
                &logs[start..(at + 100).min(logs.len())]
            );
        }
    }

    // What a delete logs: one info line per platform (post id, platform, outcome, the
    // network's latency), one debug line per network call (inside the delete's span, so with
    // the post id), one summary line per request.
    let line_with = |parts: &[&str]| {
        logs.lines()
            .find(|l| parts.iter().all(|p| l.contains(p)))
            .map(str::to_owned)
    };
    for platform in ["threads", "twitter"] {
        let line = line_with(&[" INFO", "delete", &ok, platform, "outcome", "network_ms"]);
        assert!(line.is_some(), "no delete line for {platform}: {logs}");
    }
    // X refused the token: a failure, with its class.
    assert!(
        line_with(&[" INFO", "delete", &failing, "twitter", "failed"]).is_some(),
        "{logs}"
    );
    assert!(
        line_with(&[
            "DEBUG",
            "network call",
            &ok,
            "operation",
            "delete",
            "latency_ms"
        ])
        .is_some(),
        "{logs}"
    );
    assert!(
        line_with(&[" INFO", "request", "/api/post", "DELETE", "latency_ms"]).is_some(),
        "{logs}"
    );
}
