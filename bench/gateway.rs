//! postgate benchmarks: `cargo bench --bench gateway` (add `-- --quick` or `BENCH_QUICK=1`
//! for a smoke run). See `bench/README.md` for what is measured and the last results.
//!
//! The sandbox (`postgate sandbox`) and the gateway (`postgate serve`) run as child processes
//! on free loopback ports with temporary store directories, so the gateway's peak RSS is its
//! own. Load comes from reqwest clients on this process's tokio runtime. Every row is bounded
//! by a fixed request count and a duration; nothing here asserts on timings.

use futures::StreamExt;
use postgate::networks::{sign_oauth1, ConsumerCredentials};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::fs::File;
use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_postgate");
const API_KEY: &str = "bench-api-key-0123456789";
/// Sandbox account 1 (the `postgate sandbox` defaults).
const THREADS_USER: &str = "17841400000000001";
const THREADS_TOKEN: &str = "sandbox-threads-token";
const X_USER: &str = "1700000000000000001";
const X_TOKEN: &str = "sandbox-x-token";
const X_TOKEN_SECRET: &str = "sandbox-x-token-secret";
const X_CONSUMER_KEY: &str = "sandbox-x-consumer-key";
const X_CONSUMER_SECRET: &str = "sandbox-x-consumer-secret";
/// Network latency of the "slow" runs and of the bulk comparison.
const SLOW_MS: u64 = 50;
/// The gateway's default `delete.bulk_concurrency`.
const BULK_CONCURRENCY: usize = 25;
/// `threads.max_in_flight` / `x.max_in_flight` during the benchmarks (default 32).
const MAX_IN_FLIGHT: usize = 1024;
/// Delete quotas: 0 switches postgate's local count off (the sandbox's are off too).
const DELETE_LIMIT: u32 = 0;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(msg.into().into())
}

/// Sizes of one run.
struct Plan {
    quick: bool,
    /// Longest time of one single-id delete row.
    row_time: Duration,
    /// Most posts prepared for one single-id delete row.
    row_cap: usize,
    bulk_posts: usize,
    sequential_posts: usize,
    store_posts: usize,
    import_clients: usize,
}

impl Plan {
    fn from_env() -> Self {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        if quick {
            Plan {
                quick,
                row_time: Duration::from_secs(1),
                row_cap: 2_000,
                bulk_posts: 100,
                sequential_posts: 100,
                store_posts: 20_000,
                import_clients: 4,
            }
        } else {
            Plan {
                quick,
                row_time: Duration::from_secs(5),
                row_cap: 20_000,
                bulk_posts: 1_000,
                sequential_posts: 1_000,
                store_posts: 1_000_000,
                import_clients: 4,
            }
        }
    }

    /// Posts to prepare for a row: enough for `row_time` at the best rate the latency
    /// allows, at most `row_cap`.
    fn row_posts(&self, clients: usize, latency_ms: u64) -> usize {
        let per_client = 1000.0 / (latency_ms as f64 + 0.25);
        let n = (clients as f64 * per_client * self.row_time.as_secs_f64() * 1.2).ceil() as usize;
        n.clamp(50, self.row_cap)
    }
}

// ---------------------------------------------------------------------------------------
// Child processes

/// A child process, killed (and reaped) when dropped — also on panic.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Res<Self> {
        let out = File::create(&log)?;
        let err = out.try_clone()?;
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({BIN}): {e}"))?;
        Ok(Self { name, child, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A line of `/proc/<pid>/status`, in KiB.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with(field))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// CPU time used so far, (user, system), in seconds.
    fn cpu_secs(&self) -> (f64, f64) {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())) else {
            return (0.0, 0.0);
        };
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return (0.0, 0.0);
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        (
            ticks(11) as f64 / clock_ticks(),
            ticks(12) as f64 / clock_ticks(),
        )
    }

    /// Peak resident set size (VmHWM), in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM:")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn check_alive(&mut self) -> Res<()> {
        if let Some(status) = self.child.try_wait()? {
            return fail(format!(
                "{} exited ({status}); its output:\n{}",
                self.name,
                self.log_tail()
            ));
        }
        Ok(())
    }

    /// SIGTERM, then waits up to `grace` for a clean exit (sled flushes on drop), else SIGKILL.
    fn terminate(&mut self, grace: Duration) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "bench: {} did not stop within {grace:?}; killing it",
            self.name
        );
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, usually 100).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// CPU milliseconds per request of both processes over a run.
struct CpuMeter {
    gateway: (f64, f64),
    sandbox: (f64, f64),
}

impl CpuMeter {
    fn start(gw: Option<&Gateway>, sandbox: &Sandbox) -> Self {
        Self {
            gateway: gw.map_or((0.0, 0.0), |g| g.proc.cpu_secs()),
            sandbox: sandbox.proc.cpu_secs(),
        }
    }

    fn note(&self, gw: Option<&Gateway>, sandbox: &Sandbox, requests: usize, unit: &str) -> String {
        let per = |now: f64, then: f64| (now - then) * 1000.0 / requests.max(1) as f64;
        let (u, s) = sandbox.proc.cpu_secs();
        let sb = per(u + s, self.sandbox.0 + self.sandbox.1);
        match gw {
            Some(g) => {
                let (u, s) = g.proc.cpu_secs();
                format!(
                    "CPU per {unit}: gateway {:.2} ms ({:.2} sys), sandbox {sb:.2} ms",
                    per(u + s, self.gateway.0 + self.gateway.1),
                    per(s, self.gateway.1)
                )
            }
            None => format!("CPU per {unit}: sandbox {sb:.2} ms"),
        }
    }
}

/// Free loopback ports (all bound at once so they differ).
fn free_ports(n: usize) -> Res<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()?)
}

/// Polls `url` until it answers 200; fails if `proc` exits or 60 s pass.
async fn wait_ready(client: &reqwest::Client, url: &str, proc: &mut Proc) -> Res<Duration> {
    let start = Instant::now();
    loop {
        proc.check_alive()?;
        if let Ok(r) = client.get(url).send().await {
            if r.status() == reqwest::StatusCode::OK {
                return Ok(start.elapsed());
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            return fail(format!(
                "{} not ready at {url} after 60 s; its output:\n{}",
                proc.name,
                proc.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

struct Sandbox {
    proc: Proc,
    /// Threads base URL with `/v1.0`.
    threads_url: String,
    /// Threads server root (where `/__sandbox/*` lives).
    threads_root: String,
    x_url: String,
}

async fn start_sandbox(client: &reqwest::Client, dir: &Path) -> Res<Sandbox> {
    let ports = free_ports(2)?;
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .arg("sandbox")
        .args(["--host", "127.0.0.1"])
        .args(["--threads-port", &ports[0].to_string()])
        .args(["--x-port", &ports[1].to_string()])
        .args(["--threads-delete-limit", "0", "--x-delete-limit", "0"])
        .args(["--threads-post-limit", "0", "--x-post-limit", "0"])
        .args(["--x-read-limit", "0"]);
    let mut proc = Proc::spawn("postgate sandbox", cmd, dir.join("sandbox.log"))?;
    let threads_root = format!("http://127.0.0.1:{}", ports[0]);
    let x_url = format!("http://127.0.0.1:{}", ports[1]);
    wait_ready(
        client,
        &format!("{threads_root}/__sandbox/stats"),
        &mut proc,
    )
    .await?;
    wait_ready(client, &format!("{x_url}/__sandbox/stats"), &mut proc).await?;
    Ok(Sandbox {
        proc,
        threads_url: format!("{threads_root}/v1.0"),
        threads_root,
        x_url,
    })
}

impl Sandbox {
    async fn set_latency(&self, client: &reqwest::Client, ms: u64) -> Res<()> {
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
    async fn seed(&self, client: &reqwest::Client, n: usize) -> Res<Vec<(String, String)>> {
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
    async fn deleted(&self, client: &reqwest::Client) -> Res<u64> {
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

struct Gateway {
    proc: Proc,
    base: String,
    /// From spawn to the first `/health` 200.
    ready_after: Duration,
}

async fn start_gateway(
    client: &reqwest::Client,
    dir: &Path,
    store: &Path,
    sandbox: &Sandbox,
    log_name: &str,
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
        .env("POSTGATE__THREADS__BASE_URL", &sandbox.threads_url)
        .env("POSTGATE__X__BASE_URL", &sandbox.x_url)
        .env("POSTGATE__X__CONSUMER_KEY", X_CONSUMER_KEY)
        .env("POSTGATE__X__CONSUMER_SECRET", X_CONSUMER_SECRET)
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

// ---------------------------------------------------------------------------------------
// Gateway API

fn auth(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.header("Authorization", format!("Bearer {API_KEY}"))
}

async fn link_accounts(client: &reqwest::Client, gw: &Gateway) -> Res<()> {
    for body in [
        json!({"platform": "threads", "userId": THREADS_USER, "accessToken": THREADS_TOKEN}),
        json!({"platform": "twitter", "userId": X_USER, "accessToken": X_TOKEN,
               "accessTokenSecret": X_TOKEN_SECRET}),
    ] {
        let r = auth(client.post(format!("{}/api/profiles/social", gw.base)))
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            return fail(format!("linking {}: {}", body["platform"], r.text().await?));
        }
    }
    Ok(())
}

/// Imports one batch of (Threads id, X id) posts; returns the gateway's post ids in order.
async fn import_batch(
    client: &reqwest::Client,
    base: &str,
    batch: &[(String, String)],
) -> Res<Vec<String>> {
    let posts: Vec<Value> = batch
        .iter()
        .map(|(t, x)| {
            json!({"post": "postgate bench post", "postIds": [
                {"platform": "threads", "id": t},
                {"platform": "twitter", "id": x},
            ]})
        })
        .collect();
    let r = auth(client.post(format!("{base}/api/post/import")))
        .json(&json!({ "posts": posts }))
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    if !status.is_success() {
        return fail(format!(
            "import answered {status}: {}",
            v.to_string().chars().take(400).collect::<String>()
        ));
    }
    let ids: Vec<String> = v["posts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| p["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if ids.len() != batch.len() {
        return fail(format!(
            "import returned {} ids for {} posts",
            ids.len(),
            batch.len()
        ));
    }
    Ok(ids)
}

/// Imports posts in batches of 1,000 with a few concurrent clients; ids in order.
async fn import_all(
    client: &reqwest::Client,
    base: &str,
    pairs: &[(String, String)],
) -> Res<Vec<String>> {
    let batches: Vec<Res<Vec<String>>> = futures::stream::iter(pairs.chunks(1000))
        .map(|b| import_batch(client, base, b))
        .buffered(4)
        .collect()
        .await;
    let mut ids = Vec::with_capacity(pairs.len());
    for b in batches {
        ids.extend(b?);
    }
    Ok(ids)
}

/// Seeds `n` posts on both networks and imports them: the gateway's post ids.
async fn prepare_posts(
    client: &reqwest::Client,
    sandbox: &Sandbox,
    gw: &Gateway,
    n: usize,
) -> Res<Vec<String>> {
    let pairs = sandbox.seed(client, n).await?;
    import_all(client, &gw.base, &pairs).await
}

/// One `DELETE /api/post {"id"}`; true if the gateway answered 200 (every platform deleted).
async fn delete_one(client: reqwest::Client, url: Arc<String>, id: String) -> bool {
    let r = auth(client.delete(url.as_str()))
        .json(&json!({ "id": id }))
        .send()
        .await;
    match r {
        Ok(r) => {
            let ok = r.status() == reqwest::StatusCode::OK;
            let body = r.bytes().await;
            if !ok {
                report_error(&format!(
                    "gateway delete: {}",
                    body.as_ref()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default()
                ));
            }
            ok && body.is_ok()
        }
        Err(e) => {
            report_error(&format!("gateway delete: {e}"));
            false
        }
    }
}

static ERRORS_SHOWN: AtomicUsize = AtomicUsize::new(0);

/// Prints the first few failures (there should be none).
fn report_error(msg: &str) {
    if ERRORS_SHOWN.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!(
            "bench: request failed: {}",
            msg.chars().take(500).collect::<String>()
        );
    }
}

/// The same delete done directly at the sandbox: Threads and X concurrently.
async fn delete_direct(
    client: reqwest::Client,
    sandbox: Arc<(String, String)>,
    ids: (String, String),
) -> bool {
    let (threads_url, x_url) = &*sandbox;
    let threads = async {
        client
            .delete(format!("{threads_url}/{}", ids.0))
            .query(&[("access_token", THREADS_TOKEN)])
            .send()
            .await
    };
    let x = async {
        let url = format!("{x_url}/2/tweets/{}", ids.1);
        let consumer = ConsumerCredentials {
            key: X_CONSUMER_KEY.to_owned(),
            secret: X_CONSUMER_SECRET.to_owned(),
        };
        let authorization = sign_oauth1("DELETE", &url, &consumer, X_TOKEN, X_TOKEN_SECRET);
        client
            .delete(&url)
            .header("Authorization", authorization)
            .send()
            .await
    };
    let (t, x) = tokio::join!(threads, x);
    let mut ok = true;
    for (name, r) in [("Threads", t), ("X", x)] {
        match r {
            Ok(r) => {
                let status = r.status();
                let body = r.bytes().await.unwrap_or_default();
                if !status.is_success() {
                    report_error(&format!(
                        "direct {name} delete {status}: {}",
                        String::from_utf8_lossy(&body)
                    ));
                    ok = false;
                }
            }
            Err(e) => {
                report_error(&format!("direct {name} delete: {e}"));
                ok = false;
            }
        }
    }
    ok
}

// ---------------------------------------------------------------------------------------
// Load and statistics

struct Load {
    /// Per-request durations, sorted.
    times: Vec<Duration>,
    failed: usize,
    elapsed: Duration,
}

impl Load {
    fn count(&self) -> usize {
        self.times.len()
    }
    fn rate(&self) -> f64 {
        self.count() as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> Duration {
        percentile(&self.times, p)
    }
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `op` over `items` with `clients` concurrent clients until the items run out or
/// `limit` has passed (requests in flight then finish).
async fn run_load<T, F, Fut>(items: Vec<T>, clients: usize, limit: Duration, op: F) -> Load
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (items, next, op) = (items.clone(), next.clone(), op.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut failed = 0;
                while start.elapsed() < limit {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let t0 = Instant::now();
                    if !op(item.clone()).await {
                        failed += 1;
                    }
                    times.push(t0.elapsed());
                }
                (times, failed)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (t, f) = w.await.expect("load worker panicked");
        times.extend(t);
        failed += f;
    }
    let elapsed = start.elapsed();
    times.sort();
    Load {
        times,
        failed,
        elapsed,
    }
}

// ---------------------------------------------------------------------------------------
// Report

#[derive(Default)]
struct Row {
    bench: String,
    case: String,
    requests: String,
    time: String,
    rate: String,
    p50: String,
    p99: String,
    note: String,
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|k| format!("{:.1} MiB", k as f64 / 1024.0))
        .unwrap_or_else(|| "n/a".into())
}

fn load_row(bench: &str, case: String, load: &Load, note: String) -> Row {
    let mut note = note;
    if load.failed > 0 {
        if !note.is_empty() {
            note.push_str("; ");
        }
        let _ = write!(note, "{} FAILED requests", load.failed);
    }
    Row {
        bench: bench.into(),
        case,
        requests: load.count().to_string(),
        time: secs(load.elapsed),
        rate: format!("{:.0}", load.rate()),
        p50: ms(load.pct(50.0)),
        p99: ms(load.pct(99.0)),
        note,
    }
}

fn table(rows: &[Row]) -> String {
    let header = [
        "benchmark",
        "case",
        "requests",
        "time s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "notes",
    ];
    let cells: Vec<[&str; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.bench.as_str(),
                r.case.as_str(),
                r.requests.as_str(),
                r.time.as_str(),
                r.rate.as_str(),
                r.p50.as_str(),
                r.p99.as_str(),
                r.note.as_str(),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[&str; 8]| {
        let mut s = String::from("|");
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            // Numbers right-aligned, text left-aligned.
            if (2..=6).contains(&i) {
                let _ = write!(s, " {}{} |", " ".repeat(pad), c);
            } else {
                let _ = write!(s, " {}{} |", c, " ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header);
    out.push('|');
    for (i, w) in width.iter().enumerate() {
        let dashes = "-".repeat(*w);
        if (2..=6).contains(&i) {
            let _ = write!(out, " {dashes}:|");
        } else {
            let _ = write!(out, " {dashes} |");
        }
    }
    out.push('\n');
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|k| format!("{:.1} GiB", k / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    format!("{cores} cores (nproc), {cpu}, {mem} RAM, Linux {kernel}")
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

// ---------------------------------------------------------------------------------------
// The runs

fn progress(msg: &str) {
    eprintln!("bench: {msg}");
}

async fn single_deletes(
    plan: &Plan,
    client: &reqwest::Client,
    sandbox: &Sandbox,
    gw: &Gateway,
    rows: &mut Vec<Row>,
) -> Res<()> {
    let url = Arc::new(format!("{}/api/post", gw.base));
    let direct_urls = Arc::new((sandbox.threads_url.clone(), sandbox.x_url.clone()));

    // Warm-up (not recorded): connections, caches, the first sled segments.
    sandbox.set_latency(client, 0).await?;
    let warm = prepare_posts(client, sandbox, gw, 500).await?;
    let (c, u) = (client.clone(), url.clone());
    run_load(warm, 25, Duration::from_secs(10), move |id| {
        delete_one(c.clone(), u.clone(), id)
    })
    .await;

    for latency in [0, SLOW_MS] {
        sandbox.set_latency(client, latency).await?;
        let mut gateway_c1_p50 = Duration::ZERO;
        for clients in [1, 50, 200] {
            let n = plan.row_posts(clients, latency);
            progress(&format!(
                "single-id delete, {latency} ms, {clients} client(s): preparing {n} posts"
            ));
            let ids = prepare_posts(client, sandbox, gw, n).await?;
            let (c, u) = (client.clone(), url.clone());
            let cpu = CpuMeter::start(Some(gw), sandbox);
            let load = run_load(ids, clients, plan.row_time, move |id| {
                delete_one(c.clone(), u.clone(), id)
            })
            .await;
            if clients == 1 {
                gateway_c1_p50 = load.pct(50.0);
            }
            rows.push(load_row(
                "single-id delete via gateway",
                format!(
                    "sandbox {latency} ms, {clients} client{}",
                    if clients == 1 { "" } else { "s" }
                ),
                &load,
                cpu.note(Some(gw), sandbox, load.count(), "request"),
            ));
        }

        // The same deletes straight at the sandbox, one client.
        let n = plan.row_posts(1, latency);
        progress(&format!(
            "direct delete at the sandbox, {latency} ms: {n} posts"
        ));
        let pairs = sandbox.seed(client, n).await?;
        let (c, d) = (client.clone(), direct_urls.clone());
        let cpu = CpuMeter::start(None, sandbox);
        let load = run_load(pairs, 1, plan.row_time, move |ids| {
            delete_direct(c.clone(), d.clone(), ids)
        })
        .await;
        let direct_p50 = load.pct(50.0);
        rows.push(load_row(
            "direct delete at sandbox",
            format!("sandbox {latency} ms, 1 client"),
            &load,
            format!(
                "Threads + X calls concurrently, X signed; {}",
                cpu.note(None, sandbox, load.count(), "request")
            ),
        ));
        let added = gateway_c1_p50.as_secs_f64() - direct_p50.as_secs_f64();
        rows.push(Row {
            bench: "added latency of the gateway".into(),
            case: format!("sandbox {latency} ms, 1 client"),
            p50: format!("{:.2}", added * 1000.0),
            note: format!(
                "gateway p50 {} ms - direct p50 {} ms",
                ms(gateway_c1_p50),
                ms(direct_p50)
            ),
            ..Row::default()
        });
    }
    Ok(())
}

async fn bulk(
    plan: &Plan,
    client: &reqwest::Client,
    sandbox: &Sandbox,
    gw: &Gateway,
    rows: &mut Vec<Row>,
) -> Res<()> {
    sandbox.set_latency(client, SLOW_MS).await?;
    let n = plan.bulk_posts;
    progress(&format!("bulk: {n} posts x 2 networks at {SLOW_MS} ms"));
    let ids = prepare_posts(client, sandbox, gw, n).await?;
    let before = sandbox.deleted(client).await?;
    let cpu = CpuMeter::start(Some(gw), sandbox);
    let t0 = Instant::now();
    let r = auth(client.delete(format!("{}/api/post", gw.base)))
        .json(&json!({ "bulk": ids }))
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    let took = t0.elapsed();
    let cpu_note = cpu.note(Some(gw), sandbox, n, "post");
    let after = sandbox.deleted(client).await?;
    let posts = v["posts"].as_array().cloned().unwrap_or_default();
    let ok_posts = posts.iter().filter(|p| p["status"] == "success").count();
    let ok_platforms = posts
        .iter()
        .map(|p| {
            ["threads", "twitter"]
                .iter()
                .filter(|k| p[**k]["status"] == "success")
                .count()
        })
        .sum::<usize>();
    if !status.is_success() {
        report_error(&format!(
            "bulk answered {status}: {}",
            v.to_string().chars().take(500).collect::<String>()
        ));
    }
    rows.push(Row {
        bench: "bulk delete, one request".into(),
        case: format!("{n} posts x 2, {SLOW_MS} ms, concurrency {BULK_CONCURRENCY}"),
        requests: "1".into(),
        time: secs(took),
        rate: format!("{:.0} posts/s", n as f64 / took.as_secs_f64()),
        note: format!(
            "HTTP {}; {ok_posts}/{n} posts and {ok_platforms}/{} platform deletes reported; sandbox counted {}; {cpu_note}",
            status.as_u16(),
            2 * n,
            after - before
        ),
        ..Row::default()
    });
    let bound = Duration::from_millis(n.div_ceil(BULK_CONCURRENCY) as u64 * SLOW_MS);
    rows.push(Row {
        bench: "bulk lower bound".into(),
        case: format!("ceil({n}/{BULK_CONCURRENCY}) x {SLOW_MS} ms"),
        time: secs(bound),
        rate: format!("{:.0} posts/s", n as f64 / bound.as_secs_f64()),
        note: format!(
            "bulk took {:.2}x the bound",
            took.as_secs_f64() / bound.as_secs_f64()
        ),
        ..Row::default()
    });

    let n = plan.sequential_posts;
    progress(&format!(
        "sequential loop: {n} posts, one id per request, at {SLOW_MS} ms"
    ));
    let ids = prepare_posts(client, sandbox, gw, n).await?;
    let url = Arc::new(format!("{}/api/post", gw.base));
    let c = client.clone();
    let cpu = CpuMeter::start(Some(gw), sandbox);
    // One client, no time limit: the whole loop is the measurement.
    let load = run_load(ids, 1, Duration::from_secs(3600), move |id| {
        delete_one(c.clone(), url.clone(), id)
    })
    .await;
    rows.push(load_row(
        "sequential client loop",
        format!("{n} posts x 2, {SLOW_MS} ms, 1 id per request"),
        &load,
        format!(
            "{:.1}x the bulk request's time; {}",
            load.elapsed.as_secs_f64() / took.as_secs_f64(),
            cpu.note(Some(gw), sandbox, load.count(), "request")
        ),
    ));
    Ok(())
}

async fn store_scale(
    plan: &Plan,
    client: &reqwest::Client,
    sandbox: &Sandbox,
    dir: &Path,
    rows: &mut Vec<Row>,
) -> Res<()> {
    let n = plan.store_posts;
    let store = dir.join("big-store");
    let mut gw = start_gateway(client, dir, &store, sandbox, "gateway-import.log").await?;
    progress(&format!(
        "store: importing {n} posts (2 networks each) through the API, {} clients, batches of 1000",
        plan.import_clients
    ));
    let batches = n.div_ceil(1000);
    let done = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let results: Vec<Res<usize>> = futures::stream::iter(0..batches)
        .map(|b| {
            let done = done.clone();
            let base = gw.base.clone();
            async move {
                let lo = b * 1000;
                let hi = (lo + 1000).min(n);
                // Ids that need not exist at the networks: nothing is deleted here.
                let pairs: Vec<(String, String)> = (lo..hi)
                    .map(|i| {
                        (
                            (18_000_000_000_000_000u64 + i as u64).to_string(),
                            (1_800_000_000_000_000_000u64 + i as u64).to_string(),
                        )
                    })
                    .collect();
                let ids = import_batch(client, &base, &pairs).await?;
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d.is_multiple_of((batches / 10).max(1)) {
                    progress(&format!(
                        "store: {} posts imported in {:.1} s",
                        d * 1000,
                        t0.elapsed().as_secs_f64()
                    ));
                }
                Ok(ids.len())
            }
        })
        .buffer_unordered(plan.import_clients)
        .collect()
        .await;
    let took = t0.elapsed();
    let mut imported = 0;
    for r in results {
        imported += r?;
    }
    let import_rss = gw.proc.peak_rss_kib();
    rows.push(Row {
        bench: "import through the API".into(),
        case: format!(
            "{imported} posts, batches of 1000, {} clients",
            plan.import_clients
        ),
        requests: batches.to_string(),
        time: secs(took),
        rate: format!("{:.0} posts/s", imported as f64 / took.as_secs_f64()),
        note: format!("gateway peak RSS {}", mib(import_rss)),
        ..Row::default()
    });
    progress("store: stopping the gateway (SIGTERM) and reopening the store");
    gw.proc.terminate(Duration::from_secs(60));
    let bytes = dir_size(&store);
    rows.push(Row {
        bench: "store size on disk".into(),
        case: format!("{imported} posts"),
        note: format!(
            "{:.1} MiB ({:.0} bytes/post), sum of files in the sled directory",
            bytes as f64 / 1024.0 / 1024.0,
            bytes as f64 / imported.max(1) as f64
        ),
        ..Row::default()
    });

    // Reopen twice: a fresh gateway process on the full store, spawn to /health 200. The
    // first start after the import may replay sled's log; the second shows a settled store.
    for (k, label) in ["1st", "2nd"].into_iter().enumerate() {
        let log = format!("gateway-reopen-{k}.log");
        let mut gw = start_gateway(client, dir, &store, sandbox, &log).await?;
        let reopen = gw.ready_after;
        let reopen_rss = gw.proc.peak_rss_kib();
        gw.proc.terminate(Duration::from_secs(60));
        rows.push(Row {
            bench: "gateway start on the store".into(),
            case: format!("{imported} posts, {label} start after the import"),
            time: format!("{:.3}", reopen.as_secs_f64()),
            note: format!(
                "spawn to first /health 200; peak RSS after start {}",
                mib(reopen_rss)
            ),
            ..Row::default()
        });
    }

    // In-process: SledStore::open alone (page cache warm).
    let path = store.clone();
    let (open_time, size) = tokio::task::spawn_blocking(move || -> Res<(Duration, u64)> {
        let t0 = Instant::now();
        let s = postgate::store::SledStore::open(&path)?;
        let took = t0.elapsed();
        let size = s.size_on_disk()?;
        Ok((took, size))
    })
    .await??;
    rows.push(Row {
        bench: "SledStore::open".into(),
        case: format!("{imported} posts, in-process"),
        time: format!("{:.3}", open_time.as_secs_f64()),
        note: format!(
            "warm page cache; sled size_on_disk {:.1} MiB",
            size as f64 / 1024.0 / 1024.0
        ),
        ..Row::default()
    });
    Ok(())
}

/// The 1-minute load average (other work on the machine skews the figures).
fn load_avg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "n/a".into())
}

async fn run(plan: &Plan) -> Res<String> {
    let started = Instant::now();
    let load_before = load_avg();
    let dir = tempfile::Builder::new()
        .prefix("postgate-bench")
        .tempdir()?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()?;
    let mut rows = Vec::new();

    progress(&format!("binary {BIN}; work dir {}", dir.path().display()));
    let mut sandbox = start_sandbox(&client, dir.path()).await?;
    let mut gw = start_gateway(
        &client,
        dir.path(),
        &dir.path().join("store"),
        &sandbox,
        "gateway.log",
    )
    .await?;
    let empty_start = gw.ready_after;
    link_accounts(&client, &gw).await?;

    single_deletes(plan, &client, &sandbox, &gw, &mut rows).await?;
    bulk(plan, &client, &sandbox, &gw, &mut rows).await?;
    gw.proc.check_alive()?;
    rows.push(Row {
        bench: "gateway peak RSS".into(),
        case: "all delete runs above".into(),
        note: format!(
            "VmHWM {} (pid {}); start on an empty store took {} ms",
            mib(gw.proc.peak_rss_kib()),
            gw.proc.pid(),
            ms(empty_start)
        ),
        ..Row::default()
    });
    gw.proc.terminate(Duration::from_secs(30));

    store_scale(plan, &client, &sandbox, dir.path(), &mut rows).await?;
    sandbox.proc.check_alive()?;
    drop(sandbox);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "postgate benchmarks{} — {} — {}",
        if plan.quick { " (QUICK mode)" } else { "" },
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine()
    );
    let _ = writeln!(
        out,
        "gateway: delete.bulk_concurrency {BULK_CONCURRENCY}, threads/x.max_in_flight {MAX_IN_FLIGHT}, local delete quotas off (delete_limit {DELETE_LIMIT}); each post is on Threads and X"
    );
    let _ = writeln!(out);
    out.push_str(&table(&rows));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "total run time {:.0} s; 1-min load average {load_before} before, {} after (includes this run's own processes)",
        started.elapsed().as_secs_f64(),
        load_avg()
    );
    Ok(out)
}

fn main() {
    let plan = Plan::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(&plan)) {
        Ok(report) => {
            println!("\n{report}");
            let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("postgate-bench.md");
            if std::fs::write(&out, &report).is_ok() {
                eprintln!("bench: also written to {}", out.display());
            }
        }
        Err(e) => {
            eprintln!("bench: failed: {e}");
            std::process::exit(1);
        }
    }
}
