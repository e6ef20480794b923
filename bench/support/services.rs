//! The two children the benchmark drives: `postgate sandbox` and `postgate serve`.

use crate::*;
use postgate_sandbox::{SandboxAddrs, SandboxOptions};
use serde_json::json;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub(crate) struct Sandbox {
    pub(crate) proc: Proc,
    /// Threads base URL with `/v1.0`.
    pub(crate) threads_url: String,
    /// Threads server root (where `/__sandbox/*` lives).
    pub(crate) threads_root: String,
    pub(crate) x_url: String,
    pub(crate) bluesky_url: String,
}

pub(crate) async fn start_sandbox(client: &reqwest::Client, dir: &Path) -> Res<Sandbox> {
    let ports = free_ports(3)?;
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .arg("sandbox")
        .args(["--host", "127.0.0.1"])
        .args(["--threads-port", &ports[0].to_string()])
        .args(["--x-port", &ports[1].to_string()])
        .args(["--bluesky-port", &ports[2].to_string()])
        .args(["--threads-delete-limit", "0", "--x-delete-limit", "0"])
        .args(["--threads-post-limit", "0", "--x-post-limit", "0"])
        .args(["--x-read-limit", "0"]);
    let mut proc = Proc::spawn("postgate sandbox", cmd, dir.join("sandbox.log"))?;
    let threads_root = format!("http://127.0.0.1:{}", ports[0]);
    let x_url = format!("http://127.0.0.1:{}", ports[1]);
    let bluesky_url = format!("http://127.0.0.1:{}", ports[2]);
    wait_ready(
        client,
        &format!("{threads_root}/__sandbox/stats"),
        &mut proc,
    )
    .await?;
    wait_ready(client, &format!("{x_url}/__sandbox/stats"), &mut proc).await?;
    wait_ready(client, &format!("{bluesky_url}/__sandbox/stats"), &mut proc).await?;
    Ok(Sandbox {
        proc,
        threads_url: format!("{threads_root}/v1.0"),
        threads_root,
        x_url,
        bluesky_url,
    })
}

impl Sandbox {
    /// Where the child sandbox answers; its X app is the command line's default one.
    pub(crate) fn addrs(&self) -> SandboxAddrs {
        SandboxAddrs {
            threads_url: self.threads_url.clone(),
            x_url: self.x_url.clone(),
            bluesky_url: self.bluesky_url.clone(),
            x_app: SandboxOptions::default().accounts().x_app,
        }
    }

    pub(crate) async fn set_latency(&self, client: &reqwest::Client, ms: u64) -> Res<()> {
        for root in [&self.threads_root, &self.x_url] {
            let r = client
                .put(format!("{root}/__sandbox/faults"))
                .json(&json!({ "latency_ms": ms }))
                .send()
                .await?;
            if !r.status().is_success() {
                return fail(format!("setting sandbox faults: {}", r.text().await?));
            }
        }
        Ok(())
    }

    /// Creates `n` live posts on each network; returns (Threads id, X id) pairs.
    pub(crate) async fn seed(
        &self,
        client: &reqwest::Client,
        n: usize,
    ) -> Res<Vec<(String, String)>> {
        let mut ids = [Vec::with_capacity(n), Vec::with_capacity(n)];
        for (k, root) in [&self.threads_root, &self.x_url].into_iter().enumerate() {
            while ids[k].len() < n {
                let count = (n - ids[k].len()).min(100_000);
                let r = client
                    .post(format!("{root}/__sandbox/seed?count={count}"))
                    .send()
                    .await?;
                let v: Value = r.json().await?;
                let got = v["ids"]
                    .as_array()
                    .ok_or_else(|| format!("sandbox seed answered {v}"))?;
                ids[k].extend(got.iter().filter_map(|i| i.as_str().map(str::to_owned)));
            }
        }
        let [t, x] = ids;
        Ok(t.into_iter().zip(x).collect())
    }

    /// Total posts deleted on both networks so far.
    pub(crate) async fn deleted(&self, client: &reqwest::Client) -> Res<u64> {
        let mut total = 0;
        for root in [&self.threads_root, &self.x_url] {
            let v: Value = client
                .get(format!("{root}/__sandbox/stats"))
                .send()
                .await?
                .json()
                .await?;
            total += v["deleted"].as_u64().unwrap_or(0);
        }
        Ok(total)
    }
}

pub(crate) struct Gateway {
    pub(crate) proc: Proc,
    pub(crate) base: String,
    /// From spawn to the first `/health` 200.
    pub(crate) ready_after: Duration,
}

pub(crate) async fn start_gateway(
    client: &reqwest::Client,
    dir: &Path,
    store: &Path,
    sandbox: &Sandbox,
    log_name: &str,
) -> Res<Gateway> {
    start_gateway_with(client, dir, store, sandbox, log_name, &[]).await
}

/// [`start_gateway`] with more settings (e.g. the PostgreSQL store), as variables.
pub(crate) async fn start_gateway_with(
    client: &reqwest::Client,
    dir: &Path,
    store: &Path,
    sandbox: &Sandbox,
    log_name: &str,
    extra: &[(&str, &str)],
) -> Res<Gateway> {
    let port = free_ports(1)?[0];
    let mut cmd = Command::new(BIN);
    // The cwd has no settings.toml: built-in defaults plus these variables.
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("POSTGATE__LOG__LEVEL", "warn")
        .env("POSTGATE__SERVER__HOST", "127.0.0.1")
        .env("POSTGATE__SERVER__PORT", port.to_string())
        .env("POSTGATE__STORE__PATH", store)
        .env("POSTGATE__AUTH__API_KEYS", API_KEY)
        .envs(sandbox.addrs().gateway_env())
        .env(
            "POSTGATE__DELETE__BULK_CONCURRENCY",
            BULK_CONCURRENCY.to_string(),
        )
        .env("POSTGATE__THREADS__DELETE_LIMIT", DELETE_LIMIT.to_string())
        .env("POSTGATE__X__DELETE_LIMIT", DELETE_LIMIT.to_string())
        .env(
            "POSTGATE__THREADS__MAX_IN_FLIGHT",
            MAX_IN_FLIGHT.to_string(),
        )
        .env("POSTGATE__X__MAX_IN_FLIGHT", MAX_IN_FLIGHT.to_string())
        .envs(extra.iter().copied())
        .arg("serve");
    let mut proc = Proc::spawn("postgate serve", cmd, dir.join(log_name))?;
    let base = format!("http://127.0.0.1:{port}");
    let ready_after = wait_ready(client, &format!("{base}/health"), &mut proc).await?;
    Ok(Gateway {
        proc,
        base,
        ready_after,
    })
}
