//! `postgate sandbox`: the simulated Threads and X APIs, driven directly with reqwest, and
//! end to end behind a real gateway.

use postgate::demo::sandbox_settings;
use postgate::networks::{sign_oauth1, ConsumerCredentials};
use postgate_sandbox::{self as sandbox, Faults, SandboxHandle, SandboxOptions};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn start(tweak: impl FnOnce(&mut SandboxOptions)) -> SandboxHandle {
    let mut opts = SandboxOptions::ephemeral();
    opts.workers = Some(1);
    tweak(&mut opts);
    sandbox::start(opts).await.expect("sandbox starts")
}

async fn json_of(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

/// Threads calls with one account's token.
struct ThreadsClient<'a> {
    sb: &'a SandboxHandle,
    client: Client,
    token: String,
}

impl<'a> ThreadsClient<'a> {
    fn new(sb: &'a SandboxHandle, account: usize) -> Self {
        Self {
            sb,
            client: Client::new(),
            token: sb.accounts.threads[account].access_token.clone(),
        }
    }

    /// Container, then publish; returns the media id.
    async fn publish(&self, text: &str) -> String {
        let (s, c) = json_of(
            self.client
                .post(format!("{}/me/threads", self.sb.threads_url))
                .form(&[
                    ("media_type", "TEXT"),
                    ("text", text),
                    ("access_token", &self.token),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{c}");
        let container = c["id"].as_str().unwrap().to_owned();
        let (s, m) = json_of(
            self.client
                .post(format!("{}/me/threads_publish", self.sb.threads_url))
                .query(&[
                    ("creation_id", container.as_str()),
                    ("access_token", &self.token),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{m}");
        let media = m["id"].as_str().unwrap().to_owned();
        assert_ne!(media, container);
        media
    }

    async fn get(&self, id: &str) -> (StatusCode, Value) {
        json_of(
            self.client
                .get(format!("{}/{id}", self.sb.threads_url))
                .query(&[
                    ("fields", "id,permalink,text,timestamp,username"),
                    ("access_token", &self.token),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    async fn delete(&self, id: &str) -> (StatusCode, Value) {
        json_of(
            self.client
                .delete(format!("{}/{id}", self.sb.threads_url))
                .query(&[("access_token", &self.token)])
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

fn assert_graph_100_33(status: StatusCode, body: &Value, id: &str) {
    assert_eq!(status, 400, "{body}");
    let e = &body["error"];
    assert_eq!(e["code"], 100, "{body}");
    assert_eq!(e["error_subcode"], 33, "{body}");
    assert_eq!(e["type"], "THApiException");
    assert!(e["fbtrace_id"].is_string());
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("Object with ID '{id}' does not exist")),
        "{msg}"
    );
}

/// X calls signed with OAuth 1.0a for one account.
struct XClient<'a> {
    sb: &'a SandboxHandle,
    client: Client,
    consumer: ConsumerCredentials,
    token: String,
    secret: String,
}

impl<'a> XClient<'a> {
    fn new(sb: &'a SandboxHandle, account: usize) -> Self {
        let a = &sb.accounts.x[account];
        Self {
            sb,
            client: Client::new(),
            consumer: ConsumerCredentials {
                key: sb.accounts.x_app.consumer_key.clone(),
                secret: sb.accounts.x_app.consumer_secret.clone(),
            },
            token: a.access_token.clone(),
            secret: a.access_token_secret.clone(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let url = format!("{}{path}", self.sb.x_url);
        let auth = sign_oauth1(
            method.as_str(),
            &url,
            &self.consumer,
            &self.token,
            &self.secret,
        );
        let mut r = self
            .client
            .request(method, &url)
            .header("Authorization", auth);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    async fn publish(&self, text: &str) -> String {
        let r = self
            .call(Method::POST, "/2/tweets", Some(json!({ "text": text })))
            .await;
        assert!(r.headers().contains_key("x-rate-limit-remaining"));
        let (s, b) = json_of(r).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["data"]["text"], text);
        b["data"]["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn threads_publish_get_delete_round_trip() {
    let sb = start(|_| {}).await;
    assert!(sb.threads_url.ends_with("/v1.0"), "{}", sb.threads_url);
    let t = ThreadsClient::new(&sb, 0);
    let id = t.publish("hello from the sandbox").await;

    let (s, b) = t.get(&id).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id"], id.as_str());
    assert_eq!(b["text"], "hello from the sandbox");
    assert_eq!(b["username"], sb.accounts.threads[0].username.as_str());
    assert!(b["permalink"]
        .as_str()
        .unwrap()
        .starts_with("https://www.threads.net/@"));
    assert!(b["timestamp"].is_string());

    let (s, b) = t.delete(&id).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!({"success": true, "deleted_id": id}));

    let (s, b) = t.get(&id).await;
    assert_graph_100_33(s, &b, &id);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Unsupported get request."));
    let (s, b) = t.delete(&id).await;
    assert_graph_100_33(s, &b, &id);
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Unsupported delete request."));
    let (s, b) = t.delete("123").await;
    assert_graph_100_33(s, &b, "123");

    // Over-long text is refused (code 100, no subcode).
    let (s, b) = json_of(
        t.client
            .post(format!("{}/me/threads", sb.threads_url))
            .query(&[
                ("media_type", "TEXT"),
                ("access_token", t.token.as_str()),
                ("text", &"a".repeat(501)),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], 100);
    assert!(b["error"].get("error_subcode").is_none());

    let st = sb.threads_stats();
    assert_eq!(st.network, "threads");
    assert_eq!(st.calls.publish, 1);
    assert_eq!(st.calls.container, 2);
    assert_eq!(st.calls.get, 2);
    assert_eq!(st.calls.delete, 3);
    assert_eq!((st.published, st.deleted, st.live_posts), (1, 1, 0));
    assert_eq!(st.errors.not_found, 3);
    assert_eq!(st.errors.invalid, 1);
    // The same counters over HTTP.
    let (s, http) = json_of(
        reqwest::get(format!("{}/__sandbox/stats", sb.threads_root()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(http["calls"]["delete"], 3);
    assert_eq!(http["deleted"], 1);
    sb.stop().await;
}

#[tokio::test]
async fn threads_checks_tokens_and_ownership() {
    let sb = start(|o| o.accounts = 2).await;
    assert_eq!(
        sb.accounts.threads[1].access_token,
        "sandbox-threads-token-2"
    );
    let owner = ThreadsClient::new(&sb, 0);
    let other = ThreadsClient::new(&sb, 1);
    let id = owner.publish("mine").await;

    let mut bad = ThreadsClient::new(&sb, 0);
    bad.token = "not-a-token".into();
    let (s, b) = bad.delete(&id).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], 190);
    assert_eq!(b["error"]["type"], "OAuthException");
    assert_eq!(
        b["error"]["message"],
        "Invalid OAuth access token - Cannot parse access token"
    );

    // Another account's token: the object "does not exist" for it.
    let (s, b) = other.delete(&id).await;
    assert_graph_100_33(s, &b, &id);
    let (s, b) = other.get(&id).await;
    assert_graph_100_33(s, &b, &id);
    // Publishing as another user id is refused as well.
    let (s, b) = json_of(
        other
            .client
            .post(format!(
                "{}/{}/threads",
                sb.threads_url, sb.accounts.threads[0].user_id
            ))
            .form(&[
                ("media_type", "TEXT"),
                ("text", "x"),
                ("access_token", &other.token),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s.as_u16(), &b["error"]["code"]), (400, &json!(100)), "{b}");

    // Still there for its owner.
    assert_eq!(owner.get(&id).await.0, 200);
    assert_eq!(owner.delete(&id).await.0, 200);
    sb.stop().await;
}

#[tokio::test]
async fn x_publish_get_delete_round_trip() {
    let sb = start(|_| {}).await;
    let x = XClient::new(&sb, 0);
    let id = x.publish("hello X").await;

    let (s, b) = json_of(x.call(Method::GET, &format!("/2/tweets/{id}"), None).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["id"], id.as_str());
    assert_eq!(b["data"]["text"], "hello X");

    let r = x
        .call(Method::DELETE, &format!("/2/tweets/{id}"), None)
        .await;
    assert_eq!(r.headers()["x-rate-limit-limit"], "50");
    assert_eq!(r.headers()["x-rate-limit-remaining"], "49");
    assert!(r.headers().contains_key("x-rate-limit-reset"));
    let (s, b) = json_of(r).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!({"data": {"deleted": true}}));

    // Gone: the read answers 200 with a resource-not-found error, the delete 404.
    let (s, b) = json_of(x.call(Method::GET, &format!("/2/tweets/{id}"), None).await).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("data").is_none());
    assert_eq!(
        b["errors"][0]["type"],
        "https://api.twitter.com/2/problems/resource-not-found"
    );
    assert_eq!(b["errors"][0]["resource_id"], id.as_str());
    let (s, b) = json_of(
        x.call(Method::DELETE, &format!("/2/tweets/{id}"), None)
            .await,
    )
    .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(
        b["type"],
        "https://api.twitter.com/2/problems/resource-not-found"
    );
    assert_eq!(b["title"], "Not Found Error");

    // An id that is not ^[0-9]{1,19}$.
    let (s, b) = json_of(x.call(Method::DELETE, "/2/tweets/abc", None).await).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        b["type"],
        "https://api.twitter.com/2/problems/invalid-request"
    );

    // v1.1 statuses/destroy.
    let id2 = x.publish("legacy").await;
    let path = format!("/1.1/statuses/destroy/{id2}.json");
    let (s, b) = json_of(x.call(Method::POST, &path, None).await).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["id_str"], id2.as_str());
    assert_eq!(b["text"], "legacy");
    let (s, b) = json_of(x.call(Method::POST, &path, None).await).await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(
        b,
        json!({"errors": [{"code": 144, "message": "No status found with that ID."}]})
    );

    // Over 280 characters.
    let (s, b) = json_of(
        x.call(
            Method::POST,
            "/2/tweets",
            Some(json!({"text": "a".repeat(281)})),
        )
        .await,
    )
    .await;
    assert_eq!(s, 403, "{b}");

    let st = sb.x_stats();
    assert_eq!(st.calls.publish, 3);
    assert_eq!(st.calls.get, 2);
    assert_eq!(st.calls.delete, 5);
    assert_eq!((st.published, st.deleted, st.live_posts), (2, 2, 0));
    sb.stop().await;
}

#[tokio::test]
async fn x_refuses_bad_signatures_and_foreign_deletes() {
    let sb = start(|o| o.accounts = 2).await;
    let x = XClient::new(&sb, 0);
    let id = x.publish("signed").await;
    let url = format!("{}/2/tweets/{id}", sb.x_url);
    let unauthorized = json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"});
    let client = Client::new();

    let attempts = [
        // Wrong consumer secret.
        sign_oauth1(
            "DELETE",
            &url,
            &ConsumerCredentials {
                key: x.consumer.key.clone(),
                secret: "wrong".into(),
            },
            &x.token,
            &x.secret,
        ),
        // Wrong token secret.
        sign_oauth1("DELETE", &url, &x.consumer, &x.token, "wrong"),
        // Signed for another host than the one called.
        sign_oauth1(
            "DELETE",
            &url.replace("127.0.0.1", "api.x.com"),
            &x.consumer,
            &x.token,
            &x.secret,
        ),
        // Signed for https.
        sign_oauth1(
            "DELETE",
            &url.replace("http://", "https://"),
            &x.consumer,
            &x.token,
            &x.secret,
        ),
        // Signed for another method.
        sign_oauth1("GET", &url, &x.consumer, &x.token, &x.secret),
        // Unknown token.
        sign_oauth1("DELETE", &url, &x.consumer, "nobody", &x.secret),
        "OAuth garbage".into(),
    ];
    for auth in attempts {
        let (s, b) = json_of(
            client
                .delete(&url)
                .header("Authorization", &auth)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 401, "{auth}: {b}");
        assert_eq!(b, unauthorized);
    }
    let (s, _) = json_of(client.delete(&url).send().await.unwrap()).await;
    assert_eq!(s, 401);

    // Query parameters are part of the signature: a signed URL with an added query fails,
    // one signed with it passes.
    let read = format!("{url}?tweet.fields=created_at");
    let auth = sign_oauth1("GET", &url, &x.consumer, &x.token, &x.secret);
    let r = client
        .get(&read)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let token = oauth1_request::Token::from_parts(
        x.consumer.key.as_str(),
        x.consumer.secret.as_str(),
        x.token.as_str(),
        x.secret.as_str(),
    );
    let auth = oauth1_request::Builder::with_token(token, oauth1_request::HMAC_SHA1).authorize(
        "GET",
        &url,
        &oauth1_request::ParameterList::new([("tweet.fields", "created_at")]),
    );
    let r = client
        .get(&read)
        .header("Authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Another user cannot delete it.
    let other = XClient::new(&sb, 1);
    let (s, b) = json_of(
        other
            .call(Method::DELETE, &format!("/2/tweets/{id}"), None)
            .await,
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["title"], "Forbidden");
    let (s, b) = json_of(
        other
            .call(
                Method::POST,
                &format!("/1.1/statuses/destroy/{id}.json"),
                None,
            )
            .await,
    )
    .await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["errors"][0]["code"], 183);

    // Its author can.
    let r = x
        .call(Method::DELETE, &format!("/2/tweets/{id}"), None)
        .await;
    assert_eq!(r.status(), 200);
    let st = sb.x_stats();
    assert_eq!(st.errors.auth, 9);
    assert_eq!(st.errors.forbidden, 2);
    assert_eq!(st.deleted, 1);
    sb.stop().await;
}

#[tokio::test]
async fn delete_quotas_are_enforced() {
    let sb = start(|o| {
        o.threads_delete_limit = 2;
        o.x_delete_limit = 2;
    })
    .await;
    let client = Client::new();

    // Threads: the third delete in the window answers Graph code 17.
    let t = ThreadsClient::new(&sb, 0);
    let ids: Vec<String> = json_of(
        client
            .post(format!("{}/__sandbox/seed?count=3", sb.threads_root()))
            .send()
            .await
            .unwrap(),
    )
    .await
    .1["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(t.delete(&ids[0]).await.0, 200);
    assert_eq!(t.delete(&ids[1]).await.0, 200);
    let (s, b) = t.delete(&ids[2]).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], 17);
    assert_eq!(b["error"]["type"], "OAuthException");
    assert_eq!(t.get(&ids[2]).await.0, 200, "not deleted");
    let (s, b) = json_of(
        client
            .get(format!("{}/me/threads_publishing_limit", sb.threads_url))
            .query(&[
                ("fields", "delete_quota_usage,delete_config"),
                ("access_token", t.token.as_str()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"data": [{"delete_quota_usage": 2, "delete_config": {"quota_total": 2, "quota_duration": 86400}}]})
    );

    // X: the third delete request in the window answers 429 with the headers.
    let x = XClient::new(&sb, 0);
    let a = x.publish("one").await;
    let b_id = x.publish("two").await;
    let c = x.publish("three").await;
    for (id, remaining) in [(&a, "1"), (&b_id, "0")] {
        let r = x
            .call(Method::DELETE, &format!("/2/tweets/{id}"), None)
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-rate-limit-remaining"], remaining);
    }
    let r = x
        .call(Method::DELETE, &format!("/2/tweets/{c}"), None)
        .await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-rate-limit-limit"], "2");
    assert_eq!(r.headers()["x-rate-limit-remaining"], "0");
    let reset: u64 = r.headers()["x-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(reset > now && reset <= now + 901, "{reset} vs {now}");
    let (_, b) = json_of(r).await;
    assert_eq!(
        b,
        json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
    );
    let (s, _) = json_of(x.call(Method::GET, &format!("/2/tweets/{c}"), None).await).await;
    assert_eq!(s, 200);
    assert_eq!(sb.x_stats().errors.rate_limited, 1);
    assert_eq!(sb.threads_stats().errors.rate_limited, 1);

    // Reset clears the windows.
    let r = client
        .post(format!("{}/__sandbox/reset", sb.x_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = x
        .call(Method::DELETE, &format!("/2/tweets/{c}"), None)
        .await;
    assert_eq!(r.status(), 200);
    sb.stop().await;
}

#[tokio::test]
async fn injected_errors_latency_and_hangs() {
    let sb = start(|o| {
        o.threads_error_rate = 1.0;
        o.x_error_rate = 1.0;
    })
    .await;
    let t = ThreadsClient::new(&sb, 0);
    let (s, b) = t.get("1").await;
    assert!(s == 500 || s == 503, "{s} {b}");
    assert!(matches!(b["error"]["code"].as_i64(), Some(1 | 2)), "{b}");
    assert_eq!(b["error"]["is_transient"], true);
    let x = XClient::new(&sb, 0);
    let r = x.call(Method::DELETE, "/2/tweets/1", None).await;
    assert!(r.status().is_server_error(), "{}", r.status());
    assert_eq!(sb.threads_stats().errors.injected, 1);
    assert_eq!(sb.x_stats().errors.injected, 1);
    assert_eq!(
        sb.x_stats().calls.delete,
        0,
        "an injected error precedes the call"
    );

    // Latency, changed at run time (in process and over HTTP).
    sb.set_threads_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let client = Client::new();
    let r = client
        .put(format!("{}/__sandbox/faults", sb.x_url))
        .json(&json!({"latency_ms": 150, "jitter_ms": 20}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    let (s, _) = t.get("1").await;
    assert_eq!(s, 400);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = Instant::now();
    let r = x.call(Method::DELETE, "/2/tweets/1", None).await;
    assert_eq!(r.status(), 404);
    assert!(started.elapsed() >= Duration::from_millis(150));

    // A hang: the call is accepted and never answered.
    sb.set_x_faults(Faults {
        hang: true,
        ..Faults::default()
    });
    let r = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .delete(format!("{}/2/tweets/1", sb.x_url))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    assert_eq!(sb.x_stats().hung, 1);
    sb.stop().await;
}

#[tokio::test]
async fn fault_flags_come_from_the_command_line() {
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        opts: SandboxOptions,
    }
    let o = <Cli as clap::Parser>::try_parse_from([
        "sandbox",
        "--threads-port",
        "0",
        "--x-port",
        "0",
        "--threads-latency-ms",
        "120",
        "--x-error-rate",
        "1",
        "--x-delete-limit",
        "7",
        "--threads-token",
        "tok",
    ])
    .unwrap()
    .opts;
    assert_eq!(o.threads_faults().latency_ms, 120);
    assert_eq!(o.x_faults().error_rate, 1.0);
    assert!(<Cli as clap::Parser>::try_parse_from(["sandbox", "--x-error-rate", "1.5"]).is_err());
    let sb = sandbox::start(o).await.unwrap();
    assert_eq!(sb.accounts.threads[0].access_token, "tok");
    let banner = sb.banner();
    assert!(banner.contains(&sb.env_line()));
    assert!(banner.contains(&format!("POSTGATE__THREADS__BASE_URL={}", sb.threads_url)));
    assert!(banner.contains("sandbox-x-consumer-secret"));
    let started = Instant::now();
    let t = ThreadsClient::new(&sb, 0);
    assert_eq!(t.get("1").await.0, 400);
    assert!(started.elapsed() >= Duration::from_millis(120));
    let r = XClient::new(&sb, 0)
        .call(Method::GET, "/2/tweets/1", None)
        .await;
    assert!(r.status().is_server_error());
    sb.stop().await;
}

/// The sandbox behind a real gateway: link its accounts, import a post published there,
/// delete it through `DELETE /api/post`.
#[tokio::test]
async fn gateway_deletes_a_post_published_in_the_sandbox() {
    let sb = start(|_| {}).await;
    let media = ThreadsClient::new(&sb, 0).publish("end to end").await;
    let tweet = XClient::new(&sb, 0).publish("end to end").await;

    let dir = tempfile::tempdir().unwrap();
    let api_key = "SANDBOX-E2E-KEY-000000000000000000";
    let s = sandbox_settings(&sb.addrs(), &dir.path().join("db"), api_key).expect("defaults load");
    let app = postgate::startup::Application::build(s)
        .await
        .expect("gateway builds");
    let gw = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let client = Client::new();
    let call = |m: Method, p: &str, body: Value| {
        client
            .request(m, format!("{gw}{p}"))
            .bearer_auth(api_key)
            .json(&body)
            .send()
    };

    let t = &sb.accounts.threads[0];
    let x = &sb.accounts.x[0];
    for body in [
        json!({"platform": "threads", "userId": t.user_id, "accessToken": t.access_token}),
        json!({"platform": "twitter", "userId": x.user_id, "accessToken": x.access_token, "accessTokenSecret": x.access_token_secret}),
    ] {
        let (s, b) = json_of(
            call(Method::POST, "/api/profiles/social", body)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = json_of(
        call(
            Method::POST,
            "/api/post/import",
            json!({"posts": [{"post": "end to end", "postIds": [
                {"platform": "threads", "id": media},
                {"platform": "twitter", "id": tweet}
            ]}]}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let id = b["posts"][0]["id"]
        .as_str()
        .expect("imported id")
        .to_owned();

    let (s, b) = json_of(
        call(Method::DELETE, "/api/post", json!({ "id": id }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    assert_eq!(b["threads"]["status"], "success", "{b}");
    assert_eq!(b["twitter"]["status"], "success", "{b}");
    assert_eq!(b["threads"]["id"], media.as_str());
    assert_eq!(b["twitter"]["id"], tweet.as_str());

    // The networks saw exactly one delete each, and the posts are gone there.
    let (ts, xs) = (sb.threads_stats(), sb.x_stats());
    assert_eq!((ts.calls.delete, ts.deleted), (1, 1), "{ts:?}");
    assert_eq!((xs.calls.delete, xs.deleted), (1, 1), "{xs:?}");
    assert_eq!((ts.live_posts, xs.live_posts), (0, 0));
    assert_eq!(ts.errors.total + xs.errors.total, 0);

    handle.stop(true).await;
    let _ = join.await;
    sb.stop().await;
}

/// A gateway on a fresh store pointed at `sb`, with the sandbox's first Threads account
/// linked to the primary profile. Returns (base URL, API key, stop handle, server task, dir).
async fn gateway_on(
    sb: &SandboxHandle,
) -> (
    String,
    &'static str,
    actix_web::dev::ServerHandle,
    tokio::task::JoinHandle<std::io::Result<()>>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let api_key = "SANDBOX-LOST-KEY-00000000000000000";
    let mut s =
        sandbox_settings(&sb.addrs(), &dir.path().join("db"), api_key).expect("defaults load");
    s.delete.retry_base_ms = 10;
    s.delete.retry_max_ms = 50;
    let app = postgate::startup::Application::build(s)
        .await
        .expect("gateway builds");
    let gw = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let t = &sb.accounts.threads[0];
    let (st, b) = json_of(
        Client::new()
            .post(format!("{gw}/api/profiles/social"))
            .bearer_auth(api_key)
            .json(
                &json!({"platform": "threads", "userId": t.user_id, "accessToken": t.access_token}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    (gw, api_key, handle, join, dir)
}

#[tokio::test]
async fn the_lose_response_fault_deletes_then_drops_the_connection() {
    let sb = start(|o| o.threads_lose_response_rate = 1.0).await;
    let t = ThreadsClient::new(&sb, 0);
    let media = t.publish("lost answer").await;
    let r = t
        .client
        .delete(format!("{}/{media}", sb.threads_url))
        .query(&[("access_token", &t.token)])
        .send()
        .await;
    let e = r.expect_err("no answer comes back");
    assert!(!e.is_connect() && !e.is_timeout(), "{e:?}");
    let s = sb.threads_stats();
    assert_eq!(
        (s.calls.delete, s.deleted, s.lost_responses, s.live_posts),
        (1, 1, 1, 0),
        "{s:?}"
    );
    // The delete happened: the post is gone, and a failed delete's answer is not lost.
    let (st, b) = t.get(&media).await;
    assert_graph_100_33(st, &b, &media);
    let (st, b) = t.delete(&media).await;
    assert_graph_100_33(st, &b, &media);
    assert_eq!(sb.threads_stats().lost_responses, 1);
    // Flags and the faults endpoint know it.
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        opts: SandboxOptions,
    }
    let o =
        <Cli as clap::Parser>::try_parse_from(["sandbox", "--threads-lose-response-rate", "0.25"])
            .unwrap()
            .opts;
    assert_eq!(o.threads_faults().lose_response_rate, 0.25);
    assert!(<Cli as clap::Parser>::try_parse_from([
        "sandbox",
        "--threads-lose-response-rate",
        "2"
    ])
    .is_err());
    let f: Value = Client::new()
        .get(format!("{}/__sandbox/faults", sb.threads_root()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(f["lose_response_rate"], 1.0, "{f}");
    assert!(sb.banner().contains("lose-response rate 1"));
    sb.stop().await;
}

/// Issue #17: every Threads delete is performed and its answer lost. The gateway's retry gets
/// 100/33, the read finds nothing: the earlier (lost) delete went through. The answer, the
/// stored post and the sandbox's own counts agree; each post is deleted exactly once.
#[tokio::test]
async fn gateway_completes_deletes_whose_answer_was_lost_single_and_bulk() {
    let sb = start(|o| o.threads_lose_response_rate = 1.0).await;
    let t = ThreadsClient::new(&sb, 0);
    let mut media = Vec::new();
    for i in 0..6 {
        media.push(t.publish(&format!("lost {i}")).await);
    }
    let (gw, key, handle, join, _dir) = gateway_on(&sb).await;
    let client = Client::new();
    let items: Vec<Value> = media
        .iter()
        .map(|m| json!({"post": "lost", "postIds": [{"platform": "threads", "id": m}]}))
        .collect();
    let (st, b) = json_of(
        client
            .post(format!("{gw}/api/post/import"))
            .bearer_auth(key)
            .json(&json!({ "posts": items }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let ids: Vec<String> = b["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();

    // One id.
    let (st, b) = json_of(
        client
            .delete(format!("{gw}/api/post"))
            .bearer_auth(key)
            .json(&json!({"id": ids[0]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    assert_eq!(b["threads"]["status"], "success", "{b}");
    assert_eq!(b["threads"]["alreadyDeleted"], true, "{b}");
    assert_eq!(b["threads"]["id"], media[0].as_str());

    // A bulk of the other five.
    let (st, b) = json_of(
        client
            .delete(format!("{gw}/api/post"))
            .bearer_auth(key)
            .json(&json!({"bulk": ids[1..]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    for p in b["posts"].as_array().unwrap() {
        assert_eq!(p["threads"]["status"], "success", "{p}");
        assert_eq!(p["threads"]["alreadyDeleted"], true, "{p}");
    }

    // The store agrees.
    for id in &ids {
        let (st, p) = json_of(
            client
                .get(format!("{gw}/api/post/{id}"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 200, "{p}");
        assert_eq!(p["status"], "deleted", "{p}");
        assert_eq!(p["postIds"][0]["state"], "deleted", "{p}");
    }
    // The network agrees: each post deleted exactly once (six lost answers, six retries
    // answered 100/33, six confirming reads, plus linking's one `GET /me`), nothing left live.
    let s = sb.threads_stats();
    assert_eq!(s.deleted, 6, "{s:?}");
    assert_eq!(s.lost_responses, 6, "{s:?}");
    assert_eq!(s.calls.delete, 12, "{s:?}");
    assert_eq!(s.calls.get, 6 + 1, "{s:?}");
    assert_eq!(s.live_posts, 0, "{s:?}");

    handle.stop(true).await;
    let _ = join.await;
    sb.stop().await;
}

/// Bluesky XRPC calls against the sandbox PDS.
struct BlueskyClient<'a> {
    sb: &'a SandboxHandle,
    client: Client,
}

impl<'a> BlueskyClient<'a> {
    fn new(sb: &'a SandboxHandle) -> Self {
        Self {
            sb,
            client: Client::new(),
        }
    }

    fn url(&self, method: &str) -> String {
        format!("{}/xrpc/{method}", self.sb.bluesky_url)
    }

    async fn post(&self, method: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let mut req = self.client.post(self.url(method)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.unwrap()).await
    }

    async fn get_record(&self, did: &str, rkey: &str) -> (StatusCode, Value) {
        json_of(
            self.client
                .get(self.url("com.atproto.repo.getRecord"))
                .query(&[
                    ("repo", did),
                    ("collection", "app.bsky.feed.post"),
                    ("rkey", rkey),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

#[tokio::test]
async fn bluesky_sessions_records_and_quotas() {
    let sb = start(|o| o.bluesky_delete_limit = 2).await;
    let bs = BlueskyClient::new(&sb);
    let a = &sb.accounts.bluesky[0];

    let (s, b) = bs
        .post(
            "com.atproto.server.createSession",
            None,
            json!({"identifier": a.handle, "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), b["error"].as_str()),
        (401, Some("AuthenticationRequired"))
    );
    let (s, session) = bs
        .post(
            "com.atproto.server.createSession",
            None,
            json!({"identifier": a.handle, "password": a.app_password}),
        )
        .await;
    assert_eq!(s, 200, "{session}");
    assert_eq!(session["did"], a.did.as_str());
    let access = session["accessJwt"].as_str().unwrap().to_owned();
    let refresh = session["refreshJwt"].as_str().unwrap().to_owned();

    // Publish, read, delete, delete again (idempotent), read: RecordNotFound.
    let (s, created) = bs
        .post(
            "com.atproto.repo.createRecord",
            Some(&access),
            json!({"repo": a.did, "collection": "app.bsky.feed.post",
                   "record": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "2026-01-01T00:00:00.000Z"}}),
        )
        .await;
    assert_eq!(s, 200, "{created}");
    let uri = created["uri"].as_str().unwrap();
    let rkey = uri.rsplit('/').next().unwrap().to_owned();
    assert_eq!(uri, format!("at://{}/app.bsky.feed.post/{rkey}", a.did));
    assert_eq!(bs.get_record(&a.did, &rkey).await.0, 200);
    let del = json!({"repo": a.did, "collection": "app.bsky.feed.post", "rkey": rkey});
    for _ in 0..2 {
        let (s, b) = bs
            .post("com.atproto.repo.deleteRecord", Some(&access), del.clone())
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = bs.get_record(&a.did, &rkey).await;
    assert_eq!(
        (s.as_u16(), b["error"].as_str()),
        (400, Some("RecordNotFound"))
    );
    // The third delete is over the quota of 2.
    let r = bs
        .client
        .post(bs.url("com.atproto.repo.deleteRecord"))
        .bearer_auth(&access)
        .json(&del)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("ratelimit-reset"));
    assert_eq!(json_of(r).await.1["error"], "RateLimitExceeded");

    // A 301-grapheme post is refused; 300 emoji with a skin tone are fine.
    let record = |text: String| {
        json!({"repo": a.did, "collection": "app.bsky.feed.post",
               "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z"}})
    };
    let (s, _) = bs
        .post(
            "com.atproto.repo.createRecord",
            Some(&access),
            record("👍🏽".repeat(300)),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = bs
        .post(
            "com.atproto.repo.createRecord",
            Some(&access),
            record("👍🏽".repeat(301)),
        )
        .await;
    assert_eq!(
        (s.as_u16(), b["error"].as_str()),
        (400, Some("InvalidRecord"))
    );

    // Renewing rotates the refresh token: the old one is revoked.
    let (s, renewed) = bs
        .post(
            "com.atproto.server.refreshSession",
            Some(&refresh),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{renewed}");
    assert_ne!(renewed["refreshJwt"].as_str().unwrap(), refresh);
    let (s, b) = bs
        .post(
            "com.atproto.server.refreshSession",
            Some(&refresh),
            json!({}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), b["error"].as_str()),
        (400, Some("ExpiredToken"))
    );

    let st = sb.bluesky_stats();
    assert_eq!(st.network, "bluesky");
    assert_eq!(
        (st.published, st.deleted, st.live_posts),
        (2, 1, 1),
        "{st:?}"
    );
    assert_eq!(st.calls.delete, 3);
    sb.stop().await;
}

/// Links the sandbox's first account of each network to the primary profile of `gw`.
async fn link_all_three(client: &Client, gw: &str, api_key: &str, sb: &SandboxHandle) {
    let t = &sb.accounts.threads[0];
    let x = &sb.accounts.x[0];
    let b = &sb.accounts.bluesky[0];
    for body in [
        json!({"platform": "threads", "userId": t.user_id, "accessToken": t.access_token}),
        json!({"platform": "twitter", "userId": x.user_id, "accessToken": x.access_token, "accessTokenSecret": x.access_token_secret}),
        json!({"platform": "bluesky", "handle": b.handle, "appPassword": b.app_password}),
    ] {
        let (s, v) = json_of(
            client
                .post(format!("{gw}/api/profiles/social"))
                .bearer_auth(api_key)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
}

#[tokio::test]
async fn gateway_publishes_and_deletes_on_threads_x_and_bluesky() {
    let sb = start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let api_key = "SANDBOX-BSKY-KEY-00000000000000000";
    let s = sandbox_settings(&sb.addrs(), &dir.path().join("db"), api_key).expect("defaults load");
    let app = postgate::startup::Application::build(s)
        .await
        .expect("gateway builds");
    let gw = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let client = Client::new();
    link_all_three(&client, &gw, api_key, &sb).await;

    let (s, b) = json_of(
        client
            .post(format!("{gw}/api/post"))
            .bearer_auth(api_key)
            .json(
                &json!({"post": "three networks", "platforms": ["threads", "twitter", "bluesky"]}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    let bsky = b["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "bluesky")
        .expect("a bluesky entry")
        .clone();
    let did = &sb.accounts.bluesky[0].did;
    let uri = bsky["id"].as_str().unwrap();
    assert!(
        uri.starts_with(&format!("at://{did}/app.bsky.feed.post/")),
        "{bsky}"
    );
    let rkey = uri.rsplit('/').next().unwrap();
    assert_eq!(
        bsky["postUrl"],
        format!(
            "https://bsky.app/profile/{}/post/{rkey}",
            sb.accounts.bluesky[0].handle
        )
    );
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(sb.bluesky_stats().live_posts, 1);

    let (s, b) = json_of(
        client
            .delete(format!("{gw}/api/post"))
            .bearer_auth(api_key)
            .json(&json!({ "id": id }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    for p in ["threads", "twitter", "bluesky"] {
        assert_eq!(b[p]["status"], "success", "{p}: {b}");
    }
    assert_eq!(b["bluesky"]["id"], uri);
    let (ts, xs, bs) = (sb.threads_stats(), sb.x_stats(), sb.bluesky_stats());
    for st in [&ts, &xs, &bs] {
        assert_eq!(
            (st.calls.delete, st.deleted, st.live_posts),
            (1, 1, 0),
            "{st:?}"
        );
        assert_eq!(st.errors.total, 0, "{st:?}");
    }
    handle.stop(true).await;
    let _ = join.await;
    sb.stop().await;
}

#[tokio::test]
async fn gateway_renews_an_expired_bluesky_session_and_keeps_the_new_one() {
    let sb = start(|o| o.bluesky_access_ttl_secs = 1).await;
    let dir = tempfile::tempdir().unwrap();
    let api_key = "SANDBOX-BSKY-TTL-00000000000000000";
    let s = sandbox_settings(&sb.addrs(), &dir.path().join("db"), api_key).expect("defaults load");
    let app = postgate::startup::Application::build(s)
        .await
        .expect("gateway builds");
    let gw = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let client = Client::new();
    link_all_three(&client, &gw, api_key, &sb).await;

    // Each publish finds the access token expired; the gateway renews the session (which
    // revokes the refresh token it used) and posts once. The second renewal works only if
    // the first one's tokens were kept.
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (s, b) = json_of(
            client
                .post(format!("{gw}/api/post"))
                .bearer_auth(api_key)
                .json(&json!({"post": format!("renewed {round}"), "platforms": ["bluesky"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((s.as_u16(), &b["status"]), (200, &json!("success")), "{b}");
    }
    let st = sb.bluesky_stats();
    assert_eq!((st.published, st.errors.auth), (2, 2), "{st:?}");
    handle.stop(true).await;
    let _ = join.await;
    sb.stop().await;
}

#[tokio::test]
async fn a_queued_delete_finishes_in_the_sandbox_and_its_receiver_gets_the_webhook_after_a_failure()
{
    let sb = start(|_| {}).await;
    let t = ThreadsClient::new(&sb, 0);
    let mut media = Vec::new();
    for i in 0..3 {
        media.push(t.publish(&format!("queued {i}")).await);
    }
    let dir = tempfile::tempdir().unwrap();
    let api_key = "SANDBOX-QUEUE-KEY-0000000000000000";
    let mut s =
        sandbox_settings(&sb.addrs(), &dir.path().join("db"), api_key).expect("defaults load");
    s.threads.delete_limit = 2;
    s.threads.delete_window_secs = 2;
    s.delete.queue_tick_ms = 100;
    s.webhooks.allow_http = true;
    s.webhooks.tick_ms = 20;
    s.webhooks.retry_delays_ms = vec![100, 200];
    let app = postgate::startup::Application::build(s)
        .await
        .expect("gateway builds");
    let gw = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let client = Client::new();
    let call = |m: Method, p: &str, body: Value| {
        client
            .request(m, format!("{gw}{p}"))
            .bearer_auth(api_key)
            .json(&body)
            .send()
    };
    let acc = &sb.accounts.threads[0];
    let (st, b) = json_of(
        call(
            Method::POST,
            "/api/profiles/social",
            json!({"platform": "threads", "userId": acc.user_id, "accessToken": acc.access_token}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = json_of(
        call(
            Method::POST,
            "/api/hook/webhook",
            json!({"action": "delete", "url": sb.webhook_url(), "secret": "sandbox-secret"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    // The receiver fails the first delivery on demand.
    let r = client
        .put(format!("{}/__sandbox/webhooks/fail", sb.threads_root()))
        .json(&json!({"count": 1, "status": 503}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let posts: Vec<Value> = media
        .iter()
        .map(|m| json!({"post": "q", "postIds": [{"platform": "threads", "id": m}]}))
        .collect();
    let (st, b) = json_of(
        call(Method::POST, "/api/post/import", json!({ "posts": posts }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{b}");
    let ids: Vec<String> = b["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let (st, b) = json_of(
        call(
            Method::DELETE,
            "/api/post",
            json!({"bulk": ids, "queue": true}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, 202, "{b}");
    assert_eq!(b["queuedCount"], 1, "{b}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sb.webhook_deliveries().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", sb.webhook_deliveries());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = sb.webhook_deliveries();
    assert_eq!(got.iter().map(|d| d.status).collect::<Vec<_>>(), [503, 200]);
    assert_eq!(got[0].body, got[1].body, "a retry resends the same event");
    assert_eq!(got[1].body["action"], "delete");
    assert_eq!(got[1].body["id"], ids[2].as_str());
    assert_eq!(got[1].body["threads"]["status"], "success");
    assert!(got[1].signature.is_some() && got[1].timestamp.is_some());
    // The sandbox and the gateway agree: all three gone, each deleted once.
    let ts = sb.threads_stats();
    assert_eq!(
        (ts.calls.delete, ts.deleted, ts.live_posts),
        (3, 3, 0),
        "{ts:?}"
    );
    handle.stop(true).await;
    join.await.unwrap().unwrap();
}

/// A loopback image server: every path answers a small PNG.
async fn png_server() -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(
            postgate::service::media::RANDOM_IMAGES[0].to_vec(),
            "image/png",
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn gateway_publishes_images_on_threads_x_and_bluesky() {
    let sb = start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let api_key = "SANDBOX-MEDIA-KEY-0000000000000000";
    let s = sandbox_settings(&sb.addrs(), &dir.path().join("db"), api_key).expect("defaults load");
    let app = postgate::startup::Application::build(s)
        .await
        .expect("gateway builds");
    let gw = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let join = tokio::spawn(app.run_until_stopped());
    let client = Client::new();
    link_all_three(&client, &gw, api_key, &sb).await;
    let images = png_server().await;
    let urls = [
        format!("{}/a.png", images.uri()),
        format!("{}/b.png", images.uri()),
    ];

    let (s, b) = json_of(
        client
            .post(format!("{gw}/api/post"))
            .bearer_auth(api_key)
            .json(
                &json!({"post": "two pictures", "platforms": ["threads", "twitter", "bluesky"],
                          "mediaUrls": urls}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    let (ts, xs, bs) = (sb.threads_stats(), sb.x_stats(), sb.bluesky_stats());
    // Threads: two carousel items and the carousel; X and Bluesky: two uploads each.
    assert_eq!(
        (ts.calls.container, ts.media, ts.published),
        (3, 2, 1),
        "{ts:?}"
    );
    let png = postgate::service::media::RANDOM_IMAGES[0].len() as u64;
    assert_eq!(
        (xs.media, xs.media_bytes, xs.published),
        (2, 2 * png, 1),
        "{xs:?}"
    );
    assert_eq!(
        (bs.media, bs.media_bytes, bs.published),
        (2, 2 * png, 1),
        "{bs:?}"
    );
    for st in [&ts, &xs, &bs] {
        assert_eq!(st.errors.total, 0, "{st:?}");
    }
    // The gateway downloaded each image once (for X and Bluesky); Threads got the URLs.
    assert_eq!(images.received_requests().await.unwrap().len(), 2);
    let threads_id = b["postIds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "threads")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, m) = json_of(
        client
            .get(format!("{}/{threads_id}", sb.threads_url))
            .query(&[
                ("fields", "id,media_type,media_url"),
                ("access_token", &sb.accounts.threads[0].access_token),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["media_type"], "CAROUSEL_ALBUM");
    assert_eq!(m["media_url"], urls[0].as_str());

    // Ayrshare's test helpers, on every network: one built-in image each.
    let (s, b) = json_of(
        client
            .post(format!("{gw}/api/post"))
            .bearer_auth(api_key)
            .json(&json!({"randomPost": true, "randomMediaUrl": true,
                          "platforms": ["threads", "twitter", "bluesky"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    assert_eq!(b["errors"], json!([]));
    assert_eq!(sb.x_stats().media, 3);
    assert_eq!(sb.bluesky_stats().media, 3);
    assert_eq!(sb.threads_stats().media, 3);
    handle.stop(true).await;
    let _ = join.await;
    sb.stop().await;
}

#[tokio::test]
async fn threads_image_containers_process_before_they_publish() {
    let sb = start(|_| {}).await;
    let client = Client::new();
    let token = sb.accounts.threads[0].access_token.clone();
    let container = |url: &'static str| {
        let (client, token, base) = (client.clone(), token.clone(), sb.threads_url.clone());
        async move {
            let (s, c) = json_of(
                client
                    .post(format!("{base}/me/threads"))
                    .form(&[
                        ("media_type", "IMAGE"),
                        ("image_url", url),
                        ("text", "pic"),
                        ("access_token", &token),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(s, 200, "{c}");
            c["id"].as_str().unwrap().to_owned()
        }
    };
    let status = |id: String| {
        let (client, token, base) = (client.clone(), token.clone(), sb.threads_url.clone());
        async move {
            json_of(
                client
                    .get(format!("{base}/{id}"))
                    .query(&[("fields", "status,error_message"), ("access_token", &token)])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
            .1
        }
    };
    let publish = |id: String| {
        let (client, token, base) = (client.clone(), token.clone(), sb.threads_url.clone());
        async move {
            json_of(
                client
                    .post(format!("{base}/me/threads_publish"))
                    .query(&[("creation_id", id.as_str()), ("access_token", &token)])
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let ok = container("https://img.example/a.png").await;
    // Not processed yet: refused.
    let (s, b) = publish(ok.clone()).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], 9007, "{b}");
    assert_eq!(status(ok.clone()).await["status"], "IN_PROGRESS");
    assert_eq!(status(ok.clone()).await["status"], "FINISHED");
    let (s, b) = publish(ok).await;
    assert_eq!(s, 200, "{b}");

    let bad = container("not a url").await;
    assert_eq!(status(bad.clone()).await["status"], "IN_PROGRESS");
    let st = status(bad.clone()).await;
    assert_eq!(st["status"], "ERROR", "{st}");
    assert!(st["error_message"].as_str().unwrap().contains("download"));
    let (s, b) = publish(bad).await;
    assert_eq!(s, 400, "{b}");
    sb.stop().await;
}
