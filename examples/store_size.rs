//! Bytes per post of the sled store, quickly: `cargo run --example store_size -- [posts]`
//! (default 100,000). Writes posts shaped like the benchmark's imports (two network ids,
//! short text) through `SledStore` the way `POST /api/post/import` does (batches of 1,000:
//! one `insert_new_posts` and one flush each), then prints the sum of the files in the store
//! directory, the bytes per post, and the time of the two opens after it (the clean stop's
//! checkpoint, then the next start). The full 1 M figure is `cargo bench --bench gateway`'s "store size" row.

use chrono::Utc;
use postgate::domain::{
    EntryState, NetworkPostId, Platform, PlatformEntry, Post, PostId, PostKind, PostStatus,
};
use postgate::store::{SledStore, Store};
use std::path::Path;
use std::time::Instant;

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let cache_mb: u64 = std::env::var("CACHE_MB")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(256);
    let dir = tempfile::tempdir()?;
    let store = SledStore::open_with_cache(dir.path(), cache_mb)?;
    let profile = postgate::domain::primary_profile_id("store-size-account");
    let t0 = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let mut threads = PlatformEntry::new(Platform::Threads, EntryState::Published);
        threads.id = Some(NetworkPostId((18_000_000_000_000_000 + i).to_string()));
        let mut x = PlatformEntry::new(Platform::Twitter, EntryState::Published);
        x.id = Some(NetworkPostId((1_800_000_000_000_000_000 + i).to_string()));
        let post = Post {
            id: PostId::generate(),
            profile_id: profile.clone().into(),
            text: "postgate bench post".into(),
            status: PostStatus::Success,
            kind: PostKind::Now,
            created: Utc::now(),
            schedule_date: None,
            entries: vec![threads, x],
            idempotency_key: None,
            media_urls: Vec::new(),
        };
        batch.push(post);
        if batch.len() == 1000 || i + 1 == n {
            store.insert_new_posts(&std::mem::take(&mut batch)).await?;
            store.flush().await?;
        }
    }
    let took = t0.elapsed();
    let sled_size = store.size_on_disk()?;
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l[6..].trim().to_owned())
        })
        .unwrap_or_default();
    drop(store);
    let files = dir_size(dir.path());
    // The gateway's clean stop checkpoints (reopens) the store: the first open here is that
    // checkpoint (sled replays the import's log), the second what the next start costs.
    let checkpoint = SledStore::checkpoint(dir.path(), std::time::Duration::from_secs(10))?;
    let t1 = Instant::now();
    drop(SledStore::open_with_cache(dir.path(), cache_mb)?);
    let next_open = t1.elapsed();
    println!(
        "{n} posts in {:.1} s ({:.0} posts/s); files {:.1} MiB = {} bytes/post; sled size_on_disk {} bytes/post; cache {cache_mb} MiB; peak RSS {hwm}; checkpoint after the import {:.3} s, next open {:.3} s",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        files as f64 / 1048576.0,
        files / n.max(1),
        sled_size / n.max(1),
        checkpoint.as_secs_f64(),
        next_open.as_secs_f64(),
    );
    Ok(())
}
