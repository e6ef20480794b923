//! `postgate import FILE`: sends an Ayrshare history export to a running gateway in batches.

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `postgate import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The file: a JSON array, an object with "history" or "posts", or one JSON object per line.
    pub file: PathBuf,
    /// Base URL of the running gateway.
    #[arg(long, env = "POSTGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key of the primary profile.
    #[arg(long, env = "POSTGATE_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// Profile-Key of the user profile to import into (primary profile if absent).
    #[arg(long, env = "POSTGATE_PROFILE_KEY", hide_env_values = true)]
    pub profile_key: Option<String>,
    /// Posts per request (at most 1000).
    #[arg(long, default_value_t = 1000)]
    pub batch: usize,
}

/// Reads the posts of an export file.
pub fn read_posts(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
            return match v {
                Value::Array(items) => Ok(items),
                Value::Object(mut o) => match o.remove("history").or_else(|| o.remove("posts")) {
                    Some(Value::Array(items)) => Ok(items),
                    _ => Ok(vec![Value::Object(o)]),
                },
                _ => Err("the file holds neither an array nor an object".into()),
            };
        }
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", i + 1)))
        .collect()
}

/// Runs the import; the exit code is non-zero if any post was not imported.
pub async fn import(args: ImportArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("postgate import: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let posts = match read_posts(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("postgate import: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let batch = args.batch.clamp(1, 1000);
    let url = format!("{}/api/post/import", args.url.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let bar = ProgressBar::new(posts.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} posts {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut imported, mut failed) = (0u64, 0u64);
    for (n, chunk) in posts.chunks(batch).enumerate() {
        let mut req = client
            .post(&url)
            .bearer_auth(&args.api_key)
            .json(&serde_json::json!({ "posts": chunk }));
        if let Some(pk) = &args.profile_key {
            req = req.header("Profile-Key", pk);
        }
        let answer: Value = match req.send().await {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(e) => {
                bar.abandon();
                eprintln!(
                    "postgate import: the gateway at {} did not answer: {}",
                    args.url,
                    e.without_url()
                );
                return ExitCode::FAILURE;
            }
        };
        let Some(items) = answer.get("posts").and_then(|p| p.as_array()) else {
            bar.abandon();
            eprintln!(
                "postgate import: the gateway refused the batch: {}",
                answer
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("no answer")
            );
            return ExitCode::FAILURE;
        };
        for item in items {
            if item.get("status").and_then(|s| s.as_str()) == Some("success") {
                imported += 1;
            } else {
                failed += 1;
                let index =
                    n * batch + item.get("index").and_then(|i| i.as_u64()).unwrap_or(0) as usize;
                bar.suspend(|| {
                    eprintln!(
                        "post #{index}: {}",
                        item.get("message")
                            .and_then(|m| m.as_str())
                            .unwrap_or("rejected")
                    )
                });
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_with_message("done");
    println!("imported {imported}, failed {failed}");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_all_three_forms() {
        assert_eq!(
            read_posts(r#"[{"post":"a"},{"post":"b"}]"#).unwrap().len(),
            2
        );
        assert_eq!(
            read_posts(r#"{"history":[{"post":"a"}]}"#).unwrap().len(),
            1
        );
        assert_eq!(
            read_posts("{\"post\":\"a\"}\n\n{\"post\":\"b\"}\n")
                .unwrap()
                .len(),
            2
        );
        assert!(read_posts("{\"post\":\"a\"}\nnope").is_err());
    }
}
