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
