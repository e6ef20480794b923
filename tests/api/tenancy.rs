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
    let id = app
        .published_post("18011", "1445880548472328192", None)
        .await;
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
    assert_eq!(
        history["history"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
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

#[tokio::test]
async fn import_checks_network_ids_per_platform() {
    let app = spawn_app().await;
    let bad = [
        ("twitter", json!("12345678901234567890")),
        ("twitter", json!("1/../../2/users/me")),
        ("x", json!("123?x=1")),
        ("threads", json!("me")),
        ("threads", json!("18011/threads_publish")),
        ("threads", json!(-5)),
        ("linkedin", json!("a/b")),
        ("facebook", json!("123#x")),
        ("instagram", json!("..")),
        ("youtube", json!("a b")),
        ("tiktok", json!("a%2Fb")),
        ("pinterest", json!("a".repeat(201))),
    ];
    let items: Vec<Value> = bad
        .iter()
        .map(|(p, id)| json!({"post": "t", "postIds": [{"platform": p, "id": id}]}))
        .collect();
    let (status, r) = app.import(json!(items), None).await;
    assert_eq!(status, 400, "{r}");
    assert_eq!(r["imported"], 0, "{r}");
    for (i, item) in r["posts"].as_array().unwrap().iter().enumerate() {
        assert_eq!(item["code"], 913, "{i}: {item}");
        assert!(
            item["message"]
                .as_str()
                .unwrap()
                .contains("'postIds[0].id'"),
            "{i}: {item}"
        );
    }
    // Good ids of each shape are kept as sent.
    let (status, r) = app
        .import(
            json!([{"post": "t", "postIds": [
                {"platform": "twitter", "id": "1445880548472328192"},
                {"platform": "threads", "id": 18011},
                {"platform": "linkedin", "id": "urn:li:share:6844785523593134080"},
                {"platform": "facebook", "id": "104923792198123_120841237"}
            ]}]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let (_, p) = app
        .get_post(r["posts"][0]["id"].as_str().unwrap(), None)
        .await;
    let ids: Vec<&str> = p["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "1445880548472328192",
            "18011",
            "urn:li:share:6844785523593134080",
            "104923792198123_120841237"
        ]
    );
}

#[tokio::test]
async fn import_takes_ayrshare_platform_names_once_each() {
    let app = spawn_app().await;
    // `x` is Ayrshare's `twitter`.
    let (status, r) = app
        .import(
            json!([{"post": "t", "postIds": [{"platform": "X", "id": "1012"}]}]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let id = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["platforms"], json!(["twitter"]));
    assert_eq!(p["postIds"][0]["platform"], "twitter");

    // Names that are not platforms (and would collide with an answer's fields) are refused.
    let mut items = Vec::new();
    for name in ["status", "id", "code", "errors", "myspace", ""] {
        items.push(json!({"post": "t", "postIds": [{"platform": name, "id": "1"}]}));
        items.push(json!({"post": "t", "status": "scheduled", "scheduleDate": "2099-01-01T00:00:00Z", "platforms": ["threads", name]}));
    }
    // One entry per platform: `x` and `twitter` are the same one.
    items.push(json!({"post": "t", "postIds": [
        {"platform": "twitter", "id": "1"}, {"platform": "x", "id": "2"}]}));
    items.push(json!({"post": "t", "postIds": [
        {"platform": "threads", "id": "1"}, {"platform": "threads", "id": "1"}]}));
    items.push(
        json!({"post": "t", "status": "scheduled", "scheduleDate": "2099-01-01T00:00:00Z",
        "platforms": ["threads", "Threads"]}),
    );
    let (status, r) = app.import(json!(items), None).await;
    assert_eq!(status, 400, "{r}");
    assert_eq!(r["imported"], 0, "{r}");
    let posts = r["posts"].as_array().unwrap();
    for (i, item) in posts.iter().enumerate() {
        assert_eq!(item["code"], 913, "{i}: {item}");
    }
    assert!(posts[0]["message"]
        .as_str()
        .unwrap()
        .contains("'postIds[0].platform' is not an Ayrshare platform name: \"status\""));
    assert!(posts[1]["message"]
        .as_str()
        .unwrap()
        .contains("'platforms[1]' is not an Ayrshare platform name: \"status\""));
    assert!(posts[12]["message"].as_str().unwrap().contains("twice"));
    assert!(posts[14]["message"].as_str().unwrap().contains("twice"));
    // Nothing but the first post was stored.
    let (_, history) = json_of(
        app.request(reqwest::Method::GET, "/api/history", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        history["history"].as_array().map(Vec::len),
        Some(1),
        "{history}"
    );
}

/// A store written before ids were checked: a post whose network ids are crafted paths.
async fn store_with_crafted_ids(dir: &std::path::Path) -> String {
    use postgate::domain::{
        EntryState, NetworkPostId, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus,
    };
    use postgate::store::{LinkedAccount, SledStore, Store};
    let store = SledStore::open(dir).expect("store opens");
    let account = postgate::keys::account_id(&postgate::keys::hash_key(API_KEY));
    let profile = store.ensure_primary_profile(&account).await.unwrap();
    for (platform, token, secret, user) in [
        (Platform::Threads, THREADS_TOKEN, None, THREADS_USER),
        (Platform::Twitter, X_TOKEN, Some(X_TOKEN_SECRET), X_USER),
    ] {
        store
            .link_account(
                &profile.id,
                LinkedAccount {
                    platform,
                    user_id: user.into(),
                    access_token: token.into(),
                    access_token_secret: secret.map(str::to_owned),
                    username: None,
                    linked_at: chrono::Utc::now(),
                    life: Default::default(),
                },
            )
            .await
            .unwrap();
    }
    let entry = |platform, id: &str| {
        let mut e = PlatformEntry::new(platform, EntryState::Published);
        e.id = Some(NetworkPostId(id.into()));
        e
    };
    let post = Post {
        id: PostId::generate(),
        profile_id: profile.id.clone(),
        text: "crafted".into(),
        status: PostStatus::Success,
        kind: PostKind::Now,
        created: chrono::Utc::now(),
        schedule_date: None,
        entries: vec![
            entry(
                Platform::Threads,
                &format!("{THREADS_USER}/threads_publish"),
            ),
            entry(Platform::Twitter, "1/../../2/users/me"),
        ],
        idempotency_key: None,
        media_urls: Vec::new(),
    };
    store.insert_post(&post).await.unwrap();
    store.flush().await.unwrap();
    post.id.as_str().to_owned()
}

#[tokio::test]
async fn a_stored_crafted_id_is_rejected_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let id = store_with_crafted_ids(&db).await;
    let app = spawn_app_with(|s| s.store.path = db.clone()).await;
    no_network_calls(&app).await;

    let (status, b) = json_of(app.delete_post(json!({"id": id})).await).await;
    assert_eq!(status, 400, "{b}");
    for platform in ["threads", "twitter"] {
        assert_eq!(b[platform]["status"], "error", "{b}");
        assert_eq!(b[platform]["code"], 906, "{b}");
        assert!(
            b[platform]["message"]
                .as_str()
                .unwrap()
                .contains("not sent to the network"),
            "{b}"
        );
    }
    // markManualDeleted reads the networks first: refused the same way, nothing recorded.
    let (status, b) = json_of(
        app.delete_post(json!({"id": id, "markManualDeleted": true}))
            .await,
    )
    .await;
    assert!((400..500).contains(&status), "{b}");
    let (_, p) = app.get_post(&id, None).await;
    assert_eq!(p["status"], "success", "{p}");
    assert!(app.threads.received_requests().await.unwrap().is_empty());
    assert!(app.x.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn importing_another_accounts_id_answers_as_ones_own_duplicate() {
    let app = spawn_app().await;
    let item = json!([{"id": "AyrshareId0000000001", "post": "A's post", "postIds": [
        {"platform": "threads", "id": "18011"}]}]);
    let (status, r) = app.import(item.clone(), None).await;
    assert_eq!(status, 200, "{r}");
    let (_, a_before) = app.get_post("AyrshareId0000000001", None).await;

    // A re-imports its own id.
    let (own_status, own) = app.import(item.clone(), None).await;
    // B imports A's id, with other content.
    let other_item = json!([{"id": "AyrshareId0000000001", "post": "B's post", "postIds": [
        {"platform": "twitter", "id": "1012"}]}]);
    let r = app
        .client
        .post(format!("{}/api/post/import", app.address))
        .bearer_auth(OTHER_API_KEY)
        .json(&json!({ "posts": other_item }))
        .send()
        .await
        .unwrap();
    let (other_status, other) = json_of(r).await;
    assert_eq!(own_status, 400);
    assert_eq!(own["posts"][0]["code"], 917, "{own}");
    assert_eq!((other_status, &other), (own_status, &own));

    // A's post is untouched and B cannot read it.
    let (_, a_after) = app.get_post("AyrshareId0000000001", None).await;
    assert_eq!(a_before, a_after);
    assert_eq!(a_after["post"], "A's post");
    let r = app
        .client
        .get(format!("{}/api/post/AyrshareId0000000001", app.address))
        .bearer_auth(OTHER_API_KEY)
        .send()
        .await
        .unwrap();
    let (status, b) = json_of(r).await;
    assert_eq!(status, 404, "{b}");
    assert_eq!(b["code"], 920);
}

#[cfg(unix)]
#[tokio::test]
async fn store_files_holding_tokens_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    app.link_both(None).await;
    app.single_platform_post("threads", "18011").await;
    let root = app.settings.store.path.clone();
    let mut pending = vec![root.clone()];
    let mut files = 0;
    while let Some(d) = pending.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", d.display());
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let meta = std::fs::metadata(&p).unwrap();
            if meta.is_dir() {
                pending.push(p);
            } else {
                files += 1;
                let mode = meta.permissions().mode();
                assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
            }
        }
    }
    assert!(files > 0, "sled wrote no file under {}", root.display());
}

/// `POST /api/profiles/social` with `body`, optionally with BYO X headers.
async fn link(app: &TestApp, body: Value, byo: bool) -> (u16, Value) {
    let mut r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&body);
    if byo {
        r = r
            .header("X-Twitter-OAuth1-Api-Key", "byo-key")
            .header("X-Twitter-OAuth1-Api-Secret", "byo-secret");
    }
    json_of(r.send().await.unwrap()).await
}

async fn linked(app: &TestApp) -> Value {
    let (_, user) = json_of(
        app.request(reqwest::Method::GET, "/api/user", None)
            .send()
            .await
            .unwrap(),
    )
    .await;
    user["displayNames"].clone()
}

#[tokio::test]
async fn a_user_id_that_is_not_the_tokens_account_is_refused() {
    let app = spawn_app().await;
    // Threads: the token belongs to THREADS_USER, the caller claims another account.
    let (status, b) = link(
        &app,
        json!({"platform": "threads", "userId": "17841499999999999", "accessToken": THREADS_TOKEN}),
        false,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 925, "{b}");
    assert!(b["message"]
        .as_str()
        .unwrap()
        .contains("userId does not match"));
    assert!(!b.to_string().contains(THREADS_TOKEN));
    let calls = app.threads.identity_requests().await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].url.path(), THREADS_ME);
    let q: Vec<(String, String)> = calls[0]
        .url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    assert!(
        q.contains(&("fields".into(), "id,username".into())),
        "{q:?}"
    );
    assert!(
        q.contains(&("access_token".into(), THREADS_TOKEN.into())),
        "{q:?}"
    );

    // X: same, and the identity check is signed with the consumer and the linked token.
    let (status, b) = link(
        &app,
        json!({"platform": "twitter", "userId": "1", "accessToken": X_TOKEN, "accessTokenSecret": X_TOKEN_SECRET}),
        false,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 925, "{b}");
    let calls = app.x.identity_requests().await;
    assert_eq!(calls.len(), 1);
    verify_oauth1(
        &calls[0],
        X_CONSUMER_KEY,
        X_CONSUMER_SECRET,
        X_TOKEN,
        X_TOKEN_SECRET,
    )
    .unwrap();
    // Nothing was linked, and nothing but the identity checks reached the networks.
    assert_eq!(linked(&app).await, json!([]));
    assert!(app.threads.received_requests().await.unwrap().is_empty());
    assert!(app.x.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_matching_or_omitted_user_id_links_the_networks_account() {
    let app = spawn_app().await;
    let (status, b) = link(
        &app,
        json!({"platform": "threads", "userId": THREADS_USER, "accessToken": THREADS_TOKEN}),
        false,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["userId"], THREADS_USER);
    // No userId: the network's answer, with its username (the caller gave none).
    let (status, b) = link(
        &app,
        json!({"platform": "twitter", "accessToken": X_TOKEN, "accessTokenSecret": X_TOKEN_SECRET}),
        true,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["userId"], X_USER);
    assert_eq!(b["username"], "postgate_test");
    // BYO headers sign the identity check when sent.
    let calls = app.x.identity_requests().await;
    assert_eq!(calls.len(), 1);
    verify_oauth1(&calls[0], "byo-key", "byo-secret", X_TOKEN, X_TOKEN_SECRET).unwrap();
    let mut names = linked(&app).await.as_array().unwrap().clone();
    names.sort_by_key(|v| v["platform"].as_str().unwrap().to_owned());
    // The identity fields (the others are Ayrshare's display fields).
    let names: Vec<Value> = names
        .iter()
        .map(|n| json!({"platform": n["platform"], "userId": n["userId"], "username": n["username"]}))
        .collect();
    assert_eq!(
        json!(names),
        json!([
            {"platform": "threads", "userId": THREADS_USER, "username": null},
            {"platform": "twitter", "userId": X_USER, "username": "postgate_test"}
        ])
    );
    // A username the caller gives wins over the network's.
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(THREADS_ME))
        .and(wiremock::matchers::query_param(
            "access_token",
            "OTHER-THREADS-TOKEN",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "17841400000000002", "username": "from_threads"})),
        )
        .mount(&app.threads)
        .await;
    let (_, key) = app.create_profile("second").await;
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", Some(&key))
        .json(&json!({"platform": "threads", "accessToken": "OTHER-THREADS-TOKEN"}))
        .send()
        .await
        .unwrap();
    let (status, b) = json_of(r).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["userId"], "17841400000000002");
    assert_eq!(b["username"], "from_threads");
}

#[tokio::test]
async fn a_token_the_network_rejects_links_nothing() {
    let app = spawn_app().await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(THREADS_ME))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: Session has expired",
            "type": "OAuthException", "code": 190, "error_subcode": 463}})))
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(X_ME))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        ))
        .expect(1)
        .mount(&app.x)
        .await;
    let (status, b) = link(
        &app,
        json!({"platform": "threads", "userId": THREADS_USER, "accessToken": "EXPIRED-TOKEN"}),
        false,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 907, "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("refused the token"),
        "{b}"
    );
    assert!(!b.to_string().contains("EXPIRED-TOKEN"));
    let (status, b) = link(
        &app,
        json!({"platform": "twitter", "userId": X_USER, "accessToken": "bad", "accessTokenSecret": "bad"}),
        false,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 272, "{b}");
    assert_eq!(linked(&app).await, json!([]));
}

#[tokio::test]
async fn x_identity_needs_consumer_credentials_and_an_unreachable_network_links_nothing() {
    // No consumer credentials anywhere: 419, no call.
    let app = spawn_app_with(|s| {
        s.x.consumer_key.clear();
        s.x.consumer_secret.clear();
    })
    .await;
    let (status, b) = link(
        &app,
        json!({"platform": "twitter", "userId": X_USER, "accessToken": X_TOKEN, "accessTokenSecret": X_TOKEN_SECRET}),
        false,
    )
    .await;
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["code"], 419, "{b}");
    assert_eq!(b["error"], "x_credentials_required");
    assert!(app.x.identity_requests().await.is_empty());

    // A network that cannot be reached: 904, retry later, nothing stored.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let app = spawn_app_with(|s| s.threads.base_url = format!("{dead}/v1.0")).await;
    let (status, b) = link(
        &app,
        json!({"platform": "threads", "accessToken": THREADS_TOKEN}),
        false,
    )
    .await;
    assert_eq!(status, 502, "{b}");
    assert_eq!(b["code"], 904, "{b}");
    assert_eq!(b["retryAvailable"], true);
    assert_eq!(linked(&app).await, json!([]));
}
