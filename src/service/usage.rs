//! Counts of API calls (`GET /api/user`'s `monthlyApiCalls`), kept in the store's counters
//! ([`Store::add_to_counter`]) so they survive restarts and add up across gateways sharing a
//! database.
//!
//! Calls are counted in memory and written in batches (at most [`BATCH`] calls or
//! [`FLUSH_EVERY`] old), so a request pays no store write of its own; a read writes the
//! process's pending calls first, so it always includes them. What a crash can lose is the
//! last second's count of one process, never more.

use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pending calls of one counter are written once this many have accumulated...
pub const BATCH: u64 = 64;
/// ...or once the oldest pending one is this old.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// In-memory batches of counter additions, written through to the store.
#[derive(Clone)]
pub struct CallCounts {
    store: Arc<dyn Store>,
    /// Counter name → (calls not yet written, when the first of them was counted).
    pending: Arc<Mutex<HashMap<String, (u64, Instant)>>>,
}

impl CallCounts {
    /// Counts over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            pending: Arc::default(),
        }
    }

    fn take(&self, name: &str) -> u64 {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.remove(name).map_or(0, |(n, _)| n)
    }

    fn give_back(&self, name: &str, n: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let entry = pending
            .entry(name.to_owned())
            .or_insert((0, Instant::now()));
        entry.0 = entry.0.saturating_add(n);
    }

    /// Counts one call of counter `name`; writes the batch when it is due. A failed write
    /// keeps the calls pending for the next one.
    pub async fn count(&self, name: &str) -> Result<(), StoreError> {
        let due = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let entry = pending
                .entry(name.to_owned())
                .or_insert((0, Instant::now()));
            entry.0 += 1;
            if entry.0 >= BATCH || entry.1.elapsed() >= FLUSH_EVERY {
                pending.remove(name).map(|(n, _)| n)
            } else {
                None
            }
        };
        if let Some(n) = due {
            if let Err(e) = self.store.add_to_counter(name, n).await {
                self.give_back(name, n);
                return Err(e);
            }
        }
        Ok(())
    }

    /// The counter's total: the store's, with this process's pending calls written first.
    pub async fn total(&self, name: &str) -> Result<u64, StoreError> {
        let n = self.take(name);
        match self.store.add_to_counter(name, n).await {
            Ok(total) => Ok(total),
            Err(e) => {
                self.give_back(name, n);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[tokio::test]
    async fn calls_are_written_in_batches_and_a_read_includes_the_pending_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SledStore::open(&dir.path().join("db")).unwrap());
        let counts = CallCounts::new(store.clone());
        for _ in 0..BATCH + 6 {
            counts.count("c").await.unwrap();
        }
        // One batch reached the store; the rest waits in memory.
        assert_eq!(store.add_to_counter("c", 0).await.unwrap(), BATCH);
        assert_eq!(counts.total("c").await.unwrap(), BATCH + 6);
        assert_eq!(store.add_to_counter("c", 0).await.unwrap(), BATCH + 6);
        // Another process's view (a second CallCounts) adds up on the same counter.
        let other = CallCounts::new(store);
        other.count("c").await.unwrap();
        assert_eq!(other.total("c").await.unwrap(), BATCH + 7);
        assert_eq!(counts.total("c").await.unwrap(), BATCH + 7);
    }
}
