//! Per-post locks: every path that changes a post (delete, publish, scheduler) holds its
//! post's lock, so those paths serialize per post while different posts run in parallel.

use crate::domain::PostId;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A registry of per-post async locks. Entries live only while someone holds or waits.
#[derive(Clone, Default)]
pub struct PostLocks {
    inner: Arc<Mutex<HashMap<PostId, Arc<AsyncMutex<()>>>>>,
}

/// Holds one post's lock until dropped.
pub struct PostGuard {
    guard: Option<OwnedMutexGuard<()>>,
    id: PostId,
    locks: PostLocks,
}

impl PostLocks {
    /// Waits for and takes the lock of `id`. A waiter dropped before it gets the lock (a
    /// cancelled request, a timeout) removes the entry if nobody else holds or waits for it.
    pub async fn lock(&self, id: &PostId) -> PostGuard {
        let m = {
            let mut map = self.registry();
            map.entry(id.clone()).or_default().clone()
        };
        let mut waiter = Waiter {
            wait: Some(Box::pin(m.lock_owned())),
            id: id.clone(),
            locks: self.clone(),
        };
        let guard = (&mut waiter).await;
        PostGuard {
            guard: Some(guard),
            id: id.clone(),
            locks: self.clone(),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<PostId, Arc<AsyncMutex<()>>>> {
        // A panic elsewhere while holding the registry cannot leave the map inconsistent
        // (every change is one insert or one remove): keep going with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes `id`'s entry if only the map still holds it (nobody holds or waits).
    fn release(&self, id: &PostId) {
        let mut map = self.registry();
        if map.get(id).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(id);
        }
    }

    /// Takes the locks of several posts, in a fixed order so two callers cannot deadlock.
    pub async fn lock_many(&self, ids: &[PostId]) -> Vec<PostGuard> {
        let mut sorted: Vec<&PostId> = ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut guards = Vec::with_capacity(sorted.len());
        for id in sorted {
            guards.push(self.lock(id).await);
        }
        guards
    }

    /// Number of posts with a live lock entry (for tests).
    pub fn len(&self) -> usize {
        self.registry().len()
    }

    /// Whether no post is locked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A lock request in progress. Its only handle on the post's mutex is the pending
/// `lock_owned` future, so dropping that future first and then looking at the registry tells
/// exactly whether anyone else still holds or waits.
struct Waiter {
    /// `None` once the lock is taken: the guard then owns the cleanup.
    wait: Option<Pin<Box<dyn Future<Output = OwnedMutexGuard<()>> + Send>>>,
    id: PostId,
    locks: PostLocks,
}

impl Future for Waiter {
    type Output = OwnedMutexGuard<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(wait) = self.wait.as_mut() else {
            // Already completed; never polled again by `lock`.
            return Poll::Pending;
        };
        match wait.as_mut().poll(cx) {
            Poll::Ready(guard) => {
                self.wait = None;
                Poll::Ready(guard)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(wait) = self.wait.take() {
            drop(wait);
            self.locks.release(&self.id);
        }
    }
}

impl Drop for PostGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Only the map holds it now: nobody waits, so the entry can go.
        self.locks.release(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn serializes_one_post_and_cleans_up() {
        let locks = PostLocks::default();
        let id = PostId::generate();
        let g = locks.lock(&id).await;
        let l2 = locks.clone();
        let id2 = id.clone();
        let waiter = tokio::spawn(async move {
            let _g = l2.lock(&id2).await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(g);
        waiter.await.unwrap();
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_waiter_leaves_no_entry() {
        let locks = PostLocks::default();
        let id = PostId::generate();
        // The holder lets go while a waiter is queued; the waiter is then dropped before it
        // ever runs again (a cancelled request).
        let holder = locks.lock(&id).await;
        let mut waiter = Box::pin(locks.lock(&id));
        assert!(futures::poll!(&mut waiter).is_pending());
        drop(holder);
        assert_eq!(locks.len(), 1, "the waiter still counts");
        drop(waiter);
        assert!(locks.is_empty(), "a cancelled waiter left its entry");

        // Cancelled while the holder still holds: the holder's release cleans up.
        let holder = locks.lock(&id).await;
        let timed_out = tokio::time::timeout(Duration::from_millis(10), locks.lock(&id)).await;
        assert!(timed_out.is_err());
        assert_eq!(locks.len(), 1);
        drop(holder);
        assert!(locks.is_empty());

        // And the lock still works afterwards.
        let again = tokio::time::timeout(Duration::from_secs(1), locks.lock(&id)).await;
        assert!(again.is_ok());
        drop(again);
        assert!(locks.is_empty());
    }
}
