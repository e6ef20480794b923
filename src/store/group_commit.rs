//! Group commit for the sled store: callers that ask for durability at the same moment share
//! one flush instead of each paying its own `fsync`-class write.
//!
//! Every [`GroupFlusher::flush`] takes a ticket after its writes have landed in sled. One
//! flusher at a time runs on tokio's blocking pool: it reads the highest ticket handed out,
//! flushes (which makes every write made before it durable) and publishes that ticket as done;
//! while it flushes, new callers queue up and the next round covers all of them. A caller
//! returns once a flush that started after its ticket finished, so invariant 2 holds exactly as
//! with one flush per caller: its writes are on disk before it goes on.
//!
//! The flusher is a blocking task, not the caller's future: a caller that is cancelled (a
//! client hung up) never strands the others waiting on its flush.

use super::StoreError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// What the last finished flush covered.
#[derive(Clone, Debug, Default)]
struct Done {
    /// Every ticket up to this one is durable (or failed with `error`).
    upto: u64,
    /// sled's words when that flush failed.
    error: Option<String>,
}

#[derive(Default)]
struct Tickets {
    /// Highest ticket handed out.
    issued: u64,
    /// Highest ticket a finished flush covered.
    flushed: u64,
    /// Whether a flusher task is running (it will see tickets issued meanwhile).
    running: bool,
}

struct Inner {
    db: sled::Db,
    tickets: Mutex<Tickets>,
    done: watch::Sender<Done>,
    flushes: AtomicU64,
}

/// Batches concurrent flush requests on one sled database (see the module docs).
#[derive(Clone)]
pub(crate) struct GroupFlusher(Arc<Inner>);

impl GroupFlusher {
    pub(crate) fn new(db: sled::Db) -> Self {
        Self(Arc::new(Inner {
            db,
            tickets: Mutex::default(),
            done: watch::Sender::new(Done::default()),
            flushes: AtomicU64::new(0),
        }))
    }

    /// How many sled flushes ran so far (each may have served many callers).
    pub(crate) fn flushes(&self) -> u64 {
        self.0.flushes.load(Ordering::Relaxed)
    }

    /// Returns once every write this caller made before calling is durable.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let mut done = self.0.done.subscribe();
        let (ticket, start) = {
            let mut t = self.0.lock();
            t.issued += 1;
            let start = !t.running;
            t.running = true;
            (t.issued, start)
        };
        if start {
            let inner = self.0.clone();
            // Dropping the JoinHandle detaches the task; it ends when no ticket is left.
            drop(tokio::task::spawn_blocking(move || inner.run()));
        }
        loop {
            {
                let d = done.borrow_and_update();
                if d.upto >= ticket {
                    return match &d.error {
                        None => Ok(()),
                        Some(e) => Err(StoreError::Backend(e.clone())),
                    };
                }
            }
            done.changed()
                .await
                .map_err(|_| StoreError::Backend("the store's flusher stopped".into()))?;
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tickets> {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Flushes until no ticket is waiting, then marks the flusher stopped (under the same
    /// lock a caller checks it with, so no ticket is left behind).
    fn run(&self) {
        // Should sled panic, the waiters get an error instead of waiting forever.
        struct Stop<'a>(&'a Inner, bool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                if self.1 {
                    return;
                }
                let upto = {
                    let mut t = self.0.lock();
                    t.running = false;
                    t.flushed = t.issued;
                    t.issued
                };
                self.0.done.send_replace(Done {
                    upto,
                    error: Some("the store flush panicked".into()),
                });
            }
        }
        let mut stop = Stop(self, false);
        loop {
            let target = {
                let mut t = self.lock();
                if t.issued <= t.flushed {
                    t.running = false;
                    stop.1 = true;
                    return;
                }
                t.issued
            };
            let result = self.db.flush();
            self.flushes.fetch_add(1, Ordering::Relaxed);
            self.lock().flushed = target;
            self.done.send_replace(Done {
                upto: target,
                error: result.err().map(|e| e.to_string()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_flushes_and_all_return() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let flusher = GroupFlusher::new(db);
        let tasks: Vec<_> = (0..200u32)
            .map(|i| {
                let (flusher, tree) = (flusher.clone(), tree.clone());
                tokio::spawn(async move {
                    tree.insert(i.to_be_bytes(), &[1u8]).unwrap();
                    flusher.flush().await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let n = flusher.flushes();
        assert!((1..200).contains(&n), "200 callers took {n} flushes");
        // A caller after the batch still gets a flush of its own.
        flusher.flush().await.unwrap();
        assert_eq!(flusher.flushes(), n + 1);
    }

    #[tokio::test]
    async fn a_cancelled_caller_does_not_strand_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let flusher = GroupFlusher::new(db);
        // Polled once (it starts the flusher), then dropped.
        let cancelled = flusher.flush();
        let _ = tokio::time::timeout(std::time::Duration::ZERO, cancelled).await;
        tokio::time::timeout(std::time::Duration::from_secs(10), flusher.flush())
            .await
            .expect("the second flush returns")
            .unwrap();
    }
}
