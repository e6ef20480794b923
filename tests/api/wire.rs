//! Golden answers: every route's main success and error shapes, compared byte for byte.
//!
//! Each scenario drives the real gateway against wiremock networks and writes a transcript
//! (`METHOD path`, the HTTP status, the raw body); generated ids, keys and timestamps are
//! replaced with placeholders. The goldens were captured on the hand-built `serde_json::Map`
//! answers, so they hold the typed answers to the same bytes, field order included. To see a
//! transcript, run with `WIRE_PRINT=DIR` (it writes `DIR/<scenario>.txt`).

use crate::helpers::*;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A transcript of requests and raw answers.
struct Wire {
    out: String,
    /// (value, placeholder), applied to the whole transcript at the end.
    subs: Vec<(String, String)>,
}

impl Wire {
    fn new() -> Self {
        Self {
            out: String::new(),
            subs: Vec::new(),
        }
    }

    /// Replaces `value` with `<placeholder>` everywhere in the transcript.
    fn name(&mut self, value: &str, placeholder: &str) {
        assert!(!value.is_empty());
        self.subs
            .push((value.to_owned(), format!("<{placeholder}>")));
    }

    /// Sends `r`, records its answer under `label`, returns the body as JSON.
    async fn send(&mut self, label: &str, r: reqwest::RequestBuilder) -> Value {
        let req = r.build().expect("request builds");
        let line = format!("{} {}", req.method(), {
            let u = req.url();
            match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_owned(),
            }
        });
        let resp = reqwest::Client::new()
            .execute(req)
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        assert_eq!(ct, "application/json; charset=utf-8", "{label}");
        let replayed = resp.headers().contains_key("idempotent-replayed");
        let body = resp.text().await.unwrap();
        self.out.push_str(&format!(
            "== {label}\n{line}\n{status}{}\n{body}\n",
            if replayed { " replayed" } else { "" }
        ));
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// The scrubbed transcript; compared with `golden` (or written to `WIRE_PRINT`).
    fn check(self, scenario: &str, golden: &str) {
        let mut text = self.out;
        for (value, placeholder) in &self.subs {
            text = text.replace(value, placeholder);
        }
        let text = scrub_timestamps(&text);
        if let Ok(dir) = std::env::var("WIRE_PRINT") {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(format!("{dir}/{scenario}.txt"), &text).unwrap();
        }
        if text != golden {
            let (mut a, mut b) = (text.lines(), golden.lines());
            for n in 1.. {
                match (a.next(), b.next()) {
                    (None, None) => break,
                    (x, y) if x == y => continue,
                    (x, y) => {
                        panic!("{scenario}: line {n} differs\n  got:    {x:?}\n  golden: {y:?}")
                    }
                }
            }
            panic!("{scenario}: transcripts differ");
        }
    }
}

/// Replaces `YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)` with `<ts>`.
fn scrub_timestamps(s: &str) -> String {
    let b = s.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    'scan: while i < b.len() {
        if i + shape.len() <= b.len()
            && shape.iter().zip(&b[i..]).all(|(p, c)| match p {
                b'd' => c.is_ascii_digit(),
                p => p == c,
            })
        {
            let mut j = i + shape.len();
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            if b.get(j) == Some(&b'Z') {
                j += 1;
            } else if b[j..].starts_with(b"+00:00") {
                j += 6;
            }
            out.push_str("<ts>");
            i = j;
            continue 'scan;
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

async fn mount_threads_publish(server: &MockServer, container: &str, media: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": container})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .and(query_param("creation_id", container))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": media})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{media}")))
        .and(query_param("fields", "permalink"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": media, "permalink": format!("https://www.threads.net/@postgate_test/post/{media}")}),
        ))
        .mount(server)
        .await;
}

fn graph_error(code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(
        json!({"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}}),
    )
}

#[tokio::test]
async fn wire_auth_and_routes() {
    let app = spawn_app().await;
    let mut w = Wire::new();
    let url = |p: &str| format!("{}{p}", app.address);
    let c = &app.client;
    w.send("health", c.get(url("/health"))).await;
    w.send(
        "no such route",
        app.request(reqwest::Method::GET, "/api/nope", None),
    )
    .await;
    w.send(
        "method not allowed",
        app.request(reqwest::Method::PUT, "/api/history", None),
    )
    .await;
    w.send("no api key", c.get(url("/api/user"))).await;
    w.send(
        "wrong api key",
        c.get(url("/api/user")).bearer_auth("not-a-key"),
    )
    .await;
    w.send(
        "unknown profile key",
        app.request(reqwest::Method::GET, "/api/user", Some("NOPE-NOPE")),
    )
    .await;
    w.send(
        "half of the X BYO headers",
        app.request(reqwest::Method::GET, "/api/user", None)
            .header("X-Twitter-OAuth1-Api-Key", "k"),
    )
    .await;
    w.send(
        "garbled BYO header",
        app.request(reqwest::Method::GET, "/api/user", None).header(
            "X-Twitter-OAuth1-Api-Key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        ),
    )
    .await;
    w.send(
        "body too large",
        app.request(reqwest::Method::POST, "/api/post", None)
            .header("content-type", "application/json")
            .body(format!(
                "{{\"post\":\"{}\"}}",
                "a".repeat(app.settings.server.body_limit_bytes + 1)
            )),
    )
    .await;
    w.check("auth_and_routes", AUTH_AND_ROUTES);
}

#[tokio::test]
async fn wire_profiles_and_linking() {
    let app = spawn_app().await;
    let mut w = Wire::new();
    let user = w
        .send(
            "user, nothing linked",
            app.request(reqwest::Method::GET, "/api/user", None),
        )
        .await;
    w.name(user["refId"].as_str().unwrap(), "primary");
    let created = w
        .send(
            "create profile",
            app.request(reqwest::Method::POST, "/api/profiles/profile", None)
                .json(&json!({"title": "Brand A"})),
        )
        .await;
    let key = created["profileKey"].as_str().unwrap().to_owned();
    w.name(&key, "profileKey");
    w.name(created["refId"].as_str().unwrap(), "brandA");
    w.send(
        "create profile, title taken",
        app.request(reqwest::Method::POST, "/api/profiles/create-profile", None)
            .json(&json!({"title": "brand a"})),
    )
    .await;
    w.send(
        "create profile, empty title",
        app.request(reqwest::Method::POST, "/api/profiles/profile", None)
            .json(&json!({"title": " "})),
    )
    .await;
    w.send(
        "create profile, wrong type",
        app.request(reqwest::Method::POST, "/api/profiles/profile", None)
            .json(&json!({"title": 5})),
    )
    .await;
    w.send(
        "link threads",
        app.request(reqwest::Method::POST, "/api/profiles/social", None)
            .json(&json!({"platform": "threads", "userId": THREADS_USER, "accessToken": THREADS_TOKEN})),
    )
    .await;
    w.send(
        "link twitter",
        app.request(reqwest::Method::POST, "/api/profiles/social", None)
            .json(&json!({"platform": "twitter", "accessToken": X_TOKEN, "accessTokenSecret": X_TOKEN_SECRET})),
    )
    .await;
    w.send(
        "link, userId mismatch",
        app.request(reqwest::Method::POST, "/api/profiles/social", None)
            .json(&json!({"platform": "threads", "userId": "999", "accessToken": THREADS_TOKEN})),
    )
    .await;
    Mock::given(method("GET"))
        .and(path(THREADS_ME))
        .and(query_param("access_token", "BAD-TOKEN"))
        .respond_with(graph_error(190, "Error validating access token"))
        .mount(&app.threads)
        .await;
    w.send(
        "link, token refused",
        app.request(reqwest::Method::POST, "/api/profiles/social", None)
            .json(&json!({"platform": "threads", "accessToken": "BAD-TOKEN"})),
    )
    .await;
    w.send(
        "link, unsupported platform",
        app.request(reqwest::Method::POST, "/api/profiles/social", None)
            .json(&json!({"platform": "instagram", "accessToken": "t"})),
    )
    .await;
    w.send(
        "link twitter without secret",
        app.request(reqwest::Method::POST, "/api/profiles/social", None)
            .json(&json!({"platform": "twitter", "accessToken": X_TOKEN})),
    )
    .await;
    w.send(
        "user, both linked",
        app.request(reqwest::Method::GET, "/api/user", None),
    )
    .await;
    w.send(
        "list profiles",
        app.request(reqwest::Method::GET, "/api/profiles", None),
    )
    .await;
    w.send(
        "unlink threads",
        app.request(reqwest::Method::DELETE, "/api/profiles/social", None)
            .json(&json!({"platform": "threads"})),
    )
    .await;
    w.send(
        "unlink, not linked",
        app.request(reqwest::Method::DELETE, "/api/profiles/social", None)
            .json(&json!({"platform": "threads"})),
    )
    .await;
    w.send(
        "delete profile, none named",
        app.request(reqwest::Method::DELETE, "/api/profiles/profile", None),
    )
    .await;
    w.send(
        "delete profile, unknown key",
        app.request(reqwest::Method::DELETE, "/api/profiles/profile", None)
            .json(&json!({"profileKey": "NOPE"})),
    )
    .await;
    w.send(
        "delete profile",
        app.request(
            reqwest::Method::DELETE,
            "/api/profiles/delete-profile",
            None,
        )
        .json(&json!({"profileKey": key})),
    )
    .await;
    w.check("profiles_and_linking", PROFILES_AND_LINKING);
}

fn days_ago(n: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(n))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn wire_import_read_history() {
    let app = spawn_app().await;
    let mut w = Wire::new();
    let user = w
        .send("user", app.request(reqwest::Method::GET, "/api/user", None))
        .await;
    w.name(user["refId"].as_str().unwrap(), "primary");
    let imported = w
        .send(
            "import, mixed",
            app.request(reqwest::Method::POST, "/api/post/import", None)
                .json(&json!({"posts": [
                    {"id": "AyrImported000000001", "post": "one", "status": "success",
                     "created": "2026-01-02T03:04:05Z",
                     "postIds": [
                        {"platform": "threads", "id": "4001", "status": "success", "postUrl": "https://www.threads.net/@a/post/4001", "type": "post"},
                        {"platform": "twitter", "id": "4002", "status": "success", "mediaType": "text"}
                     ]},
                    {"post": "two", "status": "error", "created": days_ago(2), "postIds": [
                        {"platform": "twitter", "id": "4003", "status": "error"}
                    ], "platforms": ["twitter", "instagram"]},
                    {"post": "later", "status": "scheduled", "created": days_ago(1), "platforms": ["threads"],
                     "scheduleDate": "2031-05-06T07:08:09Z", "type": "scheduled"},
                    {"id": "AyrImported000000001", "post": "dup", "postIds": [{"platform": "threads", "id": "1"}]},
                    {"post": 5},
                    {"id": "short", "post": "bad id"},
                    {"post": "bad platform", "postIds": [{"platform": "myspace", "id": "1"}]}
                ]})),
        )
        .await;
    w.name(imported["posts"][1]["id"].as_str().unwrap(), "two");
    w.name(imported["posts"][2]["id"].as_str().unwrap(), "later");
    w.send(
        "import, not an object",
        app.request(reqwest::Method::POST, "/api/post/import", None)
            .json(&json!({"posts": 1})),
    )
    .await;
    w.send(
        "read post",
        app.request(reqwest::Method::GET, "/api/post/AyrImported000000001", None),
    )
    .await;
    w.send(
        "read post, unknown",
        app.request(reqwest::Method::GET, "/api/post/AyrUnknown0000000001", None),
    )
    .await;
    w.send(
        "history, all",
        app.request(reqwest::Method::GET, "/api/history?lastDays=0", None),
    )
    .await;
    w.send(
        "history, filtered",
        app.request(
            reqwest::Method::GET,
            "/api/history?lastDays=0&platform[0]=twitter&status=error&limit=5",
            None,
        ),
    )
    .await;
    w.send(
        "history, default window",
        app.request(reqwest::Method::GET, "/api/history?source=npm", None),
    )
    .await;
    w.send(
        "history, bad parameter",
        app.request(reqwest::Method::GET, "/api/history?lastDays=-1", None),
    )
    .await;
    w.send(
        "history one",
        app.request(
            reqwest::Method::GET,
            "/api/history/AyrImported000000001",
            None,
        ),
    )
    .await;
    w.send(
        "history one, unknown",
        app.request(reqwest::Method::GET, "/api/history/nope", None),
    )
    .await;
    w.send(
        "history of a network",
        app.request(reqwest::Method::GET, "/api/history/twitter,threads", None),
    )
    .await;
    w.check("import_read_history", IMPORT_READ_HISTORY);
}

#[tokio::test]
async fn wire_publish() {
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_threads_publish(&app.threads, "17890000000000001", "18020000000000001").await;
    let mut w = Wire::new();
    let user = w
        .send("user", app.request(reqwest::Method::GET, "/api/user", None))
        .await;
    w.name(user["refId"].as_str().unwrap(), "primary");
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": {"id": "1445880548472328192", "text": "…"}})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.x)
        .await;
    let r = w
        .send(
            "publish now, both",
            app.request(reqwest::Method::POST, "/api/post", None)
                .json(&json!({"post": "hello", "platforms": ["threads", "twitter"]})),
        )
        .await;
    w.name(r["id"].as_str().unwrap(), "now");
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403})))
        .mount(&app.x)
        .await;
    let r = w
        .send(
            "publish now, X refuses",
            app.request(reqwest::Method::POST, "/api/post", None)
                .json(&json!({"post": "hello", "platforms": ["x", "threads", "instagram"]})),
        )
        .await;
    let partial = r["id"].as_str().unwrap().to_owned();
    w.name(&partial, "partial");
    let r = w
        .send(
            "schedule",
            app.request(reqwest::Method::POST, "/api/post", None).json(
                &json!({"post": "later", "platforms": ["threads"], "scheduleDate": "2031-01-01T10:00:00Z"}),
            ),
        )
        .await;
    w.name(r["id"].as_str().unwrap(), "scheduled");
    let (_, key) = app.create_profile("Brand B").await;
    w.name(&key, "profileKey");
    let r = w
        .send(
            "publish with a Profile-Key, not linked",
            app.request(reqwest::Method::POST, "/api/post", Some(&key))
                .json(&json!({"post": "hi", "platforms": ["threads"]})),
        )
        .await;
    w.name(r["posts"][0]["id"].as_str().unwrap(), "brandB");
    w.name(r["posts"][0]["refId"].as_str().unwrap(), "brandBRef");
    let r = w
        .send(
            "publish with an idempotency key",
            app.request(reqwest::Method::POST, "/api/post", None)
                .json(&json!({"post": "once", "platforms": ["threads"], "idempotencyKey": "k-1"})),
        )
        .await;
    w.name(r["id"].as_str().unwrap(), "once");
    w.send(
        "publish with an idempotency key, repeated",
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"post": "once", "platforms": ["threads"], "idempotencyKey": "k-1"})),
    )
    .await;
    w.send(
        "publish, too long for X",
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"post": "x".repeat(281), "platforms": ["twitter"]})),
    )
    .await;
    w.send(
        "publish, unknown platform",
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"post": "hi", "platforms": ["myspace"]})),
    )
    .await;
    w.send(
        "publish, no text",
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"platforms": ["threads"]})),
    )
    .await;
    w.send(
        "publish, not JSON",
        app.request(reqwest::Method::POST, "/api/post", None)
            .header("content-type", "application/json")
            .body("{nope"),
    )
    .await;
    w.send(
        "publish, bad date",
        app.request(reqwest::Method::POST, "/api/post", None)
            .json(&json!({"post": "hi", "platforms": ["threads"], "scheduleDate": "soon"})),
    )
    .await;
    w.send(
        "read the partial post",
        app.request(reqwest::Method::GET, &format!("/api/post/{partial}"), None),
    )
    .await;
    w.check("publish", PUBLISH);
}

#[tokio::test]
async fn wire_delete() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let mut w = Wire::new();
    let imp = |posts: Value| {
        app.request(reqwest::Method::POST, "/api/post/import", None)
            .json(&json!({ "posts": posts }))
    };
    w.send(
        "import",
        imp(json!([
            {"id": "AyrDeleteOk000000001", "post": "a", "postIds": [
                {"platform": "threads", "id": "5001"}, {"platform": "twitter", "id": "5002"}]},
            {"id": "AyrDeleteBad00000001", "post": "b", "postIds": [
                {"platform": "threads", "id": "5101"}, {"platform": "twitter", "id": "5102"},
                {"platform": "instagram", "id": "ig-1"}, {"platform": "linkedin", "id": "li-1"}]},
            {"id": "AyrBulkOk00000000001", "post": "c", "postIds": [{"platform": "twitter", "id": "5202"}]},
            {"id": "AyrManual00000000001", "post": "d", "postIds": [{"platform": "twitter", "id": "5302"}]},
            {"id": "AyrManual00000000002", "post": "e", "postIds": [{"platform": "twitter", "id": "5402"}]},
            {"id": "AyrManual00000000003", "post": "f", "postIds": [{"platform": "twitter", "id": "5502"}]},
            {"id": "AyrSchedule000000001", "post": "g", "status": "scheduled", "platforms": ["threads"], "scheduleDate": "2031-01-01T00:00:00Z"},
            {"id": "AyrSchedule000000002", "post": "h", "status": "scheduled", "platforms": ["threads", "twitter"], "scheduleDate": "2031-01-01T00:00:00Z"},
            {"id": "AyrBulkOk00000000002", "post": "i", "postIds": [{"platform": "threads", "id": "5203"}]},
            {"id": "AyrRetry000000000001", "post": "j", "postIds": [
                {"platform": "threads", "id": "5801"}, {"platform": "twitter", "id": "5802"}]},
            {"id": "AyrGone0000000000001", "post": "k", "postIds": [{"platform": "twitter", "id": "5902"}]},
            {"id": "AyrTransient00000001", "post": "l", "postIds": [{"platform": "threads", "id": "5991"}]}
        ])),
    )
    .await;
    threads_delete_ok(&app.threads, "5001", 1).await;
    x_delete_ok(&app.x, "5002", 1).await;
    x_delete_ok(&app.x, "5202", 1).await;
    w.send(
        "delete one, all confirmed",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrDeleteOk000000001"})),
    )
    .await;
    w.send(
        "delete again",
        app.request(reqwest::Method::DELETE, "/api/delete", None)
            .json(&json!({"id": "AyrDeleteOk000000001"})),
    )
    .await;
    w.send(
        "delete unknown",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "nope"})),
    )
    .await;
    w.send(
        "bulk",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"bulk": ["AyrBulkOk00000000001", "AyrDeleteOk000000001", "nope"]})),
    )
    .await;
    threads_delete_ok(&app.threads, "5203", 1).await;
    w.send(
        "bulk, all confirmed",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"bulk": ["AyrBulkOk00000000002"]})),
    )
    .await;
    w.send(
        "delete a scheduled post",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrSchedule000000002"})),
    )
    .await;
    threads_delete_ok(&app.threads, "5801", 1).await;
    let x_down = Mock::given(method("DELETE"))
        .and(path("/2/tweets/5802"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"title": "Unauthorized", "status": 401})),
        )
        .mount_as_scoped(&app.x)
        .await;
    w.send(
        "delete, X refuses the token",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrRetry000000000001"})),
    )
    .await;
    drop(x_down);
    x_delete_ok(&app.x, "5802", 1).await;
    w.send(
        "delete, retry of what failed",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrRetry000000000001"})),
    )
    .await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/5902"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": [{"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}]})))
        .mount(&app.x)
        .await;
    w.send(
        "delete, already gone at X",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrGone0000000000001"})),
    )
    .await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/5991"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "Service temporarily unavailable", "type": "OAuthException", "code": 2}})))
        .mount(&app.threads)
        .await;
    w.send(
        "delete, Threads down",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrTransient00000001"})),
    )
    .await;
    Mock::given(method("DELETE"))
        .and(path("/v1.0/5101"))
        .respond_with(graph_error(190, "Error validating access token"))
        .mount(&app.threads)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/5102"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "120")
                .set_body_json(json!({"title": "Too Many Requests", "status": 429})),
        )
        .mount(&app.x)
        .await;
    w.send(
        "delete one, failures",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrDeleteBad00000001"})),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/5302"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"id": "5302", "text": "d"}})),
        )
        .mount(&app.x)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/5402"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"errors": [{"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}]})))
        .mount(&app.x)
        .await;
    Mock::given(method("GET"))
        .and(path("/2/tweets/5502"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"title": "Unauthorized", "status": 401})),
        )
        .mount(&app.x)
        .await;
    w.send(
        "markManualDeleted, still live",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrManual00000000001", "markManualDeleted": true})),
    )
    .await;
    w.send(
        "markManualDeleted, recorded",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrManual00000000002", "markManualDeleted": true})),
    )
    .await;
    w.send(
        "markManualDeleted, check failed",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": "AyrManual00000000003", "markManualDeleted": true})),
    )
    .await;
    w.send(
        "markManualDeleted, bulk",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"bulk": ["AyrManual00000000002", "nope"], "markManualDeleted": true})),
    )
    .await;
    w.send(
        "deleteAllScheduled",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"deleteAllScheduled": true})),
    )
    .await;
    w.send(
        "bulk, too many",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"bulk": vec!["a"; app.settings.delete.bulk_max_ids + 1]})),
    )
    .await;
    w.send(
        "bad body",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({"id": 5})),
    )
    .await;
    let (_, key) = app.create_profile("Unlinked").await;
    w.name(&key, "profileKey");
    w.send(
        "not linked",
        app.request(reqwest::Method::POST, "/api/post/import", Some(&key))
            .json(&json!({"posts": [{"id": "AyrNotLinked00000001", "post": "n", "postIds": [{"platform": "threads", "id": "5601"}]}]})),
    )
    .await;
    w.send(
        "delete, not linked",
        app.request(reqwest::Method::DELETE, "/api/post", Some(&key))
            .json(&json!({"id": "AyrNotLinked00000001"})),
    )
    .await;
    w.check("delete", DELETE);
}

#[tokio::test]
async fn wire_delete_without_x_credentials() {
    let app = spawn_app_with(|s| {
        s.x.consumer_key.clear();
        s.x.consumer_secret.clear();
    })
    .await;
    app.link_both(None).await;
    let id = app.single_platform_post("twitter", "5701").await;
    let mut w = Wire::new();
    w.name(&id, "post");
    w.send(
        "delete, no X credentials",
        app.request(reqwest::Method::DELETE, "/api/post", None)
            .json(&json!({ "id": id })),
    )
    .await;
    w.check("delete_without_x_credentials", DELETE_WITHOUT_X_CREDENTIALS);
}

const AUTH_AND_ROUTES: &str = r##"== health
GET /health
200
{"status":"success","healthy":true}
== no such route
GET /api/nope
404
{"action":"request","status":"error","code":914,"message":"No such endpoint on this gateway."}
== method not allowed
PUT /api/history
405
{"action":"request","status":"error","code":914,"message":"This endpoint does not support that HTTP method."}
== no api key
GET /api/user
403
{"action":"authorization","status":"error","code":102,"message":"API Key not valid. Send the API Key of the Primary Profile as 'Authorization: Bearer API_KEY'."}
== wrong api key
GET /api/user
401
{"action":"authorization","status":"error","code":102,"message":"API Key not valid."}
== unknown profile key
GET /api/user
403
{"action":"authorization","status":"error","code":911,"message":"Profile-Key not valid for this API Key."}
== half of the X BYO headers
GET /api/user
400
{"action":"authorization","status":"error","code":923,"message":"Send both X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret, or neither."}
== garbled BYO header
GET /api/user
400
{"action":"authorization","status":"error","code":909,"message":"Header 'x-twitter-oauth1-api-key' is not valid: send visible ASCII."}
== body too large
POST /api/post
413
{"action":"request","status":"error","code":910,"message":"Request body is larger than the limit of 8388608 bytes (server.body_limit_bytes)."}
"##;
const PROFILES_AND_LINKING: &str = r##"== user, nothing linked
GET /api/user
200
{"activeSocialAccounts":[],"displayNames":[],"refId":"<primary>","title":"Primary Profile","created":"<ts>","monthlyApiCalls":1}
== create profile
POST /api/profiles/profile
200
{"status":"success","title":"Brand A","refId":"<brandA>","profileKey":"<profileKey>"}
== create profile, title taken
POST /api/profiles/create-profile
400
{"action":"profile","status":"error","code":146,"message":"Profile title already exists: brand a"}
== create profile, empty title
POST /api/profiles/profile
400
{"action":"profile","status":"error","code":909,"message":"Field 'title' must not be empty."}
== create profile, wrong type
POST /api/profiles/profile
400
{"action":"profile","status":"error","code":909,"message":"Invalid field 'title': invalid type: integer `5`, expected a string at line 1 column 10"}
== link threads
POST /api/profiles/social
200
{"status":"success","platform":"threads","userId":"17841400000000001","username":null,"refId":"<primary>"}
== link twitter
POST /api/profiles/social
200
{"status":"success","platform":"twitter","userId":"2244994945","username":"postgate_test","refId":"<primary>"}
== link, userId mismatch
POST /api/profiles/social
400
{"action":"social","status":"error","code":925,"message":"userId does not match the token's account: the Threads token belongs to user 17841400000000001, not 999. Nothing was linked."}
== link, token refused
POST /api/profiles/social
400
{"action":"social","status":"error","code":907,"message":"Threads refused the token: Threads error 190: Error validating access token. Nothing was linked; link a valid token."}
== link, unsupported platform
POST /api/profiles/social
400
{"action":"social","status":"error","code":902,"message":"Platform 'instagram' cannot be linked: this gateway supports 'bluesky', 'threads' and 'twitter'."}
== link twitter without secret
POST /api/profiles/social
400
{"action":"social","status":"error","code":909,"message":"Field 'accessTokenSecret' is required for twitter (OAuth 1.0a user context)."}
== user, both linked
GET /api/user
200
{"activeSocialAccounts":["threads","twitter"],"displayNames":[{"platform":"threads","userId":"17841400000000001","username":null,"id":"17841400000000001","displayName":null,"created":"<ts>","profileUrl":null,"userImage":null},{"platform":"twitter","userId":"2244994945","username":"postgate_test","id":"2244994945","displayName":"postgate_test","created":"<ts>","profileUrl":"https://twitter.com/postgate_test","userImage":null}],"refId":"<primary>","title":"Primary Profile","created":"<ts>","monthlyApiCalls":12}
== list profiles
GET /api/profiles
200
{"profiles":[{"status":"active","title":"Primary Profile","refId":"<primary>","primary":true,"created":"<ts>","createdUTC":"<ts>","activeSocialAccounts":["threads","twitter"]},{"status":"active","title":"Brand A","refId":"<brandA>","primary":false,"created":"<ts>","createdUTC":"<ts>","activeSocialAccounts":[]}],"count":2}
== unlink threads
DELETE /api/profiles/social
200
{"status":"success","platform":"threads","refId":"<primary>"}
== unlink, not linked
DELETE /api/profiles/social
200
{"status":"success","platform":"threads","refId":"<primary>"}
== delete profile, none named
DELETE /api/profiles/profile
400
{"action":"profile","status":"error","code":909,"message":"Send the profile to delete as 'profileKey' in the body or as the Profile-Key header."}
== delete profile, unknown key
DELETE /api/profiles/profile
404
{"action":"profile","status":"error","code":912,"message":"Profile not found."}
== delete profile
DELETE /api/profiles/delete-profile
200
{"status":"success","refId":"<brandA>","title":"Brand A"}
"##;
const IMPORT_READ_HISTORY: &str = r##"== user
GET /api/user
200
{"activeSocialAccounts":[],"displayNames":[],"refId":"<primary>","title":"Primary Profile","created":"<ts>","monthlyApiCalls":1}
== import, mixed
POST /api/post/import
400
{"status":"error","imported":3,"failed":4,"posts":[{"status":"success","index":0,"id":"AyrImported000000001"},{"status":"success","index":1,"id":"<two>"},{"status":"success","index":2,"id":"<later>"},{"status":"error","index":3,"code":917,"message":"a post with id AyrImported000000001 already exists; it was not overwritten","id":"AyrImported000000001"},{"status":"error","index":4,"code":913,"message":"invalid field 'post': invalid type: integer `5`, expected a string"},{"status":"error","index":5,"code":913,"message":"invalid 'id' \"short\": a post id is 20 characters of A-Z, a-z and 0-9","id":"short"},{"status":"error","index":6,"code":913,"message":"'postIds[0].platform' is not an Ayrshare platform name: \"myspace\" (known: bluesky, facebook, gmb, instagram, linkedin, pinterest, reddit, snapchat, telegram, threads, tiktok, twitter, youtube, or x for twitter)"}]}
== import, not an object
POST /api/post/import
400
{"action":"import","status":"error","code":909,"message":"Invalid field 'posts': invalid type: integer `1`, expected a sequence at line 1 column 10"}
== read post
GET /api/post/AyrImported000000001
200
{"id":"AyrImported000000001","status":"success","post":"one","platforms":["threads","twitter"],"postIds":[{"status":"success","id":"4001","platform":"threads","postUrl":"https://www.threads.net/@a/post/4001","type":"post","state":"published"},{"status":"success","id":"4002","platform":"twitter","mediaType":"text","state":"published"}],"errors":[],"type":"now","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile"}
== read post, unknown
GET /api/post/AyrUnknown0000000001
404
{"action":"post","status":"error","code":920,"message":"Post not found.","id":"AyrUnknown0000000001"}
== history, all
GET /api/history?lastDays=0
200
{"history":[{"id":"<later>","status":"pending","post":"later","platforms":["threads"],"postIds":[],"errors":[],"type":"scheduled","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile","scheduleDate":"<ts>"},{"id":"<two>","status":"error","post":"two","platforms":["twitter","instagram"],"postIds":[{"status":"error","id":"4003","platform":"twitter","state":"failed"}],"errors":[{"action":"post","status":"error","code":922,"message":"publishing failed","platform":"twitter"},{"action":"post","status":"error","code":922,"message":"publishing failed","platform":"instagram"}],"type":"now","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile"},{"id":"AyrImported000000001","status":"success","post":"one","platforms":["threads","twitter"],"postIds":[{"status":"success","id":"4001","platform":"threads","postUrl":"https://www.threads.net/@a/post/4001","type":"post","state":"published"},{"status":"success","id":"4002","platform":"twitter","mediaType":"text","state":"published"}],"errors":[],"type":"now","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile"}]}
== history, filtered
GET /api/history?lastDays=0&platform[0]=twitter&status=error&limit=5
200
{"history":[{"id":"<two>","status":"error","post":"two","platforms":["twitter","instagram"],"postIds":[{"status":"error","id":"4003","platform":"twitter","state":"failed"}],"errors":[{"action":"post","status":"error","code":922,"message":"publishing failed","platform":"twitter"},{"action":"post","status":"error","code":922,"message":"publishing failed","platform":"instagram"}],"type":"now","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile"}]}
== history, default window
GET /api/history?source=npm
200
{"history":[{"id":"<later>","status":"pending","post":"later","platforms":["threads"],"postIds":[],"errors":[],"type":"scheduled","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile","scheduleDate":"<ts>"},{"id":"<two>","status":"error","post":"two","platforms":["twitter","instagram"],"postIds":[{"status":"error","id":"4003","platform":"twitter","state":"failed"}],"errors":[{"action":"post","status":"error","code":922,"message":"publishing failed","platform":"twitter"},{"action":"post","status":"error","code":922,"message":"publishing failed","platform":"instagram"}],"type":"now","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile"}]}
== history, bad parameter
GET /api/history?lastDays=-1
400
{"action":"history","status":"error","code":909,"message":"Query parameter 'lastDays' must be a whole number of 0 or more, not \"-1\"."}
== history one
GET /api/history/AyrImported000000001
200
{"id":"AyrImported000000001","status":"success","post":"one","platforms":["threads","twitter"],"postIds":[{"status":"success","id":"4001","platform":"threads","postUrl":"https://www.threads.net/@a/post/4001","type":"post","state":"published"},{"status":"success","id":"4002","platform":"twitter","mediaType":"text","state":"published"}],"errors":[],"type":"now","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile"}
== history one, unknown
GET /api/history/nope
404
{"action":"history","status":"error","code":920,"message":"Post not found.","id":"nope"}
== history of a network
GET /api/history/twitter,threads
400
{"action":"history","status":"error","code":924,"message":"History read from the networks (GET /api/history/twitter,threads) is not supported by this gateway. Use GET /api/history with platform[0]=twitter for the posts made through postgate."}
"##;
const PUBLISH: &str = r##"== user
GET /api/user
200
{"activeSocialAccounts":["threads","twitter"],"displayNames":[{"platform":"threads","userId":"17841400000000001","username":null,"id":"17841400000000001","displayName":null,"created":"<ts>","profileUrl":null,"userImage":null},{"platform":"twitter","userId":"2244994945","username":"postgate_test","id":"2244994945","displayName":"postgate_test","created":"<ts>","profileUrl":"https://twitter.com/postgate_test","userImage":null}],"refId":"<primary>","title":"Primary Profile","created":"<ts>","monthlyApiCalls":3}
== publish now, both
POST /api/post
200
{"status":"success","errors":[],"postIds":[{"status":"success","id":"18020000000000001","platform":"threads","postUrl":"https://www.threads.net/@postgate_test/post/18020000000000001"},{"status":"success","id":"1445880548472328192","platform":"twitter","postUrl":"https://twitter.com/postgate_test/status/1445880548472328192"}],"id":"<now>","refId":"<primary>","post":"hello"}
== publish now, X refuses
POST /api/post
400
{"status":"error","errors":[{"action":"post","status":"error","code":902,"message":"Instagram is not supported by this gateway: postgate publishes to bluesky, threads and twitter only.","platform":"instagram"},{"action":"post","status":"error","code":110,"message":"Status is a duplicate.","platform":"twitter"}],"postIds":[{"status":"success","id":"18020000000000001","platform":"threads","postUrl":"https://www.threads.net/@postgate_test/post/18020000000000001"}],"id":"<partial>","refId":"<primary>","post":"hello"}
== schedule
POST /api/post
200
{"status":"scheduled","errors":[],"id":"<scheduled>","scheduleDate":"<ts>","refId":"<primary>","post":"later"}
== publish with a Profile-Key, not linked
POST /api/post
400
{"status":"error","posts":[{"status":"error","errors":[{"action":"post","status":"error","code":156,"message":"Threads does not seem to be linked with this profile. Link an account with POST /api/profiles/social, then post again.","platform":"threads"}],"postIds":[],"id":"<brandB>","refId":"<brandBRef>","post":"hi","profileTitle":"Brand B"}]}
== publish with an idempotency key
POST /api/post
200
{"status":"success","errors":[],"postIds":[{"status":"success","id":"18020000000000001","platform":"threads","postUrl":"https://www.threads.net/@postgate_test/post/18020000000000001"}],"id":"<once>","refId":"<primary>","post":"once"}
== publish with an idempotency key, repeated
POST /api/post
200 replayed
{"status":"success","errors":[],"postIds":[{"status":"success","id":"18020000000000001","platform":"threads","postUrl":"https://www.threads.net/@postgate_test/post/18020000000000001"}],"id":"<once>","refId":"<primary>","post":"once"}
== publish, too long for X
POST /api/post
400
{"action":"post","status":"error","code":921,"message":"Field 'post' is too long for X/Twitter: 281 weighted characters (URLs count 23, CJK and emoji 2); the limit is 280.","platform":"twitter"}
== publish, unknown platform
POST /api/post
400
{"action":"post","status":"error","code":909,"message":"Field 'platforms' has unknown platform names: \"myspace\". Known names: bluesky, facebook, gmb, instagram, linkedin, pinterest, reddit, snapchat, telegram, threads, tiktok, twitter, x, youtube."}
== publish, no text
POST /api/post
400
{"action":"post","status":"error","code":909,"message":"Field 'post' is required: the text to publish."}
== publish, not JSON
POST /api/post
400
{"action":"post","status":"error","code":909,"message":"Request body is not valid JSON: key must be a string at line 1 column 2"}
== publish, bad date
POST /api/post
400
{"action":"post","status":"error","code":909,"message":"Field 'scheduleDate' is not a date: \"soon\": send an ISO-8601 UTC date such as \"<ts>\"."}
== read the partial post
GET /api/post/<partial>
200
{"id":"<partial>","status":"error","post":"hello","platforms":["instagram","threads","twitter"],"postIds":[{"status":"success","id":"18020000000000001","platform":"threads","postUrl":"https://www.threads.net/@postgate_test/post/18020000000000001","state":"published"}],"errors":[{"action":"post","status":"error","code":902,"message":"Instagram is not supported by this gateway: postgate publishes to bluesky, threads and twitter only.","platform":"instagram"},{"action":"post","status":"error","code":110,"message":"Status is a duplicate.","platform":"twitter"}],"type":"now","created":"<ts>","refId":"<primary>","profileTitle":"Primary Profile"}
"##;
const DELETE: &str = r##"== import
POST /api/post/import
200
{"status":"success","imported":12,"failed":0,"posts":[{"status":"success","index":0,"id":"AyrDeleteOk000000001"},{"status":"success","index":1,"id":"AyrDeleteBad00000001"},{"status":"success","index":2,"id":"AyrBulkOk00000000001"},{"status":"success","index":3,"id":"AyrManual00000000001"},{"status":"success","index":4,"id":"AyrManual00000000002"},{"status":"success","index":5,"id":"AyrManual00000000003"},{"status":"success","index":6,"id":"AyrSchedule000000001"},{"status":"success","index":7,"id":"AyrSchedule000000002"},{"status":"success","index":8,"id":"AyrBulkOk00000000002"},{"status":"success","index":9,"id":"AyrRetry000000000001"},{"status":"success","index":10,"id":"AyrGone0000000000001"},{"status":"success","index":11,"id":"AyrTransient00000001"}]}
== delete one, all confirmed
DELETE /api/post
200
{"status":"success","code":200,"id":"AyrDeleteOk000000001","threads":{"action":"delete","status":"success","id":"5001"},"twitter":{"action":"delete","status":"success","id":"5002"}}
== delete again
DELETE /api/delete
400
{"action":"delete","status":"error","code":383,"message":"The post is already deleted.","id":"AyrDeleteOk000000001"}
== delete unknown
DELETE /api/post
400
{"action":"delete","status":"error","code":114,"message":"Delete id not found.","id":"nope"}
== bulk
DELETE /api/post
400
{"status":"error","posts":[{"status":"success","code":200,"id":"AyrBulkOk00000000001","twitter":{"action":"delete","status":"success","id":"5202"}},{"action":"delete","status":"error","code":383,"message":"The post is already deleted.","id":"AyrDeleteOk000000001"},{"action":"delete","status":"error","code":114,"message":"Delete id not found.","id":"nope"}]}
== bulk, all confirmed
DELETE /api/post
200
{"status":"success","code":200,"posts":[{"status":"success","code":200,"id":"AyrBulkOk00000000002","threads":{"action":"delete","status":"success","id":"5203"}}]}
== delete a scheduled post
DELETE /api/post
200
{"status":"success","code":200,"id":"AyrSchedule000000002","threads":{"action":"delete","status":"success","published":false},"twitter":{"action":"delete","status":"success","published":false}}
== delete, X refuses the token
DELETE /api/post
400
{"status":"error","id":"AyrRetry000000000001","threads":{"action":"delete","status":"success","id":"5801"},"twitter":{"action":"delete","status":"error","code":272,"message":"X/Twitter authorization error: X answered HTTP 401: {\"title\":\"Unauthorized\",\"status\":401}. Re-link the X account.","id":"5802"},"errors":[{"action":"delete","status":"error","code":272,"message":"X/Twitter authorization error: X answered HTTP 401: {\"title\":\"Unauthorized\",\"status\":401}. Re-link the X account.","id":"5802","platform":"twitter"}]}
== delete, retry of what failed
DELETE /api/post
200
{"status":"success","code":200,"id":"AyrRetry000000000001","threads":{"action":"delete","status":"success","alreadyDeleted":true,"id":"5801"},"twitter":{"action":"delete","status":"success","id":"5802"}}
== delete, already gone at X
DELETE /api/post
200
{"status":"success","code":200,"id":"AyrGone0000000000001","twitter":{"action":"delete","status":"success","alreadyDeleted":true,"id":"5902"}}
== delete, Threads down
DELETE /api/post
400
{"status":"error","id":"AyrTransient00000001","threads":{"action":"delete","status":"error","code":904,"message":"Threads error (temporary, retry the delete): Threads error 2: Service temporarily unavailable","retryAvailable":true,"id":"5991"},"errors":[{"action":"delete","status":"error","code":904,"message":"Threads error (temporary, retry the delete): Threads error 2: Service temporarily unavailable","retryAvailable":true,"id":"5991","platform":"threads"}]}
== delete one, failures
DELETE /api/post
400
{"status":"error","id":"AyrDeleteBad00000001","threads":{"action":"delete","status":"error","code":907,"message":"Threads authorization error: Threads error 190: Error validating access token","id":"5101"},"twitter":{"action":"delete","status":"error","code":903,"message":"X/Twitter rate limit: X answered HTTP 429: {\"title\":\"Too Many Requests\",\"status\":429}. Retry after 120 seconds.","retryAfter":120,"id":"5102"},"instagram":{"action":"delete","status":"error","code":901,"message":"Instagram does not support deleting published posts through its API. Delete the post in the Instagram app, then record that with markManualDeleted.","id":"ig-1"},"linkedin":{"action":"delete","status":"error","code":902,"message":"linkedin is not supported by this gateway: it cannot delete posts there. Delete it at the network, then record that with markManualDeleted.","id":"li-1"},"errors":[{"action":"delete","status":"error","code":907,"message":"Threads authorization error: Threads error 190: Error validating access token","id":"5101","platform":"threads"},{"action":"delete","status":"error","code":903,"message":"X/Twitter rate limit: X answered HTTP 429: {\"title\":\"Too Many Requests\",\"status\":429}. Retry after 120 seconds.","retryAfter":120,"id":"5102","platform":"twitter"},{"action":"delete","status":"error","code":901,"message":"Instagram does not support deleting published posts through its API. Delete the post in the Instagram app, then record that with markManualDeleted.","id":"ig-1","platform":"instagram"},{"action":"delete","status":"error","code":902,"message":"linkedin is not supported by this gateway: it cannot delete posts there. Delete it at the network, then record that with markManualDeleted.","id":"li-1","platform":"linkedin"}]}
== markManualDeleted, still live
DELETE /api/post
400
{"action":"delete","status":"error","code":382,"message":"The post was not manually deleted at the social network. By using the markManualDeleted option, you are responsible for deleting the post at the social network. Please delete the post and try again.","id":"AyrManual00000000001","markManualDeleted":true,"platforms":["twitter"]}
== markManualDeleted, recorded
DELETE /api/post
200
{"status":"success","id":"AyrManual00000000002"}
== markManualDeleted, check failed
DELETE /api/post
400
{"action":"delete","status":"error","code":272,"message":"Could not check that the post is gone from X/Twitter: X/Twitter authorization error: X answered HTTP 401: {\"title\":\"Unauthorized\",\"status\":401}. Re-link the X account.. Nothing was recorded.","id":"AyrManual00000000003","markManualDeleted":true,"platform":"twitter"}
== markManualDeleted, bulk
DELETE /api/post
400
{"status":"error","posts":[{"action":"delete","status":"error","code":383,"message":"The post is already deleted.","id":"AyrManual00000000002"},{"action":"delete","status":"error","code":114,"message":"Delete id not found.","id":"nope"}]}
== deleteAllScheduled
DELETE /api/post
200
{"status":"success","code":200,"count":1,"ids":["AyrSchedule000000001"]}
== bulk, too many
DELETE /api/post
400
{"action":"delete","status":"error","code":919,"message":"Field 'bulk' lists 1001 ids; at most 1000 are accepted per request (delete.bulk_max_ids)."}
== bad body
DELETE /api/post
400
{"action":"delete","status":"error","code":909,"message":"Field 'id' must be a string (an Ayrshare post id)."}
== not linked
POST /api/post/import
200
{"status":"success","imported":1,"failed":0,"posts":[{"status":"success","index":0,"id":"AyrNotLinked00000001"}]}
== delete, not linked
DELETE /api/post
400
{"status":"error","id":"AyrNotLinked00000001","threads":{"action":"delete","status":"error","code":156,"message":"Threads does not seem to be linked with this profile. Link the Threads account that published the post with POST /api/profiles/social, then delete again.","id":"5601"},"errors":[{"action":"delete","status":"error","code":156,"message":"Threads does not seem to be linked with this profile. Link the Threads account that published the post with POST /api/profiles/social, then delete again.","id":"5601","platform":"threads"}]}
"##;
const DELETE_WITHOUT_X_CREDENTIALS: &str = r##"== delete, no X credentials
DELETE /api/post
400
{"status":"error","id":"<post>","twitter":{"action":"delete","status":"error","code":419,"message":"X/Twitter requires your own API credentials: send the X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret headers, or set x.consumer_key and x.consumer_secret in the gateway's settings.","error":"x_credentials_required","id":"5701"},"errors":[{"action":"delete","status":"error","code":419,"message":"X/Twitter requires your own API credentials: send the X-Twitter-OAuth1-Api-Key and X-Twitter-OAuth1-Api-Secret headers, or set x.consumer_key and x.consumer_secret in the gateway's settings.","error":"x_credentials_required","id":"5701","platform":"twitter"}]}
"##;
