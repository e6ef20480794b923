//! Posts with images (`mediaUrls`): X media upload then `POST /2/tweets` with `media_ids`,
//! Threads IMAGE and CAROUSEL containers waited on until FINISHED, Bluesky `uploadBlob` and
//! an `app.bsky.embed.images` embed; the gateway's own fetch (size, time, content type, no
//! private addresses) and Ayrshare's `randomPost` / `randomMediaUrl` helpers.

use crate::helpers::*;
use chrono::{Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{any, body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TWEET: &str = "1445880548472328192";
const CONTAINER: &str = "17890000000000001";
const MEDIA: &str = "18020000000000001";
const DID: &str = "did:plc:z72i7hdynmk6r22z27h6tvur";
const HANDLE: &str = "alice.bsky.social";
const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
const ACCESS: &str = "BSKY-ACCESS-jwt-secret-1";

/// A tiny valid PNG (1×1).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0,
    1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0a, 0x49, 0x44, 0x41, 0x54,
    0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// An app whose media fetch may reach the loopback image server (tests only).
async fn app_with_images(tweak: impl FnOnce(&mut postgate::configuration::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.media.allow_private = true;
        s.media.allow_http = true;
        s.threads.container_poll_ms = 20;
        s.threads.container_wait_ms = 1000;
        tweak(s);
    })
    .await
}

/// An image server: `/img/{name}.png` answers a PNG, `/page.html` HTML, `/slow.png` late.
async fn image_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/page.html"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"<html></html>".to_vec(), "text/html"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow.png"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(PNG.to_vec(), "image/png")
                .set_delay(Duration::from_secs(60)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/big.png"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![7u8; 4096], "image/png"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PNG.to_vec(), "image/png"))
        .mount(&server)
        .await;
    server
}

async fn publish(app: &TestApp, body: Value) -> (u16, Value) {
    let r = app
        .request(reqwest::Method::POST, "/api/post", None)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn mount_x_upload(x: &MockServer) {
    // Each upload answers the next media id.
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    Mock::given(method("POST"))
        .and(path("/2/media/upload"))
        .respond_with(move |_: &Request| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(
                json!({"data": {"id": format!("7100000000000000{i}"), "media_key": format!("3_7100000000000000{i}")}}),
            )
        })
        .mount(x)
        .await;
    Mock::given(method("POST"))
        .and(path("/2/tweets"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"data": {"id": TWEET, "text": "…"}})),
        )
        .mount(x)
        .await;
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn form(req: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8(req.body.clone()).unwrap();
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn x_uploads_each_image_then_posts_with_their_media_ids() {
    let app = app_with_images(|_| {}).await;
    let images = image_server().await;
    app.link_both(None).await;
    mount_x_upload(&app.x).await;
    let urls = [
        format!("{}/img/a.png", images.uri()),
        format!("{}/img/b.png", images.uri()),
    ];
    let (s, b) = publish(
        &app,
        json!({"post": "two pictures", "platforms": ["twitter"], "mediaUrls": urls}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "success", "{b}");
    assert_eq!(b["postIds"][0]["id"], TWEET);

    let uploads = requests_to(&app.x, "/2/media/upload").await;
    assert_eq!(uploads.len(), 2);
    for u in &uploads {
        verify_oauth1(
            u,
            X_CONSUMER_KEY,
            X_CONSUMER_SECRET,
            X_TOKEN,
            X_TOKEN_SECRET,
        )
        .unwrap();
        let ct = u.headers["content-type"].to_str().unwrap();
        assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
        assert!(contains(&u.body, PNG), "the image bytes are uploaded");
        assert!(contains(
            &u.body,
            b"name=\"media_category\"\r\n\r\ntweet_image"
        ));
        assert!(contains(&u.body, b"Content-Type: image/png"));
    }
    let tweets = requests_to(&app.x, "/2/tweets").await;
    assert_eq!(tweets.len(), 1);
    let sent: Value = serde_json::from_slice(&tweets[0].body).unwrap();
    let mut ids: Vec<String> = serde_json::from_value(sent["media"]["media_ids"].clone()).unwrap();
    assert_eq!(sent["text"], "two pictures");
    ids.sort();
    assert_eq!(ids, ["71000000000000001", "71000000000000002"]);
    // The gateway downloaded each image once.
    assert_eq!(images.received_requests().await.unwrap().len(), 2);
    // The post keeps its images, as Ayrshare's `GET /post/{id}` shows them.
    let (_, p) = app.get_post(b["id"].as_str().unwrap(), None).await;
    assert_eq!(p["mediaUrls"], json!(urls), "{p}");
}

/// Mounts a Threads container's status: IN_PROGRESS `in_progress` times, then
/// `final_status`.
async fn mount_threads_container(
    threads: &MockServer,
    id: &str,
    in_progress: u64,
    final_status: &str,
) {
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{id}")))
        .and(query_param("fields", "status,error_message"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": id, "status": "IN_PROGRESS"})),
        )
        .up_to_n_times(in_progress)
        .with_priority(1)
        .mount(threads)
        .await;
    let body = if final_status == "ERROR" {
        json!({"id": id, "status": "ERROR", "error_message": "Image could not be downloaded"})
    } else {
        json!({"id": id, "status": final_status})
    };
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{id}")))
        .and(query_param("fields", "status,error_message"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .with_priority(2)
        .mount(threads)
        .await;
}

async fn mount_threads_publish(threads: &MockServer, container: &str) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .and(query_param("creation_id", container))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": MEDIA})))
        .mount(threads)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{MEDIA}")))
        .and(query_param("fields", "permalink"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": MEDIA, "permalink": format!("https://www.threads.net/@t/post/{MEDIA}")}),
        ))
        .mount(threads)
        .await;
}

#[tokio::test]
async fn threads_publishes_one_image_once_its_container_is_finished() {
    let app = app_with_images(|_| {}).await;
    let images = image_server().await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": CONTAINER})))
        .expect(1)
        .mount(&app.threads)
        .await;
    mount_threads_container(&app.threads, CONTAINER, 2, "FINISHED").await;
    mount_threads_publish(&app.threads, CONTAINER).await;
    let url = format!("{}/img/one.png", images.uri());
    let (s, b) = publish(
        &app,
        json!({"post": "a picture", "platforms": ["threads"], "mediaUrls": [url]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["postIds"][0]["id"], MEDIA, "{b}");

    let created = requests_to(&app.threads, &format!("/v1.0/{THREADS_USER}/threads")).await;
    let f = form(&created[0]);
    assert_eq!(field(&f, "media_type"), Some("IMAGE"));
    assert_eq!(field(&f, "image_url"), Some(url.as_str()));
    assert_eq!(field(&f, "text"), Some("a picture"));
    // Asked until FINISHED (two IN_PROGRESS, then FINISHED), then published once.
    let polls = requests_to(&app.threads, &format!("/v1.0/{CONTAINER}")).await;
    assert_eq!(polls.len(), 3);
    let published = requests_to(
        &app.threads,
        &format!("/v1.0/{THREADS_USER}/threads_publish"),
    )
    .await;
    assert_eq!(published.len(), 1);
    // Threads fetches the URL itself: the gateway did not download it.
    assert_eq!(images.received_requests().await.unwrap().len(), 0);
}

#[tokio::test]
async fn threads_publishes_several_images_as_a_carousel_of_item_containers() {
    let app = app_with_images(|_| {}).await;
    let images = image_server().await;
    app.link_both(None).await;
    let n = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(move |_: &Request| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(json!({"id": format!("1789000000000000{i}")}))
        })
        .mount(&app.threads)
        .await;
    for i in 1..=4 {
        mount_threads_container(&app.threads, &format!("1789000000000000{i}"), 1, "FINISHED").await;
    }
    mount_threads_publish(&app.threads, "17890000000000004").await;
    let urls: Vec<String> = (1..=3)
        .map(|i| format!("{}/img/{i}.png", images.uri()))
        .collect();
    let (s, b) = publish(
        &app,
        json!({"post": "a carousel", "platforms": ["threads"], "mediaUrls": urls}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let created = requests_to(&app.threads, &format!("/v1.0/{THREADS_USER}/threads")).await;
    assert_eq!(created.len(), 4);
    for (i, c) in created[..3].iter().enumerate() {
        let f = form(c);
        assert_eq!(field(&f, "media_type"), Some("IMAGE"));
        assert_eq!(field(&f, "is_carousel_item"), Some("true"));
        assert_eq!(field(&f, "image_url"), Some(urls[i].as_str()));
        assert_eq!(field(&f, "text"), None);
    }
    let f = form(&created[3]);
    assert_eq!(field(&f, "media_type"), Some("CAROUSEL"));
    assert_eq!(
        field(&f, "children"),
        Some("17890000000000001,17890000000000002,17890000000000003")
    );
    assert_eq!(field(&f, "text"), Some("a carousel"));
    let published = requests_to(
        &app.threads,
        &format!("/v1.0/{THREADS_USER}/threads_publish"),
    )
    .await;
    assert_eq!(published.len(), 1);
}

#[tokio::test]
async fn a_threads_container_in_error_is_never_published() {
    let app = app_with_images(|_| {}).await;
    let images = image_server().await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": CONTAINER})))
        .mount(&app.threads)
        .await;
    mount_threads_container(&app.threads, CONTAINER, 1, "ERROR").await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads_publish")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": MEDIA})))
        .expect(0)
        .mount(&app.threads)
        .await;
    let (s, b) = publish(
        &app,
        json!({"post": "broken", "platforms": ["threads"], "mediaUrls": [format!("{}/img/x.png", images.uri())]}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["errors"][0]["platform"], "threads", "{b}");
    let message = b["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("ERROR"), "{message}");
    assert!(
        message.contains("Image could not be downloaded"),
        "{message}"
    );
}

#[tokio::test]
async fn a_threads_container_never_finished_gives_up_within_the_wait() {
    let app = app_with_images(|s| s.threads.container_wait_ms = 200).await;
    let images = image_server().await;
    app.link_both(None).await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/{THREADS_USER}/threads")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": CONTAINER})))
        .mount(&app.threads)
        .await;
    // In progress for thousands of seconds of polls: only giving up after the 0.2 s wait
    // answers within the bound, which leaves a loaded machine seconds of slack.
    mount_threads_container(&app.threads, CONTAINER, 100_000, "FINISHED").await;
    let start = Instant::now();
    let (s, b) = publish(
        &app,
        json!({"post": "slow", "platforms": ["threads"], "mediaUrls": [format!("{}/img/x.png", images.uri())]}),
    )
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(s, 400, "{b}");
    let message = b["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("had not finished processing"), "{message}");
    assert!(requests_to(
        &app.threads,
        &format!("/v1.0/{THREADS_USER}/threads_publish")
    )
    .await
    .is_empty());
}

async fn link_bluesky(app: &TestApp, pds: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": ACCESS, "refreshJwt": "BSKY-REFRESH", "handle": HANDLE, "did": DID
        })))
        .mount(pds)
        .await;
    let r = app
        .request(reqwest::Method::POST, "/api/profiles/social", None)
        .json(&json!({"platform": "bluesky", "handle": HANDLE, "appPassword": APP_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn bluesky_uploads_blobs_and_embeds_them_as_images() {
    let pds = MockServer::start().await;
    let base = pds.uri();
    let app = app_with_images(|s| s.bluesky.base_url = base).await;
    let images = image_server().await;
    link_bluesky(&app, &pds).await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.uploadBlob"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"blob": {
            "$type": "blob", "ref": {"$link": "bafkreiblob"}, "mimeType": "image/png", "size": PNG.len()
        }})))
        .expect(2)
        .mount(&pds)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.repo.createRecord"))
        .and(body_partial_json(
            json!({"record": {"embed": {"$type": "app.bsky.embed.images"}}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"uri": format!("at://{DID}/app.bsky.feed.post/3kimg"), "cid": "bafyrei"}),
        ))
        .expect(1)
        .mount(&pds)
        .await;
    let urls = [
        format!("{}/img/a.png", images.uri()),
        format!("{}/img/b.png", images.uri()),
    ];
    let (s, b) = publish(
        &app,
        json!({"post": "pictures", "platforms": ["bluesky"], "mediaUrls": urls}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let uploads = requests_to(&pds, "/xrpc/com.atproto.repo.uploadBlob").await;
    for u in &uploads {
        assert_eq!(u.body, PNG);
        assert_eq!(u.headers["content-type"], "image/png");
        assert_eq!(
            u.headers["authorization"].to_str().unwrap(),
            format!("Bearer {ACCESS}")
        );
    }
    let record = requests_to(&pds, "/xrpc/com.atproto.repo.createRecord").await;
    let sent: Value = serde_json::from_slice(&record[0].body).unwrap();
    let embedded = sent["record"]["embed"]["images"].as_array().unwrap();
    assert_eq!(embedded.len(), 2);
    assert_eq!(embedded[0]["image"]["ref"]["$link"], "bafkreiblob");
    assert_eq!(embedded[0]["alt"], "");
}

/// Every network stand-in must stay silent.
async fn expect_silence(app: &TestApp) {
    for server in [&*app.threads, &*app.x] {
        Mock::given(any())
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn bad_media_answers_a_clear_4xx_before_any_network_call() {
    let app = app_with_images(|s| {
        s.media.max_bytes = 1024;
        s.media.timeout_ms = 300;
    })
    .await;
    let images = image_server().await;
    app.link_both(None).await;
    expect_silence(&app).await;
    let img = |p: &str| format!("{}{p}", images.uri());
    let cases = [
        // Five images on X, which takes four.
        (
            json!({"post": "p", "platforms": ["twitter"], "mediaUrls": (1..=5).map(|i| img(&format!("/img/{i}.png"))).collect::<Vec<_>>()}),
            951,
            Some("twitter"),
            "at most 4",
        ),
        (
            json!({"post": "p", "platforms": ["twitter"], "mediaUrls": [img("/page.html")]}),
            950,
            None,
            "content type \"text/html\"",
        ),
        (
            json!({"post": "p", "platforms": ["twitter"], "mediaUrls": [img("/big.png?X-Amz-Signature=SECRETSIG")]}),
            950,
            None,
            "larger than 1024 bytes",
        ),
        (
            json!({"post": "p", "platforms": ["twitter"], "mediaUrls": [img("/slow.png")]}),
            950,
            None,
            "in time",
        ),
        (
            json!({"post": "p", "platforms": ["twitter"], "mediaUrls": [img("/missing.png").replace("/missing.png", "/nope")], "isVideo": true}),
            952,
            Some("twitter"),
            "Video posts are not supported on X/Twitter",
        ),
        (
            json!({"post": "p", "platforms": ["threads", "twitter"], "mediaUrls": ["https://cdn.example/clip.mp4"]}),
            952,
            Some("threads"),
            "Video posts are not supported",
        ),
        (
            json!({"post": "p", "platforms": ["twitter"], "mediaUrls": ["ftp://example.com/a.png"]}),
            950,
            None,
            "not a valid https URL",
        ),
    ];
    for (body, code, platform, says) in cases {
        let start = Instant::now();
        let (s, b) = publish(&app, body.clone()).await;
        assert_eq!(s, 400, "{body} → {b}");
        assert_eq!(b["code"], code, "{body} → {b}");
        assert_eq!(b["status"], "error");
        assert_eq!(b["action"], "post");
        if let Some(p) = platform {
            assert_eq!(b["platform"], p, "{b}");
        }
        let message = b["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
        // A pre-signed URL's query (its signature) is never echoed.
        assert!(!message.contains("SECRETSIG"), "{message}");
        // `/slow.png` answers after 60 s: the 0.3 s media timeout, not the image server,
        // ends that case; the bound leaves a loaded machine seconds of slack.
        assert!(start.elapsed() < Duration::from_secs(10), "bounded: {body}");
    }
    // Nothing was recorded: history is empty.
    let r = app
        .request(reqwest::Method::GET, "/api/history", None)
        .send()
        .await
        .unwrap();
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["history"], json!([]), "{h}");
}

#[tokio::test]
async fn private_and_loopback_addresses_are_refused_unless_allowed() {
    // Default media settings (https only, no private addresses), except http to show the
    // address check itself refuses.
    let app = spawn_app_with(|s| s.media.allow_http = true).await;
    let images = image_server().await;
    app.link_both(None).await;
    expect_silence(&app).await;
    for url in [
        format!("{}/img/a.png", images.uri()),
        "http://localhost/img.png".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::1]/a.png".to_owned(),
        "https://10.0.0.1/a.png".to_owned(),
    ] {
        let (s, b) = publish(
            &app,
            json!({"post": "p", "platforms": ["twitter", "threads"], "mediaUrls": [url]}),
        )
        .await;
        assert_eq!((s, &b["code"]), (400, &json!(950)), "{url}: {b}");
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains("private or loopback"),
            "{b}"
        );
    }
    assert_eq!(images.received_requests().await.unwrap().len(), 0);

    // https only by default.
    let strict = spawn_app().await;
    strict.link_both(None).await;
    let (s, b) = publish(
        &strict,
        json!({"post": "p", "platforms": ["twitter"], "mediaUrls": ["http://example.com/a.png"]}),
    )
    .await;
    assert_eq!((s, &b["code"]), (400, &json!(950)), "{b}");
    assert!(b["message"].as_str().unwrap().contains("https"), "{b}");
}

#[tokio::test]
async fn a_bluesky_image_over_its_own_limit_is_refused_for_bluesky() {
    let pds = MockServer::start().await;
    let base = pds.uri();
    let app = app_with_images(|s| s.bluesky.base_url = base).await;
    link_bluesky(&app, &pds).await;
    let images = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![1u8; 1_000_001], "image/jpeg"))
        .mount(&images)
        .await;
    let (s, b) = publish(
        &app,
        json!({"post": "p", "platforms": ["bluesky"], "mediaUrls": [format!("{}/huge.jpg", images.uri())]}),
    )
    .await;
    assert_eq!((s, &b["code"]), (400, &json!(950)), "{b}");
    assert_eq!(b["platform"], "bluesky");
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("limit of 1000000 bytes"),
        "{b}"
    );
    assert!(requests_to(&pds, "/xrpc/com.atproto.repo.uploadBlob")
        .await
        .is_empty());
}

#[tokio::test]
async fn random_post_and_random_media_url_use_the_built_in_set() {
    // Default media settings: the gateway's own images need no fetch at all.
    let app = spawn_app().await;
    app.link_both(None).await;
    mount_x_upload(&app.x).await;
    let (s, b) = publish(
        &app,
        json!({"randomPost": true, "platforms": ["twitter"], "randomMediaUrl": true}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "success");
    assert_eq!(b["errors"], json!([]));
    assert_eq!(b["postIds"][0]["status"], "success");
    assert_eq!(b["postIds"][0]["platform"], "twitter");
    assert!(b["postIds"][0]["postUrl"].is_string());
    assert!(b["id"].is_string() && b["refId"].is_string());
    let text = b["post"].as_str().unwrap();
    assert!(
        postgate::service::media::RANDOM_QUOTES.contains(&text),
        "{text}"
    );
    let upload = &requests_to(&app.x, "/2/media/upload").await[0];
    assert!(contains(&upload.body, b"\x89PNG"));
    let tweet: Value =
        serde_json::from_slice(&requests_to(&app.x, "/2/tweets").await[0].body).unwrap();
    assert_eq!(tweet["text"], text);
    assert_eq!(tweet["media"]["media_ids"].as_array().unwrap().len(), 1);

    // The images are served without auth, for networks that fetch URLs themselves.
    let r = reqwest::get(format!("{}/media/random/1.png", app.address))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(r.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let r = reqwest::get(format!("{}/media/random/99.png", app.address))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_scheduled_post_fetches_its_images_when_due() {
    let app = app_with_images(|s| s.scheduler.tick_ms = 100).await;
    let images = image_server().await;
    app.link_both(None).await;
    mount_x_upload(&app.x).await;
    let due = (Utc::now() + ChronoDuration::seconds(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let url = format!("{}/img/later.png", images.uri());
    let (s, b) = publish(
        &app,
        json!({"post": "later", "platforms": ["twitter"], "mediaUrls": [url], "scheduleDate": due}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "scheduled");
    // Nothing downloaded at schedule time.
    assert_eq!(images.received_requests().await.unwrap().len(), 0);
    let id = b["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let (_, p) = app.get_post(&id, None).await;
        if p["status"] == "success" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{p}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(images.received_requests().await.unwrap().len(), 1);
    let tweet: Value =
        serde_json::from_slice(&requests_to(&app.x, "/2/tweets").await[0].body).unwrap();
    assert_eq!(tweet["media"]["media_ids"], json!(["71000000000000001"]));
}
