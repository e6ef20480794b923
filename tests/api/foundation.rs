//! Settings, auth, profiles, linked accounts, import, read, persistence.

use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn health_answers_200_json() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/health", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
}

#[tokio::test]
async fn auth_failures_are_ayrshare_errors() {
    let app = spawn_app().await;
    let url = format!("{}/api/user", app.address);
    // No header → 403 / 102.
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "error");
    assert_eq!(b["code"], 102);
    // Wrong key → 401 / 102.
    let r = app
        .client
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 102);
    // Unknown Profile-Key → 403 / 911.
    let r = app
        .request(
            reqwest::Method::GET,
            "/api/user",
            Some("AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 911);
    // A profile key of this account works; the same key with another account's API key does not.
    let (_, pk) = app.create_profile("Shop").await;
    let r = app
        .request(reqwest::Method::GET, "/api/user", Some(&pk))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .client
        .get(&url)
        .bearer_auth(OTHER_API_KEY)
        .header("Profile-Key", &pk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An empty Profile-Key header counts as absent.
    let r = app
        .request(reqwest::Method::GET, "/api/user", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn profiles_create_list_delete() {
    let app = spawn_app().await;
    let (ref_id, pk) = app.create_profile("Brand A").await;
    // Titles are unique per account (case-insensitively)...
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/profile", None)
        .json(&json!({"title": "brand a", "source": "npm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 146);
    // ...but not across accounts.
    let r = app
        .client
        .post(format!("{}/api/profiles/profile", app.address))
        .bearer_auth(OTHER_API_KEY)
        .json(&json!({"title": "Brand A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The Python SDK's path works too.
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/create-profile", None)
        .json(&json!({"title": "Brand B", "source": "pypi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let list: Value = app.get_json("/api/profiles").await;
    let titles: Vec<&str> = list["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Primary Profile", "Brand A", "Brand B"]);
    assert!(
        list.to_string().find(&pk).is_none(),
        "profile keys are never listed"
    );

    let r = app
        .request(reqwest::Method::DELETE, "/api/profiles/profile", None)
        .json(&json!({"profileKey": pk}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["refId"], ref_id.as_str());
    // The key is dead now.
    let r = app
        .request(reqwest::Method::GET, "/api/user", Some(&pk))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .request(reqwest::Method::DELETE, "/api/profiles/profile", None)
        .json(&json!({"profileKey": pk}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn link_and_unlink_accounts_never_echo_tokens() {
    let app = spawn_app().await;
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&json!({"platform": "threads", "userId": THREADS_USER, "accessToken": THREADS_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains(THREADS_TOKEN));
    // X needs the token secret.
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&json!({"platform": "twitter", "userId": X_USER, "accessToken": X_TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(b["message"].as_str().unwrap().contains("accessTokenSecret"));
    app.link_both(None).await;
    let user = app
        .request(reqwest::Method::GET, "/api/user", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&user).unwrap();
    let mut active: Vec<&str> = v["activeSocialAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    active.sort();
    assert_eq!(active, vec!["threads", "twitter"]);
    for secret in [THREADS_TOKEN, X_TOKEN, X_TOKEN_SECRET] {
        assert!(!user.contains(secret));
    }
    // Unlink, twice.
    let r = app
        .request(reqwest::Method::DELETE, "/api/profiles/social", None)
        .json(&json!({"platform": "threads"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .request(reqwest::Method::DELETE, "/api/profiles/social", None)
        .json(&json!({"platform": "threads"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "not linked any more: still success (Ayrshare's rule)"
    );
    // A name that is no platform at all is refused.
    let r = app
        .request(reqwest::Method::DELETE, "/api/profiles/social", None)
        .json(&json!({"platform": "myspace"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 902);
    // Linking an unsupported platform is refused clearly.
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&json!({"platform": "instagram", "userId": "1", "accessToken": "t"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 902);
}

#[tokio::test]
async fn import_good_duplicate_malformed_and_too_many() {
    let app = spawn_app().await;
    let (status, r) = app
        .import(
            json!([
                {"id": "AbCdEfGhIj0123456789", "post": "one", "status": "success", "created": "2025-01-02T03:04:05Z",
                 "postIds": [{"platform": "twitter", "id": "111", "status": "success", "postUrl": "https://twitter.com/x/status/111"},
                             {"platform": "facebook", "id": "9_9", "type": "story", "mediaType": "image"}]},
                {"post": "scheduled", "status": "pending", "scheduleDate": "2099-01-01T00:00:00Z", "platforms": ["threads", "twitter"]}
            ]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["imported"], 2);
    assert_eq!(r["posts"][0]["id"], "AbCdEfGhIj0123456789");
    let generated = r["posts"][1]["id"].as_str().unwrap();
    assert_eq!(generated.len(), 20);

    // Duplicate id and malformed items are reported per item; good ones still land.
    let (status, r) = app
        .import(
            json!([
                {"id": "AbCdEfGhIj0123456789", "post": "again", "status": "success", "postIds": [{"platform": "twitter", "id": "222"}]},
                {"post": 5},
                {"id": "short", "post": "x", "postIds": [{"platform": "twitter", "id": "1"}]},
                {"post": "no ids", "status": "success"},
                {"post": "fine", "postIds": [{"platform": "threads", "id": 12345}]}
            ]),
            None,
        )
        .await;
    assert_eq!(status, 400, "{r}");
    assert_eq!(r["imported"], 1);
    assert_eq!(r["failed"], 4);
    assert_eq!(r["posts"][0]["code"], 917);
    assert!(
        r["posts"][1]["message"].as_str().unwrap().contains("post"),
        "{r}"
    );
    assert_eq!(r["posts"][2]["code"], 913);
    assert_eq!(r["posts"][3]["code"], 913);
    assert_eq!(r["posts"][4]["status"], "success");
    // The original was not overwritten.
    let (_, p) = app.get_post("AbCdEfGhIj0123456789", None).await;
    assert_eq!(p["post"], "one");

    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"post": format!("p{i}"), "postIds": [{"platform": "twitter", "id": "1"}]}))
        .collect();
    let (status, r) = app.import(Value::Array(many), None).await;
    assert_eq!(status, 400);
    assert_eq!(r["code"], 919);
}

#[tokio::test]
async fn get_post_own_foreign_unknown() {
    let app = spawn_app().await;
    let id = app.published_post("1801", "1901", None).await;
    let (status, p) = app.get_post(&id, None).await;
    assert_eq!(status, 200);
    assert_eq!(p["id"], id.as_str());
    assert_eq!(p["status"], "success");
    assert_eq!(p["post"], "hello");
    assert_eq!(p["type"], "now");
    let ids = p["postIds"].as_array().unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids
        .iter()
        .any(|e| e["platform"] == "twitter" && e["id"] == "1901" && e["status"] == "success"));

    // Another profile of the same account, and another account: both read it as unknown.
    let (_, pk) = app.create_profile("Other").await;
    let (status, foreign) = app.get_post(&id, Some(&pk)).await;
    let (status_unknown, unknown) = app.get_post("ZZZZZZZZZZZZZZZZZZZZ", None).await;
    assert_eq!(status, 404);
    assert_eq!(status_unknown, 404);
    assert_eq!(foreign["code"], unknown["code"]);
    assert_eq!(foreign["message"], unknown["message"]);
    let r = app
        .client
        .get(format!("{}/api/post/{id}", app.address))
        .bearer_auth(OTHER_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // SDK query parameters are ignored.
    let r = app
        .request(
            reqwest::Method::GET,
            &format!("/api/post/{id}?id={id}&source=pypi"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn data_survives_a_restart() {
    let app = spawn_app().await;
    let (_, pk) = app.create_profile("Persisted").await;
    app.link_both(Some(&pk)).await;
    let id = app.published_post("2801", "2901", Some(&pk)).await;
    let app = app.restart().await;
    let (status, p) = app.get_post(&id, Some(&pk)).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["profileTitle"], "Persisted");
    let user: Value = app
        .request(reqwest::Method::GET, "/api/user", Some(&pk))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["activeSocialAccounts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn malformed_bodies_get_clear_errors() {
    let app = spawn_app_with(|s| s.server.body_limit_bytes = 2048).await;
    let send = |body: String| {
        app.request(reqwest::Method::POST, "/api/profiles/profile", None)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = send("{not json".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], 909);
    assert!(b["message"].as_str().unwrap().contains("not valid JSON"));
    let r = send(r#"{"title": 42}"#.into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert!(b["message"].as_str().unwrap().contains("title"), "{b}");
    let r = send(format!(r#"{{"title": "{}"}}"#, "x".repeat(4096)))
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], 910);
    let r = send(String::new()).await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn generated_key_is_stored_hashed_and_written_0600() {
    let dir = tempfile::tempdir().unwrap();
    let threads = wiremock::MockServer::start().await;
    let x = wiremock::MockServer::start().await;
    let mut s = test_settings(&dir, &threads, &x);
    s.auth.api_keys.clear();
    let app = postgate::startup::Application::build(s.clone())
        .await
        .unwrap();
    let (key, path) = app.generated_api_key.clone().expect("a key is generated");
    let port = app.port();
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/user"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    handle.stop(true).await;
    join.await.unwrap().unwrap();
    // The store holds no plain key.
    let mut found = false;
    for entry in walk(dir.path().join("db")) {
        if std::fs::read(&entry)
            .unwrap()
            .windows(key.len())
            .any(|w| w == key.as_bytes())
        {
            found = true;
        }
    }
    assert!(!found, "the plain key must not be in the store");
    // A second start generates nothing and the key still works.
    let app = crate::helpers::build(&s).await;
    assert!(app.generated_api_key.is_none());
}

fn walk(p: std::path::PathBuf) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if p.is_dir() {
        for e in std::fs::read_dir(&p).unwrap() {
            out.extend(walk(e.unwrap().path()));
        }
    } else {
        out.push(p);
    }
    out
}

#[test]
fn settings_from_file_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("custom.toml");
    std::fs::write(&file, "[server]\nport = 7001\n[x]\napi = \"v1.1\"\n").unwrap();
    let s = postgate::configuration::Settings::load_with_env(
        Some(&file),
        vec![("POSTGATE__SERVER__HOST".to_string(), "0.0.0.0".to_string())],
    )
    .unwrap();
    assert_eq!(s.server.port, 7001);
    assert_eq!(s.server.host, "0.0.0.0");
    assert_eq!(s.x.api, postgate::configuration::XApi::V1_1);
    // Env wins over the file.
    let s = postgate::configuration::Settings::load_with_env(
        Some(&file),
        vec![("POSTGATE__SERVER__PORT".to_string(), "7002".to_string())],
    )
    .unwrap();
    assert_eq!(s.server.port, 7002);
    // A bad file value names its key; a missing file is an error too.
    std::fs::write(&file, "[delete]\nbulk_concurrency = \"many\"\n").unwrap();
    let e = postgate::configuration::Settings::load_with_env(
        Some(&file),
        Vec::<(String, String)>::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("delete.bulk_concurrency"), "{e}");
    assert!(postgate::configuration::Settings::load_with_env(
        Some(&dir.path().join("missing.toml")),
        Vec::<(String, String)>::new()
    )
    .is_err());
}

#[test]
fn bad_setting_stops_the_binary_with_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postgate"))
        .arg("serve")
        .env("POSTGATE__SERVER__PORT", "not-a-port")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("server.port"), "{err}");
}

#[tokio::test]
async fn a_store_in_use_gives_a_clear_message() {
    let app = spawn_app().await;
    let err = match postgate::startup::Application::build(app.settings.clone()).await {
        Ok(_) => panic!("a second gateway must not open the same store"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("in use by another process"), "{err}");
    // A file where the store directory should be: a clear "cannot open" line.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("db");
    std::fs::write(&blocker, b"not a sled directory").unwrap();
    let mut s = app.settings.clone();
    s.store.path = blocker;
    let err = match postgate::startup::Application::build(s).await {
        Ok(_) => panic!("a file is not a store"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("cannot open the store"), "{err}");
}

/// Sends `GET /health` on `stream` and reads its whole answer (it carries a Content-Length).
async fn health_on(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before answering: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

/// `server.keep_alive_secs`: by default (75 s) an idle connection outlives actix-web's own
/// 5 s, which closed pooled connections under clients that keep them 90 s and failed the
/// request that reused one; 0 closes each connection after its answer.
#[tokio::test]
async fn an_idle_connection_outlives_actix_default_and_0_closes_after_each_answer() {
    use tokio::io::AsyncReadExt;
    let app = spawn_app().await;
    assert_eq!(app.settings.server.keep_alive_secs, 75);
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(health_on(&mut kept).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert!(health_on(&mut kept).await.starts_with("HTTP/1.1 200"));

    let app = spawn_app_with(|s| s.server.keep_alive_secs = 0).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut once = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(health_on(&mut once).await.starts_with("HTTP/1.1 200"));
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(std::time::Duration::from_secs(4), once.read(&mut buf))
        .await
        .expect("closed after its answer, not at a timeout");
    assert_eq!(read.unwrap_or(0), 0, "EOF, not data");
}
