//! Single-id deletes: through the gateway and directly against the sandbox, at several
//! client counts and latencies.

use crate::*;
use std::sync::Arc;
use std::time::Duration;

pub(crate) async fn single_deletes(
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
