//! The scheduler: a task inside `postgate serve` that publishes scheduled posts when due.
//!
//! Every tick it claims due posts from the durable schedule index ([`Store::claim_due_posts`]:
//! with several gateways on one database, each due post goes to one scheduler for a lease) and
//! hands each to [`PublishService::publish_due`], which takes the post's lock (in-process and
//! across processes), re-reads it and publishes only if it is still pending. The index lives in the store, so scheduling
//! survives a restart, and posts that came due while the gateway was down are published on
//! the first tick after start-up.

use super::publish::PublishService;
use crate::store::{Store, StoreError};
use chrono::Utc;
use futures::{FutureExt, StreamExt};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Due posts published at once within one tick.
const CONCURRENCY: usize = 8;

/// Told about each scheduled post once it was sent (the `scheduled` webhook).
pub type OnPublished =
    Arc<dyn Fn(crate::domain::Post) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// Publishes due scheduled posts.
#[derive(Clone)]
pub struct Scheduler {
    on_published: Option<OnPublished>,
    store: Arc<dyn Store>,
    publisher: PublishService,
    tick: Duration,
    batch_size: usize,
    /// Who claims due posts: this process, distinct from every other gateway's scheduler.
    holder: String,
    /// How long a claim keeps other schedulers off a post.
    lease: Duration,
    /// Cancelled when the gateway stops: the loop ends and a tick starts no further post.
    shutdown: CancellationToken,
}

/// The running scheduler task, to wait for it at shutdown.
pub struct SchedulerHandle {
    shutdown: CancellationToken,
    join: JoinHandle<()>,
}

impl SchedulerHandle {
    /// Stops the loop: the tick in progress starts no further post, and the publishes it
    /// has in flight get until `grace` to finish and be recorded. Publishes still waiting on
    /// a network then are cut off; they stay `processing` and the next start records their
    /// outcome as unknown ([`PublishService::recover_interrupted`]), as after a crash.
    pub async fn stop(mut self, grace: Duration) {
        self.shutdown.cancel();
        match tokio::time::timeout(grace, &mut self.join).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "scheduler task failed"),
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs_f64(),
                    "scheduled publishes still waiting on a network at shutdown were cut off; the next start records their outcome as unknown"
                );
                self.join.abort();
                let _ = (&mut self.join).await;
            }
        }
    }
}

/// Dropping the handle (a gateway built and never run) stops the loop too.
impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Scheduler {
    /// A scheduler looking for due posts every `tick`, at most `batch_size` per tick.
    pub fn new(
        store: Arc<dyn Store>,
        publisher: PublishService,
        tick: Duration,
        batch_size: usize,
    ) -> Self {
        Self {
            on_published: None,
            store,
            publisher,
            tick: tick.max(Duration::from_millis(10)),
            batch_size: batch_size.max(1),
            holder: format!(
                "{}-{}",
                std::process::id(),
                crate::domain::PostId::generate().as_str()
            ),
            lease: Duration::from_secs(600),
            shutdown: CancellationToken::new(),
        }
    }

    /// Tells `f` about each post this scheduler sent.
    pub fn on_published(mut self, f: OnPublished) -> Self {
        self.on_published = Some(f);
        self
    }

    /// Claims due posts for `lease` (`scheduler.lease_secs`) instead of the default 10 min.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Publishes the posts due now, at most `batch_size` of them; returns how many were
    /// published (sent to their networks, whatever each network answered).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .claim_due_posts(Utc::now(), self.batch_size, &self.holder, self.lease)
            .await?;
        crate::metrics::scheduler_backlog(due.len());
        if due.is_empty() {
            return Ok(0);
        }
        let shutdown = self.shutdown.clone();
        let results: Vec<_> = futures::stream::iter(due)
            // A stop starts no further post of the batch.
            .take_while(move |_| futures::future::ready(!shutdown.is_cancelled()))
            .map(|id| {
                let publisher = self.publisher.clone();
                let on_published = self.on_published.clone();
                async move {
                    // Not a separate task, so that a stop past its grace cuts every publish
                    // off; a panic in one post is still caught here and cannot cut another
                    // short.
                    let r = AssertUnwindSafe(publisher.publish_due(&id))
                        .catch_unwind()
                        .await;
                    match r {
                        Ok(Ok(Some(post))) => {
                            if let Some(due) = post.schedule_date {
                                let lag = (Utc::now() - due).to_std().unwrap_or_default();
                                crate::metrics::scheduler_lag(lag);
                            }
                            tracing::info!(post_id = %post.id, status = post.status.as_str(), "scheduled post sent");
                            if let Some(f) = on_published {
                                f(post).await;
                            }
                            true
                        }
                        Ok(Ok(None)) => false,
                        Ok(Err(e)) => {
                            tracing::error!(post_id = %id, error = %e, "publishing a due post failed");
                            false
                        }
                        Err(_) => {
                            tracing::error!(post_id = %id, "publishing a due post panicked");
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

    /// Starts the loop on `tasks`: first repairs publishes interrupted by a stop, then ticks
    /// until `shutdown` is cancelled (by the gateway's owner or [`SchedulerHandle::stop`]).
    pub fn spawn(mut self, tasks: &TaskTracker, shutdown: CancellationToken) -> SchedulerHandle {
        self.shutdown = shutdown.clone();
        let join = tasks.spawn(async move {
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
                    _ = self.shutdown.cancelled() => break,
                }
                if self.shutdown.is_cancelled() {
                    break;
                }
                if let Err(e) = self.run_once().await {
                    tracing::error!(error = %e, "scheduler tick failed");
                }
            }
            tracing::debug!("scheduler stopped");
        });
        SchedulerHandle { shutdown, join }
    }
}
