//! `postgate import FILE` sends an Ayrshare history export to a running gateway in batches;
//! `postgate import --from-api URL` reads the history straight from Ayrshare's API (or another
//! postgate) and sends it the same way, resumably: posts already in the gateway are skipped.

use crate::import_source::{HistoryReader, HistorySource};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// The gateway's code for an import item whose id exists already (see `api::error::codes`).
const DUPLICATE_ID: u64 = 917;

/// Arguments of `postgate import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The file: a JSON array, an object with "history" or "posts", or one JSON object per line.
    #[arg(required_unless_present = "from_api", conflicts_with = "from_api")]
    pub file: Option<PathBuf>,
    /// Read the posts from this Ayrshare-compatible API instead of a file (its `GET /history`),
    /// e.g. https://api.ayrshare.com/api or another postgate's `http://host:port/api`.
    #[arg(long, value_name = "URL")]
    pub from_api: Option<String>,
    /// Base URL of the running gateway.
    #[arg(long, env = "POSTGATE_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key of the gateway's primary profile; with --from-api also the source's key unless
    /// --source-api-key is given.
    #[arg(long, env = "POSTGATE_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// Profile-Key of the user profile to import into (primary profile if absent); with
    /// --from-api also the source's profile unless --source-profile-key is given.
    #[arg(long, env = "POSTGATE_PROFILE_KEY", hide_env_values = true)]
    pub profile_key: Option<String>,
    /// The source's API key (--from-api), when it differs from --api-key.
    #[arg(long, env = "POSTGATE_SOURCE_API_KEY", hide_env_values = true)]
    pub source_api_key: Option<String>,
    /// The source's Profile-Key (--from-api), when it differs from --profile-key.
    #[arg(long, env = "POSTGATE_SOURCE_PROFILE_KEY", hide_env_values = true)]
    pub source_profile_key: Option<String>,
    /// Posts asked of the source per request (--from-api; Ayrshare allows 1000, older API
    /// versions 500).
    #[arg(long, default_value_t = 500)]
    pub page_size: usize,
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

/// Sends posts to the gateway's `POST /api/post/import` in batches and keeps the counts.
struct Sender {
    client: reqwest::Client,
    url: String,
    gateway: String,
    api_key: String,
    profile_key: Option<String>,
    batch: usize,
    bar: ProgressBar,
    /// Posts sent so far (numbers the posts in messages).
    sent: usize,
    imported: u64,
    /// Already in the gateway (counted only when `skip_duplicates`).
    skipped: u64,
    failed: u64,
    /// Resumable runs count a post whose id is already there as skipped, not failed.
    skip_duplicates: bool,
}

impl Sender {
    fn new(args: &ImportArgs, bar: ProgressBar, skip_duplicates: bool) -> Self {
        Self {
            client: reqwest::Client::new(),
            url: format!("{}/api/post/import", args.url.trim_end_matches('/')),
            gateway: args.url.clone(),
            api_key: args.api_key.clone(),
            profile_key: args.profile_key.clone(),
            batch: args.batch.clamp(1, 1000),
            bar,
            sent: 0,
            imported: 0,
            skipped: 0,
            failed: 0,
            skip_duplicates,
        }
    }

    /// Sends `posts`; `Err` (with the reason) when the gateway did not take a batch at all.
    async fn send(&mut self, posts: &[Value]) -> Result<(), String> {
        for chunk in posts.chunks(self.batch) {
            let mut req = self
                .client
                .post(&self.url)
                .bearer_auth(&self.api_key)
                .json(&serde_json::json!({ "posts": chunk }));
            if let Some(pk) = &self.profile_key {
                req = req.header("Profile-Key", pk);
            }
            let answer: Value = match req.send().await {
                Ok(r) => r.json().await.unwrap_or_default(),
                Err(e) => {
                    return Err(format!(
                        "the gateway at {} did not answer: {}",
                        self.gateway,
                        e.without_url()
                    ))
                }
            };
            let Some(items) = answer.get("posts").and_then(|p| p.as_array()) else {
                return Err(format!(
                    "the gateway refused the batch: {}",
                    answer
                        .get("message")
                        .and_then(|m| m.as_str())
                        .unwrap_or("no answer")
                ));
            };
            for item in items {
                if item.get("status").and_then(|s| s.as_str()) == Some("success") {
                    self.imported += 1;
                } else if self.skip_duplicates
                    && item.get("code").and_then(Value::as_u64) == Some(DUPLICATE_ID)
                {
                    self.skipped += 1;
                } else {
                    self.failed += 1;
                    let index = self.sent
                        + item.get("index").and_then(|i| i.as_u64()).unwrap_or(0) as usize;
                    let id = item
                        .get("id")
                        .and_then(Value::as_str)
                        .map(|id| format!(" ({id})"))
                        .unwrap_or_default();
                    self.bar.suspend(|| {
                        eprintln!(
                            "post #{index}{id}: {}",
                            item.get("message")
                                .and_then(|m| m.as_str())
                                .unwrap_or("rejected")
                        )
                    });
                }
            }
            self.sent += chunk.len();
            self.bar.inc(chunk.len() as u64);
        }
        Ok(())
    }
}

fn bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} posts {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Runs the import; the exit code is non-zero if any post was not imported.
pub async fn import(args: ImportArgs) -> ExitCode {
    match (&args.from_api, &args.file) {
        (Some(source), _) => import_from_api(source.clone(), args).await,
        (None, Some(file)) => import_file(file.clone(), args).await,
        // clap requires one of them.
        (None, None) => ExitCode::from(2),
    }
}

async fn import_file(file: PathBuf, args: ImportArgs) -> ExitCode {
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("postgate import: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let posts = match read_posts(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("postgate import: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let mut sender = Sender::new(&args, bar(posts.len() as u64), false);
    if let Err(e) = sender.send(&posts).await {
        sender.bar.abandon();
        eprintln!("postgate import: {e}");
        return ExitCode::FAILURE;
    }
    sender.bar.finish_with_message("done");
    println!("imported {}, failed {}", sender.imported, sender.failed);
    if sender.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn import_from_api(base_url: String, args: ImportArgs) -> ExitCode {
    let source = HistorySource {
        base_url: base_url.clone(),
        api_key: args
            .source_api_key
            .clone()
            .unwrap_or_else(|| args.api_key.clone()),
        profile_key: args
            .source_profile_key
            .clone()
            .or_else(|| args.profile_key.clone()),
        page_size: args.page_size,
    };
    // The total is unknown until the last page: the bar grows as pages arrive.
    let mut sender = Sender::new(&args, bar(0), true);
    let mut reader = HistoryReader::new(&source);
    let failure = loop {
        let page = match reader.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        };
        sender.bar.inc_length(page.posts.len() as u64);
        sender
            .bar
            .set_message(format!("({} requests to the source)", page.requests));
        if let Err(e) = sender.send(&page.posts).await {
            break Some(e);
        }
    };
    if let Some(e) = failure {
        sender.bar.abandon();
        eprintln!("postgate import: {e}");
        println!(
            "imported {}, skipped {} (already there), failed {} before stopping; run the same command again to resume",
            sender.imported, sender.skipped, sender.failed
        );
        return ExitCode::FAILURE;
    }
    let overfull = reader.overfull();
    sender.bar.finish_with_message("done");
    if overfull > 0 {
        eprintln!(
            "postgate import: {overfull} instant(s) of the source's history held more posts than --page-size {}; some of them were not read: run again with a larger --page-size",
            source.page_size
        );
    }
    println!(
        "read {} posts from {base_url} in {} requests",
        reader.posts_read(),
        reader.requests()
    );
    println!(
        "imported {}, skipped {} (already there), failed {}",
        sender.imported, sender.skipped, sender.failed
    );
    if sender.failed == 0 && overfull == 0 {
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
