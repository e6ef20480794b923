//! The store at scale: import throughput, start-up time and disk size with many posts.

use crate::*;
use futures::StreamExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) async fn store_scale(
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
