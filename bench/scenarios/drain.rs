//! The delete queue's drain rate (#14): 10 accounts (one profile each, one Threads account
//! each) send one queued bulk at once, over a shrunk local quota; the worker finishes the
//! queue window by window. The measured rate is compared with the quota's rate.
//!
//! Its own sandbox (10 accounts, no quotas of its own) and gateway (the shrunk window, a
//! 100 ms worker tick), so the other rows keep their settings. The figure: deletes after the
//! first window divided by the time from the first delete to the last, against
//! `accounts × limit / window`. The first window is answered synchronously; every later one
//! is the worker's. A window's items wake up by the quota's `retry_after`, a whole number of
//! seconds, so each window can start up to ~1 s late: the longer the window, the closer the
//! rate (the full run's 30 s window keeps that under ~3 %).

use crate::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// Accounts draining at once.
const ACCOUNTS: usize = 10;

/// The shrunk quota and the work per account.
struct Shape {
    limit: usize,
    window_secs: u64,
    posts_per_account: usize,
}

impl Shape {
    fn of(plan: &Plan) -> Self {
        if plan.quick {
            Shape {
                limit: 10,
                window_secs: 10,
                posts_per_account: 30,
            }
        } else {
            Shape {
                limit: 50,
                window_secs: 30,
                posts_per_account: 200,
            }
        }
    }

    /// Deletes per second the quota allows over all accounts.
    fn quota_rate(&self) -> f64 {
        (ACCOUNTS * self.limit) as f64 / self.window_secs as f64
    }
}

/// A sandbox of `ACCOUNTS` accounts per network, no network quotas.
async fn start_drain_sandbox(client: &reqwest::Client, dir: &std::path::Path) -> Res<Sandbox> {
    let ports = free_ports(3)?;
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .arg("sandbox")
        .args(["--host", "127.0.0.1"])
        .args(["--accounts", &ACCOUNTS.to_string()])
        .args(["--threads-port", &ports[0].to_string()])
        .args(["--x-port", &ports[1].to_string()])
        .args(["--bluesky-port", &ports[2].to_string()])
        .args(["--threads-delete-limit", "0", "--x-delete-limit", "0"])
        .args(["--threads-post-limit", "0", "--x-post-limit", "0"])
        .args(["--x-read-limit", "0"]);
    let mut proc = Proc::spawn(
        "postgate sandbox (drain)",
        cmd,
        dir.join("sandbox-drain.log"),
    )?;
    let threads_root = format!("http://127.0.0.1:{}", ports[0]);
    let x_url = format!("http://127.0.0.1:{}", ports[1]);
    let bluesky_url = format!("http://127.0.0.1:{}", ports[2]);
    for url in [&threads_root, &x_url, &bluesky_url] {
        wait_ready(client, &format!("{url}/__sandbox/stats"), &mut proc).await?;
    }
    Ok(Sandbox {
        proc,
        threads_url: format!("{threads_root}/v1.0"),
        threads_root,
        x_url,
        bluesky_url,
    })
}

/// Threads deletes the sandbox has counted.
async fn threads_deleted(client: &reqwest::Client, sandbox: &Sandbox) -> Res<u64> {
    let v: Value = client
        .get(format!("{}/__sandbox/stats", sandbox.threads_root))
        .send()
        .await?
        .json()
        .await?;
    Ok(v["deleted"].as_u64().unwrap_or(0))
}

/// One profile per account, its Threads account linked and `n` of its posts imported: the
/// profile key and the post ids.
async fn prepare_account(
    client: &reqwest::Client,
    sandbox: &Sandbox,
    gw: &Gateway,
    k: usize,
    n: usize,
) -> Res<(String, Vec<String>)> {
    let v: Value = auth(client.post(format!("{}/api/profiles/profile", gw.base)))
        .json(&json!({ "title": format!("drain {k}") }))
        .send()
        .await?
        .json()
        .await?;
    let Some(key) = v["profileKey"].as_str().map(str::to_owned) else {
        return fail(format!("creating a profile answered {v}"));
    };
    // Sandbox account k (1-based): user id + k-1, token `-k` from the second on.
    let user_id = (THREADS_USER.parse::<u64>()? + k as u64 - 1).to_string();
    let token = if k == 1 {
        THREADS_TOKEN.to_owned()
    } else {
        format!("{THREADS_TOKEN}-{k}")
    };
    let r = auth(client.post(format!("{}/api/profiles/social", gw.base)))
        .header("Profile-Key", &key)
        .json(&json!({"platform": "threads", "userId": user_id, "accessToken": token}))
        .send()
        .await?;
    if !r.status().is_success() {
        return fail(format!("linking account {k}: {}", r.text().await?));
    }
    let v: Value = client
        .post(format!(
            "{}/__sandbox/seed?count={n}&user_id={user_id}",
            sandbox.threads_root
        ))
        .send()
        .await?
        .json()
        .await?;
    let media: Vec<&str> = v["ids"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let posts: Vec<Value> = media
        .iter()
        .map(|m| json!({"post": "drain", "postIds": [{"platform": "threads", "id": m}]}))
        .collect();
    let v: Value = auth(client.post(format!("{}/api/post/import", gw.base)))
        .header("Profile-Key", &key)
        .json(&json!({ "posts": posts }))
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<String> = v["posts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if ids.len() != n {
        return fail(format!("account {k}: imported {} of {n} posts", ids.len()));
    }
    Ok((key, ids))
}

pub(crate) async fn drain(
    plan: &Plan,
    client: &reqwest::Client,
    dir: &std::path::Path,
    rows: &mut Vec<Row>,
) -> Res<()> {
    let shape = Shape::of(plan);
    let n = shape.posts_per_account;
    let total = (ACCOUNTS * n) as u64;
    progress(&format!(
        "drain: {ACCOUNTS} accounts x {n} queued deletes, quota {} per {} s each",
        shape.limit, shape.window_secs
    ));
    let sandbox = start_drain_sandbox(client, dir).await?;
    let (limit, window) = (shape.limit.to_string(), shape.window_secs.to_string());
    let mut gw = start_gateway_with(
        client,
        dir,
        &dir.join("store-drain"),
        &sandbox,
        "gateway-drain.log",
        &[
            ("POSTGATE__THREADS__DELETE_LIMIT", limit.as_str()),
            ("POSTGATE__THREADS__DELETE_WINDOW_SECS", window.as_str()),
            ("POSTGATE__DELETE__QUEUE_TICK_MS", "100"),
            ("POSTGATE__DELETE__QUEUE_CONCURRENCY", "16"),
        ],
    )
    .await?;
    let mut accounts = Vec::with_capacity(ACCOUNTS);
    for k in 1..=ACCOUNTS {
        accounts.push(prepare_account(client, &sandbox, &gw, k, n).await?);
    }

    // Every account's bulk at once; then the sandbox's count, sampled every 20 ms.
    let before = threads_deleted(client, &sandbox).await?;
    let t0 = Instant::now();
    let bulks = accounts.iter().map(|(key, ids)| {
        auth(client.delete(format!("{}/api/post", gw.base)))
            .header("Profile-Key", key)
            .json(&json!({ "bulk": ids, "queue": true }))
            .send()
    });
    let mut queued = 0;
    for r in futures::future::join_all(bulks).await {
        let v: Value = r?.json().await?;
        queued += v["queuedCount"].as_u64().unwrap_or(0);
    }
    let answered = t0.elapsed();
    let deadline =
        Duration::from_secs(shape.window_secs * (n.div_ceil(shape.limit) as u64 + 3) + 30);
    let mut samples: Vec<(Duration, u64)> = Vec::new();
    let mut last = 0;
    while last < total {
        if t0.elapsed() > deadline {
            return fail(format!(
                "drain: {last} of {total} deleted after {:.0} s",
                t0.elapsed().as_secs_f64()
            ));
        }
        let done = threads_deleted(client, &sandbox).await? - before;
        if done != last {
            samples.push((t0.elapsed(), done));
            last = done;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.proc.check_alive()?;

    let first = samples.first().map(|s| s.0).unwrap_or_default();
    let end = samples.last().map(|s| s.0).unwrap_or_default();
    let first_window = (ACCOUNTS * shape.limit.min(n)) as u64;
    let drained = total.saturating_sub(first_window);
    let span = end.saturating_sub(first);
    let rate = drained as f64 / span.as_secs_f64().max(1e-3);
    let ideal = shape.quota_rate();
    rows.push(Row {
        bench: "queued delete drain".into(),
        case: format!(
            "{ACCOUNTS} accounts x {n} posts, {} per {} s each",
            shape.limit, shape.window_secs
        ),
        requests: ACCOUNTS.to_string(),
        time: secs(end),
        rate: format!("{rate:.2} deletes/s"),
        note: format!(
            "quota rate {ideal:.2}/s: drain at {:.1} % of it (target within 5 %); {queued} queued, first window ({first_window}) answered in {:.2} s; {drained} deletes after it over {:.2} s",
            100.0 * rate / ideal,
            answered.as_secs_f64(),
            span.as_secs_f64(),
        ),
        ..Row::default()
    });
    gw.proc.terminate(Duration::from_secs(30));
    drop(sandbox);
    Ok(())
}
