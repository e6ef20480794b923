//! The scheduler: a task inside `postgate serve` that publishes scheduled posts when due.
//!
//! Every tick it reads the durable schedule index ([`Store::due_posts`]) and hands each due
//! post to [`PublishService::publish_due`], which takes the post's lock, re-reads it and
//! publishes only if it is still pending. The index lives in the store, so scheduling
//! survives a restart, and posts that came due while the gateway was down are published on
//! the first tick after start-up.

use super::publish::PublishService;
use crate::store::{Store, StoreError};
use chrono::Utc;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Due posts published at once within one tick.
const CONCURRENCY: usize = 8;

/// Publishes due scheduled posts.
#[derive(Clone)]
pub struct Scheduler {
    store: Arc<dyn Store>,
    publisher: PublishService,
    tick: Duration,
}

/// A running scheduler task and the switch that stops it.
pub struct SchedulerHandle {
    stop: watch::Sender<bool>,
    join: JoinHandle<()>,
}

impl SchedulerHandle {
    /// Stops the loop after the tick in progress (its publishes are finished and recorded)
    /// and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.join.await {
            tracing::error!(error = %e, "scheduler task failed");
        }
    }
}

impl Scheduler {
    /// A scheduler looking for due posts every `tick`.
    pub fn new(store: Arc<dyn Store>, publisher: PublishService, tick: Duration) -> Self {
        Self {
            store,
            publisher,
            tick: tick.max(Duration::from_millis(10)),
        }
    }

    /// Publishes every post due now; returns how many were published (sent to their networks,
    /// whatever each network answered).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = self.store.due_posts(Utc::now()).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let results: Vec<_> = futures::stream::iter(due)
            .map(|id| {
                let publisher = self.publisher.clone();
                async move {
                    // Each in its own task: one post's failure cannot cut another short.
                    let r = tokio::spawn(async move {
                        let r = publisher.publish_due(&id).await;
                        (id, r)
                    })
                    .await;
                    match r {
                        Ok((_, Ok(Some(post)))) => {
                            tracing::info!(post_id = %post.id, status = post.status.as_str(), "scheduled post sent");
                            true
                        }
                        Ok((_, Ok(None))) => false,
                        Ok((id, Err(e))) => {
                            tracing::error!(post_id = %id, error = %e, "publishing a due post failed");
                            false
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "publish task failed");
                            false
                        }
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        Ok(results.into_iter().filter(|sent| *sent).count())
    }

    /// Starts the loop: first repairs publishes interrupted by a stop, then ticks until
    /// [`SchedulerHandle::stop`] (or until the handle is dropped).
    pub fn spawn(self) -> SchedulerHandle {
        let (stop, mut stopped) = watch::channel(false);
        let join = tokio::spawn(async move {
            match self.publisher.recover_interrupted().await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(posts = n, "publishes interrupted by the last stop"),
                Err(e) => tracing::error!(error = %e, "checking interrupted publishes failed"),
            }
            let mut interval = tokio::time::interval(self.tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    changed = stopped.changed() => {
                        if changed.is_err() || *stopped.borrow() {
                            break;
                        }
                        continue;
                    }
                }
                if *stopped.borrow() {
                    break;
                }
                if let Err(e) = self.run_once().await {
                    tracing::error!(error = %e, "scheduler tick failed");
                }
            }
            tracing::debug!("scheduler stopped");
        });
        SchedulerHandle { stop, join }
    }
}
