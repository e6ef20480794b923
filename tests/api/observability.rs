//! `GET /metrics` and `GET /api/openapi.json`.
//!
//! Every gateway of this test binary records into the process's one metrics registry, so the
//! metrics tests compare a scrape before and after what they do, never absolute values.

use crate::helpers::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

async fn scrape(app: &TestApp) -> String {
    let r = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

/// The sum of the samples of `name` whose labels include every one of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((m, rest)) => (m, rest),
                None => (series, ""),
            };
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

#[tokio::test]
async fn a_delete_moves_the_request_network_delete_and_flush_metrics() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let id = app.published_post("18311", "1311", None).await;
    threads_delete_ok(&app.threads, "18311", 1).await;
    x_delete_ok(&app.x, "1311", 1).await;

    let before = scrape(&app).await;
    let r = app.delete_post(json!({ "id": id })).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let after = scrape(&app).await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    for platform in ["threads", "twitter"] {
        assert!(
            moved(
                "postgate_deletes_total",
                &[("platform", platform), ("outcome", "success")]
            ) >= 1.0,
            "{platform}: {after}"
        );
        assert!(
            moved(
                "postgate_network_calls_total",
                &[
                    ("network", platform),
                    ("operation", "delete"),
                    ("outcome", "ok")
                ]
            ) >= 1.0,
            "{platform}: {after}"
        );
        assert!(
            moved(
                "postgate_network_call_duration_seconds_count",
                &[("network", platform), ("operation", "delete")]
            ) >= 1.0
        );
    }
    assert!(
        moved(
            "postgate_http_requests_total",
            &[
                ("method", "DELETE"),
                ("route", "/api/post"),
                ("status", "200")
            ]
        ) >= 1.0,
        "{after}"
    );
    assert!(
        moved(
            "postgate_http_request_duration_seconds_count",
            &[("method", "DELETE"), ("route", "/api/post")]
        ) >= 1.0
    );
    // The intent and the outcome were flushed.
    assert!(moved("postgate_store_flush_duration_seconds_count", &[]) >= 2.0);
    assert!(moved("postgate_quota_decisions_total", &[("decision", "granted")]) >= 2.0);
    assert!(after.contains("postgate_deletes_in_flight"));

    // The networks were called once each: what the counters say happened did happen.
    assert_eq!(app.threads.received_requests().await.unwrap().len(), 1);
    assert_eq!(app.x.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn requests_are_labelled_by_route_pattern_never_by_raw_path() {
    let app = spawn_app().await;
    let id = app.single_platform_post("threads", "18312").await;
    let (status, _) = app.get_post(&id, None).await;
    assert_eq!(status, 200);
    let r = app
        .client
        .get(format!("{}/no/such/path-{id}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let text = scrape(&app).await;
    assert!(
        sample(
            &text,
            "postgate_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/api/post/{id}"),
                ("status", "200")
            ]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "postgate_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert!(!text.contains(&id), "a post id became a label: {text}");
}

#[tokio::test]
async fn a_rate_limited_delete_is_counted_as_rate_limited() {
    let app = spawn_app_with(|s| s.threads.delete_limit = 1).await;
    app.link_both(None).await;
    let first = app.single_platform_post("threads", "18313").await;
    let second = app.single_platform_post("threads", "18314").await;
    threads_delete_ok(&app.threads, "18313", 1).await;

    let before = scrape(&app).await;
    assert_eq!(app.delete_post(json!({ "id": first })).await.status(), 200);
    let r = app.delete_post(json!({ "id": second })).await;
    assert_eq!(r.status(), 400);
    let after = scrape(&app).await;
    let labels = [("platform", "threads"), ("outcome", "rate_limited")];
    assert!(
        sample(&after, "postgate_deletes_total", &labels)
            - sample(&before, "postgate_deletes_total", &labels)
            >= 1.0,
        "{after}"
    );
    let exhausted = [("network", "threads"), ("decision", "exhausted")];
    assert!(
        sample(&after, "postgate_quota_decisions_total", &exhausted)
            - sample(&before, "postgate_quota_decisions_total", &exhausted)
            >= 1.0
    );
    // The refused delete never reached Threads.
    assert_eq!(app.threads.received_requests().await.unwrap().len(), 1);
}

/// The gauge this gateway shows for `network` (it is the gateway's own, not the process's).
fn quota_remaining(text: &str, network: &str) -> f64 {
    let series = format!("postgate_quota_remaining{{network=\"{network}\"}} ");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .unwrap_or_else(|| panic!("no {series}in {text}"));
    line.parse().unwrap()
}

#[tokio::test]
async fn the_quota_gauge_shows_the_slots_left_and_the_given_back_one() {
    let app = spawn_app_with(|s| s.threads.delete_limit = 3).await;
    app.link_both(None).await;
    let before = scrape(&app).await;
    assert_eq!(
        quota_remaining(&before, "threads"),
        3.0,
        "full before any delete"
    );
    assert_eq!(quota_remaining(&before, "twitter"), 50.0);

    let ids = ["18321", "18322", "18323", "18324"];
    let mut posts = Vec::new();
    for id in ids {
        posts.push(app.single_platform_post("threads", id).await);
    }
    threads_delete_ok(&app.threads, "18321", 1).await;
    // An authorization failure did nothing at Threads: its slot is given back.
    Mock::given(method("DELETE"))
        .and(path("/v1.0/18322"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: Session has expired.",
            "type": "OAuthException", "code": 190, "error_subcode": 463}})))
        .expect(1)
        .mount(&app.threads)
        .await;
    threads_delete_ok(&app.threads, "18323", 1).await;

    assert_eq!(
        app.delete_post(json!({ "id": posts[0] })).await.status(),
        200
    );
    assert_eq!(quota_remaining(&scrape(&app).await, "threads"), 2.0);
    assert_eq!(
        app.delete_post(json!({ "id": posts[1] })).await.status(),
        400
    );
    assert_eq!(
        quota_remaining(&scrape(&app).await, "threads"),
        2.0,
        "the refused call's slot came back"
    );
    assert_eq!(
        app.delete_post(json!({ "id": posts[2] })).await.status(),
        200
    );
    assert_eq!(quota_remaining(&scrape(&app).await, "threads"), 1.0);
    // Two more: the last slot, then the window is full (answered before any call).
    let fourth = app.single_platform_post("threads", "18325").await;
    threads_delete_ok(&app.threads, "18325", 1).await;
    assert_eq!(app.delete_post(json!({ "id": fourth })).await.status(), 200);
    let after = scrape(&app).await;
    assert_eq!(quota_remaining(&after, "threads"), 0.0, "{after}");
    assert_eq!(
        app.delete_post(json!({ "id": posts[3] })).await.status(),
        400
    );
    let after = scrape(&app).await;
    assert_eq!(quota_remaining(&after, "threads"), 0.0);
    assert_eq!(quota_remaining(&after, "twitter"), 50.0, "X was not used");
    let threads_deletes = app
        .threads
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .count();
    assert_eq!(threads_deletes, 4, "the fifth delete never reached Threads");
}

#[tokio::test]
async fn already_gone_unsupported_and_unknown_deletes_are_counted_by_outcome() {
    let app = spawn_app().await;
    app.link_both(None).await;
    let (status, r) = app
        .import(
            json!([
                {"post": "gone at X", "postIds": [
                    {"platform": "twitter", "id": "1411"},
                    {"platform": "instagram", "id": "ig1411"}
                ]},
                {"post": "unclear at X", "postIds": [{"platform": "twitter", "id": "1412"}]}
            ]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let gone = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let unclear = r["posts"][1]["id"].as_str().unwrap().to_owned();
    // X says the post does not exist: already gone. A bare 404 proves nothing: unknown.
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1411"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "title": "Not Found Error",
            "type": "https://api.twitter.com/2/problems/resource-not-found"})))
        .mount(&app.x)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/2/tweets/1412"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&app.x)
        .await;

    let before = scrape(&app).await;
    let r = app.delete_post(json!({ "id": gone })).await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["twitter"]["status"], "success", "{b}");
    assert_eq!(b["instagram"]["code"], 901, "{b}");
    let r = app.delete_post(json!({ "id": unclear })).await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["twitter"]["code"], 908, "{b}");
    let after = scrape(&app).await;

    let moved = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    for (platform, outcome) in [
        ("twitter", "already_gone"),
        ("instagram", "unsupported"),
        ("twitter", "unknown"),
    ] {
        let labels = [("platform", platform), ("outcome", outcome)];
        assert!(
            moved("postgate_deletes_total", &labels) >= 1.0,
            "{platform} {outcome}: {after}"
        );
    }
    for outcome in ["already_gone", "ambiguous"] {
        let labels = [
            ("network", "twitter"),
            ("operation", "delete"),
            ("outcome", outcome),
        ];
        assert!(
            moved("postgate_network_calls_total", &labels) >= 1.0,
            "{outcome}: {after}"
        );
    }
}

#[tokio::test]
async fn a_scheduled_post_sent_moves_the_scheduler_lag_and_backlog() {
    let app = spawn_app_with(|s| s.scheduler.tick_ms = 50).await;
    app.link_both(None).await;
    let before = scrape(&app).await;
    // Imported already due (no wall-clock margin to miss): the next tick sends it.
    let (status, r) = app
        .import(
            json!([{"post": "late", "status": "scheduled", "platforms": ["threads"],
                "scheduleDate": "2026-01-01T00:00:00Z"}]),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");

    // Sent once due, whatever Threads answered (no publish is mounted): the lag is recorded
    // then. Polled with a bound far above one tick, so a loaded machine cannot miss it.
    let lag = "postgate_scheduler_lag_seconds_count";
    let started = std::time::Instant::now();
    let after = loop {
        let after = scrape(&app).await;
        if sample(&after, lag, &[]) > sample(&before, lag, &[]) {
            break after;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no lag recorded: {after}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // Every gateway of the process sets the one backlog gauge at each tick: it is there.
    assert!(after.contains("\npostgate_scheduler_backlog "), "{after}");
}

#[tokio::test]
async fn metrics_ask_for_the_token_when_one_is_set() {
    let app = spawn_app_with(|s| s.metrics.token = "scrape-secret-1".into()).await;
    let url = format!("{}/metrics", app.address);
    for auth in [None, Some("Bearer wrong"), Some("scrape-secret-1")] {
        let mut r = app.client.get(&url);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["action"], "metrics");
        assert_eq!(b["code"], 102);
    }
    let r = app
        .client
        .get(&url)
        .bearer_auth("scrape-secret-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("postgate_http_requests_total"));
}

async fn openapi(app: &TestApp) -> Value {
    let r = app
        .client
        .get(format!("{}/api/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/json; charset=utf-8"
    );
    r.json().await.unwrap()
}

#[tokio::test]
async fn the_openapi_document_needs_no_key_and_describes_answers_and_errors() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "Failure",
        "DeleteAnswer",
        "PlatformDelete",
        "BulkAnswer",
        "PublishAnswer",
        "PostView",
        "UserAnswer",
        "DeleteRequest",
        "PublishBody",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
    let delete = &doc["paths"]["/api/post"]["delete"];
    for status in ["200", "202", "400", "401", "403", "413", "500"] {
        assert!(delete["responses"][status].is_object(), "{status}");
    }
    assert_eq!(delete["security"], json!([{ "api_key": [] }]));
    // The alias is there, with an operation id of its own.
    let alias = &doc["paths"]["/api/delete"]["delete"];
    assert!(alias.is_object());
    assert_ne!(alias["operationId"], delete["operationId"]);
    // The document itself and the health check need no key.
    assert!(doc["paths"]["/api/openapi.json"]["get"]["security"].is_null());
    assert!(doc["paths"]["/health"]["get"]["security"].is_null());
}

/// The codes the `codes` module of `src/api/error.rs` declares, read from the source rather
/// than from the list the document is built from: a code declared beside that list is caught
/// too.
fn declared_codes() -> BTreeSet<u64> {
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api/error.rs"),
    )
    .unwrap();
    let module = source
        .split_once("pub mod codes {")
        .map(|(_, rest)| rest.split("\n}\n").next().unwrap())
        .expect("src/api/error.rs has a codes module");
    module
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .filter_map(|l| {
            let (name, value) = l.trim_start_matches("pub const ").split_once(" = ")?;
            let name = name.trim_end_matches(": u32");
            let value = value.strip_suffix(';')?;
            let is_const = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_const.then(|| value.parse().expect("a code is a number"))
        })
        .collect()
}

#[tokio::test]
async fn the_error_code_enum_is_every_code_the_gateway_declares_with_its_meaning() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let schemas = &doc["components"]["schemas"];
    let codes = &schemas["ErrorCode"];
    assert_eq!(codes["type"], "integer", "{codes}");
    let documented: Vec<u64> = codes["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    let declared = declared_codes();
    assert!(declared.len() > 30, "the source was read: {declared:?}");
    assert_eq!(
        documented.iter().copied().collect::<BTreeSet<_>>(),
        declared,
        "the document's codes are the declared ones"
    );
    assert_eq!(documented.len(), declared.len(), "each code once");
    // Each with its meaning and constant name, in the enum's order.
    let meanings = codes["x-enum-descriptions"].as_array().unwrap();
    let names = codes["x-enum-varnames"].as_array().unwrap();
    assert_eq!(meanings.len(), documented.len());
    assert_eq!(names.len(), documented.len());
    assert!(meanings
        .iter()
        .all(|m| m.as_str().is_some_and(|m| m.len() > 10)));
    let at = |code: u64| documented.iter().position(|c| *c == code).unwrap();
    assert_eq!(names[at(903)], "RATE_LIMITED");
    assert!(meanings[at(903)].as_str().unwrap().contains("rate limited"));
    let description = codes["description"].as_str().unwrap();
    assert!(
        description.contains("- `114`: Ayrshare: delete id not found."),
        "{description}"
    );

    // Every answer that carries a code refers to the enum.
    for (schema, field) in [
        ("Failure", "code"),
        ("PostError", "code"),
        ("ImportItemAnswer", "code"),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert!(
            property
                .to_string()
                .contains("#/components/schemas/ErrorCode"),
            "{schema}.{field}: {property}"
        );
    }
}

/// The schema names an answer of `status` to `method path` may have (`anyOf` alternatives
/// followed one level).
fn answer_shapes(doc: &Value, method: &str, path: &str, status: &str) -> Vec<String> {
    let name = |r: &Value| {
        r.as_str()
            .unwrap_or_default()
            .trim_start_matches("#/components/schemas/")
            .to_owned()
    };
    let schema =
        &doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"];
    let top = name(&schema["$ref"]);
    match doc["components"]["schemas"][&top]["anyOf"].as_array() {
        Some(alternatives) => alternatives.iter().map(|a| name(&a["$ref"])).collect(),
        None => vec![top],
    }
}

/// Found by Schemathesis: a publish refused as a whole (an empty `post`) and an import whose
/// items were all refused answer 400 with bodies the document did not allow.
#[tokio::test]
async fn the_document_allows_every_shape_a_400_can_have() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;

    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .json(&json!({"post": "", "platforms": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], 921, "{b}");
    let shapes = answer_shapes(&doc, "post", "/api/post", "400");
    assert!(shapes.contains(&"ErrorBody".to_owned()), "{shapes:?}");
    assert!(shapes.contains(&"PublishAnswer".to_owned()), "{shapes:?}");

    let (status, b) = app
        .import(json!([{"post": "x", "postIds": []}]), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(b["posts"][0]["code"], 913, "{b}");
    let shapes = answer_shapes(&doc, "post", "/api/post/import", "400");
    assert!(shapes.contains(&"ImportAnswer".to_owned()), "{shapes:?}");
    assert!(shapes.contains(&"ErrorBody".to_owned()), "{shapes:?}");
}

/// Every `.rs` file under `dir`.
fn sources(dir: &std::path::Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(std::fs::read_to_string(path).unwrap());
        }
    }
}

/// The paths the router registers, read from the route table's source: every
/// `web::resource("…")` / `web::resource(["…", …])` and `.route("…", …)` under `src/api/`.
fn registered_paths() -> BTreeSet<String> {
    let mut files = Vec::new();
    sources(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api")),
        &mut files,
    );
    let mut out = BTreeSet::new();
    for src in files {
        for (start, _) in src.match_indices("web::resource(") {
            let rest = &src[start + "web::resource(".len()..];
            let args = &rest[..rest.find(')').unwrap()];
            out.extend(args.split('"').skip(1).step_by(2).map(str::to_owned));
        }
        for (start, _) in src.match_indices(".route(\"") {
            let rest = &src[start + ".route(\"".len()..];
            out.insert(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    out
}

/// Whether the router serves `method` at `path` (a probe without a key or body: a served
/// route answers anything but the router's own 404 and 405).
async fn served(app: &TestApp, method: &str, path: &str) -> bool {
    // Every path parameter (`{id}`, ...) as a plain segment.
    let concrete: String = path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/");
    let r = app
        .client
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{concrete}", app.address),
        )
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let routers_own =
        status == 405 || (status == 404 && body["message"] == "No such endpoint on this gateway.");
    !routers_own
}

#[tokio::test]
async fn every_registered_route_is_in_the_openapi_document_and_back() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(move |m| (path.clone(), m.to_uppercase()))
        })
        .collect();

    let paths = registered_paths();
    assert!(
        paths.contains("/api/post") && paths.contains("/link"),
        "{paths:?}"
    );
    let mut registered = BTreeSet::new();
    for path in &paths {
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if served(&app, method, path).await {
                registered.insert((path.clone(), method.to_owned()));
            }
        }
    }
    let missing: Vec<_> = registered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes served but not in the OpenAPI document (add #[utoipa::path] and a paths(...) \
         line in src/api/openapi.rs): {missing:?}"
    );
    for (path, method) in &documented {
        assert!(
            served(&app, method, path).await,
            "documented but not served: {method} {path}"
        );
    }
}
