//! Group commit for the PostgreSQL store's post updates: the intent and outcome writes of
//! deletes running at the same moment share one statement, so one round trip and one commit
//! (one WAL flush) serve them all, as sled's group commit shares one flush.
//!
//! [`PostWrites::write`] queues a post and waits; one runner at a time takes everything
//! queued (one write per post id: a second write of a post waits for the next batch, so
//! writes of one post land in order), upserts the lot with [`upsert_posts`] and answers each
//! writer once the statement committed. Invariant 2 holds as with one statement per write:
//! no writer goes on before its own write is durable. Should a batch fail, its posts are
//! written one by one, so one writer's failure is not another's.

use super::postgres::upsert_posts;
use super::StoreError;
use crate::domain::Post;
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Most posts in one statement (bounds its parameters' size and the rows it locks).
const MAX_BATCH: usize = 200;

type Waiting = (Post, oneshot::Sender<Result<(), StoreError>>);

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    /// Whether a runner is on it (it will see writes queued meanwhile).
    running: bool,
}

/// The post update batcher of one [`super::PostgresStore`] (see the module docs).
pub(super) struct PostWrites {
    pool: PgPool,
    queue: Mutex<Queue>,
}

impl PostWrites {
    pub(super) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            queue: Mutex::default(),
        }
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Every change under this lock is a push, a take or a flag: nothing half-done to see.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `post` (an upsert, as `Store::update_post`); returns once it is committed.
    pub(super) async fn write(self: &Arc<Self>, post: Post) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = self.queue();
            q.waiting.push((post, reply));
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            // Clears `running` if the runner ends before the queue is empty: its runtime
            // dropped it (unpolled, or mid-batch), so the next writer starts another.
            struct Running(Option<Arc<PostWrites>>);
            impl Running {
                /// The runner left through `run`, which cleared the flag itself.
                fn disarm(&mut self) {
                    self.0 = None;
                }
            }
            impl Drop for Running {
                fn drop(&mut self) {
                    if let Some(writes) = self.0.take() {
                        writes.queue().running = false;
                    }
                }
            }
            let mut running = Running(Some(self.clone()));
            drop(tokio::spawn(async move {
                if let Some(writes) = running.0.clone() {
                    writes.run().await;
                }
                running.disarm();
            }));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Backend("the post writer stopped".into())))
    }

    /// Writes batches until the queue is empty, then clears `running` under the same lock a
    /// writer checks it with, so a write queued after the last take starts a new runner.
    async fn run(&self) {
        loop {
            let batch = {
                let mut q = self.queue();
                if q.waiting.is_empty() {
                    q.running = false;
                    return;
                }
                take_batch(&mut q.waiting)
            };
            self.write_batch(batch).await;
        }
    }

    async fn write_batch(&self, batch: Vec<Waiting>) {
        let posts: Vec<&Post> = batch.iter().map(|(p, _)| p).collect();
        match upsert_posts(&self.pool, &posts).await {
            Ok(()) => {
                for (_, reply) in batch {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(e) if batch.len() == 1 => {
                if let Some((_, reply)) = batch.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(_) => {
                for (post, reply) in batch {
                    let _ = reply.send(upsert_posts(&self.pool, &[&post]).await);
                }
            }
        }
    }
}

/// The next batch: queued writes in order, at most one per post id and [`MAX_BATCH`] in
/// all; the others stay queued, in order.
fn take_batch(waiting: &mut Vec<Waiting>) -> Vec<Waiting> {
    let mut ids = std::collections::HashSet::new();
    let mut batch = Vec::new();
    let mut rest = Vec::new();
    for w in waiting.drain(..) {
        if batch.len() < MAX_BATCH && !ids.contains(&w.0.id) {
            ids.insert(w.0.id.clone());
            batch.push(w);
        } else {
            rest.push(w);
        }
    }
    *waiting = rest;
    batch
}
