//! sled against PostgreSQL, one gateway and two (issue #13): single-id deletes at 50 clients
//! and the bulk, each backend on the same sandbox in the same run. Runs only when
//! `BENCH_PG_URL` names a PostgreSQL server (`postgres://user@host:port/db`, a role that may
//! create databases): each case gets a fresh database there.

use crate::*;
use serde_json::json;
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clients of the single-id rows.
const CLIENTS: usize = 50;

/// The server the PostgreSQL rows use, if any.
pub(crate) fn server() -> Option<String> {
    std::env::var("BENCH_PG_URL").ok().filter(|u| !u.is_empty())
}

/// A fresh database on `server`; its URL.
async fn fresh_database(server: &str, name: &str) -> Res<String> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let mut u = reqwest::Url::parse(server)?;
    u.set_path(name);
    Ok(u.to_string())
}

/// What every case runs against.
struct Bench<'a> {
    plan: &'a Plan,
    client: &'a reqwest::Client,
    sandbox: &'a Sandbox,
    dir: &'a Path,
}

/// One case: `gateways` gateways on one store (sled: one gateway, `db` None).
async fn case(
    b: &Bench<'_>,
    label: &str,
    db: Option<&str>,
    gateways: usize,
    rows: &mut Vec<Row>,
) -> Res<()> {
    let (plan, client, sandbox, dir) = (b.plan, b.client, b.sandbox, b.dir);
    let mut extra = Vec::new();
    if let Some(url) = db {
        extra.push(("POSTGATE__STORE__BACKEND", "postgres"));
        extra.push(("POSTGATE__STORE__URL", url));
    }
    let mut gws = Vec::new();
    for n in 0..gateways {
        let store = dir.join(format!("store-{label}-{n}"));
        let log = format!("gateway-{label}-{n}.log");
        gws.push(start_gateway_with(client, dir, &store, sandbox, &log, &extra).await?);
    }
    link_accounts(client, &gws[0]).await?;

    // Single-id deletes, round-robin over the gateways: at 0 ms the gateways' CPU (and the
    // store) is the limit, at 50 ms the clients' concurrency is.
    let urls: Arc<Vec<Arc<String>>> = Arc::new(
        gws.iter()
            .map(|g| Arc::new(format!("{}/api/post", g.base)))
            .collect(),
    );
    for latency in [0, SLOW_MS] {
        sandbox.set_latency(client, latency).await?;
        let n = plan.row_posts(CLIENTS, latency);
        progress(&format!(
            "{label}: single-id delete, {latency} ms, {CLIENTS} clients: preparing {n} posts"
        ));
        let ids = prepare_posts(client, sandbox, &gws[0], n).await?;
        let turn = Arc::new(AtomicUsize::new(0));
        let (c, urls) = (client.clone(), urls.clone());
        let load = run_load(ids, CLIENTS, plan.row_time, move |id| {
            let url = urls[turn.fetch_add(1, Ordering::Relaxed) % urls.len()].clone();
            delete_one(c.clone(), url, id)
        })
        .await;
        rows.push(load_row(
            "single-id delete, store",
            format!("{label}, {latency} ms, {CLIENTS} clients"),
            &load,
            format!("{} failed", load.failed),
        ));
    }
    sandbox.set_latency(client, SLOW_MS).await?;

    // The bulk, through the first gateway.
    let n = plan.bulk_posts;
    progress(&format!("{label}: bulk of {n} posts"));
    let ids = prepare_posts(client, sandbox, &gws[0], n).await?;
    let t0 = Instant::now();
    let r = auth(client.delete(format!("{}/api/post", gws[0].base)))
        .json(&json!({ "bulk": ids }))
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await?;
    let took = t0.elapsed();
    let ok = v["posts"]
        .as_array()
        .map_or(0, |p| p.iter().filter(|p| p["status"] == "success").count());
    let bound = Duration::from_millis(n.div_ceil(BULK_CONCURRENCY) as u64 * SLOW_MS);
    rows.push(Row {
        bench: "bulk delete, store".into(),
        case: format!("{label}, {n} posts x 2, {SLOW_MS} ms"),
        requests: "1".into(),
        time: secs(took),
        rate: format!("{:.0} posts/s", n as f64 / took.as_secs_f64()),
        note: format!(
            "HTTP {}; {ok}/{n} posts deleted; {:.2}x the concurrency bound",
            status.as_u16(),
            took.as_secs_f64() / bound.as_secs_f64()
        ),
        ..Row::default()
    });
    for mut gw in gws {
        gw.proc.check_alive()?;
        gw.proc.terminate(Duration::from_secs(30));
    }
    Ok(())
}

/// The rows: sled, PostgreSQL with one gateway, PostgreSQL with two (round-robin).
pub(crate) async fn stores(
    plan: &Plan,
    client: &reqwest::Client,
    sandbox: &Sandbox,
    dir: &Path,
    rows: &mut Vec<Row>,
) -> Res<()> {
    let Some(server) = server() else {
        progress("BENCH_PG_URL not set: the sled/PostgreSQL comparison is skipped");
        return Ok(());
    };
    let b = Bench {
        plan,
        client,
        sandbox,
        dir,
    };
    case(&b, "sled, 1 gateway", None, 1, rows).await?;
    let one = fresh_database(&server, "postgate_bench_one").await?;
    case(&b, "PostgreSQL, 1 gateway", Some(&one), 1, rows).await?;
    let two = fresh_database(&server, "postgate_bench_two").await?;
    case(&b, "PostgreSQL, 2 gateways", Some(&two), 2, rows).await?;
    Ok(())
}
