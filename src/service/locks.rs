//! Keyed async locks: every path that changes a post (delete, publish, scheduler) holds its
//! post's lock, and two requests with one idempotency key run one after the other, so those
//! paths serialize per key while different keys run in parallel. [`KeyedLocks::hold`] adds
//! the store's cross-process post lock, so the same holds across gateways sharing a database.

use crate::domain::PostId;
use crate::store::{PostLock, Store, StoreError};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// A registry of async locks by key. Entries live only while someone holds or waits, so the
/// map stays as small as the work in progress whatever the number of keys ever seen.
pub struct KeyedLocks<K = String> {
    inner: Arc<Mutex<HashMap<K, Arc<AsyncMutex<()>>>>>,
}

/// Per-post locks, shared by the delete orchestrator, the publisher and the scheduler.
pub type PostLocks = KeyedLocks<PostId>;

/// Holds one post's lock until dropped.
pub type PostGuard = KeyGuard<PostId>;

// Derived `Clone`/`Default` would require `K: Clone`/`K: Default`; the registry needs neither.
impl<K> Clone for KeyedLocks<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
        }
    }
}

/// Holds one key's lock until dropped.
pub struct KeyGuard<K: Hash + Eq + Clone> {
    guard: Option<OwnedMutexGuard<()>>,
    key: K,
    locks: KeyedLocks<K>,
}

impl<K: Hash + Eq + Clone> KeyedLocks<K> {
    /// Waits for and takes the lock of `key`. A waiter dropped before it gets the lock (a
    /// cancelled request, a timeout) removes the entry if nobody else holds or waits for it.
    pub async fn lock<Q>(&self, key: &Q) -> KeyGuard<K>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let key = key.to_owned();
        let m = {
            let mut map = self.registry();
            map.entry(key.clone()).or_default().clone()
        };
        let mut waiter = Waiter {
            wait: Some(Box::pin(m.lock_owned())),
            key: Some(key),
            locks: self.clone(),
        };
        let guard = (&mut waiter).await;
        KeyGuard {
            guard: Some(guard),
            key: waiter
                .key
                .take()
                .expect("the key stays until the lock is taken"),
            locks: self.clone(),
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<AsyncMutex<()>>>> {
        // A panic elsewhere while holding the registry cannot leave the map inconsistent
        // (every change is one insert or one remove): keep going with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes `key`'s entry if only the map still holds it (nobody holds or waits).
    fn release(&self, key: &K) {
        let mut map = self.registry();
        if map.get(key).is_some_and(|m| Arc::strong_count(m) == 1) {
            map.remove(key);
        }
    }

    /// Takes the locks of several keys, in a fixed order so two callers cannot deadlock.
    pub async fn lock_many(&self, keys: &[K]) -> Vec<KeyGuard<K>>
    where
        K: Ord,
    {
        let mut sorted: Vec<&K> = keys.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut guards = Vec::with_capacity(sorted.len());
        for key in sorted {
            guards.push(self.lock(key).await);
        }
        guards
    }

    /// Number of keys with a live lock entry (for tests).
    pub fn len(&self) -> usize {
        self.registry().len()
    }

    /// Whether no key is locked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A post held by this task: its in-process lock, then the store's lock across processes
/// ([`Store::lock_post`]; nothing more with a store one process owns). Released when dropped.
pub struct HeldPost {
    _shared: PostLock,
    _local: Vec<PostGuard>,
}

impl KeyedLocks<PostId> {
    /// Holds post `id` against every other task of this process (the fast path, so one
    /// process waits on the store with at most one task per post) and then against every
    /// other process sharing `store`. Re-read the post after: whoever held it may have
    /// changed it.
    pub async fn hold(&self, store: &dyn Store, id: &PostId) -> Result<HeldPost, StoreError> {
        let local = self.lock(id).await;
        Ok(HeldPost {
            _shared: store.lock_post(id).await?,
            _local: vec![local],
        })
    }

    /// [`KeyedLocks::hold`] for several posts, all at once (in a fixed order, so two callers
    /// cannot deadlock).
    pub async fn hold_many(
        &self,
        store: &dyn Store,
        ids: &[PostId],
    ) -> Result<HeldPost, StoreError> {
        let local = self.lock_many(ids).await;
        Ok(HeldPost {
            _shared: store.lock_posts(ids).await?,
            _local: local,
        })
    }

    /// [`KeyedLocks::hold`], but `None` at once if another process holds the post (it is
    /// working on it: start-up recovery leaves it to that process).
    pub async fn try_hold(
        &self,
        store: &dyn Store,
        id: &PostId,
    ) -> Result<Option<HeldPost>, StoreError> {
        let local = self.lock(id).await;
        Ok(store.try_lock_post(id).await?.map(|shared| HeldPost {
            _shared: shared,
            _local: vec![local],
        }))
    }
}

/// A lock request in progress. Its only handle on the key's mutex is the pending
/// `lock_owned` future, so dropping that future first and then looking at the registry tells
/// exactly whether anyone else still holds or waits.
struct Waiter<K: Hash + Eq + Clone> {
    /// `None` once the lock is taken: the guard then owns the cleanup.
    wait: Option<Pin<Box<dyn Future<Output = OwnedMutexGuard<()>> + Send>>>,
    /// Handed to the guard once the lock is taken.
    key: Option<K>,
    locks: KeyedLocks<K>,
}

impl<K: Hash + Eq + Clone> Future for Waiter<K> {
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

// Every field is `Unpin` (the future is boxed), whatever `K` is.
impl<K: Hash + Eq + Clone> Unpin for Waiter<K> {}

impl<K: Hash + Eq + Clone> Drop for Waiter<K> {
    fn drop(&mut self) {
        if let Some(wait) = self.wait.take() {
            drop(wait);
            if let Some(key) = &self.key {
                self.locks.release(key);
            }
        }
    }
}

impl<K: Hash + Eq + Clone> Drop for KeyGuard<K> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Only the map holds it now: nobody waits, so the entry can go.
        self.locks.release(&self.key);
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

    #[tokio::test]
    async fn keyed_locks_serialize_and_clean_up() {
        let locks: KeyedLocks = KeyedLocks::default();
        let g = locks.lock("p\0k").await;
        let l2 = locks.clone();
        let waiter = tokio::spawn(async move {
            let _g = l2.lock("p\0k").await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(g);
        waiter.await.unwrap();
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_idempotency_key_waiter_leaves_no_entry() {
        let locks: KeyedLocks = KeyedLocks::default();
        let holder = locks.lock("p\0k").await;
        let timed_out = tokio::time::timeout(Duration::from_millis(10), locks.lock("p\0k")).await;
        assert!(timed_out.is_err());
        drop(holder);
        assert!(locks.is_empty(), "a cancelled waiter left its entry");
    }
}
