//! postgate benchmarks: `cargo bench --bench gateway` (add `-- --quick` or `BENCH_QUICK=1`
//! for a smoke run; name scenarios to run only those: `-- drain`, see [`SCENARIOS`]). See
//! `bench/README.md` for what is measured and the last results.
//!
//! The sandbox (`postgate sandbox`) and the gateway (`postgate serve`) run as child processes
//! on free loopback ports with temporary store directories, so the gateway's peak RSS is its
//! own. Load comes from reqwest clients on this process's tokio runtime. Every row is bounded
//! by a fixed request count and a duration; nothing here asserts on timings.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

mod scenarios;
mod support;

use scenarios::{
    bulk::bulk, drain::drain, postgres::stores, single::single_deletes, store_scale::store_scale,
};
use support::{api::*, load::*, process::*, report::*, services::*};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_postgate");
pub(crate) const API_KEY: &str = "bench-api-key-0123456789";
/// Sandbox account 1 (the `postgate sandbox` defaults).
pub(crate) const THREADS_USER: &str = "17841400000000001";
pub(crate) const THREADS_TOKEN: &str = "sandbox-threads-token";
pub(crate) const X_USER: &str = "1700000000000000001";
pub(crate) const X_TOKEN: &str = "sandbox-x-token";
pub(crate) const X_TOKEN_SECRET: &str = "sandbox-x-token-secret";
pub(crate) const X_CONSUMER_KEY: &str = "sandbox-x-consumer-key";
pub(crate) const X_CONSUMER_SECRET: &str = "sandbox-x-consumer-secret";
/// Network latency of the "slow" runs and of the bulk comparison.
pub(crate) const SLOW_MS: u64 = 50;
/// The gateway's default `delete.bulk_concurrency`.
pub(crate) const BULK_CONCURRENCY: usize = 25;
/// `threads.max_in_flight` / `x.max_in_flight` during the benchmarks (default 32).
pub(crate) const MAX_IN_FLIGHT: usize = 1024;
/// Delete quotas: 0 switches postgate's local count off (the sandbox's are off too).
pub(crate) const DELETE_LIMIT: u32 = 0;

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Res<T> = Result<T, BoxError>;

pub(crate) fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(msg.into().into())
}

/// The scenarios, by the names that select them on the command line.
const SCENARIOS: &[&str] = &["single", "bulk", "stores", "store_scale", "drain"];

/// Sizes of one run.
pub(crate) struct Plan {
    pub(crate) quick: bool,
    /// Scenarios named on the command line (every one when empty).
    only: Vec<String>,
    /// Longest time of one single-id delete row.
    pub(crate) row_time: Duration,
    /// Most posts prepared for one single-id delete row.
    pub(crate) row_cap: usize,
    pub(crate) bulk_posts: usize,
    pub(crate) sequential_posts: usize,
    pub(crate) store_posts: usize,
    pub(crate) import_clients: usize,
}

impl Plan {
    fn from_env() -> Self {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        // Flags (cargo passes `--bench`) are not names.
        let only: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        if let Some(unknown) = only.iter().find(|a| !SCENARIOS.contains(&a.as_str())) {
            eprintln!(
                "bench: unknown scenario {unknown:?}; one of: {}",
                SCENARIOS.join(", ")
            );
            std::process::exit(2);
        }
        if quick {
            Plan {
                quick,
                only,
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
                only,
                row_time: Duration::from_secs(5),
                row_cap: 20_000,
                bulk_posts: 1_000,
                sequential_posts: 1_000,
                store_posts: 1_000_000,
                import_clients: 4,
            }
        }
    }

    /// Whether scenario `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }

    /// Posts to prepare for a row: enough for `row_time` at the best rate the latency
    /// allows, at most `row_cap`.
    pub(crate) fn row_posts(&self, clients: usize, latency_ms: u64) -> usize {
        let per_client = 1000.0 / (latency_ms as f64 + 0.25);
        let n = (clients as f64 * per_client * self.row_time.as_secs_f64() * 1.2).ceil() as usize;
        n.clamp(50, self.row_cap)
    }
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
    if plan.runs("single") || plan.runs("bulk") {
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

        if plan.runs("single") {
            single_deletes(plan, &client, &sandbox, &gw, &mut rows).await?;
        }
        if plan.runs("bulk") {
            bulk(plan, &client, &sandbox, &gw, &mut rows).await?;
        }
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
    }

    if plan.runs("stores") {
        stores(plan, &client, &sandbox, dir.path(), &mut rows).await?;
    }
    if plan.runs("store_scale") {
        store_scale(plan, &client, &sandbox, dir.path(), &mut rows).await?;
    }
    if plan.runs("drain") {
        drain(plan, &client, dir.path(), &mut rows).await?;
    }
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
