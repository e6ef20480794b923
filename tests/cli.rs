//! The command line: `postgate import` against a running gateway, `postgate demo` end to end.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::*;
use serde_json::Value;
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_sends_a_history_export_in_batches() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    // NDJSON: 5 good lines and one duplicate of the first id.
    let mut lines: Vec<String> = (0..5)
        .map(|i| format!(r#"{{"id":"CliImport0000000000{i}","post":"p{i}","status":"success","postIds":[{{"platform":"twitter","id":"{}"}}]}}"#, 100 + i))
        .collect();
    lines.push(
        r#"{"id":"CliImport00000000000","post":"dup","postIds":[{"platform":"twitter","id":"1"}]}"#
            .into(),
    );
    let file = dir.path().join("export.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let (url, f) = (app.address.clone(), file.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_postgate"))
            .args(["import", f.to_str().unwrap(), "--url", &url, "--batch", "2"])
            .env("POSTGATE_API_KEY", API_KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("imported 5, failed 1"),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("post #5"), "{stderr}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refused item makes the exit code non-zero"
    );
    for i in 0..5 {
        let (status, p): (u16, Value) =
            app.get_post(&format!("CliImport0000000000{i}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(p["post"], format!("p{i}"));
    }
    // A JSON array with everything new exits 0.
    std::fs::write(
        &file,
        r#"[{"post":"a","postIds":[{"platform":"threads","id":"9"}]}]"#,
    )
    .unwrap();
    let url = app.address.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_postgate"))
            .args([
                "import",
                file.to_str().unwrap(),
                "--url",
                &url,
                "--api-key",
                API_KEY,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn demo_runs_the_round_trip() {
    let out = Command::new(env!("CARGO_BIN_EXE_postgate"))
        .arg("demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"code\": 383"), "{stdout}");
    assert!(
        stdout.contains("Threads 1 published / 1 deleted; X 1 published / 1 deleted"),
        "{stdout}"
    );
    assert!(
        stdout.contains("images received: Threads 1, X 1, Bluesky 1"),
        "{stdout}"
    );
}

#[test]
fn json_log_format_writes_one_json_object_per_line() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_postgate"))
        .arg("serve")
        .env("POSTGATE__SERVER__PORT", "0")
        .env("POSTGATE__STORE__PATH", dir.path().join("db"))
        .env("POSTGATE__AUTH__API_KEYS", "json-log-key")
        .env("POSTGATE__LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let v: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["message"], "postgate listening", "{v}");
    assert_eq!(v["level"], "INFO");
    assert_eq!(status.code(), Some(0), "SIGTERM on an idle gateway exits 0");
}

/// `postgate import --from-api`: a second postgate on the sandbox is the source (it speaks
/// Ayrshare's `GET /history`); a page size of 3 forces the date windows to split.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_from_api_copies_another_gateways_history_and_resumes() {
    const SOURCE_KEY: &str = "source-gateway-api-key-0123456789";
    let sb = postgate_sandbox::start(postgate_sandbox::SandboxOptions::ephemeral())
        .await
        .unwrap();
    let src_dir = tempfile::tempdir().unwrap();
    let settings =
        postgate::demo::sandbox_settings(&sb.addrs(), &src_dir.path().join("db"), SOURCE_KEY)
            .unwrap();
    let source = postgate::startup::Application::build(settings)
        .await
        .unwrap();
    let src = format!("http://127.0.0.1:{}", source.port());
    tokio::spawn(source.run_until_stopped());
    for platform in ["threads", "twitter"] {
        postgate::demo::link_via_consent(&src, SOURCE_KEY, platform, true)
            .await
            .unwrap();
    }
    let http = reqwest::Client::new();
    let call = |m: reqwest::Method, path: &str, body: Value| {
        http.request(m, format!("{src}{path}"))
            .bearer_auth(SOURCE_KEY)
            .json(&body)
            .send()
    };
    let mut ids = Vec::new();
    for i in 0..7 {
        let platforms = match i % 3 {
            0 => serde_json::json!(["threads", "twitter"]),
            1 => serde_json::json!(["threads"]),
            _ => serde_json::json!(["twitter"]),
        };
        let r: Value = call(
            reqwest::Method::POST,
            "/api/post",
            serde_json::json!({"post": format!("migrated post {i}"), "platforms": platforms}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(r["status"], "success", "{r}");
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let scheduled: Value = call(
        reqwest::Method::POST,
        "/api/post",
        serde_json::json!({"post": "later", "platforms": ["twitter"], "scheduleDate": "2099-01-01T00:00:00Z"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    ids.push(scheduled["id"].as_str().unwrap().to_owned());
    let deleted: Value = call(
        reqwest::Method::DELETE,
        "/api/post",
        serde_json::json!({"id": ids[1]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(deleted["status"], "success", "{deleted}");

    let target = spawn_app().await;
    let run = || {
        let (src, url) = (format!("{src}/api"), target.address.clone());
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_postgate"))
                .args([
                    "import",
                    "--from-api",
                    &src,
                    "--url",
                    &url,
                    "--api-key",
                    API_KEY,
                    "--source-api-key",
                    SOURCE_KEY,
                    "--page-size",
                    "3",
                ])
                .output()
                .unwrap()
        })
    };
    let out = run().await.unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stdout.contains("imported 8, skipped 0 (already there), failed 0"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains(SOURCE_KEY) && !stdout.contains(SOURCE_KEY));
    let requests: usize = stdout
        .split(" in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count: {stdout}"));
    assert!(
        requests > 3,
        "7 live posts in pages of 3 need split windows: {stdout}"
    );

    // Every post, with its status and per-network ids, as the source has it.
    for id in &ids {
        let from: Value = http
            .get(format!("{src}/api/post/{id}"))
            .bearer_auth(SOURCE_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (status, to): (u16, Value) = target.get_post(id, None).await;
        assert_eq!(status, 200, "{id}: {to}");
        for field in ["post", "status", "type", "platforms", "created"] {
            assert_eq!(to[field], from[field], "{id} {field}: {to} vs {from}");
        }
        let net_ids = |v: &Value| -> Vec<(String, String)> {
            v["postIds"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| (p["platform"].to_string(), p["id"].to_string()))
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(net_ids(&to), net_ids(&from), "{id}");
    }
    assert_eq!(
        target.get_post(&ids[1], None).await.1["status"],
        "deleted",
        "deleted posts come too (read with status=deleted)"
    );

    // Again: everything is there already; skipped, not errors.
    let out = run().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imported 0, skipped 8 (already there), failed 0"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));

    // A source that refuses the key: a clear message, a non-zero exit, no key printed.
    let (src, url) = (format!("{src}/api"), target.address.clone());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_postgate"))
            .args(["import", "--from-api", &src, "--url", &url])
            .args([
                "--api-key",
                API_KEY,
                "--source-api-key",
                "not-the-source-key",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the source refused GET /history"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-source-key"), "{stderr}");
    sb.stop().await;
}
