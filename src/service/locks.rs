//! Per-post locks: every path that changes a post (delete, publish, scheduler) holds its
//! post's lock, so those paths serialize per post while different posts run in parallel.

use crate::domain::PostId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    /// Waits for and takes the lock of `id`.
    pub async fn lock(&self, id: &PostId) -> PostGuard {
        let m = {
            let mut map = self.inner.lock().expect("post lock registry poisoned");
            map.entry(id.clone()).or_default().clone()
        };
        let guard = m.lock_owned().await;
        PostGuard {
            guard: Some(guard),
            id: id.clone(),
            locks: self.clone(),
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
        self.inner
            .lock()
            .expect("post lock registry poisoned")
            .len()
    }

    /// Whether no post is locked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for PostGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self
            .locks
            .inner
            .lock()
            .expect("post lock registry poisoned");
        // Only the map holds it now: nobody waits, so the entry can go.
        if map.get(&self.id).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(&self.id);
        }
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
}
