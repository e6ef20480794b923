//! Linking real accounts (#12): generateJWT, the linking page, the Threads and X OAuth
//! flows against wiremock, single-use `state`, the refresher, and Disconnect.

use crate::helpers::*;
use chrono::{Duration as ChronoDuration, Utc};
use postgate::configuration::Settings;
use postgate::domain::{LinkedAccount, Platform, TokenLife};
use postgate::keys::{account_id, hash_key};
use postgate::networks::Networks;
use postgate::service::linking::{LinkingConfig, LinkingService};
use postgate::store::{SledStore, Store};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const THREADS_APP_ID: &str = "990011";
const THREADS_APP_SECRET: &str = "threads-app-secret-value";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn with_threads_app(s: &mut Settings) {
    s.threads.app_id = THREADS_APP_ID.into();
    s.threads.app_secret = THREADS_APP_SECRET.into();
    // The consent page lives on the same stand-in as the Graph API.
    s.threads.oauth_base_url = s.threads.base_url.trim_end_matches("/v1.0").to_owned();
}

async fn generate_jwt(app: &TestApp, body: Value, profile_key: Option<&str>) -> (u16, Value) {
    let r = app
        .request(
            reqwest::Method::POST,
            "/api/profiles/generateJWT",
            profile_key,
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A hidden input's value in a page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// Opens the page from generateJWT's URL; returns (session, csrf, html).
async fn open_page(app: &TestApp, url: &str) -> (String, String, String) {
    let r = no_redirects().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    let html = r.text().await.unwrap();
    let _ = app;
    (hidden(&html, "jwt"), hidden(&html, "csrf"), html)
}

async fn post_form(app: &TestApp, action: &str, form: &[(&str, &str)]) -> reqwest::Response {
    no_redirects()
        .post(format!("{}{action}", app.address))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let u = reqwest::Url::parse(url)
        .or_else(|_| reqwest::Url::parse(&format!("http://gw{url}")))
        .unwrap();
    u.query_pairs().into_owned().collect()
}

async fn user(app: &TestApp) -> Value {
    app.request(reqwest::Method::GET, "/api/user", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn generate_jwt_answers_ayrshares_shape_and_checks_its_fields() {
    let app = spawn_app().await;
    let (status, body) = generate_jwt(
        &app,
        json!({"domain": "acme", "privateKey": "-----BEGIN RSA PRIVATE KEY-----", "logout": true, "verify": true, "base64": false, "email": {"to": "x@example.com"}, "source": "npm"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["status", "title", "token", "url", "emailSent", "expiresIn"]
    );
    assert_eq!(body["status"], "success");
    assert_eq!(body["title"], "Primary Profile");
    assert_eq!(body["emailSent"], false);
    assert_eq!(body["expiresIn"], "5m");
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    assert_eq!(
        body["url"],
        format!("{}/link?jwt={token}", app.address),
        "the page is the gateway's own"
    );

    let (_, key) = app.create_profile("Shop").await;
    let (status, body) = generate_jwt(
        &app,
        json!({"domain": "acme", "profileKey": key, "expiresIn": 2880}),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["title"], "Shop");
    assert_eq!(body["expiresIn"], "2880m");

    for bad in [json!(0), json!(2881), json!("soon"), json!(-1)] {
        let (status, body) = generate_jwt(&app, json!({"expiresIn": bad}), None).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["message"].as_str().unwrap().contains("expiresIn"));
    }
    let (status, _) = generate_jwt(&app, json!({"redirect": "javascript:alert(1)"}), None).await;
    assert_eq!(status, 400);
    let (status, body) = generate_jwt(&app, json!({"profileKey": "NOPE-0000"}), None).await;
    assert_eq!(status, 404, "{body}");
    // Another account's profile is unknown here.
    let r = app
        .client
        .post(format!("{}/api/profiles/generateJWT", app.address))
        .bearer_auth(OTHER_API_KEY)
        .json(&json!({"profileKey": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn tampered_and_expired_links_get_a_clear_page_not_a_500() {
    // An expired token, signed with the store's own secret before the gateway starts.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let expired = {
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&db).unwrap());
        let profile = store
            .ensure_primary_profile(&account_id(&hash_key(API_KEY)))
            .await
            .unwrap();
        let settings = Settings::load_with_env(None, Vec::<(String, String)>::new()).unwrap();
        let linking = LinkingService::new(
            store.clone(),
            Networks::from_settings(&settings),
            LinkingConfig {
                public_url: "http://unused".into(),
                refresh_before: ChronoDuration::days(7),
                x_consumer: None,
            },
            None,
            None,
        )
        .await
        .unwrap();
        let (token, _) = linking.issue(
            &profile,
            5,
            None,
            None,
            Utc::now() - ChronoDuration::minutes(6),
        );
        store.flush().await.unwrap();
        token
    };
    let app = spawn_app_with(move |s| s.store.path = db).await;
    let (_, body) = generate_jwt(&app, json!({}), None).await;
    let good = body["token"].as_str().unwrap().to_owned();
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    // A payload swapped in under the original signature.
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], parts[0], parts[2]);
    for (token, status, words) in [
        (expired.as_str(), 410, "expired"),
        (tampered.as_str(), 400, "not valid"),
        (forged.as_str(), 400, "not valid"),
        ("", 400, "not valid"),
        ("a.b", 400, "not valid"),
    ] {
        let r = app
            .client
            .get(format!("{}/link", app.address))
            .query(&[("jwt", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{token}");
        let html = r.text().await.unwrap();
        assert!(html.contains(words), "{html}");
        assert!(!html.contains("name=\"csrf\""), "no form on an error page");
    }
}

#[tokio::test]
async fn the_page_shows_each_network_with_its_state_and_the_done_link() {
    // Threads has no app configured: shown as such, never as a broken button.
    let app = spawn_app().await;
    let (_, body) = generate_jwt(
        &app,
        json!({"redirect": "https://app.example.com/done?x=1&y=<2>"}),
        None,
    )
    .await;
    let (_, _, html) = open_page(&app, body["url"].as_str().unwrap()).await;
    assert!(
        html.contains("Link social accounts to Primary Profile"),
        "{html}"
    );
    assert!(html.contains("Threads"));
    assert!(html.contains("not configured by the operator"), "{html}");
    assert!(html.contains("not linked"));
    assert_eq!(
        html.matches("action=\"/link/connect\"").count(),
        1,
        "only X can connect: {html}"
    );
    assert!(
        html.contains("href=\"https://app.example.com/done?x=1&amp;y=&lt;2&gt;\""),
        "the Done link, escaped: {html}"
    );
    assert!(!html.contains("<script"), "works without JavaScript");

    app.link_both(None).await;
    let (_, _, html) = open_page(&app, body["url"].as_str().unwrap()).await;
    assert!(html.contains("linked as @postgate_test"), "{html}");
    assert_eq!(html.matches("action=\"/link/disconnect\"").count(), 2);

    // allowedSocial narrows the page.
    let (_, body) = generate_jwt(&app, json!({"allowedSocial": ["twitter"]}), None).await;
    let (_, _, html) = open_page(&app, body["url"].as_str().unwrap()).await;
    assert!(!html.contains("Threads"), "{html}");
}

async fn mount_threads_tokens(app: &TestApp, scope: &str) {
    Mock::given(method("POST"))
        .and(path("/oauth/access_token"))
        .and(body_string_contains("code=GOOD-CODE"))
        .and(body_string_contains(format!("client_secret={THREADS_APP_SECRET}")))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "SHORT-LIVED", "user_id": THREADS_USER.parse::<u64>().unwrap(), "scope": scope}),
        ))
        .expect(1)
        .mount(&app.threads)
        .await;
    Mock::given(method("GET"))
        .and(path("/access_token"))
        .and(query_param("grant_type", "th_exchange_token"))
        .and(query_param("access_token", "SHORT-LIVED"))
        .and(query_param("client_secret", THREADS_APP_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": THREADS_TOKEN, "token_type": "bearer", "expires_in": 5183944}),
        ))
        .expect(1)
        .mount(&app.threads)
        .await;
}

/// From generateJWT to Threads' consent page: returns (authorize URL, session, csrf).
async fn connect_threads(app: &TestApp) -> (String, String, String) {
    let (_, body) = generate_jwt(app, json!({"domain": "acme"}), None).await;
    let (session, csrf, _) = open_page(app, body["url"].as_str().unwrap()).await;
    let r = post_form(
        app,
        "/link/connect",
        &[("jwt", &session), ("csrf", &csrf), ("platform", "threads")],
    )
    .await;
    assert_eq!(r.status(), 303);
    (location(&r), session, csrf)
}

#[tokio::test]
async fn threads_links_through_oauth_and_a_state_is_single_use() {
    let app = spawn_app_with(with_threads_app).await;
    mount_threads_tokens(&app, "threads_basic,threads_content_publish,threads_delete").await;
    let (authorize, _, _) = connect_threads(&app).await;
    assert!(
        authorize.starts_with(&format!("{}/oauth/authorize?", app.threads.uri())),
        "{authorize}"
    );
    let q = query_of(&authorize);
    assert_eq!(q["client_id"], THREADS_APP_ID);
    assert_eq!(
        q["redirect_uri"],
        format!("{}/link/callback/threads", app.address)
    );
    assert_eq!(
        q["scope"],
        "threads_basic,threads_content_publish,threads_delete"
    );
    assert_eq!(q["response_type"], "code");
    let state = q["state"].clone();
    assert!(state.len() >= 32);
    assert!(!authorize.contains(THREADS_APP_SECRET));

    // The user allowed: Threads redirects back with a code.
    let callback = format!(
        "{}/link/callback/threads?code=GOOD-CODE&state={state}",
        app.address
    );
    let r = no_redirects().get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert!(back.starts_with("/link?"), "{back}");
    assert_eq!(query_of(&back)["linked"], "threads");
    let html = no_redirects()
        .get(format!("{}{back}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Threads is linked."), "{html}");
    assert!(html.contains("action=\"/link/disconnect\""), "{html}");

    let user = user(&app).await;
    let threads = &user["displayNames"][0];
    assert_eq!(threads["platform"], "threads");
    assert_eq!(threads["userId"], THREADS_USER);
    assert_eq!(threads["id"], THREADS_USER);
    let expires =
        chrono::DateTime::parse_from_rfc3339(threads["tokenExpiresAt"].as_str().unwrap()).unwrap();
    assert!(expires > Utc::now() + ChronoDuration::days(59), "{expires}");
    assert!(threads.get("needsRelink").is_none(), "{threads}");
    assert!(threads.get("deletesWillFail").is_none(), "{threads}");
    // The identity came from the network, with the long-lived token.
    let me = app.threads.identity_requests().await;
    assert_eq!(me.len(), 1);
    assert!(me[0].url.query().unwrap().contains(THREADS_TOKEN));

    // Replayed: the state was used up; forged: never issued. Neither calls Threads.
    for url in [
        callback.clone(),
        format!(
            "{}/link/callback/threads?code=GOOD-CODE&state={}",
            app.address,
            "f".repeat(48)
        ),
        format!("{}/link/callback/threads?code=GOOD-CODE", app.address),
    ] {
        let r = no_redirects().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 400, "{url}");
        assert!(r.text().await.unwrap().contains("already used"));
    }
    app.threads.verify().await;
}

#[tokio::test]
async fn a_threads_grant_without_threads_delete_is_linked_but_flagged() {
    let app = spawn_app_with(with_threads_app).await;
    mount_threads_tokens(&app, "threads_basic,threads_content_publish").await;
    let (authorize, _, _) = connect_threads(&app).await;
    let state = query_of(&authorize)["state"].clone();
    let r = no_redirects()
        .get(format!(
            "{}/link/callback/threads?code=GOOD-CODE&state={state}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    let back = location(&r);
    let html = no_redirects()
        .get(format!("{}{back}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("deletes will fail"), "{html}");
    assert!(html.contains("Connect again"), "{html}");
    let user = user(&app).await;
    assert_eq!(user["displayNames"][0]["deletesWillFail"], true, "{user}");
}

#[tokio::test]
async fn denied_consent_links_nothing_and_says_so() {
    let app = spawn_app_with(with_threads_app).await;
    let (authorize, _, _) = connect_threads(&app).await;
    let state = query_of(&authorize)["state"].clone();
    let r = no_redirects()
        .get(format!(
            "{}/link/callback/threads?error=access_denied&error_reason=user_denied&state={state}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let back = location(&r);
    assert_eq!(query_of(&back)["failed"], "threads");
    let html = no_redirects()
        .get(format!("{}{back}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Threads was not linked"), "{html}");
    assert_eq!(user(&app).await["activeSocialAccounts"], json!([]));
    assert!(app.threads.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn forms_need_the_sessions_csrf_token() {
    let app = spawn_app_with(with_threads_app).await;
    let (_, body) = generate_jwt(&app, json!({}), None).await;
    let (session, csrf, _) = open_page(&app, body["url"].as_str().unwrap()).await;
    // Another session's CSRF token does not fit.
    let (_, other) = generate_jwt(&app, json!({}), None).await;
    let (_, other_csrf, _) = open_page(&app, other["url"].as_str().unwrap()).await;
    assert_ne!(csrf, other_csrf);
    for form in [
        vec![
            ("jwt", session.as_str()),
            ("csrf", other_csrf.as_str()),
            ("platform", "threads"),
        ],
        vec![("jwt", session.as_str()), ("platform", "threads")],
    ] {
        let r = post_form(&app, "/link/connect", &form).await;
        assert_eq!(r.status(), 403);
        let r = post_form(&app, "/link/disconnect", &form).await;
        assert_eq!(r.status(), 403);
    }
    let r = post_form(
        &app,
        "/link/connect",
        &[("jwt", &session), ("csrf", &csrf), ("platform", "linkedin")],
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn x_links_through_three_legged_oauth() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path("/oauth/request_token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "oauth_token=REQ-TOKEN&oauth_token_secret=REQ-SECRET&oauth_callback_confirmed=true",
        ))
        .expect(1)
        .mount(&app.x)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_string(format!(
            "oauth_token={X_TOKEN}&oauth_token_secret={X_TOKEN_SECRET}&user_id={X_USER}&screen_name=postgate_test"
        )))
        .expect(1)
        .mount(&app.x)
        .await;
    let (_, body) = generate_jwt(&app, json!({}), None).await;
    let (session, csrf, _) = open_page(&app, body["url"].as_str().unwrap()).await;
    let r = post_form(
        &app,
        "/link/connect",
        &[("jwt", &session), ("csrf", &csrf), ("platform", "twitter")],
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        location(&r),
        format!("{}/oauth/authorize?oauth_token=REQ-TOKEN", app.x.uri())
    );
    let reqs = app.x.received_requests().await.unwrap();
    let auth = reqs[0].headers["authorization"].to_str().unwrap();
    assert!(auth.contains("oauth_callback=\""), "{auth}");
    assert!(auth.contains(&format!("oauth_consumer_key=\"{X_CONSUMER_KEY}\"")));

    let r = no_redirects()
        .get(format!(
            "{}/link/callback/x?oauth_token=REQ-TOKEN&oauth_verifier=VERIFIER",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(query_of(&location(&r))["linked"], "twitter");
    let reqs = app.x.received_requests().await.unwrap();
    let access = &reqs[1];
    assert_eq!(access.url.path(), "/oauth/access_token");
    verify_oauth1(
        access,
        X_CONSUMER_KEY,
        X_CONSUMER_SECRET,
        "REQ-TOKEN",
        "REQ-SECRET",
    )
    .unwrap();
    assert!(access.headers["authorization"]
        .to_str()
        .unwrap()
        .contains("oauth_verifier=\"VERIFIER\""));

    let user = user(&app).await;
    assert_eq!(user["activeSocialAccounts"], json!(["twitter"]));
    assert_eq!(user["displayNames"][0]["userId"], X_USER);
    assert_eq!(user["displayNames"][0]["username"], "postgate_test");
    assert_eq!(user["displayNames"][0]["displayName"], "postgate_test");
    // The request token is used up.
    let r = no_redirects()
        .get(format!(
            "{}/link/callback/x?oauth_token=REQ-TOKEN&oauth_verifier=VERIFIER",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    app.x.verify().await;
}

#[tokio::test]
async fn disconnect_unlinks_and_is_fine_when_nothing_is_linked() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (_, body) = generate_jwt(&app, json!({}), None).await;
    let (session, csrf, _) = open_page(&app, body["url"].as_str().unwrap()).await;
    for _ in 0..2 {
        let r = post_form(
            &app,
            "/link/disconnect",
            &[("jwt", &session), ("csrf", &csrf), ("platform", "twitter")],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(query_of(&location(&r))["unlinked"], "twitter");
    }
    assert_eq!(user(&app).await["activeSocialAccounts"], json!(["threads"]));
}

/// A store holding a Threads account whose token is 53 days old (7 days left).
async fn store_with_aging_threads_token() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let store = SledStore::open(&db).unwrap();
    let profile = store
        .ensure_primary_profile(&account_id(&hash_key(API_KEY)))
        .await
        .unwrap();
    let now = Utc::now();
    store
        .link_account(
            &profile.id,
            LinkedAccount {
                platform: Platform::Threads,
                user_id: THREADS_USER.into(),
                access_token: "OLD-LONG-LIVED".into(),
                access_token_secret: None,
                username: Some("aging".into()),
                linked_at: now - ChronoDuration::days(53),
                life: TokenLife {
                    expires_at: Some(now + ChronoDuration::days(7) - ChronoDuration::minutes(1)),
                    refreshed_at: Some(now - ChronoDuration::days(53)),
                    scopes: vec![],
                    needs_relink: false,
                },
            },
        )
        .await
        .unwrap();
    store.flush().await.unwrap();
    drop(store);
    (dir, db)
}

async fn wait_for_user(app: &TestApp, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let u = user(app).await;
        if done(&u) {
            return u;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition never held: {}", user(app).await);
}

#[tokio::test]
async fn a_53_day_old_threads_token_is_refreshed_and_the_new_one_stored() {
    let (_dir, db) = store_with_aging_threads_token().await;
    // The refresher's first pass runs at start-up: its Graph stand-in answers from the start.
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .and(query_param("grant_type", "th_refresh_token"))
        .and(query_param("access_token", "OLD-LONG-LIVED"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "NEW-LONG-LIVED", "token_type": "bearer", "expires_in": 5183944}),
        ))
        .expect(1)
        .mount(&graph)
        .await;
    // The username changed on Threads since the link: re-read with the new token.
    Mock::given(method("GET"))
        .and(path(THREADS_ME))
        .and(query_param("access_token", "NEW-LONG-LIVED"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": THREADS_USER, "username": "renamed_on_threads"})),
        )
        .expect(1)
        .mount(&graph)
        .await;
    let (path_db, graph_url) = (db.clone(), graph.uri());
    let app = spawn_app_with(move |s| {
        with_threads_app(s);
        s.threads.base_url = format!("{graph_url}/v1.0");
        s.store.path = path_db;
    })
    .await;
    let u = wait_for_user(&app, |u| {
        u["displayNames"][0]["tokenExpiresAt"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| t > Utc::now() + ChronoDuration::days(50))
    })
    .await;
    assert!(u["displayNames"][0].get("needsRelink").is_none(), "{u}");
    assert_eq!(
        u["displayNames"][0]["username"], "renamed_on_threads",
        "{u}"
    );
    app.stop().await;
    // sled's lock goes with the last handle, which background tasks may hold a moment longer.
    let mut store = None;
    for _ in 0..50 {
        if let Ok(s) = SledStore::open(&db) {
            store = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let store = store.expect("store reopens");
    let profile = store
        .ensure_primary_profile(&account_id(&hash_key(API_KEY)))
        .await
        .unwrap();
    let a = store
        .linked_account(&profile.id, &Platform::Threads)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.access_token, "NEW-LONG-LIVED", "the stored token rotated");
    assert_eq!(a.username.as_deref(), Some("renamed_on_threads"));
    assert!(a.life.refreshed_at.unwrap() > Utc::now() - ChronoDuration::minutes(5));
    graph.verify().await;
}

#[tokio::test]
async fn a_token_that_cannot_be_refreshed_marks_the_account_needs_relink() {
    let (_dir, db) = store_with_aging_threads_token().await;
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190}}),
        ))
        .expect(1)
        .mount(&graph)
        .await;
    let graph_url = graph.uri();
    let app = spawn_app_with(move |s| {
        with_threads_app(s);
        s.threads.base_url = format!("{graph_url}/v1.0");
        s.store.path = db;
    })
    .await;
    let u = wait_for_user(&app, |u| u["displayNames"][0]["needsRelink"] == true).await;
    assert_eq!(
        u["activeSocialAccounts"],
        json!(["threads"]),
        "still linked"
    );
    let (_, body) = generate_jwt(&app, json!({}), None).await;
    let (_, _, html) = open_page(&app, body["url"].as_str().unwrap()).await;
    assert!(html.contains("needs re-link"), "{html}");
    assert!(html.contains("Connect again"), "{html}");
}

/// A gateway in front of a fresh sandbox, nothing linked.
async fn sandboxed() -> (postgate_sandbox::SandboxHandle, String, tempfile::TempDir) {
    let sb = postgate_sandbox::start(postgate_sandbox::SandboxOptions::ephemeral())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s = postgate::demo::sandbox_settings(&sb.addrs(), &dir.path().join("db"), API_KEY).unwrap();
    let app = postgate::startup::Application::build(s).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    (sb, base, dir)
}

#[tokio::test]
async fn sandbox_consent_links_both_networks_and_the_links_publish_and_delete() {
    let (sb, base, _dir) = sandboxed().await;
    for platform in ["threads", "twitter"] {
        let page = postgate::demo::link_via_consent(&base, API_KEY, platform, true)
            .await
            .unwrap();
        assert!(page.contains("is linked."), "{platform}: {page}");
    }
    let client = reqwest::Client::new();
    let user: Value = client
        .get(format!("{base}/api/user"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["activeSocialAccounts"], json!(["threads", "twitter"]));
    let threads = &user["displayNames"][0];
    assert_eq!(threads["userId"], sb.accounts.threads[0].user_id);
    assert_eq!(threads["username"], sb.accounts.threads[0].username);
    assert!(threads["tokenExpiresAt"].is_string(), "{user}");
    assert_eq!(
        user["displayNames"][1]["username"],
        sb.accounts.x[0].username
    );

    let published: Value = client
        .post(format!("{base}/api/post"))
        .bearer_auth(API_KEY)
        .json(&json!({"post": "linked through the consent screens", "platforms": ["threads", "twitter"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(published["status"], "success", "{published}");
    let deleted: Value = client
        .delete(format!("{base}/api/post"))
        .bearer_auth(API_KEY)
        .json(&json!({"id": published["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["status"], "success", "{deleted}");
    assert_eq!((sb.threads_stats().deleted, sb.x_stats().deleted), (1, 1));
    sb.stop().await;
}

#[tokio::test]
async fn sandbox_denied_consent_and_expired_codes_link_nothing() {
    let (sb, base, _dir) = sandboxed().await;
    for platform in ["threads", "twitter"] {
        let page = postgate::demo::link_via_consent(&base, API_KEY, platform, false)
            .await
            .unwrap();
        assert!(page.contains("was not linked"), "{platform}: {page}");
    }
    sb.set_oauth_faults(postgate_sandbox::OAuthFaults {
        deny_consent: true,
        ..Default::default()
    });
    let page = postgate::demo::link_via_consent(&base, API_KEY, "threads", true)
        .await
        .unwrap();
    assert!(page.contains("access was not granted"), "{page}");
    sb.set_oauth_faults(postgate_sandbox::OAuthFaults {
        expired_code: true,
        ..Default::default()
    });
    for platform in ["threads", "twitter"] {
        let page = postgate::demo::link_via_consent(&base, API_KEY, platform, true)
            .await
            .unwrap();
        assert!(page.contains("was not linked"), "{platform}: {page}");
    }
    let user: Value = reqwest::Client::new()
        .get(format!("{base}/api/user"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["activeSocialAccounts"], json!([]));
    sb.stop().await;
}

#[tokio::test]
async fn the_linking_page_emits_social_webhooks_like_the_api() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 20;
    })
    .await;
    let (hooks, deliveries) = crate::queue::receiver(0).await;
    crate::queue::register(&app, &hooks, "social", None).await;
    app.link_both(None).await;
    let (_, body) = generate_jwt(&app, json!({}), None).await;
    let (session, csrf, _) = open_page(&app, body["url"].as_str().unwrap()).await;
    let r = post_form(
        &app,
        "/link/disconnect",
        &[("jwt", &session), ("csrf", &csrf), ("platform", "twitter")],
    )
    .await;
    assert_eq!(r.status(), 303);
    let unlink = || {
        deliveries
            .all()
            .into_iter()
            .map(|(_, r)| serde_json::from_slice::<Value>(&r.body).unwrap())
            .find(|v| v["type"] == "unlink")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while unlink().is_none() {
        assert!(std::time::Instant::now() < deadline, "no unlink webhook");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let v = unlink().unwrap();
    assert_eq!(v["action"], "social");
    assert_eq!(v["platform"], "twitter");
    assert_eq!(v["source"], "user");
}

/// The first delivery whose body has `"type": kind`, waited for up to 10 s.
async fn delivery_of(deliveries: &crate::queue::Log, kind: &str) -> wiremock::Request {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some((_, r)) = deliveries
            .all()
            .into_iter()
            .find(|(_, r)| serde_json::from_slice::<Value>(&r.body).unwrap()["type"] == kind)
        {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {kind} webhook in {} deliveries",
            deliveries.len()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_oauth_link_through_the_page_fires_a_signed_social_webhook() {
    let app = spawn_app_with(|s| {
        with_threads_app(s);
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 20;
    })
    .await;
    let (hooks, deliveries) = crate::queue::receiver(0).await;
    crate::queue::register(&app, &hooks, "social", Some("link-hook-secret")).await;
    mount_threads_tokens(&app, "threads_basic,threads_content_publish,threads_delete").await;
    let (authorize, _, _) = connect_threads(&app).await;
    let state = query_of(&authorize)["state"].clone();
    let r = no_redirects()
        .get(format!(
            "{}/link/callback/threads?code=GOOD-CODE&state={state}",
            app.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(query_of(&location(&r))["linked"], "threads");

    let hook = delivery_of(&deliveries, "link").await;
    crate::queue::assert_signed(&hook, "link-hook-secret");
    let v: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(v["action"], "social");
    assert_eq!(v["platform"], "threads");
    assert_eq!(v["source"], "user");
    assert_eq!(v["refId"], user(&app).await["refId"]);
    let text = String::from_utf8_lossy(&hook.body);
    for secret in [THREADS_TOKEN, "SHORT-LIVED", THREADS_APP_SECRET] {
        assert!(!text.contains(secret), "a secret in the webhook: {text}");
    }
    assert_eq!(deliveries.len(), 1, "one event, delivered once");
}

#[tokio::test]
async fn a_token_that_cannot_be_refreshed_fires_a_signed_needs_relink_webhook() {
    let (_dir, db) = store_with_aging_threads_token().await;
    let (hooks, deliveries) = crate::queue::receiver(0).await;
    {
        // Registered before start-up: the refresher's first pass runs at once.
        let store: Arc<dyn Store> = Arc::new(crate::helpers::open_sled(&db).await);
        let profile = store
            .ensure_primary_profile(&account_id(&hash_key(API_KEY)))
            .await
            .unwrap();
        let webhooks = postgate::service::webhooks::Webhooks::new(
            store,
            postgate::service::webhooks::WebhookConfig {
                allow_http: true,
                timeout: Duration::from_secs(5),
                retry_delays: vec![],
                tick: Duration::from_millis(20),
            },
        );
        webhooks
            .register(
                &profile.id,
                "social",
                &format!("{}/hook", hooks.uri()),
                Some("relink-secret".into()),
            )
            .await
            .unwrap()
            .unwrap();
    }
    let graph = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/refresh_access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"message": "Error validating access token: Session has expired", "type": "OAuthException", "code": 190}}),
        ))
        .expect(1)
        .mount(&graph)
        .await;
    let graph_url = graph.uri();
    let app = spawn_app_with(move |s| {
        with_threads_app(s);
        s.threads.base_url = format!("{graph_url}/v1.0");
        s.store.path = db;
        s.webhooks.allow_http = true;
        s.webhooks.tick_ms = 20;
    })
    .await;
    let hook = delivery_of(&deliveries, "refresh").await;
    crate::queue::assert_signed(&hook, "relink-secret");
    let v: Value = serde_json::from_slice(&hook.body).unwrap();
    assert_eq!(v["action"], "social");
    assert_eq!(v["platform"], "threads");
    assert_eq!(v["source"], "system");
    assert_eq!(v["details"]["status"], "error", "{v}");
    assert!(
        v["details"]["message"]
            .as_str()
            .unwrap()
            .contains("link the account again"),
        "{v}"
    );
    assert!(!String::from_utf8_lossy(&hook.body).contains("OLD-LONG-LIVED"));
    assert_eq!(
        user(&app).await["displayNames"][0]["needsRelink"],
        true,
        "the account is marked as well"
    );
    graph.verify().await;
}
