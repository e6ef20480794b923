//! Shared test harness: spawns the real app on port 0 with a temp store and wiremock servers
//! standing in for Threads and X.

use postgate::configuration::Settings;
use postgate::startup::Application;
use postgate_sandbox::oauth;
use serde_json::{json, Value};
use std::sync::{Arc, Once};
use std::time::Duration;
use tempfile::TempDir;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The API key of the test account.
pub const API_KEY: &str = "TEST-KEY-primary-0000000000000000";
/// An API key of another account.
pub const OTHER_API_KEY: &str = "TEST-KEY-other-11111111111111111";
/// X consumer credentials configured in settings.
pub const X_CONSUMER_KEY: &str = "test-consumer-key";
/// X consumer secret configured in settings.
pub const X_CONSUMER_SECRET: &str = "test-consumer-secret";
/// Linked Threads token.
pub const THREADS_TOKEN: &str = "THREADS-TOKEN-abc123secret";
/// Linked Threads user id.
pub const THREADS_USER: &str = "17841400000000001";
/// Linked X access token.
pub const X_TOKEN: &str = "1111-XACCESSTOKENsecretvalue";
/// Linked X access token secret.
pub const X_TOKEN_SECRET: &str = "XTOKENSECRET-verysecret";
/// Linked X user id.
pub const X_USER: &str = "2244994945";

/// Path of the Threads identity check linking makes (`GET {threads.base_url}/me`).
pub const THREADS_ME: &str = "/v1.0/me";
/// Path of the X identity check linking makes.
pub const X_ME: &str = "/2/users/me";

static TRACING: Once = Once::new();

/// A network stand-in. Linking asks the network whose token it is (`GET /v1.0/me`,
/// `GET /2/users/me`); [`NetworkMock::received_requests`] leaves those identity checks out so
/// a test counts only the calls it is about, and [`NetworkMock::identity_requests`] has them.
/// Everything else is the [`MockServer`] itself.
#[derive(Clone)]
pub struct NetworkMock(Arc<MockServer>);

impl std::ops::Deref for NetworkMock {
    type Target = MockServer;
    fn deref(&self) -> &MockServer {
        &self.0
    }
}

/// Whether a request is one of linking's identity checks (`/me`, `/2/users/me`).
pub fn is_identity_check(r: &Request) -> bool {
    r.method.as_str() == "GET" && (r.url.path() == THREADS_ME || r.url.path() == X_ME)
}

impl NetworkMock {
    /// Every request received except the identity checks of linking.
    pub async fn received_requests(&self) -> Option<Vec<Request>> {
        self.0
            .received_requests()
            .await
            .map(|all| all.into_iter().filter(|r| !is_identity_check(r)).collect())
    }

    /// Only the identity checks of linking.
    pub async fn identity_requests(&self) -> Vec<Request> {
        self.0
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(is_identity_check)
            .collect()
    }
}

/// Mounts the networks' answers to "whose token is this?" for the test accounts: Threads
/// `GET /v1.0/me` with [`THREADS_TOKEN`] is [`THREADS_USER`], X `GET /2/users/me` with
/// [`X_TOKEN`] is [`X_USER`]. Other tokens fall through to whatever else is mounted.
pub async fn mount_identities(threads: &MockServer, x: &MockServer) {
    Mock::given(method("GET"))
        .and(path(THREADS_ME))
        .and(query_param("access_token", THREADS_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": THREADS_USER})))
        .with_priority(1)
        .mount(threads)
        .await;
    Mock::given(method("GET"))
        .and(path(X_ME))
        .and(|r: &Request| {
            r.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains(&format!("oauth_token=\"{X_TOKEN}\"")))
        })
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": {"id": X_USER, "name": "postgate test", "username": "postgate_test"}}),
        ))
        .with_priority(1)
        .mount(x)
        .await;
}

/// A running gateway with its mocks.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// Threads stand-in.
    pub threads: NetworkMock,
    /// X stand-in.
    pub x: NetworkMock,
    /// The settings it runs with.
    pub settings: Settings,
    /// The store directory (kept alive for restarts).
    #[allow(dead_code)]
    pub dir: Arc<TempDir>,
    /// A client.
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Settings pointing at the mocks and a temp store.
pub fn test_settings(dir: &TempDir, threads: &MockServer, x: &MockServer) -> Settings {
    let mut s =
        Settings::load_with_env(None, Vec::<(String, String)>::new()).expect("defaults load");
    s.server.port = 0;
    s.store.path = dir.path().join("db");
    s.auth.api_keys = vec![API_KEY.into(), OTHER_API_KEY.into()];
    s.threads.base_url = format!("{}/v1.0", threads.uri());
    s.x.base_url = x.uri();
    s.x.consumer_key = X_CONSUMER_KEY.into();
    s.x.consumer_secret = X_CONSUMER_SECRET.into();
    s.delete.deadline_ms = 3000;
    s.delete.retry_base_ms = 20;
    s.delete.retry_max_ms = 100;
    s.threads.timeout_ms = 2500;
    s.x.timeout_ms = 2500;
    s
}

/// Spawns the app with default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after `tweak` adjusts the settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            postgate::telemetry::init(&postgate::configuration::LogSettings {
                format: postgate::configuration::LogFormat::Human,
                level: "debug".into(),
            });
        }
    });
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let threads = Arc::new(MockServer::start().await);
    let x = Arc::new(MockServer::start().await);
    let mut settings = test_settings(&dir, &threads, &x);
    tweak(&mut settings);
    start(settings, dir, threads, x).await
}

/// Builds the app, waiting for a store directory that a dropped handle of this process still
/// holds: sled releases its lock once the last handle is gone, which background tasks (a
/// stopped gateway's, or a store a test prepared) may delay by a moment.
pub async fn build(settings: &Settings) -> Application {
    let mut last = None;
    for _ in 0..50 {
        match Application::build(settings.clone()).await {
            Ok(app) => return app,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("app did not build: {last:?}");
}

async fn start(
    settings: Settings,
    dir: Arc<TempDir>,
    threads: Arc<MockServer>,
    x: Arc<MockServer>,
) -> TestApp {
    mount_identities(&threads, &x).await;
    let app = build(&settings).await;
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        threads: NetworkMock(threads),
        x: NetworkMock(x),
        settings,
        dir,
        client: client(),
        handle,
        join,
    }
}

/// The tests' HTTP client. It lets go of a pooled connection idle for a second, well before
/// the gateway's keep-alive timeout (5 s) closes it: otherwise a request sent after a long
/// pause (a loaded machine, a slow step of the test) can go out on a connection the server
/// is closing at that moment and fail as "connection closed before message completed".
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(1))
        .build()
        .expect("client builds")
}

impl TestApp {
    /// Stops the gateway and starts it again on the same store and mocks.
    pub async fn restart(self) -> TestApp {
        self.restart_after(|_| async {}).await
    }

    /// Like [`TestApp::restart`], running `offline` while the gateway is down (its store
    /// closed): a change made there is one the gateway finds at start-up.
    #[allow(dead_code)]
    pub async fn restart_after<F>(self, offline: impl FnOnce(Settings) -> F) -> TestApp
    where
        F: std::future::Future<Output = ()>,
    {
        self.handle.stop(true).await;
        self.join.await.expect("server task").expect("server ran");
        offline(self.settings.clone()).await;
        let app = build(&self.settings).await;
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let join = tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            handle,
            join,
            ..self
        }
    }

    /// Stops the gateway as a SIGTERM would, and waits until `run_until_stopped` returns.
    #[allow(dead_code)]
    pub async fn stop(self) {
        self.handle.stop(true).await;
        self.join.await.expect("server task").expect("server ran");
    }

    /// A request with the primary API key (and a Profile-Key when given).
    pub fn request(
        &self,
        m: reqwest::Method,
        p: &str,
        profile_key: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .request(m, format!("{}{}", self.address, p))
            .bearer_auth(API_KEY);
        if let Some(pk) = profile_key {
            r = r.header("Profile-Key", pk);
        }
        r
    }

    /// `DELETE /api/post` with a JSON body.
    pub async fn delete_post(&self, body: Value) -> reqwest::Response {
        self.delete_post_as(body, None).await
    }

    /// `DELETE /api/post` for a profile.
    pub async fn delete_post_as(
        &self,
        body: Value,
        profile_key: Option<&str>,
    ) -> reqwest::Response {
        self.request(reqwest::Method::DELETE, "/api/post", profile_key)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a user profile; returns (refId, profileKey).
    pub async fn create_profile(&self, title: &str) -> (String, String) {
        let r: Value = self
            .request(reqwest::Method::POST, "/api/profiles/profile", None)
            .json(&json!({"title": title}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["status"], "success", "{r}");
        (
            r["refId"].as_str().unwrap().to_owned(),
            r["profileKey"].as_str().unwrap().to_owned(),
        )
    }

    /// Links the test Threads and X accounts to a profile (the identity mocks of
    /// [`mount_identities`] answer for their tokens).
    pub async fn link_both(&self, profile_key: Option<&str>) {
        for body in [
            json!({"platform": "threads", "userId": THREADS_USER, "accessToken": THREADS_TOKEN}),
            json!({"platform": "twitter", "userId": X_USER, "accessToken": X_TOKEN, "accessTokenSecret": X_TOKEN_SECRET, "username": "postgate_test"}),
        ] {
            let mut r = self
                .request(reqwest::Method::POST, "/api/profiles/social", profile_key)
                .json(&body);
            // Linking verifies the token at X, which needs consumer credentials: an app
            // without them in its settings links with BYO headers.
            if self.settings.x.consumer_key.is_empty() {
                r = r
                    .header("X-Twitter-OAuth1-Api-Key", "link-byo-key")
                    .header("X-Twitter-OAuth1-Api-Secret", "link-byo-secret");
            }
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    }

    /// Imports posts; returns the answer.
    pub async fn import(&self, posts: Value, profile_key: Option<&str>) -> (u16, Value) {
        let r = self
            .request(reqwest::Method::POST, "/api/post/import", profile_key)
            .json(&json!({ "posts": posts }))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Imports one published post on Threads and X; returns its id.
    pub async fn published_post(
        &self,
        media_id: &str,
        tweet_id: &str,
        profile_key: Option<&str>,
    ) -> String {
        let (status, r) = self
            .import(
                json!([{
                    "post": "hello",
                    "status": "success",
                    "postIds": [
                        {"platform": "threads", "id": media_id, "status": "success"},
                        {"platform": "twitter", "id": tweet_id, "status": "success"}
                    ]
                }]),
                profile_key,
            )
            .await;
        assert_eq!(status, 200, "{r}");
        r["posts"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Imports one post live on a single platform with the given network id; returns its id.
    pub async fn single_platform_post(&self, platform: &str, network_id: &str) -> String {
        let (status, r) = self
            .import(
                json!([{"post": "t", "postIds": [{"platform": platform, "id": network_id}]}]),
                None,
            )
            .await;
        assert_eq!(status, 200, "{r}");
        r["posts"][0]["id"].as_str().unwrap().to_owned()
    }

    /// `GET path` with the primary key; the answer's JSON body (whatever its status).
    #[allow(dead_code)]
    pub async fn get_json(&self, path: &str) -> Value {
        self.request(reqwest::Method::GET, path, None)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `GET /api/post/{id}`
    pub async fn get_post(&self, id: &str, profile_key: Option<&str>) -> (u16, Value) {
        let r = self
            .request(
                reqwest::Method::GET,
                &format!("/api/post/{id}"),
                profile_key,
            )
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

/// Mounts a successful Threads delete of `media_id`, expected `times` times.
pub async fn threads_delete_ok(server: &MockServer, media_id: &str, times: u64) {
    threads_delete_ok_after(server, media_id, times, Duration::ZERO).await;
}

/// Like [`threads_delete_ok`], answering after `delay`.
pub async fn threads_delete_ok_after(
    server: &MockServer,
    media_id: &str,
    times: u64,
    delay: Duration,
) {
    Mock::given(method("DELETE"))
        .and(path(format!("/v1.0/{media_id}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"success": true, "deleted_id": media_id}))
                .set_delay(delay),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// Mounts a successful X delete of `tweet_id`, expected `times` times.
pub async fn x_delete_ok(server: &MockServer, tweet_id: &str, times: u64) {
    x_delete_ok_after(server, tweet_id, times, Duration::ZERO).await;
}

/// Like [`x_delete_ok`], answering after `delay`.
pub async fn x_delete_ok_after(server: &MockServer, tweet_id: &str, times: u64, delay: Duration) {
    Mock::given(method("DELETE"))
        .and(path(format!("/2/tweets/{tweet_id}")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"deleted": true}}))
                .set_delay(delay),
        )
        .expect(times)
        .mount(server)
        .await;
}

/// Recomputes the OAuth 1.0a HMAC-SHA1 signature of a received request from the known
/// secrets and checks the header carries the expected consumer key and token. It uses the
/// sandbox's verifier (`postgate_sandbox::oauth`), an RFC 5849 implementation independent of
/// the `oauth1-request` signer postgate sends with.
pub fn verify_oauth1(
    req: &Request,
    consumer_key: &str,
    consumer_secret: &str,
    token: &str,
    token_secret: &str,
) -> Result<(), String> {
    let header = req
        .headers
        .get("authorization")
        .ok_or("no Authorization header")?
        .to_str()
        .map_err(|e| e.to_string())?;
    let parsed = oauth::parse_header(header).map_err(|e| format!("{e:?} header {header}"))?;
    if parsed.get("oauth_consumer_key") != Some(consumer_key) {
        return Err("wrong consumer key".into());
    }
    if parsed.get("oauth_token") != Some(token) {
        return Err("wrong token".into());
    }
    if parsed.get("oauth_signature_method") != Some("HMAC-SHA1") {
        return Err("not HMAC-SHA1".into());
    }
    let mut params = parsed.params.clone();
    for (k, v) in req.url.query_pairs() {
        params.push((k.into_owned(), v.into_owned()));
    }
    // wiremock's `req.url` names "localhost" without the port; the signed URI is the one the
    // client called, which the Host header carries.
    let host = req
        .headers
        .get("host")
        .ok_or("no Host header")?
        .to_str()
        .map_err(|e| e.to_string())?;
    let base_uri = oauth::base_string_uri("http", host, req.url.path());
    let base = oauth::signature_base_string(req.method.as_str(), &base_uri, &params);
    if oauth::verify(&base, consumer_secret, token_secret, &parsed.signature) {
        Ok(())
    } else {
        Err(format!(
            "signature {} does not match; base string {base}; header {header}",
            parsed.signature
        ))
    }
}

/// Opens a sled store directory another handle just closed. A closed store's last group
/// flush can still hold sled's directory lock for a moment after the handle is dropped.
pub async fn open_sled(path: &std::path::Path) -> postgate::store::SledStore {
    let mut last = None;
    for _ in 0..50 {
        match postgate::store::SledStore::open(path) {
            Ok(s) => return s,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("store did not open: {last:?}");
}
