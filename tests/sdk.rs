//! The official Ayrshare SDKs (npm `social-media-api`, PyPI `social-post-api`, pinned in
//! tests/sdk/) run their conformance scripts against a real gateway whose networks are
//! `postgate sandbox`. Only the SDKs' base URL is changed. `scripts/test.sh` installs them.

use postgate::demo::sandbox_settings;
use postgate::startup::Application;
use postgate_sandbox::{self as sandbox, SandboxOptions};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const KEY: &str = "sdk-conformance-key-0000000000000";

struct Gateway {
    base: String,
    gone_post: String,
    consumer: (String, String),
    /// Answers a PNG at any path: the images of the scripts' `mediaUrls`.
    images: wiremock::MockServer,
    _dir: tempfile::TempDir,
    _sandbox: sandbox::SandboxHandle,
}

async fn gateway() -> Gateway {
    let sb = sandbox::start(SandboxOptions::ephemeral()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The scripts send BYO headers; the settings' consumer credentials serve the scheduler.
    let mut s = sandbox_settings(&sb.addrs(), &dir.path().join("db"), KEY).unwrap();
    s.scheduler.tick_ms = 200;
    let app = Application::build(s).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());

    let client = reqwest::Client::new();
    let t = &sb.accounts.threads[0];
    let x = &sb.accounts.x[0];
    for body in [
        json!({"platform": "threads", "userId": t.user_id, "accessToken": t.access_token}),
        json!({"platform": "twitter", "userId": x.user_id, "accessToken": x.access_token, "accessTokenSecret": x.access_token_secret}),
    ] {
        let r = client
            .post(format!("{base}/api/profiles/social"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // A post whose network copies no longer exist (never did, in the sandbox).
    let r: Value = client
        .post(format!("{base}/api/post/import"))
        .bearer_auth(KEY)
        .json(&json!({"posts": [{"post": "gone", "postIds": [
            {"platform": "threads", "id": "17999999999999999"},
            {"platform": "twitter", "id": "1999999999999999999"}
        ]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gone_post = r["posts"][0]["id"].as_str().unwrap().to_owned();
    let consumer = (
        sb.accounts.x_app.consumer_key.clone(),
        sb.accounts.x_app.consumer_secret.clone(),
    );
    let images = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(
            postgate::service::media::RANDOM_IMAGES[0].to_vec(),
            "image/png",
        ))
        .mount(&images)
        .await;
    Gateway {
        base,
        gone_post,
        consumer,
        images,
        _dir: dir,
        _sandbox: sb,
    }
}

async fn run_script(gw: &Gateway, program: &str, script: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut cmd = Command::new(program);
    cmd.arg(Path::new(root).join(script))
        .env("POSTGATE_BASE", format!("{}/api/", gw.base))
        .env("POSTGATE_API_KEY", KEY)
        .env("X_CONSUMER_KEY", &gw.consumer.0)
        .env("X_CONSUMER_SECRET", &gw.consumer.1)
        .env("POSTGATE_GONE_POST_ID", &gw.gone_post)
        .env("POSTGATE_MEDIA_URL", gw.images.uri())
        .env("SDK_TIMEOUT_SECS", "60");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (scripts/test.sh installs the SDKs)")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{stdout}\n{stderr}\n(if the SDK is missing, run scripts/test.sh: it installs the pinned SDKs)",
        out.status
    );
    // Shown with `--nocapture`: which steps ran.
    println!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.ends_with("passed, 0 failed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_social_post_api() {
    let gw = gateway().await;
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
    let python = if python.exists() {
        python.display().to_string()
    } else {
        "python3".into()
    };
    run_script(&gw, &python, "tests/sdk/python/conformance.py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_sdk_social_media_api() {
    let gw = gateway().await;
    run_script(&gw, "node", "tests/sdk/node/conformance.mjs").await;
}
