//! Bulk deletes against sequential single-id deletes of the same posts.

use crate::*;
use serde_json::json;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) async fn bulk(
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
